"""Small data, configs and subprocess runners shared by the training tests (kept tiny: CPU)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from maskproof.runtime.checkpoint import CHECKPOINT_NAME
from maskproof.runtime.config import TrainConfig, resolve_config
from maskproof.runtime.train import LiveStep

ROOT = Path(__file__).resolve().parents[2]
#: Settings that make every task small: 8x8 one-channel images, patch 4 (a 2x2 grid).
SMALL: dict[str, object] = {"batch_size": 8, "patch_size": 4, "hidden_dim": 16,
                            "checkpoint_every": 2, "log_every": 1, "device": "cpu"}


def write_images(folder: Path, count: int = 32, classes: int = 4, seed: int = 0,
                 shape: tuple[int, ...] = (1, 8, 8)) -> tuple[Path, Path]:
    """``count`` random float32 images of ``shape`` and balanced integer labels, as .npy files."""
    rng = np.random.default_rng(seed)
    images = rng.random((count, *shape), dtype=np.float32)
    labels = np.arange(count, dtype=np.int64) % classes
    images[:, 0, 0, 0] += labels  # a class signal a probe can find
    data, label_path = folder / "images.npy", folder / "labels.npy"
    np.save(data, images)
    np.save(label_path, labels)
    return data, label_path


def small_config(task: str, data: Path, **overrides: object) -> TrainConfig:
    values: dict[str, object] = {**SMALL, "data": str(data), "steps": 6}
    if task in ("mae", "jepa"):
        values["model"] = "tiny"
    values.update(overrides)
    return resolve_config(task, {}, values)


def flags(values: Mapping[str, object]) -> list[str]:
    """``{"batch_size": 8}`` as ``["--batch-size", "8"]``."""
    out: list[str] = []
    for name, value in values.items():
        out += ["--" + name.replace("_", "-"), str(value)]
    return out


def cli_env() -> dict[str, str]:
    """The environment for a child ``maskproof``: this checkout importable, one thread."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env["OMP_NUM_THREADS"] = "1"
    return env


def maskproof_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "maskproof.bridge.cli", *args]


def run_maskproof(*args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    return subprocess.run(maskproof_command(*args), cwd=ROOT, env=cli_env(), capture_output=True,
                          text=True, timeout=timeout, check=False)


def load_state(run_dir: Path) -> dict[str, Any]:
    state: dict[str, Any] = torch.load(run_dir / CHECKPOINT_NAME, map_location="cpu",
                                       weights_only=True)
    return state


def assert_same_tensors(a: Mapping[str, torch.Tensor], b: Mapping[str, torch.Tensor]) -> None:
    """Every entry equal bit for bit (``torch.equal``), same keys."""
    assert a.keys() == b.keys()
    different = [name for name in a if not torch.equal(a[name], b[name])]
    assert not different, f"differ: {different}"


def optimizer_tensors(state: Mapping[str, Any]) -> dict[str, torch.Tensor]:
    """The AdamW moment tensors of a checkpoint, flattened to ``"param.key"`` names."""
    out = {}
    for index, entry in state["optimizer"]["state"].items():
        for key, value in entry.items():
            if isinstance(value, torch.Tensor):
                out[f"{index}.{key}"] = value
    return out


class StopAt:
    """A step check that interrupts the run at one step, like a kill between checkpoints."""

    def __init__(self, step: int) -> None:
        self.step = step

    def due(self, step: int) -> bool:
        return step == self.step

    def __call__(self, live: LiveStep) -> str | None:
        raise KeyboardInterrupt

    def summary(self) -> str:
        return ""
