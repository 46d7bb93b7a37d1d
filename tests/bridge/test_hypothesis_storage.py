"""``check``, ``audit`` and ``zoo`` keep Hypothesis's storage out of the working directory.

Hypothesis writes ``.hypothesis/`` (a ``constants`` cache) in the current directory even with
``database=None``; these commands point it at ``--hypothesis-db DIR`` or at a temporary folder.
The cache is written once per process, so the no-flag runs are fresh subprocesses, each paired
with a ``--hypothesis-db`` run of the same command: that one's ``DIR/constants`` shows Hypothesis
did write storage in this configuration, so the clean working directory is not a vacuous pass.

Runtime (2 cores): about 15 s; the pairs run in parallel, the zoo pair dominates.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from maskproof.bridge.cli import main
from maskproof.bridge.hypothesis_storage import current_home

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = "maskproof.bridge.audit.reference:ReferenceAdapter"
#: Fails masking.keep_count (it keeps int(N * (1 - r)) tokens in floating point).
FAILING = "maskproof.examples.third_party_adapter:Adapter"

#: Commands that, in a fresh process, make Hypothesis write its constants cache.
COMMANDS = {
    "check": ["check", "--examples", "2", "--quiet", "--out", "table.json"],
    "audit": ["audit", REFERENCE, "--examples", "3", "--out", "report"],
    "zoo": ["zoo", "--quick", "--examples", "10"],
}


def _env(tmp: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env["OMP_NUM_THREADS"] = "1"
    env["TMPDIR"] = str(tmp)  # where the default storage folder goes, to see it is removed
    env.pop("HYPOTHESIS_STORAGE_DIRECTORY", None)
    return env


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_no_hypothesis_folder_is_left_in_the_working_directory(command: str,
                                                                tmp_path: Path) -> None:
    plain, flagged, tmp, db = (tmp_path / n for n in ("plain", "flagged", "tmp", "db"))
    for folder in (plain, flagged, tmp):
        folder.mkdir()
    argv = [sys.executable, "-m", "maskproof", *COMMANDS[command]]
    runs = [subprocess.Popen(argv + extra, cwd=cwd, env=_env(tmp), stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True)
            for cwd, extra in ((plain, []), (flagged, ["--hypothesis-db", str(db)]))]
    outputs = [run.communicate(timeout=300)[0] for run in runs]
    assert [run.returncode for run in runs] == [0, 0], outputs
    assert not (plain / ".hypothesis").exists() and not (flagged / ".hypothesis").exists()
    # The temporary storage folder was removed (PyTorch leaves its own torchinductor_* there).
    assert [p.name for p in tmp.iterdir() if p.name.startswith("maskproof-")] == []
    assert any((db / "constants").iterdir()), (
        f"Hypothesis wrote no constants cache for {command}: the no-flag run proves nothing")


def test_audit_database_saves_and_replays_failing_examples(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    home = current_home()
    db = tmp_path / "db"
    audit = ["audit", FAILING, "--contract", "masking.keep_count"]
    assert main([*audit, "--examples", "10", "--out", "first", "--hypothesis-db", str(db)]) == 1
    assert any((db / "examples").iterdir())
    # Two examples on another seed: the saved failure is replayed first and found again.
    assert main([*audit, "--examples", "1", "--seed", "1", "--out", "second",
                 "--hypothesis-db", str(db)]) == 1
    first, second = (json.loads((tmp_path / run / "audit.json").read_text())["contracts"][0]
                     for run in ("first", "second"))
    assert second["status"] == "fails"
    assert second["counterexample"] == first["counterexample"]
    assert current_home() == home  # the suite's own storage setting is restored
    assert not (tmp_path / ".hypothesis").exists()
    capsys.readouterr()


def test_zoo_with_a_database_saves_the_cards_failures(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    db = tmp_path / "db"
    assert main(["zoo", "--quick", "--card", "ratio_ignored", "--examples", "10",
                 "--hypothesis-db", str(db)]) == 0
    assert any((db / "examples").iterdir())
    assert not (tmp_path / ".hypothesis").exists()
    capsys.readouterr()


@pytest.mark.parametrize("command", [["check", "--examples", "1", "--out", "t.json"],
                                     ["audit", REFERENCE], ["zoo", "--quick"]],
                         ids=["check", "audit", "zoo"])
def test_a_hypothesis_db_that_is_a_file_is_one_line_exit_2(
        command: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert main([*command, "--hypothesis-db", str(blocker)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"--hypothesis-db {blocker}" in err, err
