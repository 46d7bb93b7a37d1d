"""A training run as a tool: its folder, safe and atomic checkpoints, a non-finite loss, the probe,
the optimizer recipe, bf16 autocast on CUDA only, and no use of the global RNG."""

from __future__ import annotations

import json
import math
import os
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from maskproof.bridge.cli import main
from maskproof.runtime import checkpoint
from maskproof.runtime.data import images_from_array
from maskproof.runtime.errors import UserError
from maskproof.runtime.optim import lr_at, param_groups, scaled_lr
from maskproof.runtime.tasks import build_model_seeded, make_task
from maskproof.runtime.train import (
    COMPLETE_NAME,
    CONFIG_NAME,
    METRICS_NAME,
    SUMMARY_NAME,
    LiveStep,
    _autocast,
    train,
)
from tests.runtime.train_helpers import load_state, small_config, write_images

pytestmark = pytest.mark.usefixtures("one_thread")

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_mae_run_folder_holds_every_artifact(tmp_path: Path) -> None:
    data, _ = write_images(tmp_path)
    config = small_config("mae", data, steps=5, log_every=2, checkpoint_every=2)
    result = train(config, out=str(tmp_path / "run"), quiet=True)
    run = result.run_dir
    saved = json.loads((run / CONFIG_NAME).read_text())
    assert saved["config"] == config.to_json_dict()
    assert saved["schedule"]["total_steps"] == 5
    records = [json.loads(line) for line in (run / METRICS_NAME).read_text().splitlines()]
    assert [r["step"] for r in records] == [2, 4, 5]
    assert all({"loss", "last_loss", "lr", "grad_norm", "epoch"} <= r.keys() for r in records)
    assert all(math.isfinite(r["loss"]) for r in records)
    for name in ("loss_curve.png", "reconstructions.png"):
        assert (run / name).read_bytes()[:8] == PNG_MAGIC
    summary = json.loads((run / SUMMARY_NAME).read_text())
    assert summary["steps"] == 5 and summary["final_loss"] == records[-1]["last_loss"]
    assert (run / COMPLETE_NAME).exists()
    assert not [p.name for p in run.iterdir() if p.name.endswith(".tmp")]
    # The checkpoint loads with weights_only=True and holds the final step's weights.
    state = torch.load(run / checkpoint.CHECKPOINT_NAME, map_location="cpu", weights_only=True)
    assert state["step"] == 5
    model = build_model_seeded(make_task(config, (1, 8, 8)), config.seed)
    model.load_state_dict(state["model"])


def test_jepa_run_has_a_loss_curve_and_no_reconstruction_grid(tmp_path: Path) -> None:
    data, _ = write_images(tmp_path)
    run = train(small_config("jepa", data, steps=3, patch_size=2), out=str(tmp_path / "run"),
                quiet=True).run_dir
    assert (run / "loss_curve.png").read_bytes()[:8] == PNG_MAGIC
    assert not (run / "reconstructions.png").exists()  # I-JEPA predicts features, not pixels
    assert (run / COMPLETE_NAME).exists()


class _Payload:
    """An object whose unpickling would run code: a safe loader must refuse it."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str, str]]:
        return (Path.write_text, (str(self.marker), "pickle ran"))


def test_checkpoint_loading_refuses_arbitrary_pickle(tmp_path: Path) -> None:
    marker = tmp_path / "ran.txt"
    path = tmp_path / "evil.pt"
    torch.save({"format": 1, "step": 0, "payload": _Payload(marker)}, path)
    with pytest.raises(UserError, match="unreadable or corrupt"):
        checkpoint.load_checkpoint(path)
    assert not marker.exists()


def test_checkpoint_missing_entries_are_named(tmp_path: Path) -> None:
    path = tmp_path / "partial.pt"
    torch.save({"format": 1, "step": 0}, path)
    with pytest.raises(UserError, match="missing entries .*'model'"):
        checkpoint.load_checkpoint(path)


def test_atomic_write_keeps_the_old_file_when_the_rename_fails(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "checkpoint.pt"
    target.write_bytes(b"old checkpoint")

    def failing_replace(source: str, destination: object) -> None:
        assert Path(source).parent == tmp_path  # the temp file sits next to the target
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(OSError, match="disk full"):
        checkpoint.save_checkpoint(target, {"step": 1, "model": {"w": torch.ones(3)}})
    assert target.read_bytes() == b"old checkpoint"
    assert sorted(os.listdir(tmp_path)) == ["checkpoint.pt"]  # no temp file left behind


def test_atomic_write_replaces_the_file_in_one_rename(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "checkpoint.pt"
    renames: list[tuple[str, str]] = []
    real_replace = os.replace

    def recording_replace(source: str, destination: str) -> None:
        assert not Path(destination).exists() or Path(source).stat().st_size > 0
        renames.append((Path(source).name, Path(destination).name))
        real_replace(source, destination)

    monkeypatch.setattr(os, "replace", recording_replace)
    checkpoint.save_checkpoint(target, {"step": 1, "model": {"w": torch.ones(3)}})
    assert len(renames) == 1 and renames[0][1] == "checkpoint.pt"
    assert renames[0][0].startswith(".checkpoint.pt.") and renames[0][0].endswith(".tmp")
    assert torch.equal(torch.load(target, weights_only=True)["model"]["w"], torch.ones(3))


def test_non_finite_loss_stops_with_one_line_and_keeps_the_last_good_checkpoint(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data, _ = write_images(tmp_path)
    run = tmp_path / "run"
    # A learning rate of 1e30 makes the weights ~1e28 after one update; the next forward pass
    # overflows float32.
    status = main(["train", "vector-mae", "--data", str(data), "--steps", "20", "--lr", "1e30",
                   "--batch-size", "8", "--hidden-dim", "16", "--checkpoint-every", "1",
                   "--warmup-steps", "0", "--device", "cpu", "--quiet", "--out", str(run)])
    err = capsys.readouterr().err
    assert status == 2
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert "maskproof train: loss is " in err and "training stopped" in err
    state = load_state(run)
    assert f"last good checkpoint: step {state['step']} in {run / 'checkpoint.pt'}" in err
    assert 1 <= state["step"] < 20
    assert all(bool(torch.isfinite(t).all()) for t in state["model"].values())
    assert not (run / COMPLETE_NAME).exists()
    assert (run / CONFIG_NAME).exists()


def test_probe_prints_pretrained_random_init_and_raw_pixels(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data, labels = write_images(tmp_path, count=40)
    run = tmp_path / "run"
    assert main(["train", "mae", "--data", str(data), "--labels", str(labels), "--steps", "3",
                 "--batch-size", "8", "--device", "cpu", "--quiet", "--out", str(run)]) == 0
    capsys.readouterr()
    assert main(["probe", str(run), "--device", "cpu"]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[1].split() == ["features", "pretrained", "(train", "CV)", "random", "init"]
    assert table[-1].startswith("train CV:")
    rows = {line.split()[0]: line.split()[1:] for line in table[2:-1]}
    assert set(rows) == {"cls", "mean_patch", "cls+mean_patch", "raw"}
    assert all(len(values) == 3 for name, values in rows.items() if name != "raw")
    assert rows["raw"][0] == "pixels" and rows["raw"][1].endswith("%")
    report = json.loads((run / "probe.json").read_text())
    accuracy = report["accuracy"]
    assert set(accuracy["pretrained"]) == set(accuracy["random_init"]) == {
        "cls", "mean_patch", "cls+mean_patch"}
    assert 0.0 <= accuracy["raw_pixels"] <= 1.0
    validation = report["validation"]
    assert set(validation) == {"pretrained", "random_init", "raw_pixels"}
    assert set(validation["pretrained"]) == set(accuracy["pretrained"])
    assert report["checkpoint_step"] == 3 and report["split"]["test"] == 10


def test_weight_decay_skips_norms_biases_positions_and_tokens(tmp_path: Path) -> None:
    data, _ = write_images(tmp_path)
    for task, extra in (("mae", {}), ("jepa", {"patch_size": 2})):
        config = small_config(task, data, **extra)
        model = build_model_seeded(make_task(config, (1, 8, 8)), 0)
        decay, no_decay = param_groups(model, 0.05)
        assert decay["weight_decay"] == 0.05 and no_decay["weight_decay"] == 0.0
        names = dict(model.named_parameters())
        for name in decay["param_names"]:
            assert names[name].ndim >= 2 and "token" not in name and "pos_embed" not in name
        for name in no_decay["param_names"]:
            assert names[name].ndim <= 1 or "token" in name
        assert any(n.endswith("cls_token") or n.endswith("mask_token")
                   for n in no_decay["param_names"])
        trainable = {n for n, p in names.items() if p.requires_grad}
        assert set(decay["param_names"]) | set(no_decay["param_names"]) == trainable
        assert not any(n.startswith("target_encoder") for n in trainable)
        # Fixed sin-cos tables are buffers: never optimised, never decayed.
        assert not any("pos_embed" in n for n in names)


def test_learning_rate_scaling_warmup_and_cosine() -> None:
    assert scaled_lr(1.5e-4, 4096) == pytest.approx(2.4e-3)  # MAE: 1.5e-4 x 4096 / 256
    peak, total, warmup = 1e-3, 100, 10
    assert lr_at(0, total, warmup, peak, 0.0) == pytest.approx(peak / warmup)
    assert lr_at(warmup - 1, total, warmup, peak, 0.0) == pytest.approx(peak)
    schedule = [lr_at(s, total, warmup, peak, 1e-5) for s in range(total)]
    assert all(a <= b for a, b in zip(schedule[:warmup], schedule[1:warmup], strict=False))
    assert all(a >= b for a, b in zip(schedule[warmup:], schedule[warmup + 1:], strict=False))
    assert schedule[-1] == pytest.approx(1e-5)
    middle = warmup + (total - warmup - 1) / 2
    assert lr_at(int(middle), total, warmup, peak, 0.0) == pytest.approx(peak / 2, rel=0.05)


def test_bf16_autocast_on_cuda_only() -> None:
    cpu = _autocast(torch.device("cpu"))
    assert not isinstance(cpu, torch.autocast)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "CUDA is not available": only the settings matter
        cuda = _autocast(torch.device("cuda", 0))
    assert isinstance(cuda, torch.autocast)
    assert cuda.device == "cuda" and cuda.fast_dtype == torch.bfloat16


def test_training_never_touches_the_global_rng_and_is_deterministic(tmp_path: Path) -> None:
    data, _ = write_images(tmp_path)
    config = small_config("mae", data, steps=3)
    torch.manual_seed(1234)
    before = torch.get_rng_state()
    first = train(config, out=str(tmp_path / "a"), quiet=True)
    assert torch.equal(torch.get_rng_state(), before)
    second = train(config, out=str(tmp_path / "b"), quiet=True)
    assert torch.equal(torch.get_rng_state(), before)
    a, b = load_state(first.run_dir)["model"], load_state(second.run_dir)["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)
    other = train(small_config("mae", data, steps=3, seed=1), out=str(tmp_path / "c"),
                  quiet=True)
    c = load_state(other.run_dir)["model"]
    assert not all(torch.equal(a[k], c[k]) for k in a)



class _Capture:
    """A step check that keeps the images each step trained on."""

    def __init__(self) -> None:
        self.images: list[torch.Tensor] = []

    def due(self, step: int) -> bool:
        return True

    def __call__(self, live: LiveStep) -> str | None:
        self.images.append(live.outputs.tensors["images"].clone())
        return None

    def summary(self) -> str:
        return ""


def test_crop_scale_trains_on_crops_drawn_after_the_permutation(tmp_path: Path) -> None:
    from maskproof.runtime.augment import random_resized_crop

    data, _ = write_images(tmp_path)
    capture = _Capture()
    config = small_config("mae", data, steps=1, crop_scale=0.3)
    train(config, out=str(tmp_path / "run"), quiet=True, checks=(capture,))
    assert json.loads((tmp_path / "run" / CONFIG_NAME).read_text())["config"]["crop_scale"] == 0.3
    images = torch.from_numpy(np.load(data))
    generator = torch.Generator().manual_seed(config.seed)  # the run's draws, replayed
    order = torch.randperm(images.shape[0], generator=generator)
    batch = images[order[:config.batch_size]]
    expected = random_resized_crop(batch, generator, 0.3)
    torch.testing.assert_close(capture.images[0], expected)
    assert not torch.allclose(expected, batch)  # the crop changed the images


def test_uint8_and_float_data_are_accepted_and_validated(tmp_path: Path) -> None:
    raw = np.arange(2 * 3 * 4 * 4, dtype=np.uint8).reshape(2, 3, 4, 4)
    images = images_from_array(raw, "x")
    assert images.dtype == torch.float32
    assert torch.equal(images, torch.from_numpy(raw.astype(np.float32) / np.float32(255.0)))
    as_float = images_from_array(raw.astype(np.float64) / 7, "x")
    assert as_float.dtype == torch.float32
    with pytest.raises(UserError, match=r"non-finite value\(s\) as float32, first at index"):
        images_from_array(np.full((1, 1, 2, 2), 1e300), "x")  # overflows float32
    data = tmp_path / "rgb.npy"
    np.save(data, np.random.default_rng(0).integers(0, 256, (16, 3, 8, 8), dtype=np.uint8))
    result = train(small_config("mae", data, steps=2), out=str(tmp_path / "run"), quiet=True)
    assert math.isfinite(result.final_loss)
