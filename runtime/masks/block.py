"""TorchLean's arbitrary-rank block mask (``TorchLean.ssl.BlockMask``), vectorised.

A policy per axis: ``None`` = the axis is not blocked, ``k`` = blocks of width ``k`` along it.
The block index is a mixed-radix number over the blocked axes, most significant axis first, whose
digit on an axis is ``coordinate // k`` in radix ``ceil(extent / k)``. Nothing is hidden when
``period = 0``, when some policy is ``0``, or when no axis is blocked; otherwise the blocks with
``index % period == offset % period`` are hidden.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from maskproof.runtime.masks._lean_mask import in_hidden_class, zero_where
from maskproof.runtime.masks._validate import require_floating, require_nat, require_shape


def _require_policy_sequence(blocks: object) -> Sequence[int | None]:
    """Refuse a ``blocks`` argument that is not a sequence of per-axis policies."""
    if isinstance(blocks, (str, bytes)) or not isinstance(blocks, Sequence):
        raise ValueError(f"blocks must be a sequence of None or non-negative ints, got {blocks!r}")
    return blocks


def _require_policies(blocks: Sequence[int | None], rank: int) -> list[int | None]:
    """Return ``blocks`` as a list of ``None`` / non-negative ints, one per axis of the shape."""
    _require_policy_sequence(blocks)
    if len(blocks) != rank:
        raise ValueError(
            f"blocks must have one policy per axis ({rank}), got {len(blocks)}: {list(blocks)!r}"
        )
    return [None if k is None else require_nat(k, f"blocks[{axis}]") for axis, k in
            enumerate(blocks)]


def block_hidden(
    shape: Sequence[int],
    blocks: Sequence[int | None],
    period: int,
    offset: int,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """Lean ``BlockMask.hidden`` at every coordinate of ``shape``, as a bool tensor of ``shape``.

    ``True`` = hidden. ``blocks`` has one policy per axis (Lean types it ``Tensor (Option Nat)
    [shape.rank]``, so a rank mismatch is refused rather than treated as "hide nothing").
    """
    extents = require_shape(shape)
    policies = _require_policies(blocks, len(extents))
    period = require_nat(period, "period")
    offset = require_nat(offset, "offset")
    nothing_hidden = torch.zeros(extents, dtype=torch.bool, device=device)
    blocked_axes = [axis for axis, k in enumerate(policies) if k is not None]
    if period == 0 or 0 in policies or not blocked_axes:
        return nothing_hidden
    index = torch.zeros((1,) * len(extents), dtype=torch.long, device=device)
    block_count = 1
    for axis in blocked_axes:
        extent, width = extents[axis], policies[axis]
        assert width is not None  # blocked_axes holds only the `some k` axes
        # A block at least as wide as the axis is one block: the same digits (all 0) and radix,
        # and torch's int64 division never sees a width beyond 2^63.
        width = min(width, max(extent, 1))
        radix = (extent + width - 1) // width
        view_shape = [1] * len(extents)
        view_shape[axis] = extent
        digit = torch.div(torch.arange(extent, device=device), width, rounding_mode="floor")
        index = index * radix + digit.reshape(view_shape)
        block_count *= radix
    return in_hidden_class(index.expand(extents), block_count, period, offset)


def block_mask_apply(
    x: torch.Tensor, blocks: Sequence[int | None], period: int, offset: int
) -> torch.Tensor:
    """Lean ``BlockMask.apply`` on every sample of ``x`` (shape ``[*batch, *sample_shape]``).

    The sample shape is the trailing ``len(blocks)`` axes of ``x``; the leading axes are batch
    axes (Lean's ``Tensor.mapLeading``). Hidden scalars become ``+0.0``, the rest are copied.
    """
    require_floating(x)
    rank = len(_require_policy_sequence(blocks))
    if x.dim() < rank:
        raise ValueError(
            f"x must have at least {rank} axes for {rank} block policies, "
            f"got shape {tuple(x.shape)}"
        )
    sample_shape = tuple(x.shape[x.dim() - rank:])
    hidden = block_hidden(sample_shape, blocks, period, offset, device=x.device)
    return zero_where(hidden, x)
