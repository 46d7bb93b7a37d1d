"""Contracts on MAE random masking (its counts, order, source of randomness and ratio 0), on the
loss of an empty mask, and on patchify / unpatchify."""

from __future__ import annotations

import math
from fractions import Fraction

import torch
from hypothesis import assume
from hypothesis import strategies as st

from maskproof.bridge.audit.contract import Clauses, Contract, Draws, generator, randn, require
from maskproof.bridge.audit.protocols import (
    KEEP_COUNT_CONVENTIONS,
    KEEP_FLOOR,
    MASK_FLOOR,
    MAELossCapability,
    PatchifyCapability,
    RandomMaskingCapability,
)
from maskproof.bridge.audit.sizes import (
    BATCH_SIZES,
    BATCHES,
    GRID_SIDES,
    PATCH_SIDES,
    TOKEN_COUNTS,
    TOKENS,
    at_least,
    counts_up_to,
)
from maskproof.spec.masking import masked_loss

#: Ratios as written in configs; most make ``r·N`` a non-integer on most grids.
RATIOS = ("0.75", "0.8", "0.6", "0.9", "0.5", "0.3", "0.1", "0.25", "0.7", "0.4", "0.15")
RATIO_FAMILY = "mask ratio ignored or miscounted"
ORDER_FAMILY = "ordering / unshuffle"


def _masking_example(adapter: RandomMaskingCapability, draws: Draws, min_batch: int = 1
                     ) -> tuple[torch.Tensor, str, int, tuple[torch.Tensor, ...]]:
    batch = draws.draw("batch", at_least(BATCH_SIZES, min_batch))
    tokens = draws.draw("tokens", TOKENS)
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
    batch = draws.draw("batch", BATCHES)
    tokens = draws.draw("tokens", TOKENS)
    seed = draws.seed()
    draws.size = batch * tokens * 3
    # Every listed count up to the drawn one, smallest first. A float keep count miscounts only
    # where N·(1 - r) is an integer (multiples of 5 for r = 0.8): on one drawn N that failure set
    # is sparse, and Hypothesis's integer shrinking stops at a local minimum (N=25: neither 24
    # nor 12 fails, so it never reaches 5). "Some count <= N miscounts" grows with N, so the
    # shrinker walks down to the smallest failing count, and the message names that count.
    for n in counts_up_to(tokens):
        x = randn((batch, n, 3), seed + 1)
        with Clauses() as clauses:
            # Every ratio on each grid: a knob that does nothing shows at once, and the report
            # lists all the ratios this count gets wrong.
            for ratio in RATIOS:
                kept, mask, _ = adapter.random_masking(x, float(ratio), generator(seed))
                want = expected_masked(n, ratio, convention)
                masked = _binary_mask(mask, (batch, n)).sum(dim=1).tolist()
                clauses.require(all(m == want for m in masked),
                                f"N={n}, r={ratio}: masked counts per sample {masked}, expected "
                                f"{want} (= {_RULES[convention]}, keep_count_convention "
                                f"{convention!r})")
                clauses.require(tuple(kept.shape) == (batch, n - want, x.shape[2]),
                                f"N={n}, r={ratio}: x_kept has shape {list(kept.shape)}, "
                                f"expected {[batch, n - want, 3]}")


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
    with Clauses() as clauses:
        clauses.require(torch.equal(mask[row], mask2[row])
                        and torch.equal(ids_restore[row], ids2[row]),
                        f"sample {row}'s mask changed when the other samples' content changed: "
                        f"{mask[row].tolist()} -> {mask2[row].tolist()}")
        clauses.require(torch.equal(kept[row], kept2[row]),
                        f"sample {row}'s kept tokens changed when the other samples' content "
                        "changed")


def _mask_and_order(out: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, torch.Tensor]:
    return out[1].detach() != 0, out[2].detach().long()


def _under_global_seed(adapter: RandomMaskingCapability, x: torch.Tensor, ratio: str, seed: int,
                       global_seed: int, advance: int) -> tuple[torch.Tensor, ...]:
    """``random_masking`` from ``generator(seed)`` with the global RNG reseeded with
    ``global_seed`` and advanced by ``advance`` draws; the caller's global state is restored."""
    with torch.random.fork_rng():
        torch.manual_seed(global_seed)
        torch.rand(advance)
        return tuple(adapter.random_masking(x, float(ratio), generator(seed)))


def check_generator_decides(adapter: RandomMaskingCapability, draws: Draws) -> None:
    batch = draws.draw("batch", BATCHES)
    tokens = draws.draw("tokens", at_least(TOKEN_COUNTS, 2))
    ratio = draws.draw("mask_ratio", st.sampled_from(RATIOS))
    seed = draws.seed()
    global_seed = draws.draw("global_seed", st.integers(0, 2**16))
    x = randn((batch, tokens, 3), seed + 1)
    draws.size = x.numel()
    # Both calls run under a global state the example fixes, so a failure replays exactly.
    first = _under_global_seed(adapter, x, ratio, seed, global_seed, 0)
    again = _under_global_seed(adapter, x, ratio, seed, global_seed + 1, 7)
    mask, order = _mask_and_order(first)
    mask2, order2 = _mask_and_order(again)
    with Clauses() as clauses:
        clauses.require(torch.equal(mask, mask2) and torch.equal(order, order2),
                        f"generator seed {seed} gave mask {mask.long().tolist()}, ids_restore "
                        f"{order.tolist()} under global seed {global_seed} and "
                        f"{mask2.long().tolist()}, {order2.tolist()} under {global_seed + 1}: "
                        "the masking reads the global RNG, not only the generator")
        clauses.require(torch.equal(first[0], again[0]),
                        f"generator seed {seed} kept different tokens when the global RNG "
                        "changed")


#: Token counts for ``masking.samples_differ``: large enough that a correct masking repeats a
#: sample's masked set with negligible probability (see :func:`collision_bound`).
DISTINCT_TOKENS = (64, 100, 196, 256, 576)
#: The largest collision probability ``masking.samples_differ`` accepts for one example.
COLLISION_LIMIT = 1e-6


def collision_bound(batch: int, tokens: int, masked: int) -> float:
    """Probability that some two of ``batch`` uniform random ``masked``-subsets of ``tokens``
    coincide, bounded by the union over pairs: ``C(B, 2) / C(N, m)``. On the drawn grids it is at
    most ``6 / C(64, 6) ≈ 8e-8`` (``B = 4``, ``r = 0.9``: 58 masked, 6 kept)."""
    return math.comb(batch, 2) / math.comb(tokens, masked)


def check_samples_differ(adapter: RandomMaskingCapability, draws: Draws) -> None:
    # At most 4 samples: the bound above (and tests/bridge/test_audit_model.py) covers 2..4.
    batch = draws.draw("batch", st.integers(2, 4))
    tokens = draws.draw("tokens", st.sampled_from(DISTINCT_TOKENS))
    ratio = draws.draw("mask_ratio", st.sampled_from(RATIOS))
    masked = expected_masked(tokens, ratio, keep_count_convention(adapter))
    assume(collision_bound(batch, tokens, masked) <= COLLISION_LIMIT)
    seed = draws.seed()
    x = randn((batch, tokens, 3), seed + 1)
    draws.size = x.numel()
    mask, _ = _mask_and_order(tuple(adapter.random_masking(x, float(ratio), generator(seed))))
    for a in range(batch):
        for b in range(a + 1, batch):
            require(not torch.equal(mask[a], mask[b]),
                    f"samples {a} and {b} got the same mask {mask[a].long().tolist()} (a correct "
                    f"per-sample draw repeats one with probability <= "
                    f"{collision_bound(batch, tokens, masked):.1e}): one noise for the batch")


def check_ratio_zero(adapter: RandomMaskingCapability, draws: Draws) -> None:
    batch = draws.draw("batch", BATCHES)
    tokens = draws.draw("tokens", TOKENS)
    seed = draws.seed()
    x = randn((batch, tokens, 3), seed + 1)
    draws.size = x.numel()
    kept, mask, ids_restore = adapter.random_masking(x, 0.0, generator(seed))
    with Clauses() as clauses:
        with clauses.clause():
            removed = _binary_mask(mask, (batch, tokens))
            clauses.require(not bool(removed.any()), f"N={tokens}, r=0: masked patches "
                            f"{removed.nonzero().tolist()} (sample, index), expected none")
        clauses.require(tuple(kept.shape) == tuple(x.shape),
                        f"N={tokens}, r=0: x_kept has shape {list(kept.shape)}, expected "
                        f"{list(x.shape)}")
        with clauses.clause():
            _shuffle(ids_restore, tokens)


def check_empty_mask_loss(adapter: MAELossCapability, draws: Draws) -> None:
    batch = draws.draw("batch", BATCHES)
    side = draws.draw("grid_side", GRID_SIDES)  # square: MAE losses assume square images
    seed = draws.seed()
    p, chans = adapter.patch_size, adapter.in_chans
    images = randn((batch, chans, side * p, side * p), seed)
    pred = randn((batch, side * side, p * p * chans), seed + 5)
    draws.size = images.numel()
    want = masked_loss(side * side, [], lambda _i: 0)  # maskedLoss [] f = 0 (maskedLoss_nil)
    loss = adapter.loss(images, pred, torch.zeros(batch, side * side))
    require(isinstance(loss, torch.Tensor) and loss.numel() == 1,
            f"loss must be a one-element tensor, got {loss!r}")
    value = float(loss.detach().reshape(()))
    require(value == want, f"the loss of an empty mask (mask ratio 0) is {value!r}, expected the "
            f"spec's {want} (maskedLoss of no patches), not 0/0")


def _image_example(adapter: PatchifyCapability, draws: Draws) -> tuple[torch.Tensor, int]:
    fixed = getattr(adapter, "patchify_fixed", None)
    if fixed is not None:  # an implementation bound to one patch size and channel count
        patch, chans = fixed
    else:
        chans = draws.draw("channels", st.integers(1, 4))
        patch = draws.draw("patch", PATCH_SIDES)
    # Each axis on its own: non-square grids up to 16x16 (256 patches). Images a patch side does
    # not divide are outside PatchifyCapability ("any image shape that tiles"), so not drawn.
    # ``patchify_square = True`` declares square-only code (the official MAE asserts H == W):
    # it is then checked on every square grid instead of failing on its first non-square one.
    grid_h = draws.draw("grid_h", GRID_SIDES)
    square = getattr(adapter, "patchify_square", False)
    require(isinstance(square, bool), f"patchify_square must be a bool, got {square!r}")
    grid_w = grid_h if square else draws.draw("grid_w", GRID_SIDES)
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
    Contract("masking.generator_decides",
             "the generator alone decides the mask: the same generator seed gives the same mask "
             "and kept tokens whatever the global RNG's state",
             (RandomMaskingCapability,),
             "MAE paper: per-sample uniform noise; the capability's randomness comes from its "
             "generator argument", "seeding / RNG source", check_generator_decides),
    Contract("masking.samples_differ",
             "samples of one batch get different masks (N >= 64: a repeat has probability "
             "<= C(B,2)/C(N,m) <= 1e-6)",
             (RandomMaskingCapability,),
             "MAE paper: patches sampled at random per sample", "batch dependence",
             check_samples_differ, weight=0.5),
    Contract("masking.ratio_zero",
             "mask ratio 0 masks nothing and keeps every token",
             (RandomMaskingCapability,),
             "MAE paper mask ratio r: N - floor(N(1-0)) = 0 masked", RATIO_FAMILY,
             check_ratio_zero, weight=0.5),
    Contract("masking.empty_mask_loss_zero",
             "the loss of an empty mask (mask ratio 0) is the spec's 0, not 0/0 = NaN",
             (MAELossCapability,),
             "maskedLoss_nil, maeLoss_nil (Masking.lean, MAE.lean): the loss over no patches "
             "is 0", "normalisation of the loss", check_empty_mask_loss, weight=0.5),
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
