"""The knobs of one training step: ``--precision``, ``--grad-accum`` micro-batches, ``--compile``.

Precision. ``auto`` is bf16 autocast on CUDA and float32 (no autocast) on CPU, what the loop did
before the flag existed; ``fp32`` never autocasts; ``bf16`` autocasts on either device; ``fp16``
autocasts to float16 and scales the loss with a :class:`torch.amp.GradScaler`, whose state is
checkpointed so a resumed fp16 run continues with the same scale.

Micro-batches. ``--grad-accum N`` splits this rank's rows ``[start, stop)`` into N equal
consecutive slices, each run as a shard of the same global batch. Every slice starts from the
generator state the step started with: a task draws the masks of the whole global batch (MAE
row by row, skipping the rows outside its shard; I-JEPA all of them) and keeps its rows, so slice
k gets exactly the larger batch's masks of its rows, and after the last slice the generator is
where the one-batch step leaves it. Each slice's loss is divided by N before its backward, so the
summed gradient is the larger batch's (the tasks' losses are means over equal-sized slices; the
I-JEPA token weighting of :meth:`runtime.tasks.JEPATask.forward_step` covers unequal counts).
"""

from __future__ import annotations

import contextlib
import time
from typing import Any

import torch
from torch import nn

from maskproof.runtime.errors import UserError
from maskproof.runtime.tasks import Shard

_AUTOCAST_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


def resolve_precision(precision: str, device: torch.device) -> str:
    """``fp32``, ``bf16`` or ``fp16``: ``auto`` is bf16 on CUDA and fp32 elsewhere."""
    if precision == "auto":
        return "bf16" if device.type == "cuda" else "fp32"
    return precision


def autocast(precision: str, device: torch.device) -> contextlib.AbstractContextManager[Any]:
    """The step's autocast context for a resolved ``precision`` (none for fp32)."""
    dtype = _AUTOCAST_DTYPES.get(precision)
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=dtype)


def make_grad_scaler(precision: str, device: torch.device) -> torch.amp.GradScaler | None:
    """A loss scaler for fp16 (its gradients underflow without one); ``None`` otherwise."""
    if precision != "fp16":
        return None
    return torch.amp.GradScaler(device.type)


def micro_shards(shard: Shard, parts: int) -> list[Shard]:
    """``shard``'s rows as ``parts`` equal consecutive shards of the same global batch."""
    rows = shard.stop - shard.start
    if parts <= 0 or rows % parts:
        raise UserError(f"--grad-accum {parts}: does not divide this process's {rows} rows of "
                         f"the batch of {shard.global_size}; expected a divisor of {rows}")
    size = rows // parts
    return [Shard(shard.start + k * size, shard.start + (k + 1) * size, shard.global_size)
            for k in range(parts)]


def compile_forward(model: nn.Module) -> nn.Module:
    """``torch.compile`` of the model the loop calls (the DDP wrapper under torchrun).

    The module is compiled rather than a method, so DDP's forward hooks stay in the call and
    every task's ``forward_step`` calls it unchanged; MAE's masking-noise draw from the run's
    generator is a graph break, the rest of its forward (and backward) is traced."""
    compiled: nn.Module = torch.compile(model)  # type: ignore[assignment]
    return compiled


class FirstStepTimer:
    """Wall time of the first compiled step (compilation included), reported once."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.seconds: float | None = None
        self._started: float | None = None

    def start(self) -> None:
        if self.enabled and self.seconds is None:
            self._started = time.perf_counter()

    def stop(self) -> float | None:
        """The first step's seconds when it just ended, else ``None``."""
        if self._started is None:
            return None
        self.seconds = time.perf_counter() - self._started
        self._started = None
        return self.seconds
