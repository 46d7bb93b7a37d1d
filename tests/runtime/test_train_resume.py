"""Exact resume: a run stopped after a checkpoint and continued with ``--resume`` ends with the
same weights and optimizer state, bit for bit, as one never interrupted (CPU).

The first test kills a real ``maskproof train`` process with SIGKILL; the others stop a run
in-process at an arbitrary step of every task (cheaper, so every objective is covered).
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

import pytest
import torch

from maskproof.runtime.checkpoint import CHECKPOINT_NAME, load_checkpoint
from maskproof.runtime.errors import UserError
from maskproof.runtime.train import COMPLETE_NAME, METRICS_NAME, train
from tests.runtime.train_helpers import (
    ROOT,
    StopAt,
    assert_same_tensors,
    cli_env,
    flags,
    load_state,
    maskproof_command,
    optimizer_tensors,
    run_maskproof,
    small_config,
    write_images,
)

pytestmark = pytest.mark.usefixtures("one_thread")

#: Long enough that the kill lands mid-run (each step is a few ms; the poll is 5 ms).
KILL_RUN = {"steps": 240, "batch_size": 16, "mask_ratio": "0.75", "patch_size": 4,
            "checkpoint_every": 20, "log_every": 5, "seed": 3, "device": "cpu"}


def _losses(run_dir: Path) -> list[tuple[int, float]]:
    lines = (run_dir / METRICS_NAME).read_text().splitlines()
    return [(record["step"], record["last_loss"]) for record in map(json.loads, lines)]


def _checkpoint_step(path: Path) -> int:
    try:
        return int(load_checkpoint(path)["step"])
    except Exception:  # not written yet (the rename is atomic, so never torn)
        return -1


@pytest.mark.slow
def test_sigkilled_cli_run_resumes_bit_for_bit(tmp_path: Path) -> None:
    data, _ = write_images(tmp_path, count=64)
    args = ["train", "mae", *flags(KILL_RUN), "--data", str(data), "--quiet"]
    reference = tmp_path / "reference"
    done = run_maskproof(*args, "--out", str(reference))
    assert done.returncode == 0, done.stderr

    killed = tmp_path / "killed"
    process = subprocess.Popen(maskproof_command(*args, "--out", str(killed)), cwd=ROOT,
                               env=cli_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 240
    while _checkpoint_step(killed / CHECKPOINT_NAME) < 40 and process.poll() is None:
        assert time.monotonic() < deadline, "the run wrote no checkpoint past step 40"
        time.sleep(0.005)
    process.send_signal(signal.SIGKILL)
    process.communicate(timeout=60)
    assert process.returncode == -signal.SIGKILL, "the run finished before it could be killed"
    stopped_at = load_checkpoint(killed / CHECKPOINT_NAME)["step"]
    assert 40 <= stopped_at < KILL_RUN["steps"]
    assert not (killed / COMPLETE_NAME).exists()

    resumed = run_maskproof("train", "mae", "--resume", str(killed), "--quiet")
    assert resumed.returncode == 0, resumed.stderr
    assert (killed / COMPLETE_NAME).exists()
    end, expected = load_state(killed), load_state(reference)
    assert end["step"] == expected["step"] == KILL_RUN["steps"]
    assert_same_tensors(end["model"], expected["model"])
    assert_same_tensors(optimizer_tensors(end), optimizer_tensors(expected))
    assert torch.equal(end["generator"], expected["generator"])
    # The metric lines past the checkpoint were dropped and written again: one per logged step.
    assert _losses(killed) == _losses(reference)




@pytest.mark.parametrize(("task", "extra"), [
    ("mae", {}),
    ("mae", {"crop_scale": 0.3}),  # the crop boxes come from the checkpointed generator
    ("jepa", {"patch_size": 2}),  # a 4x4 grid: room for 4 target blocks and a context
    ("jepa", {"patch_size": 2, "crop_scale": 0.5}),
    ("vector-mae", {}),
    ("image-mae", {"patch_size": 3}),  # a grid that does not tile the 8x8 image
])
def test_every_task_resumes_bit_for_bit(tmp_path: Path, task: str,
                                        extra: dict[str, object]) -> None:
    data, _ = write_images(tmp_path)
    config = small_config(task, data, steps=7, checkpoint_every=3, **extra)
    whole = train(config, out=str(tmp_path / "whole"), quiet=True)
    stopped = tmp_path / "stopped"
    with pytest.raises(KeyboardInterrupt):
        train(config, out=str(stopped), quiet=True, checks=(StopAt(5),))
    assert load_state(stopped)["step"] == 3  # the checkpoint before the interruption
    assert not (stopped / COMPLETE_NAME).exists()
    resumed = train(config, resume=str(stopped), quiet=True)
    assert resumed.final_step == whole.final_step == 7
    end, expected = load_state(stopped), load_state(whole.run_dir)
    assert_same_tensors(end["model"], expected["model"])
    assert_same_tensors(optimizer_tensors(end), optimizer_tensors(expected))
    assert _losses(stopped) == _losses(whole.run_dir)


def test_resume_of_a_complete_run_is_refused(tmp_path: Path) -> None:
    data, _ = write_images(tmp_path)
    result = train(small_config("vector-mae", data, steps=2), out=str(tmp_path / "run"),
                   quiet=True)
    with pytest.raises(UserError, match="already complete"):
        train(small_config("vector-mae", data, steps=2), resume=str(result.run_dir), quiet=True)


def test_resume_from_the_final_checkpoint_only_finishes_the_run(tmp_path: Path) -> None:
    data, _ = write_images(tmp_path)
    config = small_config("vector-mae", data, steps=3)
    first = train(config, out=str(tmp_path / "run"), quiet=True)
    for name in (COMPLETE_NAME, "summary.json"):  # killed while writing the last files
        (first.run_dir / name).unlink()
    again = train(config, resume=str(first.run_dir), quiet=True)
    assert again.final_step == 3 and again.final_loss == first.final_loss
    assert (first.run_dir / COMPLETE_NAME).exists()
    assert json.loads((first.run_dir / "summary.json").read_text())["final_loss"] == \
        first.final_loss
