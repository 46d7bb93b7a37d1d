"""After a non-finite stop the kept checkpoint is finite, and ``--resume`` may lower the lr."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import torch

from maskproof.bridge.cli import main
from maskproof.runtime import run_history
from maskproof.runtime.errors import NonFiniteLossError, UserError
from maskproof.runtime.train import CONFIG_NAME, make_schedule, train
from tests.runtime.train_helpers import (
    assert_same_tensors,
    load_state,
    optimizer_tensors,
    small_config,
    write_images,
)

pytestmark = pytest.mark.usefixtures("one_thread")

#: Beyond float32's range: the first update makes the weights infinite while the loss that
#: produced it was finite, the case a loss check alone lets into a checkpoint.
HUGE_LR = 1e42


def _blown_up(tmp_path: Path) -> tuple[Path, Path]:
    data, _ = write_images(tmp_path)
    run = tmp_path / "run"
    config = small_config("vector-mae", data, steps=4, checkpoint_every=1, lr=HUGE_LR,
                          warmup_steps=0)
    with pytest.raises(NonFiniteLossError, match="not finite after step 1") as stop:
        train(config, out=str(run), quiet=True)
    assert "last good checkpoint: step 0" in str(stop.value)
    assert "--lr" in str(stop.value)
    return data, run


def test_the_checkpoint_kept_after_a_blow_up_is_finite(tmp_path: Path) -> None:
    _, run = _blown_up(tmp_path)
    state = load_state(run)
    assert state["step"] == 0
    tensors = {**state["model"], **optimizer_tensors(state)}
    assert tensors and all(bool(torch.isfinite(t).all()) for t in tensors.values()
                           if t.is_floating_point())


def test_resume_with_a_smaller_lr_continues_and_is_recorded(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data, run = _blown_up(tmp_path)
    status = main(["train", "vector-mae", "--resume", str(run), "--lr", "1e-3", "--quiet"])
    err = capsys.readouterr().err
    assert status == 0, err
    assert "resuming" in err and "--lr 0.001 (was 1e+42)" in err
    recorded = json.loads((run / CONFIG_NAME).read_text())
    assert recorded["config"]["lr"] == 1e-3
    (change,) = recorded["resumes"]
    assert change["step"] == 0 and change["changed"] == {"lr": {"from": HUGE_LR, "to": 1e-3}}
    assert change["config_before"]["lr"] == HUGE_LR
    # From the step-0 checkpoint, the resumed run is the run that had lr 1e-3 from the start.
    fresh = train(small_config("vector-mae", data, steps=4, checkpoint_every=1, lr=1e-3,
                               warmup_steps=0),
                  out=str(tmp_path / "fresh"), quiet=True)
    assert_same_tensors(load_state(run)["model"], load_state(fresh.run_dir)["model"])
    assert_same_tensors(optimizer_tensors(load_state(run)),
                        optimizer_tensors(load_state(fresh.run_dir)))


def test_a_checkpoint_from_before_the_change_still_resumes(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """config.json is rewritten before training; a kill before the next checkpoint leaves the
    old checkpoint, whose settings config.json records as replaced."""
    data, run = _blown_up(tmp_path)
    before = (run / "checkpoint.pt").read_bytes()
    old = small_config("vector-mae", data, steps=4, checkpoint_every=1, lr=HUGE_LR,
                          warmup_steps=0)
    new = dataclasses.replace(old, lr=1e-3)
    run_history.record_resume(run, 0, {"lr": (HUGE_LR, 1e-3)},
                              (old, make_schedule(old, 32).as_dict()),
                              (new, make_schedule(new, 32).as_dict()))
    assert (run / "checkpoint.pt").read_bytes() == before  # the state a kill would leave
    assert main(["train", "vector-mae", "--resume", str(run), "--quiet"]) == 0, \
        capsys.readouterr().err
    assert load_state(run)["step"] == 4


def test_resume_refuses_other_settings_and_bad_knobs(tmp_path: Path) -> None:
    data, run = _blown_up(tmp_path)
    config = small_config("vector-mae", data, steps=4, checkpoint_every=1, lr=HUGE_LR,
                          warmup_steps=0)
    with pytest.raises(UserError, match="--batch-size is 8 in the run and 4 here"):
        train(dataclasses.replace(config, batch_size=4), resume=str(run), quiet=True)
    with pytest.raises(UserError, match="--lr 0.0: expected a positive number"):
        train(dataclasses.replace(config, lr=0.0), resume=str(run), quiet=True)
