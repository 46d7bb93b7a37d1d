"""Every registered theorem check holds on Hypothesis-drawn inputs that meet its hypotheses."""

from __future__ import annotations

import pytest
from hypothesis import given, settings

import spec
from bridge.theorem_args import Arguments, load_all

ARGUMENTS = load_all()


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
    # Hypothesis may stop early only when it has exhausted a finite input space.
    assert examples >= min(settings().max_examples, 1)


def test_every_theorem_has_an_argument_strategy() -> None:
    assert set(ARGUMENTS) == set(spec.THEOREMS)
