"""Every registered theorem check holds on Hypothesis-drawn inputs that meet its hypotheses."""

from __future__ import annotations

import pytest
from hypothesis import given, settings

from maskproof import spec
from maskproof.bridge.theorem_args import Arguments, load_all

ARGUMENTS = load_all()

#: Theorems whose whole input space is smaller than a profile's example count; Hypothesis stops
#: once it has tried every input. Closed statements have one input; `allMask_selected` and
#: `emptyMask_not_selected` range over the 36 pairs `0 <= i < n <= 8`.
FINITE_INPUT_SPACES = {
    "vicregObjective_zero": 1, "diagonalRedundancyPenalty_one": 1,
    "offDiagonalRedundancyPenalty_zero": 1, "diagonalRedundancyPenalty_zero_positive": 1,
    "allMask_selected": 36, "emptyMask_not_selected": 36,
}


@pytest.mark.parametrize("lean_name", sorted(spec.THEOREMS))
def test_theorem_holds(lean_name: str) -> None:
    entry = spec.THEOREMS[lean_name]
    strategy = ARGUMENTS[lean_name]
    examples = 0

    @given(strategy)
    def run(arguments: Arguments) -> None:
        nonlocal examples
        examples += 1
        assert entry.check(**arguments) is True, f"{lean_name} fails on {arguments!r}"

    run()
    # The profile's count is a floor (ci: 300, thorough: 5,000); only an exhausted finite input
    # space may stop Hypothesis earlier, and then every input was tried.
    wanted = min(settings().max_examples, FINITE_INPUT_SPACES.get(lean_name, 10**9))
    assert examples >= wanted, f"{lean_name}: {examples} examples, expected at least {wanted}"


def test_every_theorem_has_an_argument_strategy() -> None:
    assert set(ARGUMENTS) == set(spec.THEOREMS)
