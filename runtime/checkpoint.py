"""Checkpoints and run-folder files: written atomically, read back without arbitrary pickle.

Every file is written to a temporary name in the same directory, flushed and fsync'ed, then
renamed over the target with :func:`os.replace` (atomic on POSIX), and the directory is fsync'ed:
a process killed at any instant leaves either the previous file or the new one, never a torn one.
Loading uses ``torch.load(weights_only=True)``, which accepts tensors and primitive containers
only; the checkpoint holds exactly that (state dicts, the generator state as a uint8 tensor, the
step, the config as a dict of primitives).
"""

from __future__ import annotations

import io
import json
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from runtime.errors import UserError

CHECKPOINT_NAME = "checkpoint.pt"
CHECKPOINT_FORMAT = 1
REQUIRED_KEYS = ("format", "step", "model", "optimizer", "schedule", "generator",
                 "epoch_order", "config")


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # some filesystems do not open directories; the rename is still atomic
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_bytes_atomic(path: Path, payload: bytes) -> None:
    """Replace ``path`` with ``payload`` so that readers see the old or the new file, whole."""
    fd, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp_name, path)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def write_json_atomic(path: Path, value: object) -> None:
    write_bytes_atomic(path, (json.dumps(value, indent=2, sort_keys=True) + "\n").encode())


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
