"""Argument strategies for ``spec.theorems.block_mask``.

Shapes of rank 0 to 3 with extents 0 to 4; policies ``None``, ``some 0`` or a block width up to 5
(wider than the axis included); coordinates that run up to two past their extent, so Lean's
``Option`` answers ``none`` often enough. The ``Internal`` theorem also gets lists of mismatched
lengths (shape vs. policies vs. prefix ++ coordinates) and a tensor whose shape is unrelated to the
mask's, alongside consistent draws where the mask actually hides something.
"""

from __future__ import annotations

from hypothesis import strategies as st

from maskproof.bridge.theorem_args import Arguments, ArgumentStrategy, arguments_for
from maskproof.bridge.theorem_args.common import offsets, periods
from maskproof.bridge.theorem_args.ssl import float_tensors, positive_periods, residue_offset
from maskproof.spec.block_mask import index
from maskproof.spec.tensor import get_spec

MAX_RANK = 3
MAX_EXTENT = 4

policies_one = st.one_of(st.none(), st.just(0), st.integers(min_value=1, max_value=5))
positive_policies = st.one_of(st.none(), st.integers(min_value=1, max_value=5))


def shapes(min_extent: int = 0, min_rank: int = 0) -> st.SearchStrategy[tuple[int, ...]]:
    """Shapes of rank ``min_rank`` to ``MAX_RANK``."""
    return st.lists(st.integers(min_value=min_extent, max_value=MAX_EXTENT), min_size=min_rank,
                    max_size=MAX_RANK).map(tuple)


def coordinates_for(shape: tuple[int, ...]) -> st.SearchStrategy[list[int]]:
    """Coordinates of the right rank, each possibly out of range (up to ``extent + 2``)."""
    return st.tuples(*(st.integers(min_value=0, max_value=e + 2) for e in shape)).map(list)


def in_range_coordinates(shape: tuple[int, ...]) -> st.SearchStrategy[list[int]]:
    """Coordinates inside a shape whose extents are all positive."""
    return st.tuples(*(st.integers(min_value=0, max_value=e - 1) for e in shape)).map(list)


@st.composite
def _public_args(draw: st.DrawFn) -> Arguments:
    shape = draw(shapes())
    return {"shape": shape, "blocks": draw(st.lists(policies_one, min_size=len(shape),
                                                    max_size=len(shape))),
            "period": draw(periods), "offset": draw(offsets), "x": draw(float_tensors(shape)),
            "coordinate": draw(coordinates_for(shape))}


@st.composite
def _scalar_args(draw: st.DrawFn, hidden: bool) -> Arguments:
    """An in-range coordinate whose ``hidden`` value is forced, with its ``value``."""
    # A hidden scalar needs a blocked axis, so rank 0 only appears on the visible side.
    shape = draw(shapes(min_extent=1, min_rank=1 if hidden else 0))
    coordinate = draw(in_range_coordinates(shape))
    x = draw(float_tensors(shape))
    args: Arguments = {"shape": shape, "x": x, "coordinate": coordinate,
                       "value": get_spec(x, shape, coordinate)}
    if hidden:
        # A blocked axis, no `some 0`: the block index exists.
        blocks = draw(st.lists(positive_policies, min_size=len(shape), max_size=len(shape)))
        blocked_axis = draw(st.integers(min_value=0, max_value=len(shape) - 1))
        blocks[blocked_axis] = draw(st.integers(min_value=1, max_value=5))
        period = draw(positive_periods)
    else:
        blocks = draw(st.lists(policies_one, min_size=len(shape), max_size=len(shape)))
        period = draw(periods)
    block = index(shape, blocks, coordinate)
    if block is not None and period > 0:
        if not hidden and period == 1:
            period = draw(st.integers(min_value=2, max_value=6))
        offset = residue_offset(draw, block, period, hidden)
    else:
        offset = draw(offsets)  # nothing is hidden: any offset keeps the coordinate visible
    return {**args, "blocks": blocks, "period": period, "offset": offset}


@arguments_for("BlockMask.hidden_scalar_eq_zero")
def _hidden_scalar() -> ArgumentStrategy:
    return _scalar_args(hidden=True)


@arguments_for("BlockMask.visible_scalar_eq_input")
def _visible_scalar() -> ArgumentStrategy:
    return _scalar_args(hidden=False)


@arguments_for("BlockMask.apply_scalar_at")
def _apply_scalar_at() -> ArgumentStrategy:
    # Uniform draws rarely land on an in-range coordinate of a hidden block (about 2%), so a third
    # of the draws are built to be hidden and a third to be in range but visible.
    def without_value(hidden: bool) -> ArgumentStrategy:
        return _scalar_args(hidden=hidden).map(
            lambda a: {k: v for k, v in a.items() if k != "value"})
    return st.one_of(_public_args(), without_value(True), without_value(False))


@st.composite
def _internal_consistent(draw: st.DrawFn) -> Arguments:
    # The call `apply` makes, split at an arbitrary axis: prefix + remaining shape = mask shape.
    shape = draw(shapes())
    split = draw(st.integers(min_value=0, max_value=len(shape)))
    prefix = [draw(st.integers(min_value=0, max_value=max(e - 1, 0))) for e in shape[:split]]
    remaining = shape[split:]
    return {"shape": shape, "blocks": draw(st.lists(policies_one, min_size=len(shape),
                                                    max_size=len(shape))),
            "coordinate_prefix": prefix, "remaining_shape": remaining,
            "x": draw(float_tensors(remaining)),
            "coordinates": draw(st.one_of(coordinates_for(remaining),
                                          st.lists(st.integers(0, MAX_EXTENT + 1),
                                                   max_size=MAX_RANK + 1)))}


@st.composite
def _internal_arbitrary(draw: st.DrawFn) -> Arguments:
    # Independent lists: rank mismatches everywhere, as the Internal theorem allows.
    remaining = draw(shapes())
    return {"shape": draw(shapes()),
            "blocks": draw(st.lists(policies_one, max_size=MAX_RANK + 1)),
            "coordinate_prefix": draw(st.lists(st.integers(0, MAX_EXTENT + 1), max_size=MAX_RANK)),
            "remaining_shape": remaining, "x": draw(float_tensors(remaining)),
            "coordinates": draw(st.lists(st.integers(0, MAX_EXTENT + 1), max_size=MAX_RANK + 1))}


@st.composite
def _internal_targeted(draw: st.DrawFn) -> Arguments:
    # An in-range scalar whose block is hidden (or forced visible), reached through a prefix:
    # the mask's full coordinate is split into `coordinatePrefix ++ coordinates` at any axis.
    args = draw(_scalar_args(hidden=draw(st.booleans())))
    shape, coordinate = args["shape"], args["coordinate"]
    split = draw(st.integers(min_value=0, max_value=len(shape)))
    remaining = shape[split:]
    return {"shape": shape, "blocks": args["blocks"], "period": args["period"],
            "offset": args["offset"], "coordinate_prefix": coordinate[:split],
            "remaining_shape": remaining, "x": draw(float_tensors(remaining)),
            "coordinates": coordinate[split:]}


@arguments_for("BlockMask.Internal.apply_scalar_at")
def _internal_apply_scalar_at() -> ArgumentStrategy:
    @st.composite
    def build(draw: st.DrawFn) -> Arguments:
        args = draw(st.one_of(_internal_consistent(), _internal_arbitrary()))
        return {**args, "period": draw(periods), "offset": draw(offsets)}
    # The uniform draws reach an in-range hidden scalar in about 1% of cases; the targeted third
    # makes the hidden (and the in-range visible) case common.
    return st.one_of(build(), build(), _internal_targeted())
