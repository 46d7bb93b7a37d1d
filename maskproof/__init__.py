"""maskproof: masked self-supervised learning code checked against the TorchLean Lean semantics.

The installed namespace maps the repository's three top-level folders:

* ``maskproof.spec`` (``spec/``): the standard-library transcription of the Lean declarations;
* ``maskproof.runtime`` (``runtime/``): PyTorch training of MAE, I-JEPA and the compact models;
* ``maskproof.bridge`` (``bridge/``): runtime-vs-spec checks, the audit, the zoo, the vectors.

``maskproof.testing`` holds the public assertions; importing ``maskproof`` itself loads nothing
beyond the version, so ``import maskproof.spec`` stays free of torch and numpy.
"""

from __future__ import annotations

from importlib import metadata as _metadata

try:
    __version__: str = _metadata.version("maskproof")
except _metadata.PackageNotFoundError:  # a checkout on sys.path without an install
    __version__ = "0+unknown"

__all__ = ["__version__"]
