"""maskproof's executable mirror of the TorchLean self-supervised Lean files.

Standard library only: the spec is what ports read and test against, so it must run anywhere
Python does. Importing ``spec`` loads every mirror and every theorem check, which fills
``spec.registry.MIRRORS`` and ``spec.registry.THEOREMS``.
"""

from __future__ import annotations

import importlib
import pkgutil

from maskproof.spec.errors import LeanContractError
from maskproof.spec.registry import MIRRORS, THEOREMS, lean_declarations


def _load_all() -> None:
    # Every module registers its mirrors or checks on import; walking the package keeps this
    # list from going stale when a module is added.
    for info in pkgutil.walk_packages(__path__, prefix=f"{__name__}."):
        importlib.import_module(info.name)


_load_all()

__all__ = ["MIRRORS", "THEOREMS", "LeanContractError", "lean_declarations"]
