"""What a run logs: every step's loss, lr and pre-clip gradient norm per metric line, window means
that survive a resume exactly (the open window is checkpointed), I-JEPA's collapse metrics, the
optional CSV / TensorBoard writers, and reconstructions that show what was hidden."""

from __future__ import annotations

import csv
import importlib.util
import io
import json
import math
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image

from maskproof.bridge.cli import main
from maskproof.runtime import plots
from maskproof.runtime.checkpoint import CHECKPOINT_NAME
from maskproof.runtime.errors import UserError
from maskproof.runtime.masks import image_patch_hidden, vector_mae_hidden_mask
from maskproof.runtime.metric_writers import CSV_NAME, parse_log_writers
from maskproof.runtime.optim import lr_at
from maskproof.runtime.tasks import Reconstructions, build_model_seeded, make_task
from maskproof.runtime.train import METRICS_NAME, SUMMARY_NAME, train
from tests.runtime.train_helpers import StopAt, load_state, small_config, write_images

pytestmark = pytest.mark.usefixtures("one_thread")

#: Checkpoints every 3 steps, a metric line every 4: the lines of steps 4 and 8 average windows
#: that span a checkpoint (steps 1-4 span step 3, steps 5-8 span step 6).
WINDOWED = {"steps": 9, "log_every": 4, "checkpoint_every": 3}
TASK_EXTRAS: dict[str, dict[str, object]] = {
    "mae": {}, "jepa": {"patch_size": 2}, "vector-mae": {}, "image-mae": {"patch_size": 3}}


def _records(run_dir: Path) -> list[dict[str, Any]]:
    lines = (run_dir / METRICS_NAME).read_text().splitlines()
    return [json.loads(line) for line in lines]


def _without_clock(run_dir: Path) -> list[str]:
    """Each metric line re-serialised without its wall-clock field, in file order."""
    return [json.dumps({k: v for k, v in record.items() if k != "seconds"})
            for record in _records(run_dir)]


def _stopped_and_resumed(tmp_path: Path, task: str, stop: int,
                         **log: Any) -> tuple[Path, Path]:
    data, _ = write_images(tmp_path)
    config = small_config(task, data, **WINDOWED, **TASK_EXTRAS[task])
    whole = train(config, out=str(tmp_path / "whole"), quiet=True, **log).run_dir
    stopped = tmp_path / "stopped"
    with pytest.raises(KeyboardInterrupt):
        train(config, out=str(stopped), quiet=True, checks=(StopAt(stop),), **log)
    train(config, resume=str(stopped), quiet=True, **log)
    return whole, stopped


@pytest.mark.parametrize("task", sorted(TASK_EXTRAS))
def test_metric_lines_after_a_mid_window_resume_equal_the_uninterrupted_run(
        tmp_path: Path, task: str) -> None:
    whole, stopped = _stopped_and_resumed(tmp_path, task, stop=7)  # resumes from step 6
    resumed_lines = _without_clock(stopped)
    assert [r["step"] for r in _records(stopped)] == [4, 8, 9]
    assert len(_records(stopped)[1]["step_losses"]) == 4  # steps 5-8: two before step 6
    assert resumed_lines == _without_clock(whole)  # every loss, lr, grad norm, collapse value


def test_the_checkpoint_holds_the_open_window(tmp_path: Path) -> None:
    data, _ = write_images(tmp_path)
    config = small_config("vector-mae", data, **WINDOWED)
    stopped = tmp_path / "stopped"
    with pytest.raises(KeyboardInterrupt):
        train(config, out=str(stopped), quiet=True, checks=(StopAt(7),))
    state = load_state(stopped)
    assert state["step"] == 6
    # The line of step 4 closed steps 1-4; steps 5 and 6 are open. Their losses are the ones
    # the uninterrupted run logs at step 8, first two entries.
    whole = train(config, out=str(tmp_path / "whole"), quiet=True).run_dir
    assert state["log_window"] == _records(whole)[1]["step_losses"][:2]
    assert state["log_window_lrs"] == _records(whole)[1]["step_lrs"][:2]


@pytest.mark.parametrize(("window", "message"), [
    ([0.5], "`log_window` holds 1 values, expected 2"),
    ([0.5, math.nan], "`log_window` holds NaN or infinite values"),
    ("0.5", "`log_window` is a str, expected a list of floats"),
    ([1, 2], "`log_window` is a list, expected a list of floats"),
])
def test_a_tampered_log_window_is_refused_before_anything_loads(
        tmp_path: Path, window: object, message: str) -> None:
    data, _ = write_images(tmp_path)
    config = small_config("vector-mae", data, **WINDOWED)
    stopped = tmp_path / "stopped"
    with pytest.raises(KeyboardInterrupt):
        train(config, out=str(stopped), quiet=True, checks=(StopAt(7),))
    state = load_state(stopped)
    state["log_window"] = window
    torch.save(state, stopped / CHECKPOINT_NAME)
    with pytest.raises(UserError, match=message):
        train(config, resume=str(stopped), quiet=True)


def test_a_checkpoint_without_the_window_still_resumes(tmp_path: Path) -> None:
    """Checkpoints written before the window was saved: the next line averages fewer steps."""
    data, _ = write_images(tmp_path)
    config = small_config("vector-mae", data, **WINDOWED)
    stopped = tmp_path / "stopped"
    with pytest.raises(KeyboardInterrupt):
        train(config, out=str(stopped), quiet=True, checks=(StopAt(7),))
    state = load_state(stopped)
    del state["log_window"], state["log_window_lrs"]
    torch.save(state, stopped / CHECKPOINT_NAME)
    train(config, resume=str(stopped), quiet=True)
    line = _records(stopped)[1]
    assert line["step"] == 8 and len(line["step_losses"]) == 2
    assert line["loss"] == sum(line["step_losses"]) / 2
    assert len(line["step_lrs"]) == 2


def test_every_step_lr_and_pre_clip_gradient_norm_are_logged(tmp_path: Path) -> None:
    data, _ = write_images(tmp_path)
    clip = 1e-4  # far below any gradient norm here, so every step is clipped
    config = small_config("mae", data, steps=7, log_every=3, clip_grad=clip)
    run = train(config, out=str(tmp_path / "run"), quiet=True).run_dir
    records = _records(run)
    schedule = json.loads((run / "config.json").read_text())["schedule"]
    steps, losses = plots.step_losses(records)
    assert steps == list(range(1, 8))  # every trained step, once
    lr_steps, lrs = plots.per_step(records, "step_lrs", "lr")
    assert lr_steps == steps
    assert lrs == [lr_at(step - 1, schedule["total_steps"], schedule["warmup_steps"],
                         schedule["peak_lr"], schedule["min_lr"]) for step in steps]
    for record in records:
        window = record["step_losses"]
        assert record["loss"] == sum(window) / len(window)
        assert record["last_loss"] == window[-1]
        assert record["lr"] == record["step_lrs"][-1]
        assert record["grad_norm"] > clip  # the norm before clipping, not the clipped one
    assert [len(r["step_losses"]) for r in records] == [3, 3, 1]


def test_jepa_logs_collapse_metrics_and_reports_the_final_ones(tmp_path: Path) -> None:
    data, _ = write_images(tmp_path)
    run = train(small_config("jepa", data, steps=4, log_every=2, patch_size=2),
                out=str(tmp_path / "run"), quiet=True).run_dir
    records = _records(run)
    for record in records:
        assert 0 <= record["target_effective_rank"] <= record["target_rank_max"]
        assert 1 - 1e-9 <= record["target_effective_rank_uncentred"] <= \
            record["target_rank_max"]
        assert 0 <= record["target_std_min"] <= record["target_std_mean"]
        assert record["target_feature_rms"] > 0
    assert records[-1]["target_rank_max"] == 32.0  # min(32 images, the tiny preset's width)
    summary = json.loads((run / SUMMARY_NAME).read_text())["collapse"]
    assert summary["step"] == 4
    assert {k: v for k, v in summary.items() if k.startswith("target_")} == \
        {k: v for k, v in records[-1].items() if k.startswith("target_")}
    assert (run / "collapse.png").read_bytes()[:4] == b"\x89PNG"


def test_pixel_tasks_log_no_collapse_metrics(tmp_path: Path) -> None:
    data, _ = write_images(tmp_path)
    run = train(small_config("vector-mae", data, steps=2), out=str(tmp_path / "run"),
                quiet=True).run_dir
    assert not any(k.startswith("target_") for r in _records(run) for k in r)
    assert "collapse" not in json.loads((run / SUMMARY_NAME).read_text())
    assert not (run / "collapse.png").exists()


def test_csv_mirrors_the_metric_lines_and_survives_a_resume(tmp_path: Path) -> None:
    whole, stopped = _stopped_and_resumed(tmp_path, "jepa", stop=7, log=("csv",))

    def rows(run: Path) -> list[dict[str, str]]:
        table = list(csv.DictReader(io.StringIO((run / CSV_NAME).read_text())))
        for row in table:
            row.pop("seconds")
        return table

    expected = [{k: repr(v) if isinstance(v, float) else str(v) for k, v in record.items()
                 if k not in ("seconds", "step_losses", "step_lrs")}
                for record in _records(whole)]
    assert rows(whole) == expected
    assert rows(stopped) == expected  # the stretch after the checkpoint is not there twice


def test_log_values_are_parsed_and_bad_ones_named() -> None:
    assert parse_log_writers(["csv,jsonl", "tensorboard", "csv"]) == ("csv", "tensorboard")
    assert parse_log_writers([]) == ()
    with pytest.raises(UserError, match=r"--log csv,tb: unknown writer 'tb'"):
        parse_log_writers(["csv,tb"])


def test_an_unknown_log_writer_is_one_line_before_any_folder(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data, _ = write_images(tmp_path)
    out = tmp_path / "run"
    status = main(["train", "vector-mae", "--data", str(data), "--steps", "1", "--out", str(out),
                   "--log", "csv", "--log", "wandb", "--quiet"])
    err = capsys.readouterr().err.strip().splitlines()
    assert status == 2 and len(err) == 1
    assert "--log wandb: unknown writer 'wandb'; expected csv or tensorboard" in err[0]
    assert not out.exists()


def test_log_tensorboard_without_the_package_is_one_line_before_any_folder(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    # A None entry makes `import torch.utils.tensorboard` raise ImportError, as on a machine
    # without the package (the dev environment installs it, for the writer test below).
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)
    data, _ = write_images(tmp_path)
    out = tmp_path / "run"
    status = main(["train", "vector-mae", "--data", str(data), "--steps", "1", "--batch-size",
                   "8", "--out", str(out), "--log", "csv,tensorboard", "--quiet"])
    err = capsys.readouterr().err.strip().splitlines()
    assert status == 2 and len(err) == 1
    assert "`tensorboard` package is not installed" in err[0]
    assert "pip install tensorboard" in err[0]
    assert not out.exists()


@pytest.mark.skipif(importlib.util.find_spec("tensorboard") is None,
                    reason="tensorboard is not installed (pip install tensorboard)")
def test_log_tensorboard_writes_event_files(tmp_path: Path) -> None:
    data, _ = write_images(tmp_path)
    run = train(small_config("vector-mae", data, steps=2), out=str(tmp_path / "run"),
                quiet=True, log=("tensorboard",)).run_dir
    assert list((run / "tensorboard").glob("events.out.tfevents.*"))


def _grid(task: str, tmp_path: Path, **extra: object) -> Reconstructions:
    data, _ = write_images(tmp_path)
    config = small_config(task, data, **extra)
    task_object = make_task(config, (1, 8, 8))
    model = build_model_seeded(task_object, 0).eval()
    images = torch.rand(3, 1, 8, 8, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        grid = task_object.reconstructions(model, images, torch.Generator().manual_seed(0))
    assert grid is not None
    return grid


@pytest.mark.parametrize("norm_pix", [True, False])
def test_mae_reconstruction_states_its_space_and_copies_visible_patches(
        tmp_path: Path, norm_pix: bool) -> None:
    grid = _grid("mae", tmp_path, norm_pix_loss=norm_pix)
    assert grid.hidden.shape == (3, 1, 8, 8) and grid.hidden.dtype == torch.bool
    hidden = grid.hidden.expand_as(grid.original)
    # 4 patches of 4x4 at ratio 0.75: 3 hidden per image, 48 pixels.
    assert grid.hidden.sum(dim=(1, 2, 3)).tolist() == [48, 48, 48]
    assert torch.equal(grid.reconstruction[~hidden], grid.original[~hidden])
    assert ("un-normalised with the TRUE patch mean/std" in grid.caption) == norm_pix


def test_compact_tasks_mark_their_lean_hidden_pixels(tmp_path: Path) -> None:
    vector = _grid("vector-mae", tmp_path)
    expected = vector_mae_hidden_mask(64, 4, 0).reshape(1, 8, 8)
    assert torch.equal(vector.hidden, expected.expand(3, 1, 8, 8))
    image = _grid("image-mae", tmp_path, patch_size=3)
    assert torch.equal(image.hidden, image_patch_hidden(8, 8, 3, 3, 4, 0).expand(3, 1, 8, 8))


def test_hidden_pixels_are_drawn_in_a_colour_no_grey_pixel_has(tmp_path: Path) -> None:
    images = torch.zeros(2, 1, 8, 8)  # all background: a hidden 0 would be invisible
    hidden = torch.zeros(2, 1, 8, 8, dtype=torch.bool)
    hidden[:, :, :4, :4] = True
    path = tmp_path / "grid.png"
    plots.plot_reconstructions(Reconstructions(images, hidden, images, "test"), path)
    rgb = np.asarray(Image.open(path).convert("RGB")).astype(int)
    magenta = int(((rgb[..., 0] > 200) & (rgb[..., 2] > 200) & (rgb[..., 1] < 60)).sum())
    assert magenta > 100  # two hidden 4x4 corners, drawn tens of screen pixels wide


def test_loss_curve_draws_from_lines_without_step_losses(tmp_path: Path) -> None:
    """Run folders logged before ``step_losses`` existed still plot (one point per line)."""
    old = [{"step": 10, "loss": 1.0}, {"step": 20, "loss": 0.5}]
    assert plots.step_losses(old) == ([10, 20], [1.0, 0.5])
    old = [{**record, "lr": 1e-3} for record in old]
    assert plots.per_step(old, "step_lrs", "lr") == ([10, 20], [1e-3, 1e-3])
    plots.plot_loss_curve(old, tmp_path / "curve.png", "old")
    assert (tmp_path / "curve.png").read_bytes()[:4] == b"\x89PNG"


def test_csv_asked_for_only_on_resume_holds_the_whole_run(tmp_path: Path) -> None:
    """``--log csv`` given only on resume: the CSV is built from the kept metric lines first."""
    data, _ = write_images(tmp_path)
    config = small_config("vector-mae", data, **WINDOWED)
    stopped = tmp_path / "stopped"
    with pytest.raises(KeyboardInterrupt):
        train(config, out=str(stopped), quiet=True, checks=(StopAt(7),))
    assert not (stopped / CSV_NAME).exists()
    train(config, resume=str(stopped), quiet=True, log=("csv",))
    steps = [row["step"] for row in csv.DictReader(io.StringIO((stopped / CSV_NAME).read_text()))]
    assert steps == ["4", "8", "9"]
