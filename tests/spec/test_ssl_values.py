"""``NN.API.ssl`` mirrors on small inputs whose Lean value is worked out by hand.

``tensorPrefixMaeSample`` and ``vectorMaeRowPredictiveContract`` appear in the theorems only
through mirrors computed the same way on both sides, so a mutant that dropped or swapped one of
their arguments either agreed with every theorem or made every Hypothesis example fail slowly (a
timeout, not a kill). These cases pin their values directly (proofs_notes/mutation.md).
"""

from __future__ import annotations

import pytest

from maskproof.spec import ssl
from maskproof.spec.errors import LeanContractError
from maskproof.spec.predictive_view import predictive_view_objective
from maskproof.spec.tensor import SupervisedSample

#: ``batch = 2`` samples of source shape ``[2, 2]``.
SOURCE = (((1.0, 2.0), (3.0, 4.0)), ((5.0, 6.0), (7.0, 8.0)))


def test_tensor_prefix_mae_sample_values() -> None:
    # flattenBatchPrefix 2 3: the first 3 row-major entries of each sample; period 2, offset 1
    # hides feature j = 1 (j % 2 = 1 % 2).
    sample = ssl.tensor_prefix_mae_sample(2, 3, (2, 2), 2, 1, SOURCE)
    assert sample == SupervisedSample(((1.0, 0.0, 3.0), (5.0, 0.0, 7.0)),
                                      ((1.0, 2.0, 3.0), (5.0, 6.0, 7.0)))
    # period 3, offset 5: hides j % 3 = 2, i.e. j = 2 of the 4 features.
    sample = ssl.tensor_prefix_mae_sample(2, 4, (2, 2), 3, 5, SOURCE)
    assert sample.input == ((1.0, 2.0, 0.0, 4.0), (5.0, 6.0, 0.0, 8.0))
    assert sample.target == ((1.0, 2.0, 3.0, 4.0), (5.0, 6.0, 7.0, 8.0))
    # period 0 hides nothing; dataDim 0 keeps empty rows.
    assert ssl.tensor_prefix_mae_sample(2, 2, (2, 2), 0, 1, SOURCE).input == ((1.0, 2.0),
                                                                              (5.0, 6.0))
    assert ssl.tensor_prefix_mae_sample(2, 0, (2, 2), 2, 0, SOURCE) == SupervisedSample(((), ()),
                                                                                       ((), ()))


def test_tensor_prefix_mae_sample_checks_h_data() -> None:
    with pytest.raises(LeanContractError) as raised:
        ssl.tensor_prefix_mae_sample(2, 5, (2, 2), 2, 1, SOURCE)
    assert (raised.value.declaration, raised.value.binder, raised.value.value) == (
        "flattenBatchPrefix", "hTake", 5)


def test_vector_mae_sample_values() -> None:
    x = [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]
    sample = ssl.vector_mae_sample(2, 3, 2, 0, x)
    assert sample == SupervisedSample(((0.0, 2.0, 0.0), (0.0, 5.0, 0.0)),
                                      ((1.0, 2.0, 3.0), (4.0, 5.0, 6.0)))
    assert isinstance(sample.target, tuple) and isinstance(sample.target[1], tuple)


def _loss(target: float, prediction: float) -> int:
    # Depends on both arguments and on their order.
    return int(target * 100 + prediction * 4)


def test_vector_mae_row_predictive_contract_values() -> None:
    x = ((1.0, 2.0, 3.0, 4.0, 5.0), (6.0, 7.0, 8.0, 9.0, 10.0))
    yhat = ((0.5, 0.5, 0.5, 0.5, 0.5), (0.25, 0.75, 1.0, 1.25, 1.5))
    contract = ssl.vector_mae_row_predictive_contract(2, 5, 2, 0, x, yhat, 1, _loss)
    assert contract.n == 5
    assert contract.target_idxs == (0, 2, 4)  # j % 2 = 0
    assert tuple(contract.target) == x[1]
    assert [contract.predict(None, j) for j in range(5)] == list(yhat[1])
    assert contract.distance is _loss
    assert contract.context is None and contract.geometry_guard == 0
    # Row 1, hidden features 0, 2 and 4: 600 + 1, 800 + 4, 1000 + 6.
    assert predictive_view_objective(contract) == 601 + 804 + 1006
    row0 = ssl.vector_mae_row_predictive_contract(2, 5, 3, 4, x, yhat, 0, _loss)
    assert row0.target_idxs == (1, 4) and predictive_view_objective(row0) == 202 + 502


def test_vector_mae_row_predictive_contract_refuses_a_row_past_the_batch() -> None:
    x = ((1.0,),)
    with pytest.raises(LeanContractError) as raised:
        ssl.vector_mae_row_predictive_contract(1, 1, 1, 0, x, x, 1, _loss)
    assert (raised.value.declaration, raised.value.binder) == ("matrixRowAsPatchBatch", "bi")


def test_recon_dim_error_carries_the_offending_width() -> None:
    image = ((((1.0, 2.0),),),)  # batch 1, c 1, h 1, w 2
    with pytest.raises(LeanContractError) as raised:
        ssl.image_patch_mae_sample(1, 1, 1, 2, 3, 1, 1, 2, 0, image)
    assert raised.value.value == 3
    assert str(raised.value) == ("imagePatchMaeSample: binder `hRecon` expects "
                                 "reconDim <= c*h*w = 2, got 3")
