"""A full disk mid-run: one line naming the file, the space left and how to resume; no loss."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from maskproof.bridge.cli import main
from maskproof.runtime import atomic
from maskproof.runtime.checkpoint import CHECKPOINT_NAME
from maskproof.runtime.train import COMPLETE_NAME
from tests.runtime.train_helpers import load_state, write_images

pytestmark = pytest.mark.usefixtures("one_thread")


def _train_argv(data: Path, run: Path) -> list[str]:
    return ["train", "vector-mae", "--data", str(data), "--steps", "6", "--batch-size", "8",
            "--hidden-dim", "16", "--checkpoint-every", "2", "--quiet", "--out", str(run)]


def test_a_full_disk_is_one_line_and_the_run_resumes(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    data, _ = write_images(tmp_path)
    run = tmp_path / "run"
    real_fsync = os.fsync
    calls = {"checkpoint": 0}

    def fsync(fd: int) -> None:
        # The kernel reports ENOSPC at fsync for delayed allocation; fail the third checkpoint
        # (step 4), after the step-0 and step-2 ones are on disk.
        if os.readlink(f"/proc/self/fd/{fd}").endswith(".tmp") and \
                f".{CHECKPOINT_NAME}." in os.readlink(f"/proc/self/fd/{fd}"):
            calls["checkpoint"] += 1
            if calls["checkpoint"] == 3:
                raise OSError(errno.ENOSPC, "No space left on device")
        real_fsync(fd)

    monkeypatch.setattr(atomic.os, "fsync", fsync)
    status = main(_train_argv(data, run))
    err = capsys.readouterr().err
    assert status == 2, err
    (line,) = err.strip().splitlines()
    assert "Traceback" not in err
    assert "no space left on the device writing" in line and str(run / CHECKPOINT_NAME) in line
    assert "bytes free there" in line
    assert f"maskproof train vector-mae --resume {run}" in line
    assert load_state(run)["step"] == 2  # the last good checkpoint is untouched
    assert not list(run.glob(".*.tmp")) and not (run / COMPLETE_NAME).exists()
    monkeypatch.setattr(atomic.os, "fsync", real_fsync)  # space freed
    assert main(["train", "vector-mae", "--resume", str(run), "--quiet"]) == 0
    assert load_state(run)["step"] == 6 and (run / COMPLETE_NAME).exists()


def test_a_command_that_is_not_train_names_the_file_too(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(atomic.os, "fsync", full)
    out = tmp_path / "table.json"
    assert main(["check", "--examples", "1", "--quiet", "--out", str(out)]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert f"no space left on the device writing {out}" in line
    assert "run the command again" in line
