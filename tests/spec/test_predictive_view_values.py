"""``NN.MLTheory.SelfSupervised.PredictiveView`` mirrors (Nat and real parts) on hand-worked inputs.

The theorems about these contracts pass the geometry guard explicitly or compare a contract with
itself, and the real-valued predicates (``CollapsedRep``) are only read by CrossHair's ``pre:``
conditions, which the mutation campaign leaves out. These cases pin defaults, normalisation and
values (proofs_notes/mutation.md, second campaign).
"""

from __future__ import annotations

from fractions import Fraction

import pytest

from maskproof.spec import predictive_view as pv
from maskproof.spec import real_geometry as rg
from maskproof.spec.errors import LeanContractError


def _encoder(i: int, t: int) -> int:
    return 10 * t + i


def _predict(context: int, i: int) -> int:
    return context + i


def _distance(rep: int, prediction: int) -> int:
    return 3 * rep + prediction


def test_encoded_target_contract_default_and_explicit_guard() -> None:
    contract = pv.encoded_target_predictive_view_contract(2, [1], 5, [3, 4], _encoder, _predict,
                                                          _distance)
    assert contract.geometry_guard == 0
    # target 1 is 4, encoded 41; prediction 5 + 1 = 6; distance 3 * 41 + 6.
    assert pv.predictive_view_objective(contract) == 129
    guarded = pv.encoded_target_predictive_view_contract(2, [1], 5, [3, 4], _encoder, _predict,
                                                         _distance, 7)
    assert guarded.geometry_guard == 7 and pv.predictive_view_objective(guarded) == 136


def test_jepa_contract_has_guard_zero_and_identity_encoder() -> None:
    contract = pv.jepa_as_predictive_view_contract(2, [0, 1], 5, [3, 4], _predict, _distance)
    assert contract.geometry_guard == 0
    assert contract.target_encoder(1, 9) == 9
    assert pv.predictive_view_objective(contract) == (3 * 3 + 5) + (3 * 4 + 6)


def test_barlow_guard_normalises_its_lists_to_tuples() -> None:
    guard = pv.BarlowGuard(2, [1, 3], [0, 2])
    assert guard.diag == (1, 3) and guard.off_diag == (0, 2)
    assert set(vars(guard)) == {"lambda_", "diag", "off_diag"}
    # |1 - 1| + |3 - 1| plus 2 * (0 + 2).
    assert guard.value() == 2 + 4


def test_graph_errors_carry_the_offending_value() -> None:
    with pytest.raises(LeanContractError) as raised:
        pv.view_graph_energy("g", [[0]])  # type: ignore[arg-type]
    assert raised.value.value == "g"
    assert str(raised.value) == "viewGraphEnergy: binder `graph` expects an SSLViewGraph, got 'g'"
    with pytest.raises(LeanContractError) as raised:
        pv.SSLViewGraph(2, 5)  # type: ignore[arg-type]
    assert raised.value.value == 5
    assert raised.value.expected == "a List (Fin 2 × Fin 2)"
    with pytest.raises(LeanContractError) as raised:
        pv.SSLViewGraph(2, [(0, 1), (0,)])
    assert raised.value.value == (0,)
    assert raised.value.expected == "pairs (Fin 2 × Fin 2)"


def test_collapsed_rep_values() -> None:
    assert rg.collapsed_rep(0, 2, []) is True  # the empty representation is collapsed
    assert rg.collapsed_rep(1, 2, [[5, 6]]) is True
    assert rg.collapsed_rep(3, 2, [[1, 2], [1, 2], [1, 2]]) is True
    assert rg.collapsed_rep(3, 2, [[1, 2], [1, 2], [1, 3]]) is False
    assert rg.collapsed_rep(2, 1, lambda i: [Fraction(i)]) is False
    assert rg.collapsed_rep(2, 0, [[], []]) is True


def test_coordinate_spread_counts_every_ordered_pair() -> None:
    # Column 0 is (0, 1): (0-0)^2 + (0-1)^2 + (1-0)^2 + (1-1)^2 = 2.
    assert rg.coordinate_spread(2, 2, [[0, 5], [1, 5]], 0) == 2
    assert rg.coordinate_spread(2, 2, [[0, 5], [1, 5]], 1) == 0
    # Column (0, 1, 3): 2 * (1 + 9 + 4) = 28.
    assert rg.coordinate_spread(3, 1, [[0], [1], [3]], 0) == 28


def test_coordinate_spread_refuses_a_short_row() -> None:
    with pytest.raises(LeanContractError) as raised:
        rg.coordinate_spread(2, 2, [[0, 0], [0]], 0)
    assert (raised.value.declaration, raised.value.binder) == ("coordinateSpread", "rep")


def test_real_variance_floor_values() -> None:
    assert rg.real_variance_floor_penalty(3, 1) == 2
    assert rg.real_variance_floor_penalty(Fraction(1, 2), Fraction(1, 3)) == Fraction(1, 6)
    assert rg.real_variance_floor_penalty(1, 3) == 0
    assert rg.real_variance_floor_guard(3, 2, [0, 1, 5]) == 2 + 1 + 0


def test_contract_keeps_its_indices_and_edges_as_tuples() -> None:
    contract = pv.PredictiveViewContract(2, [1, 0], 0, [3, 4], _encoder, _predict, _distance)
    assert contract.target_idxs == (1, 0)
    assert set(vars(contract)) == {"n", "target_idxs", "context", "target", "target_encoder",
                                   "predict", "distance", "geometry_guard"}
    graph = pv.SSLViewGraph(2, [[0, 1], [1, 1]])
    assert graph.positive_edges == ((0, 1), (1, 1))
    assert set(vars(graph)) == {"n", "positive_edges"}


def test_mae_contract_has_unit_context_and_guard_zero() -> None:
    contract = pv.mae_as_predictive_view_contract(2, [1], [5, 6], [7, 8], _distance)
    assert contract.context is None and contract.geometry_guard == 0
    assert pv.predictive_view_objective(contract) == 3 * 6 + 8


def test_contract_rechecks_a_table_resized_after_construction() -> None:
    # The contract holds the caller's tables; one resized later is no `Fin n → α` any more.
    target, pred = [5, 6], [7, 8]
    contract = pv.mae_as_predictive_view_contract(2, [1], target, pred, _distance)
    pred.append(9)
    with pytest.raises(LeanContractError) as raised:
        contract.predict(None, 0)
    assert (raised.value.declaration, raised.value.binder) == ("maeAsPredictiveViewContract",
                                                               "pred")
    target.append(9)
    with pytest.raises(LeanContractError) as raised:
        pv.predictive_loss(contract)
    assert (raised.value.declaration, raised.value.binder) == ("predictiveLoss", "target")


def test_contract_errors_carry_the_offending_value() -> None:
    with pytest.raises(LeanContractError) as raised:
        pv.PredictiveViewContract(2, [0], 0, [3, 4], _encoder, _predict, 3)  # type: ignore[arg-type]
    assert raised.value.value == 3
    assert str(raised.value) == ("PredictiveViewContract: binder `distance` expects a function, "
                                 "got 3")
    with pytest.raises(LeanContractError) as raised:
        pv.predictive_view_objective(7)  # type: ignore[arg-type]
    assert raised.value.value == 7
    assert str(raised.value) == ("predictiveViewObjective: binder `contract` expects "
                                 "a PredictiveViewContract, got 7")
