"""Each closed or literal-argument theorem check states the Lean theorem, not a neighbouring one.

A check such as ``vicregObjective_zero`` returns ``True`` for every input, and so does a check of
``vicregObjective 1 0 0 0 0 0 = 0`` or of ``0 ≤ …`` instead of ``0 < …``: both are true, so no
call of the check with the real mirror can tell them apart (the mutation campaign over
``spec/theorems`` found exactly these survivors). Here the mirror is replaced by a spy that records
its arguments and returns a chosen value: the check must hand it the Lean statement's arguments,
and must return ``False`` when the mirror returns a value that falsifies the statement (a check
that cannot fail checks nothing).
"""

from __future__ import annotations

from fractions import Fraction
from types import ModuleType
from typing import Any

import pytest

import maskproof.spec.theorems.jepa as jepa_checks
import maskproof.spec.theorems.mae as mae_checks
import maskproof.spec.theorems.masking as masking_checks
import maskproof.spec.theorems.predictive_view as pv_checks
import maskproof.spec.theorems.vicreg as vicreg_checks
from maskproof.spec.registry import THEOREMS


class Spy:
    """Stands in for a mirror function or a guard class (whose ``value()`` is the mirror)."""

    def __init__(self, result: int) -> None:
        self.result = result
        self.calls: list[tuple[Any, ...]] = []

    def function(self, *args: Any) -> int:
        self.calls.append(args)
        return self.result

    def guard_class(self) -> type:
        spy = self

        class Guard:
            def __init__(self, *args: Any) -> None:
                spy.calls.append(args)

            def value(self) -> int:
                return spy.result

        return Guard


# (check module, Lean theorem, mirror name in that module, is a guard class, check arguments,
#  the mirror's arguments in the Lean statement, a value making it hold, one making it fail)
CASES: list[tuple[ModuleType, str, str, bool, tuple[Any, ...], tuple[Any, ...], int, int]] = [
    (vicreg_checks, "varianceFloorPenalty_zero", "variance_floor_penalty", False,
     (3,), (3, 0), 3, 4),
    (vicreg_checks, "varianceTerm_replicate_zero", "variance_term", False,
     (3, 2), (3, [0, 0]), 6, 5),
    (vicreg_checks, "varianceTerm_collapsed_positive", "variance_term", False,
     (2, 1), (2, [0, 0]), 1, 0),
    (vicreg_checks, "vicregObjective_zero", "vicreg_objective", False,
     (), (0, 0, 0, 0, 0, 0), 0, 1),
    (vicreg_checks, "vicregObjective_variance_positive", "vicreg_objective", False,
     (2, 3), (0, 2, 0, 0, 3, 0), 1, 0),
    (vicreg_checks, "diagonalRedundancyPenalty_one", "diagonal_redundancy_penalty", False,
     (), (1,), 0, 1),
    (vicreg_checks, "offDiagonalRedundancyPenalty_zero", "off_diagonal_redundancy_penalty", False,
     (), (0,), 0, 1),
    (vicreg_checks, "diagonalRedundancyPenalty_zero_positive", "diagonal_redundancy_penalty",
     False, (), (0,), 1, 0),
    (vicreg_checks, "redundancyReductionObjective_identity", "redundancy_reduction_objective",
     False, (2, 2, 1), (2, [1, 1], [0]), 0, 1),
    (vicreg_checks, "redundancyReductionObjective_collapsed_diag_positive",
     "redundancy_reduction_objective", False, (2, 2, 1), (2, [0, 1, 1], [0]), 1, 0),
    (pv_checks, "vicreg_guard_variance_only_positive", "VICRegGuard", True,
     (2, 3), (0, 2, 0, 0, 3, 0), 1, 0),
    (pv_checks, "barlow_guard_identity_value_zero", "BarlowGuard", True,
     (2, 2, 1), (2, [1, 1], [0]), 0, 1),
    (pv_checks, "barlow_guard_collapsed_diag_positive", "BarlowGuard", True,
     (2, 2, 1), (2, [0, 1, 1], [0]), 1, 0),
]


@pytest.mark.parametrize(("module", "lean_name", "mirror", "is_class", "args", "expected_call",
                          "holds", "fails"), CASES, ids=[case[1] for case in CASES])
def test_check_states_the_lean_statement(monkeypatch: pytest.MonkeyPatch, module: ModuleType,
                                         lean_name: str, mirror: str, is_class: bool,
                                         args: tuple[Any, ...], expected_call: tuple[Any, ...],
                                         holds: int, fails: int) -> None:
    check = THEOREMS[lean_name].check
    for result, verdict in ((holds, True), (fails, False)):
        spy = Spy(result)
        monkeypatch.setattr(module, mirror, spy.guard_class() if is_class else spy.function)
        assert check(*args) is verdict
        assert spy.calls == [expected_call]


def _first_index(_n: int, idxs: list[int], *_rest: Any) -> int:
    """An order-sensitive stand-in for a loss over a list: the first index, or 0."""
    return idxs[0] if idxs else 0


@pytest.mark.parametrize(("module", "mirror", "lean_name", "args"), [
    (masking_checks, "masked_loss", "maskedLoss_reverse", (2, [0, 1], [5, 7])),
    (mae_checks, "mae_loss", "maeLoss_reverse", (2, [0, 1], [0, 0], [0, 0], [[0]])),
    (jepa_checks, "jepa_loss", "jepaLoss_reverse", (2, [0, 1], 0, [0, 0], [[0, 0]], [[0]])),
])
def test_reverse_checks_compare_the_reversed_list(monkeypatch: pytest.MonkeyPatch,
                                                  module: ModuleType, mirror: str,
                                                  lean_name: str, args: tuple[Any, ...]) -> None:
    """``f idxs.reverse = f idxs`` must really reverse: an order-sensitive mirror fails it."""
    monkeypatch.setattr(module, mirror, _first_index)
    assert THEOREMS[lean_name].check(*args) is False


@pytest.mark.parametrize(("mirror", "lean_name", "args"), [
    ("graph_ssl_objective", "graphSSLObjective_collapsed_positive",
     (2, 1, [(0, 1)], [[Fraction(3)], [Fraction(3)]], Fraction(1, 2))),
    ("real_variance_floor_guard", "realVarianceFloorGuard_zero_spread_positive",
     (2, Fraction(1, 2))),
])
def test_positivity_checks_fail_on_a_zero_mirror(monkeypatch: pytest.MonkeyPatch, mirror: str,
                                                 lean_name: str, args: tuple[Any, ...]) -> None:
    """``0 < …`` is strict: a mirror that returns 0 must fail the check, 1 must pass it."""
    for result, verdict in ((0, False), (1, True)):
        monkeypatch.setattr(pv_checks, mirror, Spy(result).function)
        assert THEOREMS[lean_name].check(*args) is verdict


def test_finite_contract_keeps_the_geometry_guard() -> None:
    contract = pv_checks.finite_contract(1, [0], 0, [0], [[0]], [[0]], [[0]], 5)
    assert contract.geometry_guard == 5
