"""A user's adapter: their TorchLean-style vector mask, with one known deviation and one bug.

``Adapter`` wraps the user's masks for maskproof: ``vector_mae_mask`` reduces the offset
modulo the period, as TorchLean's ``vectorMaeMask`` does; ``image_patch_mask`` counts
patches per row with floor division (a bug the suite should report as a failing test);
``block_mask_apply`` ignores the offset (a deviation the team has accepted, listed in
maskproof-xfail.txt).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor


def _hidden(index: Tensor, period: int, offset: int) -> Tensor:
    return index % period == offset % period


class Adapter:
    def vector_mae_mask(self, x: Tensor, period: int, offset: int) -> Tensor:
        if period == 0:
            return x.clone()
        hidden = _hidden(torch.arange(x.shape[1]), period, offset)
        return torch.where(hidden, x.new_zeros(()), x)

    def image_patch_mask(self, x: Tensor, patch_h: int, patch_w: int, period: int,
                         offset: int) -> Tensor:
        if period == 0 or patch_h == 0 or patch_w == 0:
            return x.clone()
        rows = torch.arange(x.shape[2])[:, None] // patch_h
        cols = torch.arange(x.shape[3])[None, :] // patch_w
        patch = rows * (x.shape[3] // patch_w) + cols  # the bug: floor, not ceiling
        return torch.where(_hidden(patch, period, offset), x.new_zeros(()), x)

    def block_mask_apply(self, x: Tensor, blocks: Sequence[int | None], period: int,
                         offset: int) -> Tensor:
        from maskproof.bridge.audit.reference import ReferenceAdapter

        return ReferenceAdapter().block_mask_apply(x, blocks, period, 0)
