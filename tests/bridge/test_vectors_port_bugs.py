"""bench/port_bugs.py: the vectors catch every planted porting bug, and the clean port passes."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "port_bugs.py"


@pytest.fixture(scope="module")
def port_bugs() -> ModuleType:
    spec = importlib.util.spec_from_file_location("port_bugs", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["port_bugs"] = module  # dataclasses resolve their module by name
    spec.loader.exec_module(module)
    return module


def test_every_planted_bug_is_caught_and_the_clean_port_passes(port_bugs: ModuleType) -> None:
    modules = port_bugs.load_published()
    baseline = port_bugs.run_bug(modules, None)
    assert baseline.failures == [], [f.describe() for f in baseline.failures[:5]]
    assert baseline.cases_run > 300
    assert len(port_bugs.BUGS) >= 20
    missed = [bug for bug in port_bugs.BUGS if not port_bugs.run_bug(modules, bug).caught]
    assert missed == [], f"planted bugs no case catches: {missed}"


def test_the_bench_exits_nonzero_only_when_a_bug_escapes(port_bugs: ModuleType,
                                                         capsys: pytest.CaptureFixture[str]
                                                         ) -> None:
    assert port_bugs.main(["--only", "u64-flat-index,nan-by-value"]) == 0
    out = capsys.readouterr().out
    assert "2/2 planted bugs caught" in out and "u64-flat-index" in out
    with pytest.raises(SystemExit):
        port_bugs.main(["--only", "no-such-bug"])
    assert "unknown bug" in capsys.readouterr().err
