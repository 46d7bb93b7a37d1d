"""The learning-rate knobs a ``--resume`` may change, and the record of each change in config.json.

A run stopped by a non-finite loss would repeat it if it could only continue exactly as it was;
so ``--resume`` may change the knobs that only scale or bound the update (``RESUMABLE``). Each
change is appended to ``config.json``'s ``resumes`` list with the configuration and schedule it
replaced, so a checkpoint written before the change still matches a configuration the folder
records, and a reader can see which steps ran under which settings.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from maskproof.runtime.atomic import write_json_atomic
from maskproof.runtime.config import TrainConfig, validate_config
from maskproof.runtime.errors import UserError

#: Settings ``--resume`` may change: they scale or bound the update, not what is computed.
RESUMABLE: tuple[str, ...] = ("lr", "min_lr", "warmup_steps", "clip_grad")
#: Settings that may differ on resume without being recorded (where it runs, not what).
_UNRECORDED = ("device",)
CONFIG_NAME = "config.json"


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def resume_changes(saved: TrainConfig, given: TrainConfig) -> dict[str, tuple[Any, Any]]:
    """``{knob: (old, new)}`` for the resumable knobs ``given`` changes; any other difference is
    refused, since a resumed run continues the saved configuration."""
    changes: dict[str, tuple[Any, Any]] = {}
    for field in dataclasses.fields(TrainConfig):
        old, new = getattr(saved, field.name), getattr(given, field.name)
        if old == new or field.name in _UNRECORDED:
            continue
        if field.name not in RESUMABLE:
            raise UserError(f"--resume: {_flag(field.name)} is {old!r} in the run and {new!r} "
                            "here; a resumed run keeps every setting except "
                            f"{', '.join(_flag(name) for name in RESUMABLE)}")
        changes[field.name] = (old, new)
    return changes


def apply_changes(saved: TrainConfig, changes: Mapping[str, tuple[Any, Any]]) -> TrainConfig:
    config = dataclasses.replace(saved, **{name: new for name, (_, new) in changes.items()})
    validate_config(config)
    return config


def _raw(run_dir: Path) -> dict[str, Any]:
    raw = json.loads((run_dir / CONFIG_NAME).read_text(encoding="utf-8"))
    assert isinstance(raw, dict)  # read_run_config has checked the file already
    return raw


def earlier_settings(run_dir: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The configurations and schedules config.json records as replaced by a resume."""
    resumes = _raw(run_dir).get("resumes", [])
    if not isinstance(resumes, list):
        raise UserError(f"{run_dir / CONFIG_NAME}: `resumes` is a {type(resumes).__name__}, "
                        "expected a list")
    configs, schedules = [], []
    for entry in resumes:
        if not (isinstance(entry, dict) and isinstance(entry.get("config_before"), dict)
                and isinstance(entry.get("schedule_before"), dict)):
            raise UserError(f"{run_dir / CONFIG_NAME}: a `resumes` entry lacks "
                            "`config_before` / `schedule_before`")
        configs.append(entry["config_before"])
        schedules.append(entry["schedule_before"])
    return configs, schedules


def record_resume(run_dir: Path, step: int, changes: Mapping[str, tuple[Any, Any]],
                  before: tuple[TrainConfig, Mapping[str, Any]],
                  after: tuple[TrainConfig, Mapping[str, Any]]) -> None:
    """Rewrite config.json (atomically) with the new settings and the record of the change."""
    raw = _raw(run_dir)
    resumes: Sequence[Any] = raw.get("resumes", [])
    entry = {"step": step,
             "changed": {name: {"from": old, "to": new} for name, (old, new) in changes.items()},
             "config_before": before[0].to_json_dict(), "schedule_before": dict(before[1])}
    raw.update(config=after[0].to_json_dict(), schedule=dict(after[1]),
               resumes=[*resumes, entry])
    write_json_atomic(run_dir / CONFIG_NAME, raw)


def describe(changes: Mapping[str, tuple[Any, Any]]) -> str:
    return ", ".join(f"{_flag(name)} {new} (was {old})" for name, (old, new) in changes.items())
