"""Checkpoints and run-folder files: written atomically, read back without arbitrary pickle.

Every file is written with :mod:`runtime.atomic`: a process killed at any instant leaves either
the previous file or the new one, never a torn one.
Loading uses ``torch.load(weights_only=True)``, which accepts tensors and primitive containers
only; the checkpoint holds exactly that (state dicts, the generator state as a uint8 tensor, the
step, the config as a dict of primitives).
"""

from __future__ import annotations

import io
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NoReturn

import torch

from maskproof.runtime.atomic import write_bytes_atomic, write_json_atomic
from maskproof.runtime.errors import UserError

__all__ = ["check_config", "check_epoch_order", "check_generator", "check_log_window",
           "check_optimizer",
           "check_schedule", "check_step", "check_tensors", "keep_previous_checkpoint",
           "kept_checkpoint_name", "load_checkpoint", "prune_kept_checkpoints", "save_checkpoint",
           "write_bytes_atomic", "write_json_atomic"]

CHECKPOINT_NAME = "checkpoint.pt"
CHECKPOINT_FORMAT = 1
REQUIRED_KEYS = ("format", "step", "model", "optimizer", "schedule", "generator",
                 "epoch_order", "config")


def save_checkpoint(path: Path, state: Mapping[str, Any]) -> None:
    """Serialise ``state`` (tensors and primitives only) and write it atomically."""
    buffer = io.BytesIO()
    torch.save(dict(state), buffer)
    write_bytes_atomic(path, buffer.getvalue())


# --keep-checkpoints K: checkpoint.pt is always the latest (what --resume reads); the K-1
# checkpoints before it stay beside it as checkpoint-STEP.pt.
KEPT_CHECKPOINT = re.compile(r"checkpoint-(\d+)\.pt")
#: Settings added after run folders were first written, with the value a checkpoint from before
#: them implies (such runs kept only the latest checkpoint).
ADDED_SETTINGS: dict[str, object] = {"keep_checkpoints": 1}


def kept_checkpoint_name(step: int) -> str:
    return f"checkpoint-{step}.pt"


def keep_previous_checkpoint(path: Path, step: int) -> None:
    """Give the checkpoint ``path`` (of step ``step``) the second name ``checkpoint-STEP.pt``
    before it is replaced.

    A hard link costs no copy and stays with the old bytes, because :func:`save_checkpoint`
    never writes in place: it renames a new file over ``path``. Where links are refused (some
    filesystems), the bytes are copied atomically instead.
    """
    target = path.with_name(kept_checkpoint_name(step))
    temp = path.with_name(f".{target.name}.{os.getpid()}.link.tmp")
    try:
        temp.unlink(missing_ok=True)
        os.link(path, temp)
        os.replace(temp, target)
    except OSError:
        temp.unlink(missing_ok=True)
        write_bytes_atomic(target, path.read_bytes())


def prune_kept_checkpoints(folder: Path, latest_step: int, keep: int) -> list[str]:
    """Delete the ``checkpoint-STEP.pt`` files beyond the ``keep - 1`` latest steps before
    ``latest_step`` (called once ``checkpoint.pt`` of ``latest_step`` is on disk); return the
    names deleted. Steps at or after ``latest_step`` are from a line of training that was
    abandoned (``checkpoint.pt`` replaced by an older one) and go too."""
    steps = sorted((int(match.group(1)) for entry in folder.iterdir()
                    if (match := KEPT_CHECKPOINT.fullmatch(entry.name))), reverse=True)
    earlier = [step for step in steps if step < latest_step]
    kept = set(earlier[:keep - 1])
    removed = []
    for step in steps:
        if step not in kept:
            (folder / kept_checkpoint_name(step)).unlink(missing_ok=True)
            removed.append(kept_checkpoint_name(step))
    return removed


#: The first bytes of every file ``torch.save`` writes (its zip serialization, torch >= 1.6).
_ZIP_MAGIC = b"PK\x03\x04"


def load_checkpoint(path: Path) -> dict[str, Any]:
    """Read a checkpoint safely; any missing, unreadable or malformed file is a one-line error."""
    if not path.is_file():
        raise UserError(f"checkpoint {path}: no such file")
    with path.open("rb") as handle:
        magic = handle.read(4)
    if magic != _ZIP_MAGIC:  # torch.save writes a zip archive; anything else is foreign
        raise UserError(f"checkpoint {path}: not a torch checkpoint (starts with {magic!r}, "
                        f"expected the zip archive {_ZIP_MAGIC!r} that maskproof train writes)")
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
    if not _is_int(state["format"]) or state["format"] != CHECKPOINT_FORMAT:
        raise UserError(f"checkpoint {path}: `format` is {state['format']!r}; "
                        f"expected {CHECKPOINT_FORMAT}")
    if not _is_int(state["step"]) or state["step"] < 0:
        _bad(path, "step", f"is {state['step']!r}, expected an integer >= 0")
    if not isinstance(state["generator"], torch.Tensor):
        _bad(path, "generator", f"is {_kind(state['generator'])}, expected a tensor")
    if isinstance(state["config"], dict):  # written before a setting existed: its old value
        for name, value in ADDED_SETTINGS.items():
            state["config"].setdefault(name, value)
    return state


# Validation of every field ``--resume`` and ``probe`` read, against what this run expects, done
# before anything is loaded or run. Each failure is one line naming the field.


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _bad(path: Path, field: str, why: str) -> NoReturn:
    raise UserError(f"checkpoint {path}: `{field}` {why}; not a checkpoint of this run")


def _kind(value: object) -> str:
    if isinstance(value, torch.Tensor):
        return f"a {value.dtype} tensor of shape {tuple(value.shape)}"
    return f"a {type(value).__name__}"


def _same(saved: Mapping[Any, object], expected: Mapping[str, object]) -> bool:
    return saved.keys() == expected.keys() and all(
        type(saved[name]) is type(value) and saved[name] == value
        for name, value in expected.items())


def check_config(path: Path, saved: object, expected: Mapping[str, object],
                 earlier: Sequence[Mapping[str, object]] = ()) -> None:
    """The checkpoint's ``config`` equals ``expected`` (config.json's), field by field, or one
    of the ``earlier`` configs config.json records (a checkpoint written before ``--resume``
    changed the learning-rate knobs)."""
    if not isinstance(saved, dict):
        _bad(path, "config", f"is {_kind(saved)}, expected a dict")
    if any(_same(saved, config) for config in earlier):
        return
    for name, value in expected.items():
        if name not in saved:
            _bad(path, f"config.{name}", "is missing")
        other = saved[name]
        if type(other) is not type(value) or other != value:
            raise UserError(f"checkpoint {path}: `config.{name}` is {other!r} but config.json "
                            f"has {value!r}; the run folder was edited")
    extra = sorted(str(name) for name in saved if name not in expected)
    if extra:
        _bad(path, f"config.{extra[0]}", "is not a setting")


def check_step(path: Path, step: object, total_steps: int) -> int:
    if not _is_int(step):
        _bad(path, "step", f"is {_kind(step)}, expected an integer")
    assert isinstance(step, int)
    if not 0 <= step <= total_steps:
        _bad(path, "step", f"is {step}, outside the run's 0..{total_steps} steps")
    return step


def _check_tensor(path: Path, field: str, value: object, like: torch.Tensor) -> None:
    if not isinstance(value, torch.Tensor):
        _bad(path, field, f"is {_kind(value)}, expected {_kind(like)}")
    if value.shape != like.shape or value.dtype != like.dtype:
        _bad(path, field, f"is {_kind(value)}, expected {_kind(like)}")
    if (value.is_floating_point() or value.is_complex()) and bool(torch.isfinite(like).all()) \
            and not bool(torch.isfinite(value).all()):
        _bad(path, field, "holds NaN or infinite values")


def check_tensors(path: Path, field: str, saved: object,
                  expected: Mapping[str, torch.Tensor]) -> None:
    """A state dict: the same names, shapes and dtypes as ``expected``, finite where it is."""
    if not isinstance(saved, dict):
        _bad(path, field, f"is {_kind(saved)}, expected a dict of tensors (a state dict)")
    missing = [name for name in expected if name not in saved]
    if missing:
        _bad(path, f"{field}.{missing[0]}", "is missing")
    extra = [str(name) for name in saved if name not in expected]
    if extra:
        _bad(path, f"{field}.{extra[0]}", "is not a tensor of this model")
    for name, like in expected.items():
        _check_tensor(path, f"{field}.{name}", saved[name], like)


def _finite_number(value: object) -> bool:
    if isinstance(value, torch.Tensor):
        return value.numel() == 1 and bool(torch.isfinite(value).all())
    return isinstance(value, (int, float)) and not isinstance(value, bool) \
        and value == value and abs(value) != float("inf")


def check_optimizer(path: Path, saved: object, optimizer: torch.optim.Optimizer) -> None:
    """AdamW state: this optimizer's groups and parameters, moments of their shapes, finite."""
    fresh = optimizer.state_dict()
    if not isinstance(saved, dict):
        _bad(path, "optimizer", f"is {_kind(saved)}, expected a dict")
    for key in ("state", "param_groups"):
        if key not in saved:
            _bad(path, f"optimizer.{key}", "is missing")
    groups = saved["param_groups"]
    if not isinstance(groups, list) or len(groups) != len(fresh["param_groups"]):
        _bad(path, "optimizer.param_groups",
             f"is {_kind(groups)}, expected a list of {len(fresh['param_groups'])} groups")
    params: dict[int, torch.Tensor] = {}
    for number, (group, like, live) in enumerate(zip(groups, fresh["param_groups"],
                                                     optimizer.param_groups, strict=True)):
        where = f"optimizer.param_groups[{number}]"
        if not isinstance(group, dict):
            _bad(path, where, f"is {_kind(group)}, expected a dict")
        ids = group.get("params")
        if not isinstance(ids, list) or len(ids) != len(like["params"]) \
                or not all(_is_int(index) for index in ids):
            _bad(path, f"{where}.params",
                 f"expected a list of {len(like['params'])} parameter indices")
        for key in ("betas", "eps", "weight_decay"):
            if key in like and group.get(key) != like[key]:
                _bad(path, f"{where}.{key}", f"is {group.get(key)!r}, expected {like[key]!r}")
        lr = group.get("lr")
        if not _finite_number(lr) or float(lr) < 0:  # type: ignore[arg-type]
            _bad(path, f"{where}.lr", f"is {lr!r}, expected a finite number >= 0")
        params.update(zip(ids, live["params"], strict=True))
    state = saved["state"]
    if not isinstance(state, dict):
        _bad(path, "optimizer.state", f"is {_kind(state)}, expected a dict")
    for index, entry in state.items():
        where = f"optimizer.state[{index!r}]"
        if not _is_int(index) or index not in params:
            _bad(path, where, "names no parameter of this model")
        if not isinstance(entry, dict):
            _bad(path, where, f"is {_kind(entry)}, expected a dict")
        param = params[index]
        for key, value in entry.items():
            if key in ("exp_avg", "exp_avg_sq", "max_exp_avg_sq"):
                _check_tensor(path, f"{where}.{key}", value,
                              torch.zeros_like(param.detach(), device="cpu"))
            elif key == "step":
                if not _finite_number(value) or float(value) < 0:
                    _bad(path, f"{where}.step", f"is {value!r}, expected a finite count >= 0")
            else:
                _bad(path, f"{where}.{key}", "is not AdamW state")


def check_generator(path: Path, saved: object, generator: torch.Generator) -> None:
    _check_tensor(path, "generator", saved, generator.get_state())


def check_epoch_order(path: Path, saved: object, images: int) -> None:
    """Empty (no epoch started), or a permutation of the ``images`` indices, as int64."""
    if not isinstance(saved, torch.Tensor) or saved.dtype != torch.long or saved.dim() != 1:
        _bad(path, "epoch_order", f"is {_kind(saved)}, expected a 1-D int64 tensor")
    if saved.numel() == 0:
        return
    if saved.numel() != images:
        _bad(path, "epoch_order", f"has {saved.numel()} entries, expected {images} (one per "
                                  "training image)")
    if not torch.equal(torch.sort(saved).values, torch.arange(images)):
        _bad(path, "epoch_order", f"is not a permutation of 0..{images - 1}")


def check_schedule(path: Path, saved: object, expected: Mapping[str, object],
                   earlier: Sequence[Mapping[str, object]] = ()) -> None:
    """Like :func:`check_config`, for the learning-rate schedule the run derived."""
    if not isinstance(saved, dict):
        _bad(path, "schedule", f"is {_kind(saved)}, expected a dict")
    if any(_same(saved, schedule) for schedule in earlier):
        return
    for name, value in expected.items():
        if saved.get(name) != value:
            _bad(path, f"schedule.{name}", f"is {saved.get(name)!r}, expected {value!r} (the "
                                           "data or settings changed)")


def check_log_window(path: Path, saved: object, expected_length: int,
                     field: str = "log_window") -> list[float]:
    """The losses (``log_window``) or learning rates (``log_window_lrs``) of the logging window
    open at the checkpoint, one per step since the last metric line: a list of
    ``expected_length`` finite floats.

    Absent in checkpoints written before the window was saved: read as an empty window, so a
    run of that age still resumes; its next metric line then averages only the steps after the
    checkpoint (its ``step_losses`` list says which).
    """
    if saved is None:
        return []
    if not isinstance(saved, list) or not all(isinstance(value, float) for value in saved):
        _bad(path, field, f"is {_kind(saved)}, expected a list of floats")
    if len(saved) != expected_length:
        _bad(path, field, f"holds {len(saved)} values, expected {expected_length} (one per "
                          "step since the last metric line)")
    if not all(_finite_number(value) for value in saved):
        _bad(path, field, "holds NaN or infinite values")
    return list(saved)
