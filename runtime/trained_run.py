"""A finished (or, if allowed, stopped) run folder's model, loaded from its last checkpoint.

``maskproof probe`` and ``maskproof export`` read a run the same way: config.json, the COMPLETE
marker, then every checkpoint field they use validated (config against config.json and the
settings it records as replaced, step against the schedule, model tensors against the model)
before the weights are loaded.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from torch import nn

from maskproof.runtime.checkpoint import (
    CHECKPOINT_NAME,
    check_config,
    check_step,
    check_tensors,
    load_checkpoint,
)
from maskproof.runtime.config import TrainConfig
from maskproof.runtime.data import ImageData, load_images
from maskproof.runtime.errors import UserError
from maskproof.runtime.run_history import earlier_settings
from maskproof.runtime.tasks import Task, build_model_seeded, make_task
from maskproof.runtime.train import COMPLETE_NAME, make_schedule, read_run_config


@dataclass(frozen=True)
class TrainedRun:
    config: TrainConfig
    data: ImageData
    task: Task
    #: The model with the checkpoint's weights, in eval mode.
    model: nn.Module
    step: int


def load_trained_run(folder: Path, command: str, allow_incomplete: bool) -> TrainedRun:
    """The run in ``folder`` for ``command`` (``probe``, ``export``: named in the messages)."""
    config = read_run_config(folder)
    if not allow_incomplete and not (folder / COMPLETE_NAME).exists():
        raise UserError(f"{command} {folder}: the run is not complete (no {COMPLETE_NAME}); "
                        f"finish it with --resume, or pass --allow-incomplete to {command} its "
                        "last checkpoint")
    source = folder / CHECKPOINT_NAME
    state = load_checkpoint(source)
    check_config(source, state["config"], config.to_json_dict(), earlier_settings(folder)[0])
    data = load_images(config.data, config.labels, config.image_size)
    task = make_task(config, data.shape)
    step = check_step(source, state["step"], make_schedule(config, data.count).total_steps)
    model = build_model_seeded(task, config.seed)
    check_tensors(source, "model", state["model"], model.state_dict())
    try:
        model.load_state_dict(state["model"])
    except RuntimeError as error:
        raise UserError(f"checkpoint {source}: does not fit the model "
                        f"({str(error).splitlines()[0][:160]})") from None
    return TrainedRun(config, data, task, model.eval(), step)
