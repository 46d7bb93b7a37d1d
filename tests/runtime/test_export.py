"""``maskproof export`` / ``load_encoder``: the encoder alone, rebuilt to the same outputs, in
maskproof's and timm's key layouts; refusals and damaged files as one line; and
``--keep-checkpoints K``."""

from __future__ import annotations

import json
import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
from safetensors.torch import load_file, save_file
from torch import nn

from maskproof.bridge.cli import main
from maskproof.runtime import load_encoder
from maskproof.runtime.checkpoint import CHECKPOINT_NAME
from maskproof.runtime.config import TrainConfig
from maskproof.runtime.encoder_file import METADATA_KEY, tensors_sha256
from maskproof.runtime.errors import EncoderFileError, UserError
from maskproof.runtime.export import export_encoder
from maskproof.runtime.tasks import build_model_seeded, make_task
from maskproof.runtime.train import COMPLETE_NAME, CONFIG_NAME, train
from tests.runtime.timm_replica import VisionTransformer
from tests.runtime.train_helpers import StopAt, load_state, small_config, write_images

pytestmark = pytest.mark.usefixtures("one_thread")

#: Small runs of every task (jepa on a 4x4 grid, so it has room for its target blocks).
TASKS: dict[str, dict[str, object]] = {"mae": {}, "jepa": {"patch_size": 2},
                                       "vector-mae": {}, "image-mae": {"patch_size": 3}}


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One finished 3-step run per task, trained once for the module."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        folder = tmp_path_factory.mktemp("runs")
        data, _ = write_images(folder)
        return {task: train(small_config(task, data, steps=3, **extra),
                            out=str(folder / task), quiet=True).run_dir
                for task, extra in TASKS.items()}
    finally:
        torch.set_num_threads(before)


def _trained(run_dir: Path) -> tuple[TrainConfig, nn.Module]:
    """The run's model with its checkpoint's weights, rebuilt here independently of export."""
    from maskproof.runtime.data import load_images
    from maskproof.runtime.train import read_run_config

    config = read_run_config(run_dir)
    data = load_images(config.data, config.labels, config.image_size)
    model = build_model_seeded(make_task(config, data.shape), config.seed)
    model.load_state_dict(load_state(run_dir)["model"])
    return config, model.eval()


def _images(config: TrainConfig) -> torch.Tensor:
    from maskproof.runtime.data import load_images

    return load_images(config.data, config.labels, config.image_size).images[:5]


def _reference_tokens(task: str, model: nn.Module, images: torch.Tensor) -> torch.Tensor:
    """What the trained model's encoder gives on the full, unmasked images."""
    if task == "mae":
        out: torch.Tensor = model.encoder(images)
    elif task == "jepa":
        out = model.target_encoder(images)
    else:
        rows = images.flatten(1) if task == "vector-mae" else images
        out = model.forward_features(rows)
    return out


@pytest.mark.parametrize("task", list(TASKS))
def test_load_encoder_gives_the_trained_encoders_outputs(runs: dict[str, Path], task: str,
                                                         tmp_path: Path) -> None:
    result = export_encoder(runs[task], tmp_path / "enc.safetensors")
    config, model = _trained(runs[task])
    encoder = load_encoder(result.path)
    images = _images(config)
    with torch.no_grad():
        assert torch.equal(encoder(images), _reference_tokens(task, model, images))
    assert result.config["step"] == 3 and result.config["task"] == task
    assert result.path.stat().st_size == result.size


@pytest.mark.parametrize("task", list(TASKS))
def test_the_file_holds_the_encoder_alone_and_no_pickle(runs: dict[str, Path], task: str,
                                                        tmp_path: Path) -> None:
    path = export_encoder(runs[task], tmp_path / "enc.safetensors").path
    raw = path.read_bytes()
    (header_size,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + header_size])  # safetensors: a JSON header, raw buffers
    spans = [entry["data_offsets"] for name, entry in header.items() if name != "__metadata__"]
    assert 8 + header_size + max(end for _, end in spans) == len(raw)
    assert not raw.startswith((b"\x80", b"PK"))  # neither a pickle nor torch's zip archive
    tensors = load_file(str(path))  # safetensors' own loader: tensors only
    _, model = _trained(runs[task])
    expected = model.target_encoder if task == "jepa" else model.encoder
    assert len(tensors) == len(expected.state_dict())
    for name, value in expected.state_dict().items():  # the compact ones under "mlp."
        stored = tensors[name if task in ("mae", "jepa") else f"mlp.{name}"]
        assert torch.equal(stored, value)
    meta = json.loads(header["__metadata__"][METADATA_KEY])
    assert meta["source_run"] == str(runs[task].resolve())


def test_jepa_exports_the_target_encoder_not_the_context_encoder(runs: dict[str, Path],
                                                                 tmp_path: Path) -> None:
    result = export_encoder(runs["jepa"], tmp_path / "enc.safetensors")
    _, model = _trained(runs["jepa"])
    tensors = load_file(str(result.path))
    name = "transformer.blocks.0.attn.qkv.weight"
    assert result.config["encoder"] == "target_encoder"
    assert torch.equal(tensors[name], model.target_encoder.state_dict()[name])
    assert not torch.equal(tensors[name], model.context_encoder.state_dict()[name])


@pytest.mark.parametrize("task", ["mae", "jepa"])
def test_timm_export_loads_strictly_into_timms_layout_with_equal_outputs(
        runs: dict[str, Path], task: str, tmp_path: Path) -> None:
    result = export_encoder(runs[task], tmp_path / "vit.safetensors", fmt="timm")
    assert result.sidecar == tmp_path / "vit.json"
    timm_config = json.loads(result.sidecar.read_text())
    replica = VisionTransformer(**timm_config["model_args"])
    replica.load_state_dict(load_file(str(result.path)), strict=True)
    replica.eval()
    config, model = _trained(runs[task])
    images = _images(config)
    with torch.no_grad():
        # The same operations on the same weights in the same order: equal bit for bit.
        assert torch.equal(replica.forward_features(images),
                           _reference_tokens(task, model, images))
        assert torch.equal(load_encoder(result.path)(images),  # the timm file loads back too
                           _reference_tokens(task, model, images))
    keys = set(load_file(str(result.path)))
    assert {"patch_embed.proj.weight", "pos_embed", "blocks.0.attn.qkv.weight", "norm.weight",
            "blocks.0.mlp.fc2.bias"} <= keys
    assert ("cls_token" in keys) == (task == "mae")


def _one_line(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    try:
        status = main(argv)
    except SystemExit as exit_:
        status = exit_.code if isinstance(exit_.code, int) else 1
    err = capsys.readouterr().err
    assert status == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def test_cli_export_writes_a_new_file_and_never_overwrites(
        runs: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "mine.safetensors"
    assert main(["export", str(runs["mae"]), "--format", "safetensors", "--out", str(out)]) == 0
    assert "wrote" in capsys.readouterr().out and out.is_file()
    before = out.read_bytes()
    line = _one_line(capsys, ["export", str(runs["mae"]), "--format", "safetensors",
                              "--out", str(out)])
    assert "exists" in line and str(out) in line
    assert out.read_bytes() == before
    notes = tmp_path / "notes.json"  # the timm sidecar's name is taken by someone else's file
    notes.write_text("mine")
    line = _one_line(capsys, ["export", str(runs["mae"]), "--format", "timm",
                              "--out", str(tmp_path / "notes.safetensors")])
    assert "notes.json" in line and notes.read_text() == "mine"
    assert not (tmp_path / "notes.safetensors").exists()


BadExport = Callable[[dict[str, Path], Path], list[str]]

BAD_EXPORTS: list[tuple[str, BadExport, str]] = [
    ("unknown format", lambda r, d: [str(r["mae"]), "--format", "onnx"], "'onnx'"),
    ("no format", lambda r, d: [str(r["mae"])], "--format"),
    ("timm of an MLP", lambda r, d: [str(r["vector-mae"]), "--format", "timm",
                                     "--out", str(d / "x.safetensors")], "vector-mae"),
    ("out is a folder", lambda r, d: [str(r["mae"]), "--format", "safetensors", "--out",
                                      str(d)], "is a directory"),
    ("out in no folder", lambda r, d: [str(r["mae"]), "--format", "safetensors", "--out",
                                       str(d / "no" / "x.safetensors")], "no such directory"),
    ("not a run", lambda r, d: [str(d), "--format", "safetensors"], "not a maskproof run"),
    ("no run folder", lambda r, d: [str(d / "none"), "--format", "safetensors"],
     "no such directory"),
]


@pytest.mark.parametrize(("name", "argv", "expected"), BAD_EXPORTS,
                         ids=[name for name, _, _ in BAD_EXPORTS])
def test_bad_export_is_one_line(runs: dict[str, Path], tmp_path: Path,
                                capsys: pytest.CaptureFixture[str], name: str,
                                argv: BadExport, expected: str) -> None:
    assert expected in _one_line(capsys, ["export", *argv(runs, tmp_path)])
    assert not list(tmp_path.glob("*.safetensors"))


def _copy_run(source: Path, target: Path) -> Path:
    import shutil

    shutil.copytree(source, target)
    return target


def test_default_outputs_go_in_the_run_folder(runs: dict[str, Path], tmp_path: Path) -> None:
    run = _copy_run(runs["jepa"], tmp_path / "run")
    assert export_encoder(run).path == run / "encoder.safetensors"
    timm = export_encoder(run, fmt="timm")
    assert timm.path == run / "encoder-timm.safetensors"
    assert timm.sidecar == run / "encoder-timm.json"
    assert json.loads(timm.sidecar.read_text())["global_pool"] == "avg"  # no CLS token


def test_an_incomplete_run_is_refused_unless_allowed(runs: dict[str, Path], tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    run = _copy_run(runs["vector-mae"], tmp_path / "run")
    (run / COMPLETE_NAME).unlink()
    out = tmp_path / "enc.safetensors"
    line = _one_line(capsys, ["export", str(run), "--format", "safetensors", "--out", str(out)])
    assert "not complete" in line and "--allow-incomplete" in line and not out.exists()
    assert main(["export", str(run), "--format", "safetensors", "--out", str(out),
                 "--allow-incomplete"]) == 0
    assert load_encoder(out) is not None


@pytest.mark.parametrize("damage", ["truncated", "config edited"])
def test_a_damaged_checkpoint_is_one_line(runs: dict[str, Path], tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str],
                                          damage: str) -> None:
    run = _copy_run(runs["mae"], tmp_path / "run")
    checkpoint = run / CHECKPOINT_NAME
    if damage == "truncated":
        checkpoint.write_bytes(checkpoint.read_bytes()[:5000])
    else:
        saved = json.loads((run / CONFIG_NAME).read_text())
        saved["config"]["seed"] = 99
        (run / CONFIG_NAME).write_text(json.dumps(saved))
    line = _one_line(capsys, ["export", str(run), "--format", "safetensors"])
    assert str(checkpoint) in line
    assert not list(run.glob("*.safetensors"))


def _rewrite(path: Path, edit: Callable[[dict[str, Any], dict[str, torch.Tensor]], None],
             rehash: bool = True) -> None:
    """Re-save ``path`` after ``edit(config, tensors)``: a deliberate, well-formed tampering."""
    tensors = load_file(str(path))
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as handle:
        config = json.loads((handle.metadata() or {})[METADATA_KEY])
    edit(config, tensors)
    if rehash:
        config["tensors_sha256"] = tensors_sha256(tensors)
    path.unlink()
    save_file(tensors, str(path), metadata={METADATA_KEY: json.dumps(config)})


def _flip_weight(config: dict[str, Any], tensors: dict[str, torch.Tensor]) -> None:
    tensors["patch_embed.proj.weight"][0, 0, 0, 0] += 1


def _drop_tensor(config: dict[str, Any], tensors: dict[str, torch.Tensor]) -> None:
    del tensors["transformer.norm.bias"]


def _wider(config: dict[str, Any], tensors: dict[str, torch.Tensor]) -> None:
    config["embed_dim"] = 256


def _heads(config: dict[str, Any], tensors: dict[str, torch.Tensor]) -> None:
    config["num_heads"] = 3


def _shift_positions(config: dict[str, Any], tensors: dict[str, torch.Tensor]) -> None:
    tensors["pos_embed"] = tensors["pos_embed"] * 2


def _nan(config: dict[str, Any], tensors: dict[str, torch.Tensor]) -> None:
    tensors["cls_token"][0, 0, 0] = float("nan")


def _no_step(config: dict[str, Any], tensors: dict[str, torch.Tensor]) -> None:
    del config["depth"]


TAMPERING: list[tuple[str, Callable[[Path], None], str]] = [
    ("truncated", lambda p: p.write_bytes(p.read_bytes()[:-100]), "not a readable safetensors"),
    ("header cut", lambda p: p.write_bytes(p.read_bytes()[:20]), "not a readable safetensors"),
    ("not safetensors", lambda p: p.write_text("hello"), "not a readable safetensors"),
    ("missing", lambda p: p.unlink(), "no such file"),
    ("weight changed", lambda p: _rewrite(p, _flip_weight, rehash=False), "SHA-256"),
    ("tensor dropped", lambda p: _rewrite(p, _drop_tensor), "`transformer.norm.bias` is missing"),
    ("config wider", lambda p: _rewrite(p, _wider),
     "`cls_token` is torch.float32 [1, 1, 128]; the config's encoder has torch.float32 "
     "[1, 1, 256]"),
    ("heads do not divide", lambda p: _rewrite(p, _heads), "not divisible"),
    ("positions changed", lambda p: _rewrite(p, _shift_positions), "sin-cos"),
    ("non-finite", lambda p: _rewrite(p, _nan), "NaN"),
    ("config field missing", lambda p: _rewrite(p, _no_step), "`depth`"),
    ("foreign file", lambda p: (p.unlink(), save_file({"w": torch.zeros(2)}, str(p))),
     "not a file written by maskproof export"),
]


@pytest.mark.parametrize(("name", "tamper", "expected"), TAMPERING,
                         ids=[name for name, _, _ in TAMPERING])
def test_a_damaged_export_is_one_encoder_file_error(runs: dict[str, Path], tmp_path: Path,
                                                    name: str, tamper: Callable[[Path], None],
                                                    expected: str) -> None:
    path = export_encoder(runs["mae"], tmp_path / "enc.safetensors").path
    tamper(path)
    with pytest.raises(EncoderFileError) as caught:
        load_encoder(path)
    message = str(caught.value)
    assert expected in message and "\n" not in message and str(path) in message


def _kept(run_dir: Path) -> dict[str, int]:
    """Each checkpoint file of ``run_dir`` and the step it holds."""
    return {path.name: int(load_state_named(run_dir, path.name)["step"])
            for path in sorted(run_dir.glob("checkpoint*.pt"))}


def test_keep_checkpoints_keeps_the_last_k_and_resumes_from_the_latest(tmp_path: Path) -> None:
    data, _ = write_images(tmp_path)
    config = small_config("vector-mae", data, steps=7, checkpoint_every=2, keep_checkpoints=2)
    whole = train(config, out=str(tmp_path / "whole"), quiet=True).run_dir
    # Saved at steps 0, 2, 4, 6, 7: the latest as checkpoint.pt, the one before it numbered.
    assert _kept(whole) == {"checkpoint.pt": 7, "checkpoint-6.pt": 6}
    recorded = json.loads((whole / CONFIG_NAME).read_text())["config"]
    assert recorded["keep_checkpoints"] == 2
    stopped = tmp_path / "stopped"
    with pytest.raises(KeyboardInterrupt):
        train(config, out=str(stopped), quiet=True, checks=(StopAt(5),))
    assert _kept(stopped) == {"checkpoint.pt": 4, "checkpoint-2.pt": 2}
    train(config, resume=str(stopped), quiet=True)
    assert _kept(stopped) == _kept(whole)
    for name in ("checkpoint.pt", "checkpoint-6.pt"):
        end, expected = load_state_named(stopped, name), load_state_named(whole, name)
        assert all(torch.equal(end["model"][key], expected["model"][key])
                   for key in expected["model"])


def load_state_named(run_dir: Path, name: str) -> dict[str, Any]:
    state: dict[str, Any] = torch.load(run_dir / name, map_location="cpu", weights_only=True)
    return state


def test_keep_checkpoints_three_and_one(tmp_path: Path) -> None:
    data, _ = write_images(tmp_path)
    three = train(small_config("vector-mae", data, steps=6, checkpoint_every=2,
                               keep_checkpoints=3), out=str(tmp_path / "three"), quiet=True)
    assert _kept(three.run_dir) == {"checkpoint.pt": 6, "checkpoint-2.pt": 2,
                                    "checkpoint-4.pt": 4}
    one = train(small_config("vector-mae", data, steps=6, checkpoint_every=2),
                out=str(tmp_path / "one"), quiet=True)
    assert _kept(one.run_dir) == {"checkpoint.pt": 6}  # the default: only the latest


@pytest.mark.parametrize("value", ["0", "-2"])
def test_keep_checkpoints_below_one_is_one_line(tmp_path: Path, value: str,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "run"
    line = _one_line(capsys, ["train", "vector-mae", "--keep-checkpoints", value,
                              "--out", str(out)])
    assert f"--keep-checkpoints {value}" in line and ">= 1" in line
    assert not out.exists()
    with pytest.raises(UserError, match="keep-checkpoints"):
        small_config("vector-mae", tmp_path / "x.npy", keep_checkpoints=0)


def test_a_run_from_before_keep_checkpoints_still_exports_and_resumes(tmp_path: Path) -> None:
    data, _ = write_images(tmp_path)
    config = small_config("vector-mae", data, steps=4, checkpoint_every=2)
    run = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        train(config, out=str(run), quiet=True, checks=(StopAt(3),))
    state = load_state(run)  # as written before the setting existed: in neither file
    del state["config"]["keep_checkpoints"]
    torch.save(state, run / CHECKPOINT_NAME)
    saved = json.loads((run / CONFIG_NAME).read_text())
    del saved["config"]["keep_checkpoints"]
    (run / CONFIG_NAME).write_text(json.dumps(saved))
    export_encoder(run, tmp_path / "enc.safetensors", allow_incomplete=True)
    assert train(config, resume=str(run), quiet=True).final_step == 4
