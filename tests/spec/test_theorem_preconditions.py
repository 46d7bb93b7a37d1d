"""The ``pre:`` helpers of the theorem checks, on inputs worked out by hand.

``is_predictor_table`` and ``is_finite_contract`` only run inside CrossHair's ``pre:`` conditions,
which the pytest run (and so a mutation run) never evaluates: without these cases a helper that
admitted every input, or rejected a valid one, would go unnoticed until CrossHair explored it.
Each case flips one conjunct of a valid input, at the boundary where one exists.
"""

from __future__ import annotations

from typing import Any

import pytest

from maskproof.spec.theorems.jepa import is_predictor_table
from maskproof.spec.theorems.predictive_view import finite_contract, is_finite_contract


@pytest.mark.parametrize(("predict", "context", "n", "q", "expected"), [
    ([[0, 1], [1, 0]], 1, 2, 2, True),
    ([[0, 1], [1, 0]], 0, 2, 2, True),
    ([[0, 1], [1, 0]], 2, 2, 2, False),   # context = c is not a Fin c
    ([[0, 1], [1, 0]], -1, 2, 2, False),  # nor is a negative context
    ([], 0, 2, 2, False),                 # Fin 0 is empty
    ([[0, 1], [1, 2]], 0, 2, 2, False),   # a value equal to q in a row other than `context`
    ([[0, 1], [1, 0]], 0, 2, 1, False),   # q = 1: the value 1 is out of range
    ([[0, 1], [1]], 0, 2, 2, False),      # a row of the wrong length
    ([[0, -1], [1, 0]], 1, 2, 2, False),  # a negative value
    ([[]], 0, 0, 0, True),                # n = 0: one empty row is a Fin 1 → Fin 0 → Fin 0
])
def test_is_predictor_table(predict: list[list[int]], context: int, n: int, q: int,
                            expected: bool) -> None:
    assert is_predictor_table(predict, context, n, q) is expected


#: A valid ``PredictiveViewContract 2 (Fin 1) (Fin 2) (Fin 2) (Fin 2)``:
#: targetEncoder is a 2 × 2 table of Fin 2 (r = len(distance) = 2), distance is r × q = 2 × 2.
VALID: dict[str, Any] = {
    "n": 2, "idxs": [0, 1], "context": 0, "target": [0, 1], "encoder": [[0, 1], [1, 0]],
    "predict": [[0, 1]], "distance": [[0, 1], [2, 3]], "geometry_guard": 0,
}


def test_valid_contract_is_accepted_and_builds() -> None:
    assert is_finite_contract(**VALID)
    contract = finite_contract(**VALID)
    assert contract.target_encoder(1, 0) == 1
    assert contract.predict(0, 1) == 1
    assert contract.distance(1, 0) == 2


@pytest.mark.parametrize("change", [
    {"geometry_guard": 5},
    {"idxs": [1, 1]},                              # duplicates are allowed
    {"idxs": []},
    {"encoder": [[1, 1], [1, 1]]},                 # value r - 1 is in range
    {"n": 0, "idxs": [], "target": [], "encoder": [], "predict": [[]]},
])
def test_valid_variants_are_accepted(change: dict[str, Any]) -> None:
    assert is_finite_contract(**{**VALID, **change})


@pytest.mark.parametrize("change", [
    {"n": -1},
    {"geometry_guard": -1},
    {"idxs": [2]},                                 # idxs = n is not a Fin n
    {"idxs": [-1]},
    {"distance": [[0, -1], [2, 3]]},               # distance is not a Nat matrix
    {"distance": [[0, 1], [2]]},                   # nor a rectangular one
    {"encoder": [[0, 1], [1, 0], [0, 0]]},         # n + 1 encoder rows
    {"encoder": [[0, 1]]},                         # n - 1 encoder rows
    {"encoder": [[0, 2], [1, 0]]},                 # value r = len(distance)
    {"encoder": [[0, -1], [1, 0]]},                # a negative encoder value
    {"target": [0, 2]},                            # value t = columns(encoder)
    {"target": [0]},                               # target too short
    {"context": 1},                                # context = c
    {"context": -1},
    {"predict": [[0, 2]]},                         # value q = columns(distance)
    {"predict": [[0]]},                            # a predict row of the wrong length
    {"predict": []},                               # Fin 0 has no context
])
def test_one_broken_conjunct_is_rejected(change: dict[str, Any]) -> None:
    assert not is_finite_contract(**{**VALID, **change})
