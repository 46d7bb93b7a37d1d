"""Executable checks of the theorems of ``NN.MLTheory.SelfSupervised.MAE``.

The patch and prediction types are instantiated with finite types ``Fin p`` and ``Fin q`` so that
CrossHair can explore every argument: ``target`` and ``pred`` are tables of indices and
``patchLoss : Patch → Pred → Nat`` is a ``p × q`` table of naturals (``patch_loss[t][y]``). The
mirrors themselves stay generic; ``table_function2`` hands them the table as a function.
"""

from __future__ import annotations

from collections.abc import Callable

# columns, is_fin_table, is_nat_matrix: read by the docstrings' pre: conditions (CrossHair).
from maskproof.spec.finite_functions import (  # noqa: F401
    columns,
    is_fin_table,
    is_nat_matrix,
    table_function2,
)
from maskproof.spec.mae import exact_reconstruction, mae_loss, reconstruct
from maskproof.spec.registry import require_hypothesis, theorem


def patch_loss_function(patch_loss: list[list[int]]) -> Callable[[int, int], int]:
    """``patchLoss : Fin p → Fin q → Nat`` read from its table."""
    return table_function2(patch_loss, "maeLoss", "patchLoss")


@theorem("maeLoss_nil")
def maeLoss_nil(n: int, target: list[int], pred: list[int], patch_loss: list[list[int]]) -> bool:
    """``maeLoss [] target pred patchLoss = 0``.

    pre: n >= 0
    pre: is_nat_matrix(patch_loss)
    pre: is_fin_table(target, n, len(patch_loss))
    pre: is_fin_table(pred, n, columns(patch_loss))
    post: __return__
    """
    return mae_loss(n, [], target, pred, patch_loss_function(patch_loss)) == 0


@theorem("maeLoss_append")
def maeLoss_append(n: int, xs: list[int], ys: list[int], target: list[int], pred: list[int],
                   patch_loss: list[list[int]]) -> bool:
    """``maeLoss (xs ++ ys) … = maeLoss xs … + maeLoss ys …``.

    pre: n >= 0
    pre: all(0 <= i < n for i in xs) and all(0 <= i < n for i in ys)
    pre: is_nat_matrix(patch_loss)
    pre: is_fin_table(target, n, len(patch_loss))
    pre: is_fin_table(pred, n, columns(patch_loss))
    post: __return__
    """
    f = patch_loss_function(patch_loss)
    return (mae_loss(n, xs + ys, target, pred, f)
            == mae_loss(n, xs, target, pred, f) + mae_loss(n, ys, target, pred, f))


@theorem("maeLoss_reverse")
def maeLoss_reverse(n: int, idxs: list[int], target: list[int], pred: list[int],
                    patch_loss: list[list[int]]) -> bool:
    """``maeLoss idxs.reverse … = maeLoss idxs …``.

    pre: n >= 0
    pre: all(0 <= i < n for i in idxs)
    pre: is_nat_matrix(patch_loss)
    pre: is_fin_table(target, n, len(patch_loss))
    pre: is_fin_table(pred, n, columns(patch_loss))
    post: __return__
    """
    f = patch_loss_function(patch_loss)
    return mae_loss(n, idxs[::-1], target, pred, f) == mae_loss(n, idxs, target, pred, f)


@theorem("maeLoss_eq_zero_of_patch_losses_zero")
def maeLoss_eq_zero_of_patch_losses_zero(n: int, idxs: list[int], target: list[int],
                                         pred: list[int], patch_loss: list[list[int]]) -> bool:
    """``(∀ i ∈ idxs, patchLoss (target i) (pred i) = 0) → maeLoss idxs … = 0``.

    pre: n >= 0
    pre: all(0 <= i < n for i in idxs)
    pre: is_nat_matrix(patch_loss)
    pre: is_fin_table(target, n, len(patch_loss))
    pre: is_fin_table(pred, n, columns(patch_loss))
    pre: all(patch_loss[target[i]][pred[i]] == 0 for i in idxs)
        # h : ∀ i ∈ idxs, patchLoss (target i) (pred i) = 0
    post: __return__
    """
    total = mae_loss(n, idxs, target, pred, patch_loss_function(patch_loss))  # checks the tables
    require_hypothesis(all(patch_loss[target[i]][pred[i]] == 0 for i in idxs),
                       "maeLoss_eq_zero_of_patch_losses_zero", "h",
                       "∀ i ∈ idxs, patchLoss (target i) (pred i) = 0", (idxs, target, pred))
    return total == 0


@theorem("exactReconstruction_identity")
def exactReconstruction_identity(n: int, x: list[float]) -> bool:
    """``ExactReconstruction x (reconstruct (fun _ p => p) x)``.

    Patches are floats here so that NaN and ``-0.0`` patches are reached: the identity decoder
    returns them unchanged, which only a bit-pattern equality recognises.

    pre: n >= 0
    pre: len(x) == n
    post: __return__
    """
    return exact_reconstruction(n, x, reconstruct(n, lambda _i, p: p, x))
