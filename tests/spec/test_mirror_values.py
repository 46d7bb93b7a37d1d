"""Mirrors on small inputs whose Lean value is worked out by hand.

The theorem checks compare mirrors with mirrors, so a mirror can be wrong in a way every theorem
tolerates (a penalty that is wrong at ``c = 2``, a decoder called without its index, an edge loss
read transposed). These cases pin concrete values; most were added to kill mutants that the
property tests let through (see proofs_notes/mutation.md).
"""

from __future__ import annotations

import pytest

from maskproof.spec import block_mask
from maskproof.spec.errors import LeanContractError
from maskproof.spec.finite_functions import (
    columns,
    fin_apply2,
    is_fin_table,
    is_nat_matrix,
    lean_eq,
    table_function2,
)
from maskproof.spec.mae import reconstruct
from maskproof.spec.predictive_view import (
    SSLViewGraph,
    mae_as_predictive_view_contract,
    view_graph_energy,
)
from maskproof.spec.vicreg import (
    diagonal_redundancy_penalty,
    redundancy_reduction_objective,
    variance_floor_penalty,
    variance_term,
    vicreg_objective,
)


def test_vicreg_values() -> None:
    assert [diagonal_redundancy_penalty(c) for c in range(5)] == [1, 0, 1, 2, 3]  # |c - 1|
    assert [variance_floor_penalty(3, v) for v in range(5)] == [3, 2, 1, 0, 0]  # 3 - v, truncated
    assert variance_term(3, [0, 1, 5]) == 3 + 2 + 0
    assert vicreg_objective(2, 3, 5, 7, 11, 13) == 2 * 7 + 3 * 11 + 5 * 13
    assert redundancy_reduction_objective(3, [0, 1, 2, 5], [1, 4]) == (1 + 0 + 1 + 4) + 3 * (1 + 4)


def test_reconstruct_passes_each_index_to_the_decoder() -> None:
    assert reconstruct(3, lambda i, p: (i, p), [7, 8, 9]) == ((0, 7), (1, 8), (2, 9))
    assert reconstruct(2, lambda i, p: p * 10 + i, lambda i: i + 1) == (10, 21)


def test_view_graph_energy_reads_edge_loss_as_source_then_target() -> None:
    graph = SSLViewGraph(3, [(0, 1), (1, 0), (2, 2), (0, 1)])
    table = [[0, 1, 2], [10, 11, 12], [20, 21, 22]]
    assert view_graph_energy(graph, table) == 1 + 10 + 22 + 1
    assert view_graph_energy(graph, lambda a, b: 10 * a + b) == 34
    assert view_graph_energy(SSLViewGraph(3, []), table) == 0


def test_fin_apply2_checks_both_arguments_and_the_table() -> None:
    table = [[1, 2], [3, 4]]
    assert [fin_apply2(table, 2, a, b, "d", "f") for a in (0, 1) for b in (0, 1)] == [1, 2, 3, 4]
    for a, b, binder in ((2, 0, "a"), (-1, 0, "a"), (0, 2, "b"), (0, -1, "b")):
        with pytest.raises(LeanContractError) as raised:
            fin_apply2(table, 2, a, b, "d", "f")
        assert (raised.value.declaration, raised.value.binder) == ("d", binder)
    for bad in ([[1, 2]], [[1, 2], [3]]):
        with pytest.raises(LeanContractError) as raised:
            fin_apply2(bad, 2, 1, 1, "d", "f")
        assert (raised.value.declaration, raised.value.binder) == ("d", "f")


def test_table_function2_checks_each_lookup() -> None:
    f = table_function2([[5, 6, 7]], "d", "t")
    assert f(0, 2) == 7
    for a, b in ((1, 0), (0, 3), (-1, 0), (0, -1)):
        with pytest.raises(LeanContractError, match="d: binder `t` expects a Fin"):
            f(a, b)


def test_crosshair_precondition_helpers() -> None:
    assert is_fin_table([0, 2, 1], 3, 3) and not is_fin_table([0, 3], 2, 3)
    assert not is_fin_table([0, -1], 2, 3) and not is_fin_table([0], 2, 3)
    assert is_fin_table([], 0, 0) and is_fin_table([0], 1, 1) and not is_fin_table([1], 1, 1)
    assert is_nat_matrix([[0, 1], [2, 3]]) and is_nat_matrix([])
    assert not is_nat_matrix([[0, 1], [2]]) and not is_nat_matrix([[0, -1]])
    assert is_nat_matrix([[0]]) and is_nat_matrix([[]])
    assert columns([[1, 2, 3]]) == 3 and columns([]) == 0


def test_lean_eq_is_structural_with_bitwise_floats() -> None:
    assert lean_eq((1.0, (2.0, float("nan"))), [1.0, [2.0, float("nan")]])
    assert not lean_eq((1.0,), (1.0, 2.0)) and not lean_eq((0.0, 1), (-0.0, 1))
    assert lean_eq((1, 2), (1, 2)) and not lean_eq((1, 2), (2, 1))
    assert not lean_eq(1.5, "1.5") and lean_eq("a", "a")
    assert not lean_eq((1,), 1) and not lean_eq(2, [2])


def test_block_index_values() -> None:
    # Axis 0: extent 3, blocks of 2 -> 2 blocks, coordinate 2 is block 1; axis 1 not blocked.
    assert block_mask.block_index([3, 4], [2, None], [2, 3], 0, False) == 1
    # Two blocked axes: digits (1 // 1, 3 // 2) in radices (2, 2) -> 1 * 2 + 1.
    assert block_mask.block_index([2, 4], [1, 2], [1, 3], 0, False) == 3
    assert block_mask.block_index([2], [None], [0], 0, False) is None  # nothing blocked
    assert block_mask.block_index([2], [None], [0], 5, True) == 5  # ... unless already used
    assert block_mask.block_index([2], [0], [0], 0, False) is None  # some 0
    assert block_mask.block_index([2], [1], [2], 0, False) is None  # out of range
    assert block_mask.block_index([2], [1], [], 0, False) is None  # rank mismatch
    # Mismatches found only after a blocked axis was used: still `none`, never the partial index.
    assert block_mask.block_index([2, 2], [1, 1], [1], 0, False) is None
    assert block_mask.block_index([2], [1, 1], [1], 0, False) is None
    assert block_mask.block_index([2], [1], [1, 0], 0, False) is None
    assert block_mask.index([2], [None], [0]) is None
    assert block_mask.index([5], [2], [4]) == 2


def test_block_hidden_and_apply_values() -> None:
    grid = [[block_mask.hidden([2, 2], [1, 1], 2, 0, [r, c]) for c in (0, 1)] for r in (0, 1)]
    assert grid == [[True, False], [True, False]]
    assert block_mask.block_hidden([2, 2], [1, 1], 2, 0, [1, 0]) is True
    assert block_mask.block_hidden([2, 2], [1, 1], 2, 1, [1, 0]) is False
    assert block_mask.block_hidden([2, 2], [1, 1], 0, 0, [0, 0]) is False
    x = ((1.0, 2.0), (3.0, 4.0))
    assert block_mask.apply([2, 2], x, [1, 1], 2, 1) == ((1.0, 0.0), (3.0, 0.0))
    # Internal.apply on the second row only: prefix [1], remaining shape [2].
    assert block_mask.internal_apply([2, 2], [1, 1], 2, 0, [1], [2], (5.0, 6.0)) == (0.0, 6.0)
    assert block_mask.internal_apply([2, 2], [1, 1], 2, 1, [1], [2], (5.0, 6.0)) == (5.0, 0.0)


def test_contract_predictor_checks_its_index() -> None:
    # The MAE contract's `predict _ i = pred i` is a Lean function on Fin n: callers outside
    # maskedLoss can hand it any int, so it checks the index itself.
    contract = mae_as_predictive_view_contract(2, [1], [5, 6], [7, 8], lambda t, p: t + p)
    assert contract.predict(None, 1) == 8
    for bad in (2, -1):
        with pytest.raises(LeanContractError) as raised:
            contract.predict(None, bad)
        assert (raised.value.declaration, raised.value.binder) == ("maeAsPredictiveViewContract",
                                                                   "i")
