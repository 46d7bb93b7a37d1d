"""Mirror of ``NN.MLTheory.SelfSupervised.MAE``: patch batches, reconstruction and the MAE loss.

``PatchBatch n Patch := Fin n → Patch`` is a length-``n`` table (or a callable on ``Fin n``), as
every ``Fin n → α`` argument is in the spec. ``Patch`` and ``Pred`` are type parameters: the spec
never looks inside a patch, it only hands patches to the caller's ``decode`` and ``patchLoss``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeAlias, TypeVar

from maskproof.spec.finite_functions import lean_eq, require_fin_function
from maskproof.spec.lean import (
    Exact,
    fin_range,
    require_exact,
    require_fin_list,
    require_function,
    require_nat,
)
from maskproof.spec.masking import FinFunction, fin_value, masked_loss
from maskproof.spec.registry import mirrors, register_mirror

Patch = TypeVar("Patch")
Pred = TypeVar("Pred")

#: ``PatchBatch n Patch := Fin n → Patch``: a length-``n`` table or a callable on ``Fin n``.
PatchBatch: TypeAlias = FinFunction[Patch]
register_mirror("PatchBatch", PatchBatch, "maskproof.spec.mae.PatchBatch")


@mirrors("reconstruct")
def reconstruct(n: int, decode: Callable[[int, Pred], Patch],
                pred: FinFunction[Pred]) -> tuple[Patch, ...]:
    """Lean ``reconstruct decode pred := fun i => decode i (pred i)``, tabulated over ``Fin n``."""
    require_nat(n, "reconstruct", "n")
    require_fin_function(pred, n, "reconstruct", "pred")
    return tuple(decode(i, fin_value(pred, i)) for i in fin_range(n))


@mirrors("ExactReconstruction")
def exact_reconstruction(n: int, x: FinFunction[Patch], y: FinFunction[Patch]) -> bool:
    """Lean ``ExactReconstruction x y :⇔ ∀ i, y i = x i`` (decided; floats compared by bits)."""
    require_nat(n, "ExactReconstruction", "n")
    require_fin_function(x, n, "ExactReconstruction", "x")
    require_fin_function(y, n, "ExactReconstruction", "y")
    return all(lean_eq(fin_value(y, i), fin_value(x, i)) for i in fin_range(n))


@mirrors("maeLoss")
def mae_loss(n: int, masked_idxs: Sequence[int], target: FinFunction[Patch],
             pred: FinFunction[Pred], patch_loss: Callable[[Patch, Pred], Exact]) -> Exact:
    """Lean ``maeLoss maskedIdxs target pred patchLoss``.

    ``maskedLoss maskedIdxs (fun i => patchLoss (target i) (pred i))``: the per-patch loss is
    summed over the listed indices, duplicates counted, through ``spec.masking.masked_loss``.
    """
    require_nat(n, "maeLoss", "n")
    require_fin_list(masked_idxs, n, "maeLoss", "maskedIdxs")
    require_fin_function(target, n, "maeLoss", "target")
    require_fin_function(pred, n, "maeLoss", "pred")
    require_function(patch_loss, "maeLoss", "patchLoss")

    def per_patch(i: int) -> Exact:
        loss = patch_loss(fin_value(target, i), fin_value(pred, i))
        return require_exact(loss, "maeLoss", "patchLoss")

    return masked_loss(n, masked_idxs, per_patch)
