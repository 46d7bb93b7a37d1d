"""``maskproof train … --check-every K``: the bridge's runtime-vs-spec checks on live batches pass
on the real runtime and stop a run with a one-line diff when its loss or mask is corrupted."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from maskproof.bridge.cli import main
from maskproof.bridge.live_check import LiveSpecCheck
from maskproof.runtime.masks import RandomMasking, random_masking_from_noise, vector_mae_mask
from maskproof.runtime.models import compact, ijepa, mae
from maskproof.runtime.train import COMPLETE_NAME, train
from tests.runtime.train_helpers import load_state, small_config, write_images

pytestmark = pytest.mark.usefixtures("one_thread")

TASK_SETTINGS: list[tuple[str, dict[str, object]]] = [
    ("mae", {}),
    ("jepa", {"patch_size": 2}),
    ("vector-mae", {"period": 3, "offset": 1}),
    ("image-mae", {"patch_size": 3, "period": 2, "offset": 1, "recon_dim": 40}),
]


def test_due_steps_are_every_kth() -> None:
    check = LiveSpecCheck(3)
    assert [step for step in range(10) if check.due(step)] == [0, 3, 6, 9]
    with pytest.raises(ValueError, match="positive int"):
        LiveSpecCheck(0)


@pytest.mark.parametrize(("task", "extra"), TASK_SETTINGS, ids=[t for t, _ in TASK_SETTINGS])
def test_live_checks_pass_on_the_real_runtime(tmp_path: Path, task: str,
                                              extra: dict[str, object]) -> None:
    data, _ = write_images(tmp_path)
    check = LiveSpecCheck(2)
    result = train(small_config(task, data, steps=4, **extra), out=str(tmp_path / "run"),
                   quiet=True, checks=(check,))
    assert result.final_step == 4
    assert [step for step, _ in check.passed] == [0, 2]
    assert all("within bound" in line for _, line in check.passed)


def test_cli_reports_the_checks(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data, _ = write_images(tmp_path)
    assert main(["train", "vector-mae", "--data", str(data), "--steps", "4", "--batch-size", "8",
                 "--hidden-dim", "8", "--device", "cpu", "--check-every", "2", "--out",
                 str(tmp_path / "run")]) == 0
    out = capsys.readouterr().out
    assert "spec checks (every 2 steps): 2 live batches (steps 0, 2) agree with the spec" in out


def _run_cli(tmp_path: Path, task: str, extra: list[str],
             capsys: pytest.CaptureFixture[str]) -> tuple[int, str, Path]:
    data, _ = write_images(tmp_path)
    run = tmp_path / "run"
    status = main(["train", task, "--data", str(data), "--steps", "4", "--batch-size", "8",
                   "--device", "cpu", "--checkpoint-every", "2", "--check-every", "2",
                   "--quiet", "--out", str(run), *extra])
    return status, capsys.readouterr().err, run


def _assert_stopped_at_first_step(status: int, err: str, run: Path) -> None:
    assert status == 1, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert err.startswith("maskproof train: spec check failed at step 0: ")
    assert "training stopped before this update (last good checkpoint: step 0" in err
    state = load_state(run)  # the initial weights, untouched by the rejected update
    assert state["step"] == 0 and not state["optimizer"]["state"]
    assert not (run / COMPLETE_NAME).exists()


def test_a_corrupted_mae_loss_stops_the_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    real = mae.masked_patch_loss

    def off_by_a_thousandth(*args: Any) -> torch.Tensor:
        return real(*args) * 1.001

    monkeypatch.setattr(mae, "masked_patch_loss", off_by_a_thousandth)
    status, err, run = _run_cli(tmp_path, "mae", [], capsys)
    _assert_stopped_at_first_step(status, err, run)
    assert "paper MAE (norm-pix): runtime" in err and "OUTSIDE bound" in err


def test_an_mae_mask_with_flipped_polarity_stops_the_run(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    real = random_masking_from_noise

    def flipped(*args: Any) -> RandomMasking:
        out = real(*args)
        return out._replace(mask_removed=1 - out.mask_removed)  # "1 is keep", the seed's slip

    monkeypatch.setattr("maskproof.runtime.models.mae.random_masking_from_noise", flipped)
    status, err, run = _run_cli(tmp_path, "mae", [], capsys)
    _assert_stopped_at_first_step(status, err, run)
    assert "mask_removed[0] removes 1 of 4 patches" in err and "3 must be removed" in err


def test_a_corrupted_jepa_loss_stops_the_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    real = ijepa.smooth_l1_over_valid

    def plus_padding(pred: torch.Tensor, target: torch.Tensor,
                     valid: torch.Tensor) -> torch.Tensor:
        return real(pred, target, torch.ones_like(valid))  # scores the padding slots too

    monkeypatch.setattr(ijepa, "smooth_l1_over_valid", plus_padding)
    status, err, run = _run_cli(tmp_path, "jepa", ["--patch-size", "2"], capsys)
    _assert_stopped_at_first_step(status, err, run)
    assert "I-JEPA: runtime" in err and "OUTSIDE bound" in err


def test_a_vector_mae_loss_over_the_wrong_coordinates_stops_the_run(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    def every_coordinate(self: compact.VectorMAE, x: torch.Tensor) -> tuple[torch.Tensor,
                                                                             torch.Tensor]:
        prediction = self.decoder(self.encoder(vector_mae_mask(x, self.period, self.offset)))
        return compact.mean_squared_error(prediction, x), prediction  # visible ones too

    monkeypatch.setattr(compact.VectorMAE, "forward", every_coordinate)
    status, err, run = _run_cli(tmp_path, "vector-mae", ["--hidden-dim", "8"], capsys)
    _assert_stopped_at_first_step(status, err, run)
    assert "vector MAE: runtime" in err and "OUTSIDE bound" in err
