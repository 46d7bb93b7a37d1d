"""Zoo adapters for the training loop across ranks: masks, schedule horizon, weight decay.

Each card keeps the reference loop (``bridge.audit.reference_ranks``: the CLI's own steps) and
breaks one thing in the setup the loop runs with, the way the bug appears in user code.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import torch
from torch import Tensor, nn

from maskproof.bridge.audit.reference import ReferenceAdapter
from maskproof.bridge.audit.reference_ranks import ReferenceRankLoop
from maskproof.runtime.optim import build_adamw
from maskproof.runtime.tasks import Shard, StepOutputs


class _RankBlindTask:
    """The task with each rank drawing masks as if its rows were the whole batch."""

    def __init__(self, task: Any) -> None:
        self._task = task

    def forward_step(self, model: nn.Module, images: Tensor, generator: torch.Generator,
                     shard: Shard) -> StepOutputs:
        out: StepOutputs = self._task.forward_step(model, images, generator,
                                                   Shard.whole(shard.stop - shard.start))
        return out

    def __getattr__(self, name: str) -> Any:
        return getattr(self._task, name)


class _RankBlindMasksLoop(ReferenceRankLoop):
    def __init__(self, kind: str, world_size: int, rank: int, seed: int) -> None:
        super().__init__(kind, world_size, rank, seed)
        setup = self._loop.setup
        setup.task = _RankBlindTask(setup.task)


class RankBlindMasks(ReferenceAdapter):
    """Every rank seeds its mask generator with the launch's seed and draws the masks of its
    own rows from the start, so all ranks train on the same masks (the data is still sharded)."""

    def rank_loop(self, kind: str, world_size: int, rank: int, seed: int) -> ReferenceRankLoop:
        return _RankBlindMasksLoop(kind, world_size, rank, seed)


class _OneProcessHorizonLoop(ReferenceRankLoop):
    def __init__(self, kind: str, world_size: int, rank: int, seed: int) -> None:
        super().__init__(kind, world_size, rank, seed)
        setup = self._loop.setup
        # The loop still runs total_steps steps; the lr cosine and the EMA ramp are laid out
        # over world_size times as many.
        setup.schedule = replace(setup.schedule,
                                 total_steps=setup.schedule.total_steps * world_size)


class OneProcessHorizon(ReferenceAdapter):
    """The lr and EMA schedules count the one-process run's steps (``len(dataset) //
    per-rank batch``) while each rank runs ``1/W`` of them, so a ``W``-rank run stops halfway
    down its cosine with the EMA far from its final momentum."""

    def rank_loop(self, kind: str, world_size: int, rank: int, seed: int) -> ReferenceRankLoop:
        return _OneProcessHorizonLoop(kind, world_size, rank, seed)


class _DecayEverythingLoop(ReferenceRankLoop):
    def __init__(self, kind: str, world_size: int, rank: int, seed: int) -> None:
        super().__init__(kind, world_size, rank, seed)
        setup = self._loop.setup
        trainable = [p for p in setup.model.parameters() if p.requires_grad]
        weight_decay = setup.config.weight_decay
        setup.optimizer = build_adamw([{"params": trainable, "weight_decay": weight_decay}],
                                      setup.schedule.peak_lr, setup.device)
        self.optimizer = setup.optimizer


class DecayEverything(ReferenceAdapter):
    """``AdamW(model.parameters(), weight_decay=0.05)``: biases, LayerNorm weights, positional
    embeddings and tokens decayed toward zero with the matrices."""

    def rank_loop(self, kind: str, world_size: int, rank: int, seed: int) -> ReferenceRankLoop:
        return _DecayEverythingLoop(kind, world_size, rank, seed)


class _WeightDecayScheduleLoop(ReferenceRankLoop):
    def step(self) -> Any:
        done = super().step()
        for group in self.optimizer.param_groups:  # every group, the exempt one included
            group["weight_decay"] = self._loop.setup.config.weight_decay
        return done


class WeightDecayScheduleOverwrites(ReferenceAdapter):
    """A weight-decay schedule that writes its value into every optimizer group after each
    step, the no-decay group included (the I-JEPA scheduler skips groups marked
    ``WD_exclude``; this one does not)."""

    def rank_loop(self, kind: str, world_size: int, rank: int, seed: int) -> ReferenceRankLoop:
        return _WeightDecayScheduleLoop(kind, world_size, rank, seed)
