"""Data at scale: image folders, memory-mapped ``.npy``, DataLoader workers, a validation split.

Workers only read pixels; the epoch order, crops and masks come from the run's generator in the
main process, so a run with workers (and a resumed one) is bit-for-bit the run without.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from maskproof.runtime import data as data_module
from maskproof.runtime.data import NpyImages, TensorImages, load_images
from maskproof.runtime.errors import UserError
from maskproof.runtime.loader import BatchLoader
from maskproof.runtime.split import split_indices
from maskproof.runtime.tasks import Shard, build_model_seeded, make_task
from maskproof.runtime.train import CONFIG_NAME, METRICS_NAME, SUMMARY_NAME, train
from tests.runtime.train_helpers import (
    ROOT,
    StopAt,
    assert_same_tensors,
    cli_env,
    flags,
    load_state,
    optimizer_tensors,
    small_config,
    write_images,
)

pytestmark = pytest.mark.usefixtures("one_thread")


def _write_folder(root: Path, classes: dict[str, int], mode: str, seed: int = 0) -> np.ndarray:
    """``count`` random 8x8 images per class subfolder (``""``: the folder itself); returns
    them as uint8 ``[N, C, 8, 8]`` in the loader's order (sorted classes, sorted names)."""
    rng = np.random.default_rng(seed)
    channels = 3 if mode == "RGB" else 1
    stacked = []
    for name in sorted(classes):
        folder = root / name
        folder.mkdir(parents=True, exist_ok=True)
        for index in range(classes[name]):
            pixels = rng.integers(0, 256, (8, 8, channels), dtype=np.uint8)
            Image.fromarray(pixels[..., 0] if channels == 1 else pixels, mode).save(
                folder / f"{index:03d}.png")
            stacked.append(pixels.transpose(2, 0, 1))
    return np.stack(stacked)


@pytest.mark.parametrize("mode", ["L", "RGB"])
def test_an_image_folder_with_class_subfolders_gives_scaled_pixels_and_sorted_labels(
        tmp_path: Path, mode: str) -> None:
    expected = _write_folder(tmp_path / "data", {"zebra": 3, "ant": 2, "moth": 4}, mode)
    data = load_images(str(tmp_path / "data"), None, 16)
    assert data.classes == ("ant", "moth", "zebra")
    assert data.shape == ((3 if mode == "RGB" else 1), 8, 8)
    assert torch.equal(data.images, torch.from_numpy(expected.astype(np.float32) / 255))
    assert data.labels is not None
    assert data.labels.tolist() == [0, 0, 1, 1, 1, 1, 2, 2, 2]


def test_a_flat_image_folder_has_no_labels_and_trains_recording_nothing_of_classes(
        tmp_path: Path) -> None:
    _write_folder(tmp_path / "flat", {"": 16}, "L")
    data = load_images(str(tmp_path / "flat"), None, 16)
    assert data.labels is None and data.classes is None and data.count == 16
    _write_folder(tmp_path / "classes", {"a": 8, "b": 8}, "L")
    run = train(small_config("vector-mae", tmp_path / "classes", steps=2),
                out=str(tmp_path / "run"), quiet=True)
    saved = json.loads((run.run_dir / CONFIG_NAME).read_text())
    assert saved["classes"] == ["a", "b"]
    assert json.loads((run.run_dir / SUMMARY_NAME).read_text())["classes"] == ["a", "b"]


@pytest.mark.parametrize("order", ["C", "F"])
def test_a_npy_is_memory_mapped_and_batches_are_gathered_from_the_map(
        tmp_path: Path, order: str) -> None:
    rng = np.random.default_rng(1)
    array = np.asarray(rng.integers(0, 256, (20, 3, 4, 4)), dtype=np.uint8, order=order)
    np.save(tmp_path / "x.npy", array)
    data = load_images(str(tmp_path / "x.npy"), None, 16)
    assert isinstance(data.store, NpyImages) and data.count == 20 and data.shape == (3, 4, 4)
    index = torch.tensor([7, 0, 19, 7])
    assert torch.equal(data.gather(index),
                       torch.from_numpy(array[[7, 0, 19, 7]].astype(np.float32) / 255))


@pytest.mark.parametrize("order", ["C", "F"])
def test_the_streamed_finiteness_pass_names_the_first_bad_index_across_chunks(
        tmp_path: Path, order: str, monkeypatch: pytest.MonkeyPatch) -> None:
    array = np.zeros((30, 1, 4, 4), dtype=np.float64, order=order)
    array[21, 0, 2, 3] = np.nan
    array[25, 0, 1, 1] = 1e300  # finite as float64, infinite as float32
    np.save(tmp_path / "x.npy", array)
    monkeypatch.setattr(data_module, "STREAM_BYTES", 40)  # 5 values a chunk: many chunks
    first = "(21, 0, 2, 3)" if order == "C" else "(25, 0, 1, 1)"  # F order: file order
    with pytest.raises(UserError) as error:
        load_images(str(tmp_path / "x.npy"), None, 16)
    assert f"2 non-finite value(s) as float32, first at index {first}" in str(error.value)


def test_the_loader_gives_the_batches_asked_for_with_or_without_workers(tmp_path: Path) -> None:
    path, _ = write_images(tmp_path, count=40)
    data = load_images(str(path), None, 16)
    batches = list(torch.randperm(40, generator=torch.Generator().manual_seed(5)).split(6))
    for workers in (0, 2):
        loaded = list(BatchLoader(data, workers).load(batches))
        assert len(loaded) == len(batches)
        for index, images in zip(batches, loaded, strict=True):
            assert torch.equal(images, data.gather(index))




def _metric(run_dir: Path, name: str) -> list[float]:
    return [json.loads(line)[name] for line in (run_dir / METRICS_NAME).read_text().splitlines()]


def test_a_run_resumed_with_two_workers_equals_one_uninterrupted_without(tmp_path: Path) -> None:
    # 40 images, 10 held out, batch 8: 3 steps an epoch, so the 9 steps cross two epoch
    # boundaries and the stop (step 7, after the checkpoint of step 6) lands mid-epoch.
    path, _ = write_images(tmp_path, count=40)
    settings = {"steps": 9, "checkpoint_every": 3, "val_fraction": 0.25, "crop_scale": 0.5}
    whole = train(small_config("mae", path, workers=0, **settings), out=str(tmp_path / "whole"),
                  quiet=True)
    parallel = small_config("mae", path, workers=2, **settings)
    stopped = tmp_path / "stopped"
    with pytest.raises(KeyboardInterrupt):
        train(parallel, out=str(stopped), quiet=True, checks=(StopAt(7),))
    assert load_state(stopped)["step"] == 6
    train(parallel, resume=str(stopped), quiet=True)
    end, expected = load_state(stopped), load_state(whole.run_dir)
    assert_same_tensors(end["model"], expected["model"])
    assert_same_tensors(optimizer_tensors(end), optimizer_tensors(expected))
    assert torch.equal(end["generator"], expected["generator"])
    assert _metric(stopped, "last_loss") == _metric(whole.run_dir, "last_loss")
    assert _metric(stopped, "val_loss") == _metric(whole.run_dir, "val_loss")  # same split
    for run_dir in (stopped, whole.run_dir):
        assert json.loads((run_dir / CONFIG_NAME).read_text())["split"] == \
            {"train": 30, "validation": 10}


def test_val_loss_is_the_task_loss_of_the_held_out_images_under_fixed_masks(
        tmp_path: Path) -> None:
    path, _ = write_images(tmp_path, count=40)
    config = small_config("mae", path, steps=4, val_fraction=0.3)
    run = train(config, out=str(tmp_path / "run"), quiet=True)
    train_index, held = split_indices(40, 0.3, config.seed)
    assert held.numel() == 12 and train_index.numel() == 28
    assert sorted(torch.cat([train_index, held]).tolist()) == list(range(40))
    data = load_images(str(path), None, 16)
    task = make_task(config, data.shape)
    model = build_model_seeded(task, config.seed)
    model.load_state_dict(load_state(run.run_dir)["model"])
    model.eval()
    generator = torch.Generator().manual_seed(config.seed)
    with torch.no_grad():
        losses = [float(task.forward_step(model, data.gather(chunk), generator,
                                          Shard.whole(chunk.numel())).local_loss) * chunk.numel()
                  for chunk in (held[:8], held[8:])]
    assert _metric(run.run_dir, "val_loss")[-1] == pytest.approx(sum(losses) / 12, rel=1e-6)


def test_masks_of_two_workers_and_two_ranks_are_four_distinct_main_process_streams(
        tmp_path: Path) -> None:
    """Ranks are simulated as Shard slices of one global batch, as torchrun ranks run them:
    each rank holds an identical copy of the run's generator and draws the global batch's
    masks, keeping its rows. The loader's two workers take the batches in turn (batch i on
    worker i mod 2). The masks are the single-process draw's rows whatever loaded the pixels,
    and the generator's state depends only on the steps taken, not on the workers."""
    path, _ = write_images(tmp_path, count=32)
    config = small_config("mae", path, batch_size=8)
    data = load_images(str(path), None, 16)
    task = make_task(config, data.shape)
    model = build_model_seeded(task, config.seed)
    shards = (Shard(0, 4, 8), Shard(4, 8, 8))
    batches = list(torch.arange(32).split(8))
    generator = torch.Generator().manual_seed(config.seed)
    before = generator.get_state()
    loaded = list(BatchLoader(data, workers=2).load(batches))
    assert torch.equal(generator.get_state(), before)  # loading drew nothing from it
    streams: dict[tuple[int, int], list[torch.Tensor]] = {}
    with torch.no_grad():
        for step, images in enumerate(loaded):
            state = generator.get_state()
            whole = task.forward_step(model, images, generator, Shard.whole(8))
            after = generator.get_state()
            for rank, shard in enumerate(shards):
                generator.set_state(state)  # every rank's copy is at the same state
                rows = images[shard.start:shard.stop]
                mask = task.forward_step(model, rows, generator, shard).tensors["mask_removed"]
                assert torch.equal(generator.get_state(), after)  # ranks stay in lockstep
                assert torch.equal(mask, whole.tensors["mask_removed"][shard.start:shard.stop])
                streams.setdefault((step % 2, rank), []).append(mask)
    assert len(streams) == 4
    flat = {key: torch.cat(masks) for key, masks in streams.items()}
    keys = sorted(flat)
    for i, a in enumerate(keys):
        for b in keys[i + 1:]:
            assert not torch.equal(flat[a], flat[b]), f"worker/rank {a} and {b} share masks"


def test_the_validation_split_leaves_the_training_order_unchanged_at_zero(
        tmp_path: Path) -> None:
    path, _ = write_images(tmp_path, count=32)
    first = train(small_config("vector-mae", path, steps=4), out=str(tmp_path / "a"),
                  quiet=True)
    train_index, held = split_indices(32, 0.0, 0)
    assert torch.equal(train_index, torch.arange(32)) and held.numel() == 0
    assert "val_loss" not in json.loads((first.run_dir / METRICS_NAME).read_text()
                                        .splitlines()[0])
    assert isinstance(load_images(None, None, 8).store, TensorImages)


@pytest.mark.slow
def test_two_processes_with_two_workers_each_match_one_process_without(tmp_path: Path) -> None:
    """The DDP equivalence of ``test_train_distributed`` (same tolerances, same reasons),
    with each rank's batches read by 2 workers and 8 of the 40 images held out."""
    from tests.runtime.test_train_distributed import (
        LOSS_RTOL,
        UPDATE_RTOL,
        _relative_update_difference,
    )

    path, _ = write_images(tmp_path, count=40)
    settings = {"steps": 6, "batch_size": 16, "log_every": 1, "checkpoint_every": 6, "seed": 1,
                "device": "cpu", "val_fraction": 0.2}
    ddp_dir = tmp_path / "ddp"
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone",
               "--nproc_per_node=2", "-m", "maskproof.bridge.cli", "train", "mae",
               *flags(settings), "--workers", "2", "--data", str(path), "--out", str(ddp_dir),
               "--quiet"]
    done = subprocess.run(command, cwd=ROOT, env=cli_env(), capture_output=True, text=True,
                          timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    single = small_config("mae", path, **settings)
    one = train(single, out=str(tmp_path / "one"), quiet=True)
    start = build_model_seeded(make_task(single, (1, 8, 8)), single.seed).state_dict()
    for name in ("last_loss", "val_loss"):
        for step, (a, b) in enumerate(zip(_metric(ddp_dir, name), _metric(one.run_dir, name),
                                          strict=True)):
            assert abs(a - b) <= LOSS_RTOL * abs(b), f"step {step}: {name} {a} vs {b}"
    assert _relative_update_difference(load_state(ddp_dir)["model"],
                                       load_state(one.run_dir)["model"], start) <= UPDATE_RTOL
