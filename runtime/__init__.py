"""PyTorch runtime: tensor masks, MAE / I-JEPA / compact TorchLean models and their training.

``load_encoder(path)`` rebuilds an encoder written by ``maskproof export`` (see
:func:`runtime.encoder_file.load_encoder`). It is imported on first use, so importing this
package (``maskproof.runtime.config``, the command line) stays light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from maskproof.runtime.encoder_file import load_encoder

__all__ = ["load_encoder"]


def __getattr__(name: str) -> Any:
    if name == "load_encoder":
        from maskproof.runtime.encoder_file import load_encoder

        return load_encoder
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
