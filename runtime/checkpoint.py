"""Checkpoints and run-folder files: written atomically, read back without arbitrary pickle.

Every file is written with :mod:`runtime.atomic`: a process killed at any instant leaves either
the previous file or the new one, never a torn one.
Loading uses ``torch.load(weights_only=True)``, which accepts tensors and primitive containers
only; the checkpoint holds exactly that (state dicts, the generator state as a uint8 tensor, the
step, the config as a dict of primitives).
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from maskproof.runtime.atomic import write_bytes_atomic, write_json_atomic
from maskproof.runtime.errors import UserError

__all__ = ["load_checkpoint", "save_checkpoint", "write_bytes_atomic", "write_json_atomic"]

CHECKPOINT_NAME = "checkpoint.pt"
CHECKPOINT_FORMAT = 1
REQUIRED_KEYS = ("format", "step", "model", "optimizer", "schedule", "generator",
                 "epoch_order", "config")


def save_checkpoint(path: Path, state: Mapping[str, Any]) -> None:
    """Serialise ``state`` (tensors and primitives only) and write it atomically."""
    buffer = io.BytesIO()
    torch.save(dict(state), buffer)
    write_bytes_atomic(path, buffer.getvalue())


def load_checkpoint(path: Path) -> dict[str, Any]:
    """Read a checkpoint safely; any missing, unreadable or malformed file is a one-line error."""
    if not path.is_file():
        raise UserError(f"checkpoint {path}: no such file")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises many types for a torn or foreign file
        reason = str(error).strip().splitlines()[0] if str(error).strip() else ""
        reason = reason[:160] or type(error).__name__
        raise UserError(f"checkpoint {path}: unreadable or corrupt ({reason})") from None
    if not isinstance(state, dict):
        raise UserError(f"checkpoint {path}: expected a dict, got {type(state).__name__}")
    missing = [key for key in REQUIRED_KEYS if key not in state]
    if missing:
        raise UserError(f"checkpoint {path}: missing entries {missing}; not a maskproof checkpoint")
    if state["format"] != CHECKPOINT_FORMAT:
        raise UserError(f"checkpoint {path}: format {state['format']!r}; "
                        f"expected {CHECKPOINT_FORMAT}")
    if not isinstance(state["step"], int) or state["step"] < 0:
        raise UserError(f"checkpoint {path}: step {state['step']!r}; expected an integer >= 0")
    if not isinstance(state["generator"], torch.Tensor):
        raise UserError(f"checkpoint {path}: generator state is not a tensor")
    return state
