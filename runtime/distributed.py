"""Process layout: one process, or N under ``torchrun`` with DistributedDataParallel.

``torchrun`` sets ``RANK``, ``WORLD_SIZE`` and ``LOCAL_RANK``; when ``WORLD_SIZE > 1`` the process
group starts with gloo on CPU and nccl on CUDA (one GPU per local rank). Every rank draws the same
data order and mask seeds from the same seeded generator and trains on its slice of the global
batch; DDP averages the gradients, so the update equals the one-process update on the whole batch
up to the order of floating-point additions. Only rank 0 writes files.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from maskproof.runtime.errors import UserError


@dataclass(frozen=True)
class DistContext:
    """This process's place in the job."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None:
        return default
    try:
        return int(raw)
    except ValueError:
        raise UserError(f"environment {name}={raw!r}: expected an integer") from None


def context_from_env() -> DistContext:
    """Read the torchrun variables (absent: a single process)."""
    world = _env_int("WORLD_SIZE", 1)
    rank = _env_int("RANK", 0)
    local = _env_int("LOCAL_RANK", rank)
    if world < 1 or not 0 <= rank < world:
        raise UserError(f"environment RANK={rank}, WORLD_SIZE={world}: expected 0 <= RANK < "
                        "WORLD_SIZE")
    return DistContext(rank=rank, world_size=world, local_rank=local)


def resolve_device(requested: str, ctx: DistContext) -> torch.device:
    """``auto`` picks CUDA when present; ``cuda`` without a GPU is an error, not a fallback."""
    if requested not in ("auto", "cpu", "cuda"):
        raise UserError(f"--device {requested!r}: expected auto, cpu or cuda")
    if requested == "cpu" or (requested == "auto" and not torch.cuda.is_available()):
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise UserError("--device cuda: no CUDA device is available (use --device cpu or auto)")
    count = torch.cuda.device_count()
    if ctx.local_rank >= count:
        raise UserError(f"LOCAL_RANK {ctx.local_rank} has no GPU ({count} visible)")
    torch.cuda.set_device(ctx.local_rank)
    return torch.device("cuda", ctx.local_rank)


def start(ctx: DistContext, device: torch.device) -> None:
    """Join the process group (a no-op for one process)."""
    if ctx.distributed and not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        dist.init_process_group(backend=backend, rank=ctx.rank, world_size=ctx.world_size)


def stop(ctx: DistContext) -> None:
    if ctx.distributed and dist.is_initialized():
        dist.destroy_process_group()


def mean_across_ranks(value: torch.Tensor, ctx: DistContext) -> torch.Tensor:
    """The average of a scalar over ranks (every rank gets the same value)."""
    if not ctx.distributed:
        return value
    total = value.detach().clone()
    dist.all_reduce(total, op=dist.ReduceOp.SUM)
    return total / ctx.world_size


def any_across_ranks(flag: bool, ctx: DistContext) -> bool:
    """Whether ``flag`` holds on at least one rank (every rank gets the same answer)."""
    if not ctx.distributed:
        return flag
    value = torch.tensor([1 if flag else 0], dtype=torch.int64)
    if dist.get_backend() == "nccl":
        value = value.cuda()
    dist.all_reduce(value, op=dist.ReduceOp.MAX)
    return bool(value.item())


def barrier(ctx: DistContext) -> None:
    if ctx.distributed:
        dist.barrier()


def local_slice(global_batch: int, ctx: DistContext) -> slice:
    """This rank's rows of a global batch (the batch must split evenly)."""
    if global_batch % ctx.world_size != 0:
        raise UserError(f"--batch-size {global_batch}: not divisible by the {ctx.world_size} "
                        "processes; expected a multiple of the process count")
    per_rank = global_batch // ctx.world_size
    return slice(ctx.rank * per_rank, (ctx.rank + 1) * per_rank)
