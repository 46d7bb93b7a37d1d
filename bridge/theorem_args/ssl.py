"""Argument strategies for ``spec.theorems.ssl``, and the tensor builders the block ones share.

Tensors stay tiny (every extent ≤ 5) so 300 examples a theorem run in about a second. The draws
reach every degenerate case the Lean definitions single out: ``period = 0``, ``patchH = 0``,
``patchW = 0``, ``offset ≥ period``, widths and heights not divisible by the patch, patches larger
than the image, ``batch = 0``, ``c = 0``, ``reconDim = 0`` and ``reconDim = c·h·w``, and pixels
that are NaN, ±0.0, ±inf or subnormal.

Theorems with a hypothesis (a hidden or a visible coordinate) get arguments built to satisfy it:
the offset is chosen from the coordinate's patch index rather than filtered, so no draw is wasted.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

from maskproof.bridge.theorem_args import Arguments, ArgumentStrategy, arguments_for
from maskproof.bridge.theorem_args.common import offsets, periods, pixels
from maskproof.spec.lean import float_bits

#: The largest extent of any tensor axis drawn here.
MAX_EXTENT = 5

extents = st.integers(min_value=0, max_value=MAX_EXTENT)
positive_extents = st.integers(min_value=1, max_value=MAX_EXTENT)
#: Patch sizes: 0 (hides nothing) and sizes larger than any image are both reachable.
patch_sizes = st.integers(min_value=0, max_value=MAX_EXTENT + 1)
positive_patch_sizes = st.integers(min_value=1, max_value=MAX_EXTENT + 1)
positive_periods = st.integers(min_value=1, max_value=6)
#: How many whole periods to add to an offset, so offsets past the period are common.
period_multiples = st.integers(min_value=0, max_value=3)


def float_tensors(shape: tuple[int, ...]) -> st.SearchStrategy[Any]:
    """Nested tuples of binary64 values of the given shape (a bare float at rank 0)."""
    if not shape:
        return pixels
    inner = float_tensors(shape[1:])
    return st.lists(inner, min_size=shape[0], max_size=shape[0]).map(tuple)


@dataclass(frozen=True)
class BitPatternLoss:
    """A deterministic ``Float → Float → Nat`` loss that depends on both arguments' bit patterns.

    Two NaNs or ``0.0`` and ``-0.0`` generally get different losses, so a mirror that swapped
    target and prediction, or read the wrong row, changes the sum.
    """

    target_weight: int
    prediction_weight: int
    bias: int
    modulus: int

    def __call__(self, target: float, prediction: float) -> int:
        raw = (self.target_weight * float_bits(target) + self.prediction_weight
               * float_bits(prediction) + self.bias)
        return raw % self.modulus


#: Per-coordinate losses, the all-zero loss included.
nat_losses = st.builds(BitPatternLoss, st.integers(0, 7), st.integers(0, 7), st.integers(0, 5),
                       st.integers(1, 50))


def residue_offset(draw: st.DrawFn, index: int, period: int, hidden: bool) -> int:
    """An offset (often ``≥ period``) putting ``index`` inside (``hidden``) or outside its class.

    Outside needs ``period ≥ 2``; callers arrange that.
    """
    shift = 0 if hidden else draw(st.integers(min_value=1, max_value=period - 1))
    return (index + shift) % period + period * draw(period_multiples)


# --- the vector mask -------------------------------------------------------------------------


@st.composite
def _matrix_args(draw: st.DrawFn, batch_min: int = 0, dim_min: int = 0) -> Arguments:
    batch = draw(st.integers(min_value=batch_min, max_value=MAX_EXTENT))
    data_dim = draw(st.integers(min_value=dim_min, max_value=MAX_EXTENT + 3))
    return {"batch": batch, "data_dim": data_dim, "period": draw(periods),
            "offset": draw(offsets), "x": draw(float_tensors((batch, data_dim)))}


@st.composite
def _matrix_entry_args(draw: st.DrawFn, hidden: bool | None = None) -> Arguments:
    """A matrix entry ``(bi, j)``; ``hidden`` forces the hypothesis on ``j`` (``None``: any)."""
    args = draw(_matrix_args(batch_min=1, dim_min=1))
    args["bi"] = draw(st.integers(min_value=0, max_value=args["batch"] - 1))
    j = draw(st.integers(min_value=0, max_value=args["data_dim"] - 1))
    args["j"] = j
    if hidden is True:
        args["period"] = draw(positive_periods)
        args["offset"] = residue_offset(draw, j, args["period"], True)
    elif hidden is False:
        args["period"] = draw(st.sampled_from([0, *range(2, 7)]))
        if args["period"] > 0:
            args["offset"] = residue_offset(draw, j, args["period"], False)
    return args


@arguments_for("vectorMaeHiddenMask_selected_iff")
def _selected_iff() -> ArgumentStrategy:
    @st.composite
    def build(draw: st.DrawFn) -> Arguments:
        data_dim = draw(st.integers(min_value=1, max_value=12))
        return {"data_dim": data_dim, "period": draw(periods), "offset": draw(offsets),
                "j": draw(st.integers(min_value=0, max_value=data_dim - 1))}
    return build()


@arguments_for("vectorMaeMask_get_eq_if_selected_hidden")
def _vector_get_eq_if() -> ArgumentStrategy:
    return _matrix_entry_args()


@arguments_for("vectorMaeMask_hidden_get_eq_zero")
def _vector_hidden_zero() -> ArgumentStrategy:
    return _matrix_entry_args(hidden=True)


@arguments_for("vectorMaeMask_visible_get_eq_input")
def _vector_visible() -> ArgumentStrategy:
    return _matrix_entry_args(hidden=False)


@arguments_for("vectorMaeSample_input_eq_mask")
def _vector_sample_input() -> ArgumentStrategy:
    return _matrix_args()


@arguments_for("vectorMaeSample_target_eq_source")
def _vector_sample_target() -> ArgumentStrategy:
    return _matrix_args()


@arguments_for("vectorMaeSample_target_row_eq_source_row")
def _vector_sample_target_row() -> ArgumentStrategy:
    return _matrix_entry_args().map(lambda a: {k: v for k, v in a.items() if k != "j"})


@arguments_for("vectorMaeSample_input_hidden_get_eq_zero")
def _vector_sample_hidden() -> ArgumentStrategy:
    return _matrix_entry_args(hidden=True)


@arguments_for("vectorMaeRow_predictive_objective_eq_maeLoss")
def _vector_row_objective() -> ArgumentStrategy:
    @st.composite
    def build(draw: st.DrawFn) -> Arguments:
        args = draw(_matrix_entry_args())
        del args["j"]
        args["yhat"] = draw(float_tensors((args["batch"], args["data_dim"])))
        args["patch_loss"] = draw(nat_losses)
        return args
    return build()


# --- the image-patch mask --------------------------------------------------------------------


def patch_index(width: int, patch_h: int, patch_w: int, row: int, col: int) -> int:
    """Row-major patch number, with the patch count per row as a ceiling (written independently
    of the spec: ``-(-width // patch_w)``)."""
    return (row // patch_h) * -(-width // patch_w) + col // patch_w


@st.composite
def _image_args(draw: st.DrawFn, positive: bool = False) -> Arguments:
    size = positive_extents if positive else extents
    batch, c, h, w = (draw(size) for _ in range(4))
    return {"batch": batch, "c": c, "h": h, "w": w, "patch_h": draw(patch_sizes),
            "patch_w": draw(patch_sizes), "period": draw(periods), "offset": draw(offsets),
            "x": draw(float_tensors((batch, c, h, w)))}


@st.composite
def _pixel_args(draw: st.DrawFn, hidden: bool | None = None) -> Arguments:
    """A pixel ``(bi, ch, row, col)``; ``hidden`` forces ``imagePatchHidden`` (``None``: any)."""
    args = draw(_image_args(positive=True))
    for name, extent in (("bi", "batch"), ("ch", "c"), ("row", "h"), ("col", "w")):
        args[name] = draw(st.integers(min_value=0, max_value=args[extent] - 1))
    if hidden is True:
        args["patch_h"] = draw(positive_patch_sizes)
        args["patch_w"] = draw(positive_patch_sizes)
        args["period"] = draw(positive_periods)
    elif hidden is False:
        degenerate = draw(st.sampled_from(["period", "patch_h", "patch_w", None]))
        if degenerate is not None:
            args[degenerate] = 0
            return args
        args["patch_h"] = draw(positive_patch_sizes)
        args["patch_w"] = draw(positive_patch_sizes)
        args["period"] = draw(st.integers(min_value=2, max_value=6))
    if hidden is not None:
        index = patch_index(args["w"], args["patch_h"], args["patch_w"], args["row"], args["col"])
        args["offset"] = residue_offset(draw, index, args["period"], hidden)
    return args


@st.composite
def _with_recon_dim(draw: st.DrawFn, base: st.SearchStrategy[Arguments]) -> Arguments:
    args = draw(base)
    size = args["c"] * args["h"] * args["w"]
    args["recon_dim"] = draw(st.one_of(st.just(0), st.just(size), st.integers(0, size)))
    return args


@arguments_for("imagePatchMask_pixel_eq_if_hidden")
def _image_pixel_eq_if() -> ArgumentStrategy:
    return _pixel_args()


@arguments_for("imagePatchMask_hidden_pixel_eq_zero")
def _image_hidden_zero() -> ArgumentStrategy:
    return _pixel_args(hidden=True)


@arguments_for("imagePatchMask_visible_pixel_eq_input")
def _image_visible() -> ArgumentStrategy:
    return _pixel_args(hidden=False)


@arguments_for("imagePatchMaeSample_input_eq_imagePatchMask")
def _image_sample_input() -> ArgumentStrategy:
    return _with_recon_dim(_image_args())


@arguments_for("imagePatchMaeSample_input_hidden_pixel_eq_zero")
def _image_sample_hidden() -> ArgumentStrategy:
    return _with_recon_dim(_pixel_args(hidden=True))


@arguments_for("imagePatchMaeSample_input_visible_pixel_eq_source")
def _image_sample_visible() -> ArgumentStrategy:
    return _with_recon_dim(_pixel_args(hidden=False))


@arguments_for("imagePatchMaeSample_target_eq_flattenBatchPrefix")
def _image_sample_target() -> ArgumentStrategy:
    return _with_recon_dim(_image_args())


@st.composite
def _image_row_args(draw: st.DrawFn) -> Arguments:
    args = draw(_with_recon_dim(_image_args()))
    if args["batch"] == 0:
        args["batch"] = 1
        args["x"] = draw(float_tensors((1, args["c"], args["h"], args["w"])))
    args["bi"] = draw(st.integers(min_value=0, max_value=args["batch"] - 1))
    return args


@arguments_for("imagePatchMaeSample_target_row_eq_flattened_source_row")
def _image_sample_target_row() -> ArgumentStrategy:
    return _image_row_args()


@arguments_for("imagePatchMaeRow_predictive_objective_eq_maeLoss")
def _image_row_objective() -> ArgumentStrategy:
    @st.composite
    def build(draw: st.DrawFn) -> Arguments:
        args = draw(_image_row_args())
        args["yhat"] = draw(float_tensors((args["batch"], args["recon_dim"])))
        args["patch_loss"] = draw(nat_losses)
        return args
    return build()
