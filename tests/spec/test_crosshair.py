"""CrossHair explores every theorem check over int/bool/list data and finds no counterexample.

Each check registered with ``crosshair=None`` carries PEP 316 ``pre:``/``post: __return__``
contracts; ``crosshair check`` searches symbolically for inputs meeting the preconditions and
violating the postcondition. Checks over floats, Fractions or callables are registered with the
reason CrossHair cannot explore them, and ``test_every_excluded_check_states_why`` keeps that list
honest.

Per-condition timeout: 3 seconds (``--per_condition_timeout``, wall clock). Why 3: the 46 explored
checks are a few lines each over ints and short symbolic lists, and the false canary in
crosshair_canary.py is refuted well inside 3 s (the whole canary test, interpreter start included,
takes about 2 s), so a shallow bug in a check is within reach; yet 46 conditions at 3 s keep the
whole CrossHair run near 2 CPU-minutes (measured: 118 CPU-s, 6.5 min wall on a 2-core machine
shared with three other jobs), a modest share of the CI budget. Longer timeouts buy deeper paths
(longer lists), which Hypothesis already samples. ``MASKPROOF_CROSSHAIR_TIMEOUT`` raises it for a
deeper local run. CrossHair searches; it does not prove: "no counterexample" means none was found
within the budget.

The 31 checks CrossHair cannot explore (floats, Fractions, callables) are listed with their
reasons in the registry (``spec.THEOREMS[name].crosshair``) and in proofs_notes/README.md.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

from maskproof import spec

TIMEOUT = os.environ.get("MASKPROOF_CROSSHAIR_TIMEOUT", "3")
ROOT = Path(__file__).resolve().parents[2]


def _explorable_by_module() -> dict[str, list[str]]:
    targets: dict[str, list[str]] = defaultdict(list)
    for entry in spec.THEOREMS.values():
        if entry.crosshair is None:
            targets[entry.check.__module__].append(f"{entry.check.__module__}."
                                                   f"{entry.check.__name__}")
    return dict(sorted(targets.items()))


def _crosshair(targets: list[str]) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "crosshair", "check", "--analysis_kind=PEP316",
               f"--per_condition_timeout={TIMEOUT}", *targets]
    return subprocess.run(command, capture_output=True, text=True, cwd=ROOT, check=False,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})


@pytest.mark.parametrize("module", sorted(_explorable_by_module()))
def test_crosshair_finds_no_counterexample(module: str) -> None:
    result = _crosshair(_explorable_by_module()[module])
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == "", result.stdout


def test_crosshair_harness_catches_a_false_check() -> None:
    result = _crosshair(["tests.spec.crosshair_canary.reverse_keeps_head"])
    assert result.returncode != 0
    assert "false" in result.stdout.lower() or "error" in result.stdout.lower(), result.stdout


def test_every_excluded_check_states_why() -> None:
    for name, entry in spec.THEOREMS.items():
        if entry.crosshair is not None:
            assert len(entry.crosshair.split()) >= 3, f"{name}: give CrossHair's exclusion a reason"


def test_every_explorable_check_has_a_contract() -> None:
    for name, entry in spec.THEOREMS.items():
        if entry.crosshair is None:
            doc = entry.check.__doc__ or ""
            assert "post: __return__" in doc, f"{name} has no PEP 316 postcondition"
