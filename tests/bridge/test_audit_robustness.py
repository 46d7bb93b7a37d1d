"""The audit on adapter code that hangs, exits, raises or misspells: a verdict, never a hang."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
from importlib import resources
from pathlib import Path

import jsonschema
import pytest

ADAPTERS = textwrap.dedent('''
    import sys

    class Hangs:
        jepa_grid = (8, 8)
        allow_overlap = False

        def sample_jepa_masks(self, batch_size, generator):
            while True:  # a rejection loop that can never succeed
                pass

    class Exits:
        def vector_mae_mask(self, x, period, offset):
            sys.exit(0)

    class Raises:
        def vector_mae_mask(self, x, period, offset):
            raise KeyError("no such period")

    class Typo:
        def patchify(self, images, p):
            return images

        def unpatchfy(self, patches, p, shape):
            return patches

    class ConstructorExits:
        def __init__(self):
            sys.exit(3)

        def vector_mae_mask(self, x, period, offset):
            return x

    class ConstructorHangs:
        def __init__(self):
            while True:
                pass

        def vector_mae_mask(self, x, period, offset):
            return x
''')


def _audit(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "maskproof", "audit", *args], cwd=cwd,
                          capture_output=True, text=True, check=False, timeout=240)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "adapters.py").write_text(ADAPTERS, "utf-8")
    return tmp_path


def test_a_method_that_never_returns_is_reported_did_not_terminate(project: Path) -> None:
    result = _audit(project, "adapters:Hangs", "--examples", "3", "--timeout", "2",
                    "--contract", "jepa.masks_disjoint_nonempty", "--out", "r")
    assert result.returncode == 1, result.stderr
    line = next(x for x in result.stdout.splitlines() if "jepa.masks_disjoint_nonempty" in x)
    assert "did not terminate within 2 s" in line
    assert re.search(r"adapters\.py:\d+ in sample_jepa_masks", line), line
    report = json.loads((project / "r" / "audit.json").read_text("utf-8"))
    (entry,) = report["contracts"]
    assert entry["status"] == "did not terminate"
    assert "--contract jepa.masks_disjoint_nonempty" in entry["rerun"]


def test_sys_exit_in_a_method_is_a_failure_not_exit_0(project: Path) -> None:
    result = _audit(project, "adapters:Exits", "--examples", "3", "--out", "r",
                    "--contract", "lean.vector_mae_mask")
    assert result.returncode == 1, result.stderr
    assert "called sys.exit(0) at" in result.stdout and "in vector_mae_mask" in result.stdout


def test_an_exception_names_its_type_and_the_adapters_line(project: Path) -> None:
    result = _audit(project, "adapters:Raises", "--examples", "3", "--out", "r",
                    "--contract", "lean.vector_mae_mask")
    assert result.returncode == 1
    assert "raised KeyError: 'no such period' at" in result.stdout
    assert re.search(r"adapters\.py:\d+ in vector_mae_mask", result.stdout), result.stdout


@pytest.mark.parametrize(("source", "expected"), [
    ("def broken(:\n", "SyntaxError at"),
    ("raise RuntimeError('no GPU here')\n", "RuntimeError: no GPU here at"),
    ("import sys\nsys.exit(0)\n", "called sys.exit(0) at"),
    ("while True:\n    pass\n", "did not terminate within 2 s"),
])
def test_a_module_that_fails_to_import_is_one_line_exit_2(tmp_path: Path, source: str,
                                                          expected: str) -> None:
    (tmp_path / "bad_adapter.py").write_text(source, "utf-8")
    result = _audit(tmp_path, "bad_adapter:Adapter", "--timeout", "2", "--out", "r")
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    assert expected in result.stderr and "bad_adapter" in result.stderr
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize(("target", "expected"), [
    ("adapters:ConstructorExits", "constructing 'adapters:ConstructorExits'() called "
                                  "sys.exit(3)"),
    ("adapters:ConstructorHangs", "did not terminate within 2 s"),
])
def test_a_constructor_that_exits_or_hangs_is_one_line_exit_2(project: Path, target: str,
                                                              expected: str) -> None:
    result = _audit(project, target, "--timeout", "2", "--out", "r")
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1 and expected in result.stderr


def test_near_miss_method_names_are_named(project: Path) -> None:
    result = _audit(project, "adapters:Typo", "--out", "r")
    assert result.returncode == 2
    assert "PatchifyCapability (lacks unpatchify; near misses: unpatchfy)" in result.stderr


def test_json_output_validates_against_the_shipped_schema(project: Path) -> None:
    result = _audit(project, "maskproof.examples.third_party_adapter:Adapter", "--json",
                    "--examples", "5", "--out", "r", "--contract", "masking.keep_count",
                    "--contract", "lean.block_mask")
    assert result.returncode == 1, result.stderr
    printed = json.loads(result.stdout)
    written = json.loads((project / "r" / "audit.json").read_text("utf-8"))
    schema = json.loads(resources.files("maskproof.bridge.audit")
                        .joinpath("audit.schema.json").read_text("utf-8"))
    jsonschema.validate(written, schema)
    assert printed["contracts"] == written["contracts"]
    statuses = {c["id"]: c["status"] for c in written["contracts"]}
    assert statuses == {"masking.keep_count": "fails", "lean.block_mask": "not applicable"}
    assert written["environment"]["maskproof"] and written["environment"]["torch"]
    bad = dict(written, counts={**written["counts"], "holds": -1})
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, schema)


def test_quiet_prints_only_the_summary(project: Path) -> None:
    result = _audit(project, "maskproof.bridge.audit.reference:ReferenceAdapter", "--quiet",
                    "--examples", "2", "--contract", "lean.block_mask", "--out", "r")
    assert result.returncode == 0
    assert result.stdout.splitlines() == [
        "1 hold, 0 fail, 0 did not terminate, 0 not applicable; wrote r/audit.md and "
        "r/audit.json"]


def test_out_never_overwrites_a_file_the_audit_did_not_write(project: Path) -> None:
    (project / "r").mkdir()
    mine = project / "r" / "audit.md"
    mine.write_text("# my notes\n", "utf-8")
    result = _audit(project, "maskproof.bridge.audit.reference:ReferenceAdapter",
                    "--examples", "2", "--contract", "lean.block_mask", "--out", "r")
    assert result.returncode == 2 and "is not a maskproof audit report" in result.stderr
    assert mine.read_text("utf-8") == "# my notes\n"
    assert not (project / "r" / "audit.json").exists()
    again = _audit(project, "maskproof.bridge.audit.reference:ReferenceAdapter",
                   "--examples", "2", "--contract", "lean.block_mask", "--out", "r2")
    assert again.returncode == 0
    rerun = _audit(project, "maskproof.bridge.audit.reference:ReferenceAdapter",
                   "--examples", "2", "--contract", "lean.block_mask", "--out", "r2")
    assert rerun.returncode == 0, rerun.stderr  # its own earlier report is replaced


def test_time_limit_restores_an_outer_timer() -> None:
    import signal
    import time

    from maskproof.bridge.audit.limits import DidNotTerminate, time_limit

    fired: list[bool] = []
    previous = signal.signal(signal.SIGALRM, lambda *_: fired.append(True))
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.6)
        with pytest.raises(DidNotTerminate, match="within 0.1 s"), time_limit(0.1):
            while True:
                pass
        with time_limit(5):
            pass
        deadline = time.monotonic() + 3
        while not fired and time.monotonic() < deadline:
            time.sleep(0.01)
        assert fired, "the outer timer was cancelled"
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
