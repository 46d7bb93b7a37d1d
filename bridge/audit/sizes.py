"""The sizes contracts draw: small ones first, then the sizes real ViT code runs.

Every list is ordered smallest first and drawn with ``sampled_from``, which Hypothesis shrinks
toward the start of the list: a failure found on a 16x16 grid is reported on the smallest listed
size that still fails, while the draws themselves reach real configurations (ViT-B/16 and
ViT-L/16 at 224 px: 14x14 = 196 patches; ViT-H/14 at 224 px: 16x16 = 256; at 336 px: 24x24).
"""

from __future__ import annotations

from hypothesis import strategies as st

#: Token counts: every count up to 40, then real grids: 7x7, 8x8, 10x10, 12x12, 12x16, 14x14,
#: 14x16, 16x16 and 24x24. On many of them ``N·(1 - r)`` is an integer, where a binary-float
#: keep count falls one short.
TOKEN_COUNTS = (*range(1, 41), 49, 64, 100, 144, 192, 196, 224, 256, 576)
TOKENS = st.sampled_from(TOKEN_COUNTS)

#: Batch sizes: one sample, a few, and a real per-device batch.
BATCH_SIZES = (1, 2, 3, 4, 8)
BATCHES = st.sampled_from(BATCH_SIZES)

#: Patch-grid sides: the small ones, then 7 (ViT/32 at 224), 8, 14 (ViT/16 at 224) and 16
#: (ViT/14 at 224). Drawn per axis, so grids are non-square too (14x16, 1x16).
GRID_SIDE_VALUES = (1, 2, 3, 4, 5, 7, 8, 14, 16)
GRID_SIDES = st.sampled_from(GRID_SIDE_VALUES)

#: Patch sides for implementations that take any: small ones, then 8, 14 and 16 (real ViTs).
PATCH_SIDE_VALUES = (1, 2, 3, 4, 8, 14, 16)
PATCH_SIDES = st.sampled_from(PATCH_SIDE_VALUES)


def at_least(values: tuple[int, ...], low: int) -> st.SearchStrategy[int]:
    """``sampled_from`` the listed values ``>= low`` (still smallest first)."""
    kept = tuple(v for v in values if v >= low)
    if not kept:
        raise ValueError(f"no listed size is >= {low}; the list is {values}")
    return st.sampled_from(kept)


def counts_up_to(tokens: int) -> tuple[int, ...]:
    """The listed token counts from the smallest up to ``tokens`` (itself included)."""
    if tokens not in TOKEN_COUNTS:
        raise ValueError(f"token count {tokens} is not one of TOKEN_COUNTS {TOKEN_COUNTS}")
    return TOKEN_COUNTS[: TOKEN_COUNTS.index(tokens) + 1]
