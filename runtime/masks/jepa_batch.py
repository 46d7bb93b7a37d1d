"""The padded batch of I-JEPA context and target index sets, and its collation.

Samples keep different numbers of context and target tokens. Truncating every sample to the
shortest (as the official I-JEPA collator does) silently drops context and target tokens, so the
batch is padded instead: index ``0`` fills the tail and a ``valid`` mask says which entries are
real. Consumers must ignore entries whose valid flag is ``False``.

Measured cost (default ``MultiBlockMaskSampler``, 20 batches of 128, seed 0): padding is 37.5% /
33.2% / 34.1% of the context tensor and 21.5% / 29.6% / 18.4% of the target tensor on 4x4 / 8x8 /
14x14 grids. Truncating to the batch minimum instead would drop 43.6% / 57.2% / 45.9% of the
context tokens and 36.3% / 20.1% / 24.9% of the target tokens.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class JEPAMaskBatch:
    """Flat row-major grid indices (``row * grid_w + col``), ascending within each set.

    ``context [B, Lc]`` long with ``context_valid [B, Lc]`` bool; ``targets [B, M, Lt]`` long
    with ``targets_valid [B, M, Lt]`` bool. Padding entries hold index 0 and are not valid.
    """

    context: torch.Tensor
    context_valid: torch.Tensor
    targets: torch.Tensor
    targets_valid: torch.Tensor

    @property
    def batch_size(self) -> int:
        return int(self.context.shape[0])

    @property
    def num_targets(self) -> int:
        return int(self.targets.shape[1])

    @property
    def context_padding_fraction(self) -> float:
        """Share of the context tensor that is padding (wasted encoder work if not skipped)."""
        return _padding_fraction(self.context_valid)

    @property
    def targets_padding_fraction(self) -> float:
        """Share of the target tensor that is padding."""
        return _padding_fraction(self.targets_valid)

    def to(self, device: torch.device | str) -> JEPAMaskBatch:
        """The same batch with every tensor on ``device``."""
        return JEPAMaskBatch(
            self.context.to(device),
            self.context_valid.to(device),
            self.targets.to(device),
            self.targets_valid.to(device),
        )


def _padding_fraction(valid: torch.Tensor) -> float:
    total = valid.numel()
    return 0.0 if total == 0 else 1.0 - int(valid.sum()) / total


def _pad(index_sets: Sequence[Sequence[int]], length: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Stack index lists into ``[len(index_sets), length]`` long and valid tensors."""
    indices = torch.zeros((len(index_sets), length), dtype=torch.long)
    valid = torch.zeros((len(index_sets), length), dtype=torch.bool)
    for row, index_set in enumerate(index_sets):
        indices[row, : len(index_set)] = torch.as_tensor(index_set, dtype=torch.long)
        valid[row, : len(index_set)] = True
    return indices, valid


def collate_jepa_masks(
    contexts: Sequence[Sequence[int]], targets: Sequence[Sequence[Sequence[int]]]
) -> JEPAMaskBatch:
    """Pad per-sample context index lists and per-sample lists of target index lists.

    Every sample must have the same number of target blocks. Nothing is truncated: the padded
    lengths are the longest context and the longest target block in the batch.
    """
    if len(contexts) != len(targets):
        raise ValueError(
            f"contexts and targets must describe the same samples, got {len(contexts)} "
            f"contexts and {len(targets)} target lists"
        )
    block_counts = {len(sample_targets) for sample_targets in targets}
    if len(block_counts) > 1:
        raise ValueError(f"every sample needs the same number of target blocks, got {block_counts}")
    num_targets = block_counts.pop() if block_counts else 0
    context_length = max((len(c) for c in contexts), default=0)
    flat_targets = [block for sample_targets in targets for block in sample_targets]
    target_length = max((len(t) for t in flat_targets), default=0)
    context, context_valid = _pad(contexts, context_length)
    target_indices, target_valid = _pad(flat_targets, target_length)
    shape = (len(targets), num_targets, target_length)
    return JEPAMaskBatch(
        context, context_valid, target_indices.reshape(shape), target_valid.reshape(shape)
    )
