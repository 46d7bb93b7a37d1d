"""One-line argument checks shared by the mask modules.

Every check raises ``ValueError`` naming the offending value and what was expected, so a bad CLI
flag or config entry is reported where it enters, not as a later shape error deep in PyTorch.
"""

from __future__ import annotations

import operator
from collections.abc import Sequence

import torch


def require_nat(value: object, name: str) -> int:
    """Return ``value`` as an ``int`` if it is a non-negative integer (``bool`` refused)."""
    if isinstance(value, bool):
        raise ValueError(f"{name} must be a non-negative int, got {value!r}")
    if not hasattr(value, "__index__"):
        raise ValueError(f"{name} must be a non-negative int, got {value!r}")
    try:
        number = operator.index(value)
    except TypeError:
        raise ValueError(f"{name} must be a non-negative int, got {value!r}") from None
    if number < 0:
        raise ValueError(f"{name} must be a non-negative int, got {value!r}")
    return number


def require_positive(value: object, name: str) -> int:
    """Return ``value`` as an ``int`` if it is an integer ``>= 1``."""
    number = require_nat(value, name)
    if number == 0:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return number


def require_rank(x: torch.Tensor, rank: int, layout: str, name: str = "x") -> None:
    """Refuse a tensor whose number of dimensions is not ``rank`` (``layout`` names the axes)."""
    if x.dim() != rank:
        raise ValueError(
            f"{name} must be a {rank}-D tensor {layout}, got shape {tuple(x.shape)}"
        )


def require_floating(x: torch.Tensor, name: str = "x") -> None:
    """Refuse a non-floating tensor: the Lean masks act on ``Float`` and write ``0.0``."""
    if not x.is_floating_point():
        raise ValueError(f"{name} must be a floating-point tensor, got dtype {x.dtype}")


def require_shape(shape: Sequence[object], name: str = "shape") -> tuple[int, ...]:
    """Return ``shape`` as a tuple of non-negative ints."""
    if isinstance(shape, (str, bytes)) or not isinstance(shape, Sequence):
        raise ValueError(f"{name} must be a sequence of non-negative ints, got {shape!r}")
    return tuple(require_nat(extent, f"{name}[{axis}]") for axis, extent in enumerate(shape))
