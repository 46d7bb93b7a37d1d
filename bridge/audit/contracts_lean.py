"""Contracts on TorchLean's deterministic masks: equal to the spec, scalar by scalar, by bits.

Shapes are drawn with sides that patches and blocks do not divide, offsets far beyond the number
of blocks (up to ``2^70``, more than ``int64`` holds) and ``period = 0`` / zero patch sides, the
places where ports of the Lean definitions go wrong.
"""

from __future__ import annotations

import torch
from hypothesis import strategies as st

from maskproof.bridge import extract
from maskproof.bridge.audit.contract import Clauses, Contract, Draws, Violation, randn, require
from maskproof.bridge.audit.protocols import (
    BlockMaskCapability,
    ImagePatchMaskCapability,
    VectorMaskCapability,
)
from maskproof.spec import block_mask, ssl
from maskproof.spec.tensor import Tensor as SpecTensor

FAMILY = "TorchLean's own families"
OFFSETS = st.one_of(st.integers(0, 12), st.integers(0, 2**70))
#: Vector lengths: 0 to 12, then ViT token widths (196 patches, 256, a 768-wide embedding).
DATA_DIMS = st.sampled_from((*range(13), 196, 256, 768))
#: Image sides, smallest first: 1 to 7, then 9, 14 and 16 (real patch-grid sides) and 28, 30.
IMAGE_SIDES = st.sampled_from((*range(1, 8), 9, 14, 16, 28, 30))
#: Patch sides: 0 (degenerate), small ones, then 7, 8 and 16 (a ViT's); most do not divide most
#: drawn image sides, where the spec's ceil patches per row applies (28 = 16 + 12, 30 = 4·7 + 2).
PATCH_SIDES = st.sampled_from((*range(5), 7, 8, 16))
#: Block-mask tensor sides and block lengths, smallest first, up to real grid sides.
BLOCK_SIDES = st.sampled_from((1, 2, 3, 4, 5, 14, 16))
BLOCK_LENGTHS = st.sampled_from((0, 1, 2, 3, 4, 7, 16))


def _mismatch(runtime: object, spec_value: SpecTensor, what: str) -> None:
    if not isinstance(runtime, torch.Tensor):
        raise Violation(f"{what} must return a tensor, got {type(runtime).__name__}")
    require(runtime.is_floating_point(), f"{what} returned dtype {runtime.dtype}")
    found = extract.first_mismatch(runtime, spec_value)
    if found is not None:
        where, got, want = found
        raise Violation(f"{what}{list(where)} = {got!r}, spec says {want!r}")


def check_vector(adapter: VectorMaskCapability, draws: Draws) -> None:
    batch = draws.draw("batch", st.integers(1, 3))
    dim = draws.draw("data_dim", DATA_DIMS)
    period = draws.draw("period", st.integers(0, 14))
    offset = draws.draw("offset", OFFSETS)
    x = randn((batch, dim), draws.seed())
    draws.size = x.numel()
    with Clauses() as clauses:
        for p in dict.fromkeys((period, 0)):  # the drawn period, and always the degenerate one
            out = adapter.vector_mae_mask(x, p, offset)
            want = ssl.vector_mae_mask(batch, dim, p, offset, extract.to_spec(x))
            with clauses.clause():
                _mismatch(out, want, f"vector_mae_mask(period={p}, offset={offset})")


def check_image(adapter: ImagePatchMaskCapability, draws: Draws) -> None:
    batch = draws.draw("batch", st.integers(1, 2))
    chans = draws.draw("channels", st.integers(1, 2))
    height = draws.draw("height", IMAGE_SIDES)
    width = draws.draw("width", IMAGE_SIDES)
    patch_h = draws.draw("patch_h", PATCH_SIDES)
    patch_w = draws.draw("patch_w", PATCH_SIDES)
    period = draws.draw("period", st.integers(0, 10))
    offset = draws.draw("offset", OFFSETS)
    x = randn((batch, chans, height, width), draws.seed())
    draws.size = x.numel()
    # The drawn parameters, and always the degenerate ones next to them.
    variants = dict.fromkeys(((patch_h, patch_w, period), (patch_h, patch_w, 0),
                              (0, patch_w, period), (patch_h, 0, period)))  # once each
    with Clauses() as clauses:
        for ph, pw, p in variants:
            out = adapter.image_patch_mask(x, ph, pw, p, offset)
            want = ssl.image_patch_mask(batch, chans, height, width, ph, pw, p, offset,
                                        extract.to_spec(x))
            with clauses.clause():
                _mismatch(out, want,
                          f"image_patch_mask(patch={ph}x{pw}, period={p}, offset={offset})")


def check_block(adapter: BlockMaskCapability, draws: Draws) -> None:
    batch = draws.draw("batch", st.integers(1, 2))
    shape = draws.draw("shape", st.lists(BLOCK_SIDES, min_size=1, max_size=3))
    blocks = draws.draw("blocks", st.lists(st.one_of(st.none(), BLOCK_LENGTHS),
                                           min_size=len(shape), max_size=len(shape)))
    period = draws.draw("period", st.integers(0, 10))
    offset = draws.draw("offset", OFFSETS)
    x = randn((batch, *shape), draws.seed())
    draws.size = x.numel()
    samples = extract.to_spec(x)
    assert isinstance(samples, tuple)
    with Clauses() as clauses:
        for p in dict.fromkeys((period, 0)):  # the drawn period, and always the degenerate one
            out = adapter.block_mask_apply(x, blocks, p, offset)
            want = tuple(block_mask.apply(shape, sample, blocks, p, offset) for sample in samples)
            with clauses.clause():
                _mismatch(out, want,
                          f"block_mask_apply(blocks={blocks}, period={p}, offset={offset})")


CONTRACTS = (
    Contract("lean.vector_mae_mask",
             "vector_mae_mask equals the spec's vectorMaeMask bit for bit (period 0, any offset)",
             (VectorMaskCapability,),
             "vectorMaeMask_hidden_get_eq_zero, vectorMaeMask_visible_get_eq_input (NN.API.ssl)",
             FAMILY, check_vector),
    Contract("lean.image_patch_mask",
             "image_patch_mask equals the spec's imagePatchMask bit for bit (ceil patches per "
             "row, zero patch sides, any offset)",
             (ImagePatchMaskCapability,),
             "imagePatchMask_hidden_pixel_eq_zero, imagePatchMask_visible_pixel_eq_input "
             "(NN.API.ssl)", FAMILY, check_image,
             # A floor-vs-ceil patch count shows only where a patch side does not divide the
             # width and the image has two patch rows: about 1 draw in 6, so twice the examples.
             weight=2.0),
    Contract("lean.block_mask",
             "block_mask_apply equals the spec's BlockMask.apply bit for bit on every sample",
             (BlockMaskCapability,),
             "BlockMask.hidden_scalar_eq_zero, BlockMask.visible_scalar_eq_input "
             "(TorchLean.ssl.BlockMask)", FAMILY, check_block),
)
