"""Files written atomically get the user's umask, not mkstemp's 0600 (runtime/atomic.py).

Runtime (2 cores): about 2 s, the tiny training run.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from maskproof.runtime import atomic
from maskproof.runtime.atomic import (
    current_umask,
    write_bytes_atomic,
    write_json_atomic,
    write_text_atomic,
)
from maskproof.runtime.checkpoint import CHECKPOINT_NAME
from maskproof.runtime.train import train
from tests.modes import mode
from tests.runtime.train_helpers import small_config, write_images


def test_current_umask_reads_the_process_umask(umask: int) -> None:
    assert current_umask() == umask
    assert os.umask(umask) == umask  # reading it changed nothing


def test_current_umask_without_proc_falls_back_to_set_and_restore(
        umask: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(atomic, "_umask_from_proc", lambda: None)
    assert current_umask() == umask
    assert os.umask(umask) == umask


def test_atomic_files_get_the_umask_mode_not_0600(tmp_path: Path, umask: int) -> None:
    expected = 0o666 & ~umask
    write_bytes_atomic(tmp_path / "a.bin", b"payload")
    write_json_atomic(tmp_path / "b.json", {"x": 1})
    write_text_atomic(tmp_path / "c.txt", "text")
    (tmp_path / "reference").write_bytes(b"")  # what open() gives under this umask
    assert mode(tmp_path / "reference") == expected
    assert {p.name: mode(p) for p in tmp_path.iterdir()} == {
        "a.bin": expected, "b.json": expected, "c.txt": expected, "reference": expected}


def test_replacing_a_file_gives_the_umask_mode(tmp_path: Path, umask: int) -> None:
    target = tmp_path / "state.json"
    target.write_text("old")
    target.chmod(0o600)
    write_json_atomic(target, [1, 2])
    assert mode(target) == 0o666 & ~umask
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]  # no temporary file left


def test_training_run_files_get_the_umask_mode(tmp_path: Path, umask: int) -> None:
    data, _ = write_images(tmp_path)
    run_dir = tmp_path / "run"
    train(small_config("mae", data, steps=2, checkpoint_every=1), out=str(run_dir), quiet=True)
    files = {p.name: mode(p) for p in run_dir.iterdir() if p.is_file()}
    assert CHECKPOINT_NAME in files, sorted(files)
    assert files == dict.fromkeys(files, 0o666 & ~umask)
    assert mode(run_dir) == 0o777 & ~umask
