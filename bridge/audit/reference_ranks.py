"""The reference adapter's training loops as simulated ranks (``RankedTrainingCapability``).

Each loop is ``runtime.train.StepLoop``: the CLI's own step (data order, this rank's slice of
the global batch, random resized crop, masks, AdamW with the runtime's parameter groups, cosine
lr, the I-JEPA EMA) on a :class:`~maskproof.runtime.train.SimulatedRank`, recording what each
step trained on through a step check, the hook ``maskproof train --check-every`` uses.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from maskproof.bridge.audit.protocols import RankStep
from maskproof.runtime.config import TrainConfig
from maskproof.runtime.models.ijepa import IJEPA
from maskproof.runtime.optim import NO_DECAY_NAME_PARTS
from maskproof.runtime.tasks import StepOutputs
from maskproof.runtime.train import LiveStep, SimulatedRank, StepLoop

#: The loops' run: the tiny presets on the 16x16 digits, a global batch of 8 over 6 steps,
#: random resized crops; the 1,797 digits make one epoch 224 steps, so no sample repeats.
LOOP_SETTINGS: dict[str, Any] = {
    "model": "tiny", "image_size": 16, "patch_size": 4, "batch_size": 8, "steps": 6,
    "crop_scale": 0.5, "device": "cpu", "precision": "fp32", "compile": False, "workers": 0}


class _Recorder:
    """A step check that keeps the last step's forward outputs and never objects."""

    def __init__(self) -> None:
        self.last: StepOutputs | None = None

    def due(self, step: int) -> bool:
        return True

    def __call__(self, live: LiveStep) -> str | None:
        self.last = live.outputs
        return None

    def summary(self) -> str:
        return "recorded"


def step_masks(kind: str, outputs: StepOutputs) -> Tensor:
    """One row per sample: MAE's removed-patch mask; I-JEPA's context and target indices with
    padding as -1 (equal exactly when the masks are)."""
    t = outputs.tensors
    if kind == "mae":
        return t["mask_removed"]
    context = torch.where(t["context_valid"], t["context"], -1)
    targets = torch.where(t["targets_valid"], t["targets"], -1).flatten(1)
    return torch.cat([context, targets], dim=1)


class ReferenceRankLoop:
    """``maskproof train KIND`` (with :data:`LOOP_SETTINGS`) as rank ``rank`` of ``world_size``."""

    def __init__(self, kind: str, world_size: int, rank: int, seed: int) -> None:
        if kind not in ("mae", "jepa"):
            raise ValueError(f"loop kind {kind!r}: expected 'mae' or 'jepa'")
        self.kind = kind
        self._recorder = _Recorder()
        config = TrainConfig(task=kind, seed=seed, **LOOP_SETTINGS)
        self._loop = StepLoop(config, SimulatedRank(rank=rank, world_size=world_size,
                                                    local_rank=rank), (self._recorder,))
        setup = self._loop.setup
        self.module: nn.Module = setup.model
        self.optimizer: torch.optim.Optimizer = setup.optimizer
        self.dataset_size = int(setup.train_indices.numel())
        self.total_steps = setup.schedule.total_steps
        self.final_lr = setup.schedule.min_lr
        self.ema_target: nn.Module | None = None
        self.ema_online: nn.Module | None = None
        self.ema_end = 1.0  # runtime.models.ijepa.ema_momentum's end
        if isinstance(setup.model, IJEPA):
            self.ema_target = setup.model.target_encoder
            self.ema_online = setup.model.context_encoder
        self.no_weight_decay_parts: tuple[str, ...] = NO_DECAY_NAME_PARTS

    def step(self) -> RankStep:
        positions, done = self._loop.step()
        assert self._recorder.last is not None  # the check runs on every step
        return RankStep(positions.tolist(), step_masks(self.kind, self._recorder.last),
                        done.boxes)
