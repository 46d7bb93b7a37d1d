"""Zoo adapters for TorchLean's deterministic masks: the reference with one thing broken."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from maskproof.bridge.audit.reference import ReferenceAdapter
from maskproof.runtime import masks as runtime_masks


class OffsetWithoutModulo(ReferenceAdapter):
    """``j % period == offset``: the offset is not reduced modulo the period."""

    def vector_mae_mask(self, x: Tensor, period: int, offset: int) -> Tensor:
        if period == 0:
            return x.clone()
        hidden = torch.arange(x.shape[1]) % period == offset
        return torch.where(hidden, x.new_zeros(()), x)


class FloorPatchesPerRow(ReferenceAdapter):
    """Patch index with ``width // patch_w`` patches per row instead of the ceiling."""

    def image_patch_mask(self, x: Tensor, patch_h: int, patch_w: int, period: int,
                         offset: int) -> Tensor:
        height, width = x.shape[2], x.shape[3]
        if period == 0 or patch_h == 0 or patch_w == 0:
            return x.clone()
        rows = torch.arange(height) // patch_h
        cols = torch.arange(width) // patch_w
        index = rows[:, None] * (width // patch_w) + cols[None, :]
        hidden = index % period == offset % period
        return torch.where(hidden, x.new_zeros(()), x)


class PeriodZeroHidesAll(ReferenceAdapter):
    """``period = 0`` clamped to 1 (to avoid ``% 0``), so it hides every block."""

    def block_mask_apply(self, x: Tensor, blocks: Sequence[int | None], period: int,
                         offset: int) -> Tensor:
        return runtime_masks.block_mask_apply(x, blocks, max(period, 1), offset)
