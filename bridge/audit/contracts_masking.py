"""Contracts on MAE random masking and on patchify / unpatchify."""

from __future__ import annotations

import math
from fractions import Fraction

import torch
from hypothesis import strategies as st

from maskproof.bridge.audit.contract import Contract, Draws, generator, randn, require
from maskproof.bridge.audit.protocols import (
    KEEP_COUNT_CONVENTIONS,
    KEEP_FLOOR,
    MASK_FLOOR,
    PatchifyCapability,
    RandomMaskingCapability,
)

#: Ratios as written in configs; most make ``r·N`` a non-integer on most grids.
RATIOS = ("0.75", "0.8", "0.6", "0.9", "0.5", "0.3", "0.1", "0.25", "0.7", "0.4", "0.15")
#: Token counts: small ones, and real ViT grids (7x7, 8x8, 14x14) and round numbers, where
#: ``N·(1 - r)`` is an integer and a binary-float keep count falls one short.
TOKENS = st.one_of(st.integers(1, 40), st.sampled_from((10, 20, 49, 64, 100, 196)))

RATIO_FAMILY = "mask ratio ignored or miscounted"
ORDER_FAMILY = "ordering / unshuffle"


def _masking_example(adapter: RandomMaskingCapability, draws: Draws, min_batch: int = 1
                     ) -> tuple[torch.Tensor, str, int, tuple[torch.Tensor, ...]]:
    batch = draws.draw("batch", st.integers(min_batch, 4))
    tokens = draws.draw("tokens", st.integers(1, 40))
    ratio = draws.draw("mask_ratio", st.sampled_from(RATIOS))
    seed = draws.seed()
    x = randn((batch, tokens, 3), seed + 1)
    draws.size = x.numel()
    out = adapter.random_masking(x, float(ratio), generator(seed))
    require(isinstance(out, tuple) and len(out) == 3,
            f"random_masking must return (x_kept, mask, ids_restore), got {type(out).__name__}")
    return x, ratio, seed, tuple(out)


def ratio_value(ratio: float | str) -> Fraction:
    """``r`` exactly, as the decimal the float the adapter receives stands for (its shortest
    ``repr``, the ratio as written: ``0.8`` is ``4/5``, not the binary64 value below it)."""
    return Fraction(repr(float(ratio)))


def expected_masked(tokens: int, ratio: float | str, convention: str = KEEP_FLOOR) -> int:
    """The masked count per sample under ``convention``, exactly: ``N − ⌊N·(1 − r)⌋``
    (``keep_floor``, the MAE code) or ``⌊N·r⌋`` (``mask_floor``)."""
    r = ratio_value(ratio)
    if convention == KEEP_FLOOR:
        return tokens - math.floor(tokens * (1 - r))
    if convention == MASK_FLOOR:
        return math.floor(tokens * r)
    raise ValueError(f"unknown keep_count_convention {convention!r}; expected one of "
                     f"{', '.join(KEEP_COUNT_CONVENTIONS)}")


_RULES = {KEEP_FLOOR: "N - floor(N(1-r))", MASK_FLOOR: "floor(N r)"}


def keep_count_convention(adapter: object) -> str:
    """The adapter's declared ``keep_count_convention`` (default ``keep_floor``)."""
    convention = getattr(adapter, "keep_count_convention", KEEP_FLOOR)
    require(convention in KEEP_COUNT_CONVENTIONS,
            f"unknown keep_count_convention {convention!r}; expected one of "
            f"{', '.join(map(repr, KEEP_COUNT_CONVENTIONS))}")
    return str(convention)


def _binary_mask(mask: torch.Tensor, shape: tuple[int, int]) -> torch.Tensor:
    require(tuple(mask.shape) == shape, f"mask has shape {list(mask.shape)}, expected "
            f"{list(shape)}")
    values = set(mask.detach().reshape(-1).double().tolist())
    require(values <= {0.0, 1.0}, f"mask holds values {sorted(values)} besides 0 and 1")
    return mask.detach().double() != 0


def check_keep_count(adapter: RandomMaskingCapability, draws: Draws) -> None:
    convention = keep_count_convention(adapter)
    batch = draws.draw("batch", st.integers(1, 4))
    tokens = draws.draw("tokens", TOKENS)
    seed = draws.seed()
    x = randn((batch, tokens, 3), seed + 1)
    draws.size = x.numel()
    for ratio in RATIOS:  # every ratio on each drawn grid: a knob that does nothing shows at once
        kept, mask, _ = adapter.random_masking(x, float(ratio), generator(seed))
        want = expected_masked(tokens, ratio, convention)
        masked = _binary_mask(mask, (batch, tokens)).sum(dim=1).tolist()
        require(all(m == want for m in masked),
                f"N={tokens}, r={ratio}: masked counts per sample {masked}, expected {want} "
                f"(= {_RULES[convention]}, keep_count_convention {convention!r})")
        require(tuple(kept.shape) == (batch, tokens - want, x.shape[2]),
                f"N={tokens}, r={ratio}: x_kept has shape {list(kept.shape)}, expected "
                f"{[batch, tokens - want, 3]}")


def _shuffle(ids_restore: torch.Tensor, tokens: int) -> torch.Tensor:
    require(not ids_restore.is_floating_point(),
            f"ids_restore must be an integer tensor, got {ids_restore.dtype}")
    rows = torch.sort(ids_restore.long(), dim=1).values
    expected = torch.arange(tokens)
    for b in range(rows.shape[0]):
        require(torch.equal(rows[b], expected), f"ids_restore[{b}] = {ids_restore[b].tolist()} "
                                                f"is not a permutation of 0..{tokens - 1}")
    return torch.argsort(ids_restore.long(), dim=1)


def check_ids_restore(adapter: RandomMaskingCapability, draws: Draws) -> None:
    x, _, _, (kept, mask, ids_restore) = _masking_example(adapter, draws)
    batch, tokens, _ = x.shape
    removed = _binary_mask(mask, (batch, tokens))
    _shuffle(ids_restore, tokens)
    keep = kept.shape[1]
    by_rank = ids_restore.long() >= keep
    require(torch.equal(by_rank, removed),
            f"mask {removed.long().tolist()} disagrees with ids_restore >= K={keep}: "
            f"ids_restore {ids_restore.tolist()} (a token is kept iff its shuffle position < K)")


def check_kept_gathered(adapter: RandomMaskingCapability, draws: Draws) -> None:
    x, _, _, (kept, mask, ids_restore) = _masking_example(adapter, draws, min_batch=2)
    batch, tokens, dim = x.shape
    shuffle = _shuffle(ids_restore, tokens)
    keep = kept.shape[1]
    expected = torch.gather(x, 1, shuffle[:, :keep].unsqueeze(-1).expand(batch, keep, dim))
    for b in range(batch):
        require(torch.equal(kept[b], expected[b]),
                f"sample {b}: x_kept is not x[{b}] gathered at the shuffle's first {keep} "
                f"indices {shuffle[b, :keep].tolist()}")


def check_masking_batch_independent(adapter: RandomMaskingCapability, draws: Draws) -> None:
    x, ratio, seed, (kept, mask, ids_restore) = _masking_example(adapter, draws, min_batch=2)
    row = draws.draw("row", st.integers(0, x.shape[0] - 1))
    other = randn(tuple(x.shape), seed + 2)
    other[row] = x[row]
    kept2, mask2, ids2 = adapter.random_masking(other, float(ratio), generator(seed))
    require(torch.equal(mask[row], mask2[row]) and torch.equal(ids_restore[row], ids2[row]),
            f"sample {row}'s mask changed when the other samples' content changed: "
            f"{mask[row].tolist()} -> {mask2[row].tolist()}")
    require(torch.equal(kept[row], kept2[row]),
            f"sample {row}'s kept tokens changed when the other samples' content changed")


def _image_example(adapter: PatchifyCapability, draws: Draws) -> tuple[torch.Tensor, int]:
    fixed = getattr(adapter, "patchify_fixed", None)
    if fixed is not None:  # an implementation bound to one patch size and channel count
        patch, chans = fixed
    else:
        chans = draws.draw("channels", st.integers(1, 4))
        patch = draws.draw("patch", st.integers(1, 4))
    grid_h = draws.draw("grid_h", st.integers(1, 4))
    grid_w = draws.draw("grid_w", st.integers(1, 4))
    batch = draws.draw("batch", st.integers(1, 2))
    images = randn((batch, chans, grid_h * patch, grid_w * patch), draws.seed())
    draws.size = images.numel()
    return images, patch


def check_roundtrip(adapter: PatchifyCapability, draws: Draws) -> None:
    images, patch = _image_example(adapter, draws)
    batch, chans, height, width = images.shape
    patches = adapter.patchify(images, patch)
    want = (batch, (height // patch) * (width // patch), patch * patch * chans)
    require(tuple(patches.shape) == want,
            f"patchify of {list(images.shape)} with p={patch} has shape {list(patches.shape)}, "
            f"expected {list(want)}")
    back = adapter.unpatchify(patches, patch, (chans, height, width))
    require(tuple(back.shape) == tuple(images.shape) and torch.equal(back, images),
            f"unpatchify(patchify(x)) != x for x of shape {list(images.shape)}, p={patch}")


def cells(images: torch.Tensor, patch: int) -> torch.Tensor:
    """``[B, N, C·p·p]``: each grid cell's pixels (row-major cells), in a fixed order."""
    batch, chans, height, width = images.shape
    grid = images.reshape(batch, chans, height // patch, patch, width // patch, patch)
    return grid.permute(0, 2, 4, 1, 3, 5).reshape(batch, -1, chans * patch * patch)


def check_patch_content(adapter: PatchifyCapability, draws: Draws) -> None:
    images, patch = _image_example(adapter, draws)
    patches = adapter.patchify(images, patch)
    expected = cells(images, patch)
    require(tuple(patches.shape) == tuple(expected.shape),
            f"patchify has shape {list(patches.shape)}, expected {list(expected.shape)}")
    got_sorted = torch.sort(patches, dim=-1).values
    want_sorted = torch.sort(expected, dim=-1).values
    rows = (got_sorted != want_sorted).any(dim=-1).nonzero().tolist()
    require(not rows, f"patch row {rows[0] if rows else ''} (sample, index) does not hold the "
            "pixels of grid cell with that row-major index")


CONTRACTS = (
    Contract("masking.keep_count",
             "per sample exactly N - floor(N(1-r)) distinct tokens are masked (or floor(N r) "
             "where the adapter declares keep_count_convention = 'mask_floor'), r read exactly",
             (RandomMaskingCapability,),
             "MAE paper (He et al. 2022) mask ratio r; its code keeps floor(N(1-r)) tokens a "
             "sample", RATIO_FAMILY, check_keep_count),
    Contract("masking.ids_restore_inverse",
             "ids_restore is a permutation and a token is masked iff its shuffle position >= K",
             (RandomMaskingCapability,),
             "MAE paper: ids_restore = argsort(ids_shuffle), the inverse permutation",
             ORDER_FAMILY, check_ids_restore),
    Contract("masking.kept_tokens_gathered",
             "x_kept[b, k] = x[b, shuffle[b, k]] for every sample (indices apply per sample)",
             (RandomMaskingCapability,),
             "MAE paper: kept tokens are gathered from each sample's own shuffle",
             ORDER_FAMILY, check_kept_gathered),
    Contract("masking.batch_independent",
             "a sample's mask and kept tokens do not depend on the other samples' content",
             (RandomMaskingCapability,),
             "MAE paper: patches sampled uniformly at random, per sample", "batch dependence",
             check_masking_batch_independent),
    Contract("patchify.roundtrip",
             "unpatchify(patchify(x)) == x bit for bit, non-square images, any C and patch size",
             (PatchifyCapability,),
             "exactReconstruction_identity (MAE.lean), for the patch layout",
             "target definition (norm-pix / patchify)", check_roundtrip),
    Contract("patchify.patch_content",
             "patch row i holds exactly the pixels of row-major grid cell i",
             (PatchifyCapability,),
             "PatchBatch n Patch := Fin n -> Patch (MAE.lean); imagePixel (NN.API.ssl)",
             "CLS / special-token off-by-one", check_patch_content),
)
