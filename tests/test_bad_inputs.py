"""Every subcommand, fed bad input the way a careful user might: one line, non-zero, nothing lost.

Each case runs ``maskproof`` in-process against a shared workspace of real files (a finished run,
a stopped run, data files, adapters, user files) and asserts what the README promises:

* a non-zero exit status;
* exactly one line on stderr, with no traceback;
* the line names the offending value and what was expected (the case's ``needles``);
* the workspace is unchanged afterwards: no file of it modified, removed or added.

The cases are grouped by what is bad (flags, data files, configs, checkpoints, run folders,
adapters, output paths); ``GROUPS`` counts them, and the issue's note lists those counts.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch

from maskproof.bridge.cli import main
from maskproof.runtime.checkpoint import CHECKPOINT_NAME
from maskproof.runtime.train import COMPLETE_NAME, CONFIG_NAME, train
from tests.runtime.train_helpers import small_config, write_images


@dataclass(frozen=True)
class World:
    """The shared workspace: every path a case may point at."""

    root: Path

    def __truediv__(self, name: str) -> str:
        return str(self.root / name)


@dataclass(frozen=True)
class Case:
    group: str
    id: str
    argv: Callable[[World], list[str]]
    #: Substrings the one stderr line must contain: the value, and what was expected.
    needles: tuple[str, ...]
    #: The expected exit status (2: a user error; 1: audit/check verdicts that are failures).
    status: int = 2


def _npy(root: Path, name: str, array: np.ndarray) -> None:
    np.save(root / name, array)


def _text(root: Path, name: str, content: str | bytes) -> None:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")


def _tampered_run(root: Path, source: Path, name: str, edit: Callable[[dict[str, object]],
                                                                         None]) -> None:
    """A copy of the stopped run ``source`` whose checkpoint ``edit`` changes."""
    folder = root / name
    folder.mkdir()
    for path in source.iterdir():
        if path.is_file():
            (folder / path.name).write_bytes(path.read_bytes())
    state = torch.load(folder / CHECKPOINT_NAME, weights_only=False)
    edit(state)
    torch.save(state, folder / CHECKPOINT_NAME)


def _edit_config_json(root: Path, source: Path, name: str,
                      edit: Callable[[dict[str, object]], object]) -> None:
    folder = root / name
    folder.mkdir()
    for path in source.iterdir():
        if path.is_file():
            (folder / path.name).write_bytes(path.read_bytes())
    raw = json.loads((folder / CONFIG_NAME).read_text())
    (folder / CONFIG_NAME).write_text(json.dumps(edit(raw)))


ADAPTERS = {
    "mp_bad_syntax": "def broken(:\n",
    "mp_raises_at_import": "raise RuntimeError('adapter is broken')\n",
    "mp_exits_at_import": "import sys\nsys.exit(3)\n",
    "mp_not_an_adapter": "class Nothing:\n    pass\n",
    "mp_near_miss": ("class Almost:\n    def random_mask(self, x, mask_ratio, generator):\n"
                     "        return x\n"),
    "mp_constructor_raises": ("class Adapter:\n    def __init__(self):\n"
                              "        raise ValueError('needs a checkpoint path')\n"),
}


def _png(root: Path, name: str, mode: str, size: int = 8) -> None:
    from PIL import Image

    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new(mode, (size, size)).save(path)


def _image_folders(root: Path) -> None:
    """Image folders ``--data`` must refuse (one bad thing each), and one good with classes."""
    _png(root, "img_size/a.png", "L")
    _png(root, "img_size/b.png", "L", size=6)
    _png(root, "img_mode/a.png", "L")
    _png(root, "img_mode/b.png", "RGB")
    _png(root, "img_rgba/a.png", "RGBA")
    _png(root, "img_both/a.png", "L")
    _png(root, "img_both/sub/b.png", "L")
    _text(root, "img_none/readme.txt", "no images here\n")
    _png(root, "img_empty_class/cat/a.png", "L")
    _text(root, "img_empty_class/dog/readme.txt", "no images here\n")
    _text(root, "img_broken/a.png", "not a png")
    for name in ("cat", "dog"):
        _png(root, f"img_classes/{name}/a.png", "L")
        _png(root, f"img_classes/{name}/b.png", "L")


def _build_world(root: Path) -> None:
    data, labels = write_images(root)
    _npy(root, "nhwc.npy", np.zeros((4, 8, 8, 1), "f4"))
    _npy(root, "nhwc3.npy", np.zeros((4, 8, 8, 3), "f4"))
    _npy(root, "rank5.npy", np.zeros((4, 1, 1, 8, 8), "f4"))
    _npy(root, "strings.npy", np.full((4, 1, 8, 8), "a"))
    _npy(root, "bools.npy", np.zeros((4, 1, 8, 8), bool))
    _npy(root, "complex.npy", np.zeros((4, 1, 8, 8), np.complex64))
    _npy(root, "inf.npy", np.full((4, 1, 8, 8), np.inf, "f4"))
    _npy(root, "empty.npy", np.zeros((0, 1, 8, 8), "f4"))
    _npy(root, "tiny.npy", np.zeros((4, 1, 2, 2), "f4"))
    _npy(root, "float_labels.npy", np.linspace(0, 1, 32))
    _npy(root, "labels_2d.npy", np.zeros((32, 2), "i8"))
    _npy(root, "short_labels.npy", np.zeros(5, "i8"))
    np.save(root / "object.npy", np.array([{"a": 1}] * 4, dtype=object), allow_pickle=True)
    _text(root, "text.npy", "not numpy")
    _text(root, "truncated.npy", (root / "images.npy").read_bytes()[:200])
    (root / "folder.npy").mkdir()
    _image_folders(root)
    _text(root, "user.txt", "the user's own file\n")
    (root / "nonempty").mkdir()
    _text(root, "nonempty/keep.txt", "keep me\n")
    _text(root, "reports/audit.md", "# the user's own notes\n")
    # configs
    _text(root, "cfg_latin1.json", "{\"model\": \"t\xe9ny\"}".encode("latin-1"))
    _text(root, "cfg_list.json", "[1, 2]")
    _text(root, "cfg_bad.json", "{\"steps\": 2,")
    _text(root, "cfg_unknown.json", json.dumps({"epochz": 2}))
    _text(root, "cfg_type.json", json.dumps({"batch_size": "eight"}))
    _text(root, "cfg_bool.json", json.dumps({"steps": True}))
    _text(root, "cfg_float.json", json.dumps({"steps": 2.5}))
    _text(root, "cfg_null.json", json.dumps({"lr": None}))
    _text(root, "cfg_task.json", json.dumps({"task": "jepa"}))
    _text(root, "cfg_compile.json", json.dumps({"compile": "yes"}))
    _text(root, "cfg_nan.json", '{"lr": NaN}')
    _text(root, "cfg_dupe.json", '{"steps": 2, "steps": 3}')
    _text(root, "cfg_empty.json", "")
    (root / "cfg_dir.json").mkdir()
    # runs: a finished one, a stopped one, and tampered copies of the stopped one
    done = root / "done"
    train(small_config("vector-mae", data, steps=2, labels=str(labels)), out=str(done),
          quiet=True)
    stopped = root / "stopped"
    train(small_config("vector-mae", data, steps=4, labels=str(labels)), out=str(stopped),
          quiet=True)
    (stopped / COMPLETE_NAME).unlink()
    (root / "not_a_run").mkdir()
    _text(root, "not_a_run/notes.txt", "hello\n")

    def set_field(name: str, value: object) -> Callable[[dict[str, object]], None]:
        return lambda state: state.__setitem__(name, value)

    def model_tensor(state: dict[str, object]) -> None:
        model = state["model"]
        assert isinstance(model, dict)
        first = next(iter(model))
        model[first] = torch.full_like(model[first], float("nan"))

    def drop(name: str) -> Callable[[dict[str, object]], None]:
        return lambda state: state.pop(name)

    _tampered_run(root, stopped, "ck_model_tensor", set_field("model", torch.zeros(3)))
    _tampered_run(root, stopped, "ck_model_nan", model_tensor)
    _tampered_run(root, stopped, "ck_config_list", set_field("config", [1, 2]))
    _tampered_run(root, stopped, "ck_step_float", set_field("step", 2.5))
    _tampered_run(root, stopped, "ck_step_negative", set_field("step", -1))
    _tampered_run(root, stopped, "ck_step_beyond", set_field("step", 10**6))
    _tampered_run(root, stopped, "ck_order_short", set_field("epoch_order", torch.arange(3)))
    _tampered_run(root, stopped, "ck_order_float",
                  set_field("epoch_order", torch.arange(32, dtype=torch.float32)))
    _tampered_run(root, stopped, "ck_no_optimizer", drop("optimizer"))
    _tampered_run(root, stopped, "ck_generator_text", set_field("generator", "seed"))
    (root / "ck_not_a_pickle").mkdir()
    for path in stopped.iterdir():
        if path.is_file():
            (root / "ck_not_a_pickle" / path.name).write_bytes(path.read_bytes())
    (root / "ck_not_a_pickle" / CHECKPOINT_NAME).write_bytes(b"garbage")
    _edit_config_json(root, stopped, "cfgjson_list", lambda raw: [raw])
    _edit_config_json(root, stopped, "cfgjson_task",
                      lambda raw: {**raw, "config": {**raw["config"], "task": "dance"}})
    _edit_config_json(root, stopped, "cfgjson_steps",
                      lambda raw: {**raw, "config": {**raw["config"], "steps": 3}})
    (root / "done_incomplete").mkdir()
    for path in done.iterdir():
        if path.is_file() and path.name != COMPLETE_NAME:
            (root / "done_incomplete" / path.name).write_bytes(path.read_bytes())
    for name, source in ADAPTERS.items():
        _text(root, f"{name}.py", source)


def _snapshot(root: Path) -> dict[str, tuple[str, int]]:
    """Every file and folder under ``root``: content hash (or "dir") and mode."""
    found: dict[str, tuple[str, int]] = {}
    for path in sorted(root.rglob("*")):
        if "__pycache__" in path.parts:
            continue  # the adapters' bytecode, written by the import the case asks for
        mode = path.lstat().st_mode
        digest = "dir" if path.is_dir() else hashlib.sha256(path.read_bytes()).hexdigest()
        found[str(path.relative_to(root))] = (digest, mode)
    return found


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root = tmp_path_factory.mktemp("world")
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        _build_world(root)
    finally:
        torch.set_num_threads(previous)
    yield World(root)


def _train(*rest: str) -> Callable[[World], list[str]]:
    """``train TASK --steps 1 ...`` writing to a fresh ``run`` folder of the workspace."""
    task, *flags = rest
    return lambda w: ["train", task, "--steps", "1", "--quiet", *flags, "--out", w / "new_run"]


def _train_data(task: str, data: str, *flags: str) -> Callable[[World], list[str]]:
    """``train`` on the workspace's file ``data`` (``--labels`` in ``flags`` name files there)."""
    return lambda w: ["train", task, "--steps", "1", "--batch-size", "2", "--quiet", "--data",
                      w / data, *[w / f if f.endswith(".npy") else f for f in flags],
                      "--out", w / "new_run"]


def _with(build: Callable[[World], list[str]]) -> Callable[[World], list[str]]:
    return build


BIG = str(2**64)
FLAGS = "flags"
DATA = "data files"
CONFIGS = "config files"
CHECKPOINTS = "checkpoints"
RUN_FOLDERS = "run folders"
ADAPTER = "adapters"
OUTPUTS = "output paths"
USAGE = "usage"

CASES: list[Case] = [
    # usage: commands and flags argparse sees
    Case(USAGE, "no-command", lambda w: [], ("COMMAND", "one of check")),
    Case(USAGE, "unknown-command", lambda w: ["fit"], ("'fit'", "choose from")),
    Case(USAGE, "unknown-task", lambda w: ["train", "simclr"], ("'simclr'", "choose from")),
    Case(USAGE, "unknown-flag", lambda w: ["train", "mae", "--lrate", "1"], ("--lrate",)),
    Case(USAGE, "prefix-flag", lambda w: ["train", "mae", "--epoch", "1"], ("--epoch",)),
    Case(USAGE, "probe-no-folder", lambda w: ["probe"], ("RUN_DIR",)),
    Case(USAGE, "audit-no-target", lambda w: ["audit"], ("TARGET",)),
    Case(USAGE, "vectors-no-out", lambda w: ["vectors"], ("--out",)),
    Case(USAGE, "zoo-unknown-card", lambda w: ["zoo", "--card", "no_such_card"],
         ("'no_such_card'", "known")),
    Case(USAGE, "check-examples-text", lambda w: ["check", "--examples", "many"],
         ("'many'", "int")),
    # train flags
    Case(FLAGS, "epochs-zero", _train("vector-mae", "--epochs", "0"),
         ("--epochs 0", "positive integer")),
    Case(FLAGS, "epochs-text", _train("vector-mae", "--epochs", "ten"), ("'ten'", "int")),
    Case(FLAGS, "steps-negative", _train("vector-mae", "--steps", "-3"),
         ("--steps -3", "positive integer")),
    Case(FLAGS, "steps-float", _train("vector-mae", "--steps", "2.5"), ("'2.5'", "int")),
    Case(FLAGS, "batch-zero", _train("vector-mae", "--batch-size", "0"),
         ("--batch-size 0", "positive integer")),
    Case(FLAGS, "batch-beyond-data", _train("vector-mae", "--batch-size", "5000"),
         ("5000", "1797")),
    Case(FLAGS, "ratio-one", _train("mae", "--mask-ratio", "1"), ("--mask-ratio 1", "[0, 1)")),
    Case(FLAGS, "ratio-negative", _train("mae", "--mask-ratio", "-0.25"),
         ("-0.25", "[0, 1)")),
    Case(FLAGS, "ratio-nan", _train("mae", "--mask-ratio", "nan"), ("'nan'", "[0, 1)")),
    Case(FLAGS, "ratio-percent", _train("mae", "--mask-ratio", "75%"), ("'75%'", "[0, 1)")),
    Case(FLAGS, "patch-zero", _train("mae", "--patch-size", "0"),
         ("--patch-size 0", "positive integer")),
    Case(FLAGS, "patch-not-tiling", _train("mae", "--patch-size", "5"),
         ("--patch-size 5", "16")),
    Case(FLAGS, "patch-larger-than-image", _train("image-mae", "--patch-size", "17"),
         ("--patch-size 17", "16x16")),
    Case(FLAGS, "lr-zero", _train("vector-mae", "--lr", "0"), ("--lr 0", "positive")),
    Case(FLAGS, "lr-nan", _train("vector-mae", "--lr", "nan"), ("--lr nan", "finite")),
    Case(FLAGS, "lr-inf", _train("vector-mae", "--lr", "inf"), ("--lr inf", "finite")),
    Case(FLAGS, "lr-text", _train("vector-mae", "--lr", "fast"), ("'fast'", "float")),
    Case(FLAGS, "min-lr-negative", _train("vector-mae", "--min-lr", "-1e-3"),
         ("--min-lr", "--min-lr=VALUE")),
    Case(FLAGS, "min-lr-above-peak", _train("vector-mae", "--min-lr", "1"),
         ("--min-lr 1", "peak")),
    Case(FLAGS, "warmup-negative", _train("vector-mae", "--warmup-steps", "-1"),
         ("--warmup-steps -1", "non-negative")),
    Case(FLAGS, "weight-decay-nan", _train("vector-mae", "--weight-decay", "nan"),
         ("--weight-decay nan", "finite")),
    Case(FLAGS, "clip-zero", _train("vector-mae", "--clip-grad", "0"),
         ("--clip-grad 0", "positive")),
    Case(FLAGS, "clip-inf", _train("vector-mae", "--clip-grad", "inf"),
         ("--clip-grad inf", "positive")),
    Case(FLAGS, "ema-above-one", _train("jepa", "--ema-start", "1.5"),
         ("--ema-start 1.5", "[0, 1]")),
    Case(FLAGS, "crop-zero", _train("mae", "--crop-scale", "0"), ("--crop-scale 0", "(0, 1]")),
    Case(FLAGS, "crop-on-vector-mae", _train("vector-mae", "--crop-scale", "0.5"),
         ("--crop-scale", "mae and jepa")),
    Case(FLAGS, "seed-negative", _train("vector-mae", "--seed", "-1"),
         ("--seed -1", "[0, 2^64)")),
    Case(FLAGS, "seed-beyond-64-bits", _train("vector-mae", "--seed", BIG),
         (f"--seed {BIG}", "2^64")),
    Case(FLAGS, "device-unknown", _train("vector-mae", "--device", "tpu"),
         ("'tpu'", "auto, cpu, cuda")),
    Case(FLAGS, "device-cuda-absent", _train("vector-mae", "--device", "cuda"),
         ("--device cuda", "CUDA")),
    Case(FLAGS, "image-size-zero", _train("mae", "--image-size", "0"),
         ("--image-size 0", "positive integer")),
    Case(FLAGS, "image-size-beyond-memory", _train("mae", "--image-size", "1000000"),
         ("1000000", "memory")),
    Case(FLAGS, "hidden-dim-beyond-memory", _train("vector-mae", "--hidden-dim", "1000000000000"),
         ("memory",)),
    Case(FLAGS, "hidden-dim-zero", _train("vector-mae", "--hidden-dim", "0"),
         ("--hidden-dim 0", "positive integer")),
    Case(FLAGS, "recon-dim-zero", _train("image-mae", "--recon-dim", "0"),
         ("--recon-dim 0", "positive integer")),
    Case(FLAGS, "recon-dim-beyond-image", _train("image-mae", "--recon-dim", "100000"),
         ("--recon-dim 100000", "256")),
    Case(FLAGS, "period-negative", _train("vector-mae", "--period", "-2"),
         ("--period -2", "non-negative")),
    Case(FLAGS, "offset-negative", _train("vector-mae", "--offset", "-2"),
         ("--offset -2", "non-negative")),
    Case(FLAGS, "checkpoint-every-zero", _train("vector-mae", "--checkpoint-every", "0"),
         ("--checkpoint-every 0", "positive integer")),
    Case(FLAGS, "log-every-zero", _train("vector-mae", "--log-every", "0"),
         ("--log-every 0", "positive integer")),
    Case(FLAGS, "model-unknown", _train("mae", "--model", "huge"), ("'huge'", "tiny")),
    Case(FLAGS, "model-on-compact", _train("vector-mae", "--model", "tiny"),
         ("--model", "mae and jepa")),
    Case(FLAGS, "labels-without-data", lambda w: ["train", "vector-mae", "--steps", "1",
                                                  "--labels", w / "labels.npy", "--out",
                                                  w / "new_run"], ("--labels", "--data")),
    Case(FLAGS, "check-every-zero", _train("vector-mae", "--check-every", "0"),
         ("--check-every 0", "positive")),
    Case(FLAGS, "jepa-grid-too-small", _train("jepa", "--patch-size", "8"),
         ("--patch-size 8", "2x2 grid")),
    Case(FLAGS, "norm-pix-on-jepa", _train("jepa", "--norm-pix-loss"),
         ("--norm-pix-loss", "mae")),
    Case(FLAGS, "check-examples-zero", lambda w: ["check", "--examples", "0", "--out",
                                                  w / "t.json"],
         ("--examples", "positive integer, got 0")),
    Case(FLAGS, "audit-examples-zero", lambda w: ["audit", "mp_not_an_adapter:Nothing",
                                                  "--examples", "0", "--out", w / "a"],
         ("--examples", "positive integer, got 0")),
    Case(FLAGS, "audit-timeout-negative", lambda w: ["audit", "mp_not_an_adapter:Nothing",
                                                     "--timeout", "-1", "--out", w / "a"],
         ("--timeout", "non-negative number of seconds, got -1")),
    Case(FLAGS, "audit-unknown-contract", lambda w: ["audit", "mp_not_an_adapter:Nothing",
                                                     "--contract", "loss.nope", "--out",
                                                     w / "a"], ("'loss.nope'",)),
    Case(FLAGS, "zoo-examples-zero", lambda w: ["zoo", "--examples", "0"],
         ("--examples", "positive integer, got 0")),
    Case(FLAGS, "vectors-seed-negative", lambda w: ["vectors", "--seed", "-1", "--out",
                                                    w / "v"],
         ("--seed", "non-negative integer, got -1")),
    Case(FLAGS, "probe-device-unknown", lambda w: ["probe", w / "done", "--device", "tpu"],
         ("'tpu'", "auto, cpu or cuda")),
    # data files
    Case(DATA, "missing", _train_data("vector-mae", "nowhere.npy"), ("nowhere.npy", "no such")),
    Case(DATA, "folder-sizes-differ", _train_data("vector-mae", "img_size"),
         ("b.png", "L 6x6", "expected L 8x8")),
    Case(DATA, "folder-modes-differ", _train_data("vector-mae", "img_mode"),
         ("b.png", "RGB 8x8", "expected L 8x8")),
    Case(DATA, "folder-rgba", _train_data("vector-mae", "img_rgba"),
         ("a.png", "mode RGBA", "L (grey) or RGB")),
    Case(DATA, "folder-files-and-subfolders", _train_data("vector-mae", "img_both"),
         ("a.png", "sub", "expected either images or one subfolder per class")),
    Case(DATA, "folder-without-images", _train_data("vector-mae", "img_none"),
         ("img_none", "no PNG/JPEG file")),
    Case(DATA, "folder-empty-class", _train_data("vector-mae", "img_empty_class"),
         ("dog", "at least one image per class")),
    Case(DATA, "folder-broken-image", _train_data("vector-mae", "img_broken"),
         ("a.png", "not a readable PNG/JPEG image")),
    Case(DATA, "folder-classes-and-labels", _train_data("vector-mae", "img_classes",
                                                        "--labels", "labels.npy"),
         ("labels.npy", "class subfolders", "expected no --labels")),
    Case(DATA, "val-fraction-holds-out-every-image", _train_data("vector-mae", "images.npy",
                                                                 "--val-fraction", "0.99"),
         ("--batch-size 2", "0 training images", "--val-fraction 0.99 holds out 32")),
    Case(FLAGS, "workers-negative", _train("vector-mae", "--workers", "-1"),
         ("--workers -1", "non-negative integer")),
    Case(FLAGS, "val-fraction-one", _train("vector-mae", "--val-fraction", "1"),
         ("--val-fraction 1.0", "[0, 1)")),
    Case(FLAGS, "val-fraction-nan", _train("vector-mae", "--val-fraction", "nan"),
         ("--val-fraction nan", "[0, 1)")),
    Case(FLAGS, "val-fraction-holds-out-nothing", _train("vector-mae", "--val-fraction", "1e-5"),
         ("--val-fraction 1e-05", "= 0 of the 1797 images", "at least one")),
    Case(DATA, "a-folder", _train_data("vector-mae", "folder.npy"), ("folder.npy", "file")),
    Case(DATA, "text", _train_data("vector-mae", "text.npy"), ("text.npy", ".npy")),
    Case(DATA, "truncated", _train_data("vector-mae", "truncated.npy"),
         ("truncated.npy", ".npy")),
    Case(DATA, "nhwc-one-channel", _train_data("vector-mae", "nhwc.npy"),
         ("(4, 8, 8, 1)", "channels last")),
    Case(DATA, "nhwc-rgb", _train_data("mae", "nhwc3.npy"), ("(4, 8, 8, 3)", "N x C x H x W")),
    Case(DATA, "rank-5", _train_data("vector-mae", "rank5.npy"), ("rank 5", "N x C x H x W")),
    Case(DATA, "strings", _train_data("vector-mae", "strings.npy"), ("<U1", "float")),
    Case(DATA, "booleans", _train_data("vector-mae", "bools.npy"), ("bool", "float")),
    Case(DATA, "complex", _train_data("vector-mae", "complex.npy"), ("complex64", "float")),
    Case(DATA, "objects", _train_data("vector-mae", "object.npy"), ("object.npy", "pickle")),
    Case(DATA, "infinite", _train_data("vector-mae", "inf.npy"), ("non-finite", "inf.npy")),
    Case(DATA, "empty", _train_data("vector-mae", "empty.npy"), ("(0, 1, 8, 8)", "all > 0")),
    Case(DATA, "too-small-for-patch", _train_data("image-mae", "tiny.npy"),
         ("--patch-size 4", "2x2")),
    Case(DATA, "labels-float", _train_data("vector-mae", "images.npy", "--labels",
                                           "float_labels.npy"), ("float64", "integer")),
    Case(DATA, "labels-2d", _train_data("vector-mae", "images.npy", "--labels",
                                        "labels_2d.npy"), ("(32, 2)", "1-D")),
    Case(DATA, "labels-count", _train_data("vector-mae", "images.npy", "--labels",
                                           "short_labels.npy"), ("5 labels", "32")),
    Case(DATA, "labels-missing", _train_data("vector-mae", "images.npy", "--labels",
                                             "none.npy"), ("none.npy", "no such")),
    Case(DATA, "probe-labels-count", lambda w: ["probe", w / "done", "--labels",
                                                w / "short_labels.npy"], ("5 labels", "32")),
    # config files
    Case(CONFIGS, "missing", _train("vector-mae", "--config", "/nonexistent/c.json"),
         ("/nonexistent/c.json", "cannot read")),
    Case(CONFIGS, "a-folder", lambda w: ["train", "vector-mae", "--config", w / "cfg_dir.json",
                                         "--out", w / "new_run"],
         ("cfg_dir.json", "Is a directory")),
    Case(CONFIGS, "not-utf8", lambda w: ["train", "vector-mae", "--config",
                                         w / "cfg_latin1.json", "--out", w / "new_run"],
         ("cfg_latin1.json", "UTF-8")),
    Case(CONFIGS, "not-an-object", lambda w: ["train", "vector-mae", "--config",
                                              w / "cfg_list.json", "--out", w / "new_run"],
         ("cfg_list.json", "JSON object")),
    Case(CONFIGS, "invalid-json", lambda w: ["train", "vector-mae", "--config",
                                             w / "cfg_bad.json", "--out", w / "new_run"],
         ("cfg_bad.json", "not valid JSON")),
    Case(CONFIGS, "empty-file", lambda w: ["train", "vector-mae", "--config",
                                           w / "cfg_empty.json", "--out", w / "new_run"],
         ("cfg_empty.json", "not valid JSON")),
    Case(CONFIGS, "unknown-key", lambda w: ["train", "vector-mae", "--config",
                                            w / "cfg_unknown.json", "--out", w / "new_run"],
         ("'epochz'", "epochs")),
    Case(CONFIGS, "wrong-type", lambda w: ["train", "vector-mae", "--config",
                                           w / "cfg_type.json", "--out", w / "new_run"],
         ("'eight'", "integer")),
    Case(CONFIGS, "bool-for-int", lambda w: ["train", "vector-mae", "--config",
                                             w / "cfg_bool.json", "--out", w / "new_run"],
         ("True", "integer")),
    Case(CONFIGS, "float-for-int", lambda w: ["train", "vector-mae", "--config",
                                              w / "cfg_float.json", "--out", w / "new_run"],
         ("2.5", "integer")),
    Case(CONFIGS, "null-lr", lambda w: ["train", "vector-mae", "--config", w / "cfg_null.json",
                                        "--out", w / "new_run"], ("None", "number")),
    Case(CONFIGS, "nan-lr", lambda w: ["train", "vector-mae", "--config", w / "cfg_nan.json",
                                       "--out", w / "new_run"], ("nan", "finite")),
    Case(CONFIGS, "duplicate-key", lambda w: ["train", "vector-mae", "--config",
                                              w / "cfg_dupe.json", "--out", w / "new_run"],
         ("'steps'", "once")),
    Case(CONFIGS, "other-task", lambda w: ["train", "vector-mae", "--config",
                                           w / "cfg_task.json", "--out", w / "new_run"],
         ("jepa", "vector-mae")),
    Case(CONFIGS, "run-config-json-list", lambda w: ["train", "vector-mae", "--resume",
                                                     w / "cfgjson_list"],
         ("config.json", "`config` entry")),
    Case(CONFIGS, "run-config-json-task", lambda w: ["train", "vector-mae", "--resume",
                                                     w / "cfgjson_task"], ("'dance'", "one of")),
    # checkpoints
    Case(CHECKPOINTS, "model-a-tensor", lambda w: ["train", "vector-mae", "--resume",
                                                   w / "ck_model_tensor"], ("`model`", "dict")),
    Case(CHECKPOINTS, "model-nan", lambda w: ["train", "vector-mae", "--resume",
                                              w / "ck_model_nan"],
         ("encoder.0.weight", "NaN or infinite")),
    Case(CHECKPOINTS, "probe-model-nan", lambda w: ["probe", w / "ck_model_nan",
                                                    "--allow-incomplete"],
         ("encoder.0.weight", "NaN or infinite")),
    Case(CHECKPOINTS, "probe-model-a-tensor", lambda w: ["probe", w / "ck_model_tensor",
                                                         "--allow-incomplete"],
         ("`model`", "dict")),
    Case(CHECKPOINTS, "config-a-list", lambda w: ["train", "vector-mae", "--resume",
                                                  w / "ck_config_list"], ("`config`", "dict")),
    Case(CHECKPOINTS, "step-float", lambda w: ["train", "vector-mae", "--resume",
                                               w / "ck_step_float"], ("`step`", "integer")),
    Case(CHECKPOINTS, "step-negative", lambda w: ["train", "vector-mae", "--resume",
                                                  w / "ck_step_negative"], ("`step`", "-1")),
    Case(CHECKPOINTS, "step-beyond-run", lambda w: ["train", "vector-mae", "--resume",
                                                    w / "ck_step_beyond"], ("1000000", "`step`")),
    Case(CHECKPOINTS, "epoch-order-short", lambda w: ["train", "vector-mae", "--resume",
                                                      w / "ck_order_short"],
         ("`epoch_order`", "32")),
    Case(CHECKPOINTS, "epoch-order-float", lambda w: ["train", "vector-mae", "--resume",
                                                      w / "ck_order_float"],
         ("`epoch_order`", "float32")),
    Case(CHECKPOINTS, "no-optimizer", lambda w: ["train", "vector-mae", "--resume",
                                                 w / "ck_no_optimizer"],
         ("'optimizer'", "missing")),
    Case(CHECKPOINTS, "generator-text", lambda w: ["train", "vector-mae", "--resume",
                                                   w / "ck_generator_text"], ("`generator`",)),
    Case(CHECKPOINTS, "not-a-pickle", lambda w: ["train", "vector-mae", "--resume",
                                                 w / "ck_not_a_pickle"], ("checkpoint.pt",
                                                                          "not a")),
    Case(CHECKPOINTS, "probe-not-a-pickle", lambda w: ["probe", w / "ck_not_a_pickle",
                                                       "--allow-incomplete"],
         ("checkpoint.pt", "not a")),
    Case(CHECKPOINTS, "config-json-edited", lambda w: ["train", "vector-mae", "--resume",
                                                       w / "cfgjson_steps"],
         ("config.steps", "config.json")),
    # run folders
    Case(RUN_FOLDERS, "out-not-empty", lambda w: ["train", "vector-mae", "--out", w / "nonempty"],
         ("nonempty", "not empty")),
    Case(RUN_FOLDERS, "out-a-file", lambda w: ["train", "vector-mae", "--out", w / "user.txt"],
         ("user.txt", "not empty")),
    Case(RUN_FOLDERS, "out-below-a-file", lambda w: ["train", "vector-mae", "--steps", "1",
                                                     "--out", w / "user.txt/run"],
         ("user.txt", "is a file, expected a")),
    Case(RUN_FOLDERS, "out-an-existing-run", lambda w: ["train", "vector-mae", "--out",
                                                        w / "done"], ("done", "--resume")),
    Case(RUN_FOLDERS, "resume-missing", lambda w: ["train", "vector-mae", "--resume",
                                                   w / "nowhere"], ("nowhere", "no such")),
    Case(RUN_FOLDERS, "resume-not-a-run", lambda w: ["train", "vector-mae", "--resume",
                                                     w / "not_a_run"], ("not_a_run", "config")),
    Case(RUN_FOLDERS, "resume-complete", lambda w: ["train", "vector-mae", "--resume",
                                                    w / "done"], ("done", "already complete")),
    Case(RUN_FOLDERS, "resume-other-task", lambda w: ["train", "mae", "--resume", w / "stopped"],
         ("vector-mae", "mae")),
    Case(RUN_FOLDERS, "resume-with-changing-flag", lambda w: ["train", "vector-mae", "--resume",
                                                              w / "stopped", "--batch-size",
                                                              "4"], ("--batch-size",
                                                                     "--resume")),
    Case(RUN_FOLDERS, "resume-with-out", lambda w: ["train", "vector-mae", "--resume",
                                                    w / "stopped", "--out", w / "x"],
         ("--out", "--resume")),
    Case(RUN_FOLDERS, "resume-with-bad-lr", lambda w: ["train", "vector-mae", "--resume",
                                                       w / "stopped", "--lr", "-1"],
         ("--lr -1", "non-negative")),
    Case(RUN_FOLDERS, "probe-missing", lambda w: ["probe", w / "nowhere"], ("nowhere",
                                                                           "no such")),
    Case(RUN_FOLDERS, "probe-not-a-run", lambda w: ["probe", w / "not_a_run"],
         ("not_a_run", "config")),
    Case(RUN_FOLDERS, "probe-a-file", lambda w: ["probe", w / "user.txt"], ("user.txt",
                                                                           "directory")),
    Case(RUN_FOLDERS, "probe-incomplete", lambda w: ["probe", w / "done_incomplete"],
         ("COMPLETE", "--allow-incomplete")),
    Case(RUN_FOLDERS, "probe-config-edited", lambda w: ["probe", w / "cfgjson_steps",
                                                        "--allow-incomplete"],
         ("config.steps", "config.json")),
    # adapters
    Case(ADAPTER, "no-colon", lambda w: ["audit", "mp_not_an_adapter", "--out", w / "a"],
         ("'mp_not_an_adapter'", "module:object")),
    Case(ADAPTER, "missing-module", lambda w: ["audit", "mp_no_such_module:A", "--out",
                                               w / "a"], ("'mp_no_such_module'",
                                                          "cannot import")),
    Case(ADAPTER, "missing-attribute", lambda w: ["audit", "mp_not_an_adapter:Other", "--out",
                                                  w / "a"], ("'Other'", "no attribute")),
    Case(ADAPTER, "syntax-error", lambda w: ["audit", "mp_bad_syntax:A", "--out", w / "a"],
         ("mp_bad_syntax", "SyntaxError")),
    Case(ADAPTER, "raises-at-import", lambda w: ["audit", "mp_raises_at_import:A", "--out",
                                                 w / "a"], ("mp_raises_at_import",
                                                            "adapter is broken")),
    Case(ADAPTER, "exits-at-import", lambda w: ["audit", "mp_exits_at_import:A", "--out",
                                                w / "a"], ("mp_exits_at_import", "exit")),
    Case(ADAPTER, "not-an-adapter", lambda w: ["audit", "mp_not_an_adapter:Nothing", "--out",
                                               w / "a"], ("'mp_not_an_adapter:Nothing'",
                                                          "capabilities")),
    Case(ADAPTER, "near-miss", lambda w: ["audit", "mp_near_miss:Almost", "--out", w / "a"],
         ("random_mask", "random_masking")),
    Case(ADAPTER, "constructor-raises", lambda w: ["audit", "mp_constructor_raises:Adapter",
                                                   "--out", w / "a"],
         ("needs a checkpoint path", "Adapter")),
    Case(ADAPTER, "empty-object-name", lambda w: ["audit", "mp_not_an_adapter:", "--out",
                                                  w / "a"],
         ("'mp_not_an_adapter:'", "module:object")),
    # output paths
    Case(OUTPUTS, "check-out-existing-file", lambda w: ["check", "--examples", "1", "--out",
                                                        w / "user.txt"],
         ("user.txt", "exists")),
    Case(OUTPUTS, "check-out-a-folder", lambda w: ["check", "--examples", "1", "--out",
                                                   w / "nonempty"], ("nonempty", "file")),
    Case(OUTPUTS, "check-out-below-a-file", lambda w: ["check", "--examples", "1", "--out",
                                                       w / "user.txt/t.json"],
         ("user.txt", "is a file, expected a")),
    Case(OUTPUTS, "audit-out-a-file", lambda w: ["audit", "mp_not_an_adapter:Nothing",
                                                 "--out", w / "user.txt"],
         ("user.txt", "not a directory")),
    Case(OUTPUTS, "audit-out-with-user-report", lambda w: [
        "audit", "maskproof.bridge.audit.reference:ReferenceAdapter", "--out", w / "reports"],
        ("audit.md", "expected a folder without them")),
    Case(OUTPUTS, "audit-hypothesis-db-a-file", lambda w: ["audit", "mp_not_an_adapter:Nothing",
                                                           "--hypothesis-db", w / "user.txt",
                                                           "--out", w / "a"],
         ("user.txt", "not a directory")),
    Case(OUTPUTS, "vectors-out-a-file", lambda w: ["vectors", "--out", w / "user.txt"],
         ("user.txt", "not a directory")),
    Case(OUTPUTS, "vectors-out-not-empty", lambda w: ["vectors", "--out", w / "nonempty"],
         ("nonempty", "not empty")),
    Case(OUTPUTS, "vectors-out-below-a-file", lambda w: ["vectors", "--out",
                                                         w / "user.txt/v"],
         ("user.txt", "is a file, expected a")),
    Case(OUTPUTS, "export-format-unknown", lambda w: ["export", w / "done", "--format", "onnx"],
         ("'onnx'", "safetensors, timm")),
    Case(OUTPUTS, "export-timm-of-an-mlp", lambda w: ["export", w / "done", "--format", "timm",
                                                      "--out", w / "e.safetensors"],
         ("timm", "vector-mae")),
    Case(OUTPUTS, "export-out-existing-file", lambda w: ["export", w / "done", "--format",
                                                         "safetensors", "--out", w / "user.txt"],
         ("user.txt", "exists")),
    Case(OUTPUTS, "export-out-a-folder", lambda w: ["export", w / "done", "--format",
                                                    "safetensors", "--out", w / "nonempty"],
         ("nonempty", "expected a new file path")),
    Case(OUTPUTS, "export-out-below-a-file", lambda w: ["export", w / "done", "--format",
                                                        "safetensors", "--out",
                                                        w / "user.txt/e.safetensors"],
         ("user.txt",)),
    Case(RUN_FOLDERS, "export-incomplete", lambda w: ["export", w / "done_incomplete",
                                                      "--format", "safetensors", "--out",
                                                      w / "e.safetensors"],
         ("COMPLETE", "--allow-incomplete")),
    Case(RUN_FOLDERS, "export-not-a-run", lambda w: ["export", w / "not_a_run", "--format",
                                                     "safetensors", "--out",
                                                     w / "e.safetensors"], ("not_a_run",
                                                                            "config")),
    Case(CHECKPOINTS, "export-model-nan", lambda w: ["export", w / "ck_model_nan", "--format",
                                                     "safetensors", "--allow-incomplete",
                                                     "--out", w / "e.safetensors"],
         ("encoder.0.weight", "NaN or infinite")),
    Case(FLAGS, "keep-checkpoints-zero", _train("vector-mae", "--keep-checkpoints", "0"),
         ("--keep-checkpoints 0", ">= 1")),
    Case(FLAGS, "log-writer-unknown", _train("vector-mae", "--log", "wandb"),
         ("'wandb'", "csv")),
    Case(FLAGS, "resume-lr-nan", lambda w: ["train", "vector-mae", "--resume", w / "stopped",
                                            "--lr", "nan"], ("--lr nan", "finite")),
    Case(OUTPUTS, "check-hypothesis-db-a-file", lambda w: ["check", "--examples", "1",
                                                           "--hypothesis-db", w / "user.txt",
                                                           "--out", w / "t.json"],
         ("user.txt", "not a directory")),
    Case(FLAGS, "grad-accum-zero", _train("vector-mae", "--grad-accum", "0"),
         ("--grad-accum 0", "positive integer")),
    Case(FLAGS, "grad-accum-not-dividing", _train("vector-mae", "--batch-size", "8",
                                                  "--grad-accum", "3"),
         ("--grad-accum 3", "--batch-size 8", "divisor")),
    Case(FLAGS, "precision-unknown", _train("vector-mae", "--precision", "fp64"),
         ("'fp64'", "fp32, bf16, fp16")),
    Case(FLAGS, "resume-no-compile", lambda w: ["train", "vector-mae", "--resume", w / "stopped",
                                                "--no-compile"], ("--compile", "--resume")),
    Case(CONFIGS, "config-compile-not-bool", lambda w: [
        "train", "vector-mae", "--steps", "1", "--config", w / "cfg_compile.json", "--out",
        w / "new_run"], ("`compile`", "true or false", "'yes'")),
]

GROUPS = {group: sum(case.group == group for case in CASES)
          for group in dict.fromkeys(case.group for case in CASES)}


def test_the_suite_is_large_and_distinct() -> None:
    ids = [(case.group, case.id) for case in CASES]
    assert len(set(ids)) == len(ids)
    assert len(CASES) >= 100, GROUPS


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    try:
        status = main(argv)
    except SystemExit as exit_:  # argparse's own errors
        status = exit_.code if isinstance(exit_.code, int) else 1
    return status, capsys.readouterr().err


@pytest.mark.parametrize("case", CASES, ids=[f"{c.group}:{c.id}" for c in CASES])
def test_bad_input_is_one_line_naming_value_and_expectation(
        world: World, case: Case, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(world.root)  # adapters import from here; nothing may be written here
    monkeypatch.setattr(sys, "path", list(sys.path))
    before = _snapshot(world.root)
    try:
        status, err = _run(case.argv(world), capsys)
    finally:  # a case that wrongly trains must not spoil the cases after it
        after = _snapshot(world.root)
        shutil.rmtree(world.root / "new_run", ignore_errors=True)
    lines = err.strip().splitlines()
    assert "Traceback" not in err, err
    assert status == case.status, err
    assert len(lines) == 1, err
    for needle in case.needles:
        assert needle in lines[0], (needle, lines[0])
    assert after == before, lines[0]
    assert os.getcwd() == str(world.root)
