"""Executable check of the theorem of ``TorchLean.ssl.BlockMAE``.

``row_predictive_objective_eq_mae_loss`` relates the predictive-view objective of one batch row to
``maeLoss`` over the block mask's hidden reconstruction indices. Its inputs are float tensors and a
callable loss ``Float → Float → Nat``, which CrossHair cannot explore; Hypothesis drives it
(``bridge.theorem_args.block_mae``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import cast

from maskproof.spec.block_mae import (
    internal_hidden_reconstruction_indices,
    internal_sample,
    row_predictive_contract,
)
from maskproof.spec.block_mask import Policy
from maskproof.spec.lean import require_fin, require_nat
from maskproof.spec.mae import mae_loss
from maskproof.spec.predictive_view import predictive_view_objective
from maskproof.spec.registry import require_hypothesis, theorem
from maskproof.spec.tensor import Matrix, TensorLike, require_matrix, require_shape, shape_size

CALLABLES = ("IEEE float tensors and a callable Float → Float → Nat loss: neither is explored "
             "symbolically by CrossHair")


@theorem("BlockMAE.Proof.row_predictive_objective_eq_mae_loss", crosshair=CALLABLES)
def BlockMAE_Proof_row_predictive_objective_eq_mae_loss(
        data_shape: Sequence[int], batch: int, reconstruction_width: int,
        blocks: Sequence[Policy], period: int, offset: int, x: TensorLike,
        prediction: TensorLike, row: int, loss: Callable[[float, float], int]) -> bool:
    """Hypothesis ``reconstructionWidth ≤ dataShape.size``; ``predictiveViewObjective
    (rowPredictiveContract … x prediction row loss) = maeLoss (Internal.hiddenReconstructionIndices
    …) (fun j => (Internal.sample [batch] … x).target[row][j]) (fun j => prediction[row][j])
    loss``.

    pre: reconstruction_width <= shape_size(data_shape)
        # hReconstruction : reconstructionWidth ≤ dataShape.size
    """
    decl = "BlockMAE.Proof.row_predictive_objective_eq_mae_loss"
    # The check reads its own arguments before any mirror does, so a value outside the theorem's
    # hypotheses is reported against the theorem (tests/spec/test_theorem_guards.py).
    require_nat(batch, decl, "batch")
    require_nat(reconstruction_width, decl, "reconstructionWidth")
    predictions = require_matrix(prediction, batch, reconstruction_width, decl, "prediction")
    checked_row = require_fin(row, batch, decl, "row")
    size = shape_size(require_shape(data_shape, decl, "dataShape"))
    require_hypothesis(reconstruction_width <= size, decl, "hReconstruction",
                       "reconstructionWidth ≤ dataShape.size", reconstruction_width)
    contract = row_predictive_contract(data_shape, batch, reconstruction_width, blocks, period,
                                       offset, x, prediction, row, loss)
    idxs = internal_hidden_reconstruction_indices(data_shape, reconstruction_width, blocks,
                                                  period, offset)
    target = cast(Matrix, internal_sample((batch,), data_shape, reconstruction_width, blocks,
                                          period, offset, x).target)
    expected = mae_loss(reconstruction_width, idxs, target[checked_row], predictions[checked_row],
                        loss)
    return predictive_view_objective(contract) == expected
