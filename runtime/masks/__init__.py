"""Tensor masks: TorchLean's deterministic masks, MAE random masking, I-JEPA multi-block masks."""

from maskproof.runtime.masks.block import block_hidden, block_mask_apply
from maskproof.runtime.masks.deterministic import (
    flatten_batch_prefix,
    image_patch_hidden,
    image_patch_mask,
    vector_mae_hidden_mask,
    vector_mae_mask,
)
from maskproof.runtime.masks.jepa_batch import JEPAMaskBatch, collate_jepa_masks
from maskproof.runtime.masks.mae_random import (
    MaskRatio,
    RandomMasking,
    mae_keep_count,
    masking_noise,
    parse_mask_ratio,
    random_masking,
    random_masking_from_noise,
)
from maskproof.runtime.masks.multiblock import Block, BlockDraw, MultiBlockMaskSampler, block_shape

__all__ = [
    "Block",
    "BlockDraw",
    "JEPAMaskBatch",
    "MaskRatio",
    "MultiBlockMaskSampler",
    "RandomMasking",
    "block_hidden",
    "block_mask_apply",
    "block_shape",
    "collate_jepa_masks",
    "flatten_batch_prefix",
    "image_patch_hidden",
    "image_patch_mask",
    "mae_keep_count",
    "masking_noise",
    "parse_mask_ratio",
    "random_masking",
    "random_masking_from_noise",
    "vector_mae_hidden_mask",
    "vector_mae_mask",
]
