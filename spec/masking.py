"""Mirror of ``NN.MLTheory.SelfSupervised.Masking``: finite masks and the masked loss.

A ``Mask n`` (``Fin n → Bool``) is a length-``n`` tuple of bools; ``True`` means selected.
Function arguments such as ``perPatchLoss : Fin n → Nat`` may be given as a length-``n`` table or
as a callable; either way the spec only ever applies them to a checked ``Fin n``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeAlias, TypeVar

from maskproof.spec.finite_functions import require_fin_function
from maskproof.spec.lean import (
    Exact,
    require_bool,
    require_exact,
    require_fin,
    require_fin_list,
    require_length,
    require_nat,
)
from maskproof.spec.registry import mirrors, register_mirror

T = TypeVar("T")

#: ``Mask n := Fin n → Bool`` as a table; ``True`` = selected.
Mask: TypeAlias = tuple[bool, ...]
register_mirror("Mask", Mask, "maskproof.spec.masking.Mask")

#: A Lean function ``Fin n → α`` given as a length-``n`` table or as a callable.
FinFunction: TypeAlias = Sequence[T] | Callable[[int], T]


def fin_apply(f: FinFunction[T], n: int, i: int, declaration: str, binder: str) -> T:
    """Apply a ``Fin n → α`` argument to a checked ``Fin n`` (tables must have length ``n``)."""
    require_fin(i, n, declaration, "i")
    if callable(f):
        return f(i)
    return require_length(f, n, declaration, binder)[i]


def fin_value(f: FinFunction[T], i: int) -> T:
    """``f i`` for an ``f`` and an ``i`` the caller has already checked (with ``fin_apply``'s
    guards, on entry): applying without re-checking leaves no guard behind that cannot fire."""
    return f(i) if callable(f) else f[i]


def require_mask(m: Sequence[object], n: int, declaration: str, binder: str = "m") -> Mask:
    """Return ``m`` as a ``Mask n`` if it is a table of ``n`` bools."""
    require_length(m, n, declaration, binder)
    return tuple(require_bool(b, declaration, binder) for b in m)


@mirrors("selected")
def selected(n: int, m: Sequence[bool], i: int) -> bool:
    """Lean ``selected m i :⇔ m i = true``."""
    require_nat(n, "selected", "n")
    mask = require_mask(m, n, "selected")
    return mask[require_fin(i, n, "selected", "i")]


@mirrors("allMask")
def all_mask(n: int) -> Mask:
    """Lean ``allMask n``: every index selected."""
    return (True,) * require_nat(n, "allMask", "n")


@mirrors("emptyMask")
def empty_mask(n: int) -> Mask:
    """Lean ``emptyMask n``: no index selected."""
    return (False,) * require_nat(n, "emptyMask", "n")


@mirrors("complement")
def complement(n: int, m: Sequence[bool]) -> Mask:
    """Lean ``complement m := fun i => !(m i)``."""
    require_nat(n, "complement", "n")
    return tuple(not b for b in require_mask(m, n, "complement"))


@mirrors("maskedLoss")
def masked_loss(n: int, idxs: Sequence[int], per_patch_loss: FinFunction[Exact]) -> Exact:
    """Lean ``maskedLoss idxs perPatchLoss``: the sum of ``perPatchLoss i`` over the list.

    Duplicated indices count once per occurrence. The sum is folded from the right, as Lean's
    ``List.sum`` is, and only over exact scalars (``int`` for ``Nat``, or ``Fraction``), so the
    result equals Lean's on every input regardless of order (trap 5).
    """
    require_nat(n, "maskedLoss", "n")
    indices = require_fin_list(idxs, n, "maskedLoss", "idxs")
    require_fin_function(per_patch_loss, n, "maskedLoss", "perPatchLoss")  # on entry, not on use
    total: Exact = 0
    for i in reversed(indices):
        value = fin_value(per_patch_loss, i)
        total = require_exact(value, "maskedLoss", "perPatchLoss") + total
    return total
