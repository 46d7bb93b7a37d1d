"""``TorchLean.ssl.BlockMAE`` mirrors on small inputs whose Lean value is worked out by hand.

The one theorem of the file relates ``rowPredictiveContract`` to ``maeLoss`` over mirrors that are
computed the same way on both sides, so it tolerates a masked input that was never masked, a
``hiddenIndices`` that is never evaluated, or an off-by-one at ``width = size``. These cases pin
the values (see proofs_notes/mutation.md, second campaign).

The running example: ``dataShape = [2, 3]``, ``blocks = [some 1, some 2]``. Axis 0 has
``⌈2 / 1⌉ = 2`` blocks of width 1, axis 1 has ``⌈3 / 2⌉ = 2`` blocks of width 2, so the block index
of ``(r, c)`` is ``r · 2 + c / 2``::

    (0,0) 0   (0,1) 0   (0,2) 1
    (1,0) 2   (1,1) 2   (1,2) 3

With ``period = 2``: ``offset = 1`` hides the odd blocks, i.e. ``(0,2)`` and ``(1,2)``, flat
(row-major) coordinates 2 and 5; ``offset = 0`` hides flat coordinates 0, 1, 3 and 4.
"""

from __future__ import annotations

from fractions import Fraction

import pytest

from maskproof.spec import block_mae
from maskproof.spec.errors import LeanContractError
from maskproof.spec.predictive_view import predictive_view_objective
from maskproof.spec.tensor import SupervisedSample

SHAPE = [2, 3]
BLOCKS = [1, 2]
X0 = ((1.0, 2.0, 3.0), (4.0, 5.0, 6.0))
X1 = ((7.0, 8.0, 9.0), (10.0, 11.0, 12.0))
#: ``X0`` and ``X1`` with the odd blocks (column 2) hidden.
X0_ODD = ((1.0, 2.0, 0.0), (4.0, 5.0, 0.0))
X1_ODD = ((7.0, 8.0, 0.0), (10.0, 11.0, 0.0))


def test_hidden_indices_values() -> None:
    assert block_mae.hidden_indices(SHAPE, BLOCKS, 2, 1) == [2, 5]
    assert block_mae.hidden_indices(SHAPE, BLOCKS, 2, 0) == [0, 1, 3, 4]
    assert block_mae.hidden_indices(SHAPE, BLOCKS, 2, 3) == [2, 5]  # offset 3 ≡ 1 (mod 2)
    assert block_mae.hidden_indices(SHAPE, BLOCKS, 4, 3) == [5]  # only block 3
    assert block_mae.hidden_indices(SHAPE, BLOCKS, 0, 1) == []  # period 0 hides nothing
    assert block_mae.hidden_indices(SHAPE, [None, None], 1, 0) == []  # no blocked axis
    assert block_mae.hidden_indices(SHAPE, [None, 3], 1, 0) == [0, 1, 2, 3, 4, 5]


def test_hidden_mask_and_weights_agree_with_hidden_indices() -> None:
    assert block_mae.hidden_mask(SHAPE, BLOCKS, 2, 1) == (False, False, True, False, False, True)
    half = Fraction(1, 2)
    assert block_mae.reconstruction_weights(SHAPE, BLOCKS, 2, 1, Fraction) == (0, 0, half, 0, 0,
                                                                                half)


def test_hidden_reconstruction_indices_values() -> None:
    def indices(width: int, offset: int) -> object:
        return block_mae.hidden_reconstruction_indices(SHAPE, width, BLOCKS, 2, offset)

    assert indices(0, 1) == block_mae.ExceptOk([])
    assert indices(2, 1) == block_mae.ExceptOk([])
    assert indices(3, 1) == block_mae.ExceptOk([2])
    assert indices(6, 1) == block_mae.ExceptOk([2, 5])  # width = size is allowed
    assert indices(4, 0) == block_mae.ExceptOk([0, 1, 3])
    assert indices(7, 1) == block_mae.ExceptError(
        "BlockMAE reconstruction width 7 exceeds input width 6")
    assert block_mae.internal_hidden_reconstruction_indices(SHAPE, 5, BLOCKS, 2, 0) == [0, 1, 3, 4]


def test_sample_masks_the_input_and_keeps_the_unmasked_target() -> None:
    result = block_mae.sample([2], SHAPE, 4, BLOCKS, 2, 1, (X0, X1))
    assert result == block_mae.ExceptOk(SupervisedSample(
        (X0_ODD, X1_ODD), ((1.0, 2.0, 3.0, 4.0), (7.0, 8.0, 9.0, 10.0))))


def test_sample_accepts_width_equal_to_the_sample_size() -> None:
    result = block_mae.sample([1], SHAPE, 6, BLOCKS, 2, 0, [X0])
    even = ((0.0, 0.0, 3.0), (0.0, 0.0, 6.0))
    assert result == block_mae.ExceptOk(SupervisedSample((even,),
                                                         ((1.0, 2.0, 3.0, 4.0, 5.0, 6.0),)))
    assert block_mae.sample([1], SHAPE, 7, BLOCKS, 2, 0, [X0]) == block_mae.ExceptError(
        "BlockMAE reconstruction width 7 exceeds input width 6")


def test_sample_over_batch_shapes_of_rank_zero_and_two() -> None:
    # Rank-0 batch: `mapLeading []` applies the mask to the sample itself.
    assert block_mae.sample([], SHAPE, 2, BLOCKS, 2, 1, X0) == block_mae.ExceptOk(
        SupervisedSample(X0_ODD, (1.0, 2.0)))
    # Batch [2, 1]: the mask reaches every sample two axes down, and only there.
    sample = block_mae.internal_sample([2, 1], SHAPE, 1, BLOCKS, 2, 1, ((X0,), (X1,)))
    assert sample == SupervisedSample(((X0_ODD,), (X1_ODD,)), (((1.0,),), ((7.0,),)))


def test_internal_sample_copies_visible_scalars() -> None:
    nan = float("nan")
    x = ((nan, -0.0, 3.0), (4.0, 5.0, 6.0))
    masked = block_mae.internal_sample([], SHAPE, 0, BLOCKS, 2, 1, x).input
    assert isinstance(masked, tuple)
    assert masked[0][0] is nan and masked[0][1] is x[0][1] and masked[1][2] == 0.0


def test_row_predictive_contract_scores_the_hidden_prefix_of_one_row() -> None:
    prediction = ((0.5, 0.5, 0.5, 0.5), (0.25, 0.25, 0.25, 0.25))

    def loss(target: float, predicted: float) -> int:
        return int(target * 100 + predicted * 4)

    contract = block_mae.row_predictive_contract(SHAPE, 2, 4, BLOCKS, 2, 0, (X0, X1), prediction,
                                                 1, loss)
    assert contract.n == 4 and contract.target_idxs == (0, 1, 3)  # hidden, < 4
    assert contract.geometry_guard == 0 and contract.context is None
    assert tuple(contract.target) == (7.0, 8.0, 9.0, 10.0)  # row 1 of the *unmasked* target
    # Hidden coordinates 0, 1 and 3 of row 1: targets 7, 8, 10, predictions 0.25 each.
    assert predictive_view_objective(contract) == 701 + 801 + 1001


def test_width_contract_errors_name_the_binder_and_the_value() -> None:
    with pytest.raises(LeanContractError) as raised:
        block_mae.internal_sample([1], [2], 3, [1], 2, 0, ((1.0, 2.0),))
    assert raised.value.value == 3
    assert str(raised.value) == ("BlockMAE.Internal.sample: binder `hReconstruction` expects "
                                 "reconstructionWidth <= dataShape.size = 2, got 3")
    with pytest.raises(LeanContractError) as raised:
        block_mae.internal_sample([1], [2], -1, [1], 2, 0, ((1.0, 2.0),))
    assert str(raised.value) == ("BlockMAE.Internal.sample: binder `reconstructionWidth` "
                                 "expects a Nat (an int >= 0), got -1")
    with pytest.raises(LeanContractError) as raised:
        block_mae.internal_hidden_reconstruction_indices([2], -2, [1], 2, 0)
    assert (raised.value.declaration, raised.value.binder) == (
        "BlockMAE.Internal.hiddenReconstructionIndices", "reconstructionWidth")


def test_policy_and_shape_errors_name_the_declaration() -> None:
    with pytest.raises(LeanContractError) as raised:
        block_mae.sample([1], [2], 1, [-1], 2, 0, ((1.0, 2.0),))
    assert str(raised.value) == ("BlockMAE.Internal.sample: binder `blocks` expects a Nat "
                                 "(an int >= 0), got -1")
    with pytest.raises(LeanContractError) as raised:
        block_mae.hidden_reconstruction_indices([2, -1], 0, [1, 1], 2, 0)
    assert str(raised.value) == ("BlockMAE.hiddenReconstructionIndices: binder `dataShape` "
                                 "expects a Nat (an int >= 0), got -1")
