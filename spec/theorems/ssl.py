"""Executable checks of the theorems of ``NN.API.ssl`` (``NN/API/SelfSupervised.lean``).

Each check takes the theorem's variables (tensors as nested tuples of floats, ``patchLoss`` as a
callable ``Float → Float → Nat``) and returns whether the statement holds. Float equality is Lean's
propositional equality, compared by bit pattern (``spec.lean.float_eq``), never IEEE ``==``.

Only ``vectorMaeHiddenMask_selected_iff`` is over ints and bools; it carries a PEP 316 contract for
CrossHair. The others quantify over IEEE floats and callables, which CrossHair cannot explore
symbolically, and the Hypothesis strategies in ``bridge.theorem_args.ssl`` drive them. Their
hypotheses are still written as ``pre:`` lines tagged with the Lean binder (``# hRecon : …``),
which the checks test themselves (``HypothesisNotMet``); CrossHair does not run these checks.
"""

from __future__ import annotations

from collections.abc import Callable

from maskproof.spec.lean import float_eq, nat_mod, require_fin, require_nat
from maskproof.spec.mae import mae_loss
from maskproof.spec.masking import selected
from maskproof.spec.predictive_view import predictive_view_objective
from maskproof.spec.registry import require_hypothesis, theorem
from maskproof.spec.ssl import (
    image_mae_reconstruction_idxs,
    image_patch_hidden,
    image_patch_mae_row_predictive_contract,
    image_patch_mae_sample,
    image_patch_mask,
    image_pixel,
    matrix_row_as_patch_batch,
    matrix_row_as_prediction,
    vector_mae_hidden_mask,
    vector_mae_mask,
    vector_mae_row_predictive_contract,
    vector_mae_sample,
    vector_mae_selected_idxs,
)
from maskproof.spec.tensor import (
    Matrix,
    TensorLike,
    flatten_batch_prefix,
    require_matrix,
    tensor_eq,
)

FLOATS = "IEEE floats: CrossHair cannot explore binary64 tensors and bit patterns meaningfully"
CALLABLES = ("IEEE floats and a callable Float → Float → Nat loss: neither is explored "
             "symbolically by CrossHair")


def _source(batch: int, data_dim: int, x: TensorLike, declaration: str) -> Matrix:
    # The check reads its own arguments before any mirror does, so a value outside the theorem's
    # hypotheses is reported against the theorem (tests/spec/test_theorem_guards.py).
    require_nat(batch, declaration, "batch")
    require_nat(data_dim, declaration, "dataDim")
    return require_matrix(x, batch, data_dim, declaration, "x")


def _hidden_coordinate(data_dim: int, period: int, offset: int, j: int) -> bool:
    # `selected (vectorMaeHiddenMask dataDim period offset) j`, for a `j` already checked.
    return selected(data_dim, vector_mae_hidden_mask(data_dim, period, offset), j)


HIDDEN_J = "selected (vectorMaeHiddenMask dataDim period offset) j"
RECON = "reconDim ≤ Shape.size (Shape.Image c h w)"


def _require_recon(c: int, h: int, w: int, recon_dim: int, declaration: str) -> None:
    # The sizes are Nat values first; then the theorem's `hRecon : reconDim ≤ c·h·w`.
    for binder, value in (("c", c), ("h", h), ("w", w), ("reconDim", recon_dim)):
        require_nat(value, declaration, binder)
    require_hypothesis(recon_dim <= c * h * w, declaration, "hRecon", RECON, recon_dim)


def _entry(m: Matrix, batch: int, n: int, bi: int, j: int, declaration: str) -> float:
    # `Spec.get (Spec.get m bi) j` with both indices checked as Fin values.
    return m[require_fin(bi, batch, declaration, "bi")][require_fin(j, n, declaration, "j")]


@theorem("vectorMaeHiddenMask_selected_iff")
def vectorMaeHiddenMask_selected_iff(data_dim: int, period: int, offset: int, j: int) -> bool:
    """``selected (vectorMaeHiddenMask dataDim period offset) j ↔ period ≠ 0 ∧ j % period =
    offset % period`` (a ``private`` theorem in the Lean file).

    pre: 0 <= j < data_dim
    pre: period >= 0 and offset >= 0
    post: __return__
    """
    lhs = selected(data_dim, vector_mae_hidden_mask(data_dim, period, offset), j)
    return lhs == (period != 0 and nat_mod(j, period) == nat_mod(offset, period))


def _require_pixel_hidden(hidden: bool, declaration: str, h: int, w: int, patch_h: int,
                          patch_w: int, period: int, offset: int, row: int, col: int) -> None:
    # `hHidden : imagePatchHidden … row col = true` (or `hVisible : … = false`).
    value = image_patch_hidden(h, w, patch_h, patch_w, period, offset, row, col)
    binder = "hHidden" if hidden else "hVisible"
    statement = f"imagePatchHidden h w patchH patchW period offset row col = {str(hidden).lower()}"
    require_hypothesis(value is hidden, declaration, binder, statement, (row, col))


@theorem("vectorMaeMask_get_eq_if_selected_hidden", crosshair=FLOATS)
def vectorMaeMask_get_eq_if_selected_hidden(batch: int, data_dim: int, period: int, offset: int,
                                            x: TensorLike, bi: int, j: int) -> bool:
    """``(vectorMaeMask … x)[bi][j] = if vectorMaeHiddenMask … j then 0.0 else x[bi][j]``."""
    decl = "vectorMaeMask_get_eq_if_selected_hidden"
    source = _source(batch, data_dim, x, decl)
    out = vector_mae_mask(batch, data_dim, period, offset, source)
    hidden = selected(data_dim, vector_mae_hidden_mask(data_dim, period, offset), j)
    expected = 0.0 if hidden else _entry(source, batch, data_dim, bi, j, decl)
    return float_eq(_entry(out, batch, data_dim, bi, j, decl), expected)


@theorem("vectorMaeMask_hidden_get_eq_zero", crosshair=FLOATS)
def vectorMaeMask_hidden_get_eq_zero(batch: int, data_dim: int, period: int, offset: int,
                                     x: TensorLike, bi: int, j: int) -> bool:
    """Hypothesis ``selected (vectorMaeHiddenMask …) j``; then ``(vectorMaeMask … x)[bi][j] =
    0.0``.

    pre: _hidden_coordinate(data_dim, period, offset, j)
        # h : selected (vectorMaeHiddenMask dataDim period offset) j
    """
    decl = "vectorMaeMask_hidden_get_eq_zero"
    source = _source(batch, data_dim, x, decl)
    out = vector_mae_mask(batch, data_dim, period, offset, source)
    entry = _entry(out, batch, data_dim, bi, j, decl)  # checks bi and j
    require_hypothesis(_hidden_coordinate(data_dim, period, offset, j), decl, "h", HIDDEN_J, j)
    return float_eq(entry, 0.0)


@theorem("vectorMaeMask_visible_get_eq_input", crosshair=FLOATS)
def vectorMaeMask_visible_get_eq_input(batch: int, data_dim: int, period: int, offset: int,
                                       x: TensorLike, bi: int, j: int) -> bool:
    """Hypothesis ``¬ selected (vectorMaeHiddenMask …) j``; then the entry is ``x[bi][j]``.

    pre: not _hidden_coordinate(data_dim, period, offset, j)
        # h : ¬ selected (vectorMaeHiddenMask dataDim period offset) j
    """
    decl = "vectorMaeMask_visible_get_eq_input"
    source = _source(batch, data_dim, x, decl)
    expected = _entry(source, batch, data_dim, bi, j, decl)  # checks bi and j once
    out = vector_mae_mask(batch, data_dim, period, offset, source)
    require_hypothesis(not _hidden_coordinate(data_dim, period, offset, j), decl, "h",
                       f"¬ {HIDDEN_J}", j)
    return float_eq(out[bi][j], expected)


@theorem("vectorMaeSample_input_eq_mask", crosshair=FLOATS)
def vectorMaeSample_input_eq_mask(batch: int, data_dim: int, period: int, offset: int,
                                  x: TensorLike) -> bool:
    """``sample.x (vectorMaeSample … x) = vectorMaeMask … x``."""
    sample = vector_mae_sample(batch, data_dim, period, offset, x)
    return tensor_eq(sample.input, vector_mae_mask(batch, data_dim, period, offset, x))


@theorem("vectorMaeSample_target_eq_source", crosshair=FLOATS)
def vectorMaeSample_target_eq_source(batch: int, data_dim: int, period: int, offset: int,
                                     x: TensorLike) -> bool:
    """``sample.y (vectorMaeSample … x) = x``."""
    source = _source(batch, data_dim, x, "vectorMaeSample_target_eq_source")
    sample = vector_mae_sample(batch, data_dim, period, offset, source)
    return tensor_eq(sample.target, source)


@theorem("vectorMaeSample_target_row_eq_source_row", crosshair=FLOATS)
def vectorMaeSample_target_row_eq_source_row(batch: int, data_dim: int, period: int, offset: int,
                                             x: TensorLike, bi: int) -> bool:
    """``matrixRowAsPatchBatch (sample.y (vectorMaeSample … x)) bi =
    matrixRowAsPatchBatch x bi``."""
    sample = vector_mae_sample(batch, data_dim, period, offset, x)
    return tensor_eq(matrix_row_as_patch_batch(batch, data_dim, sample.target, bi),
                     matrix_row_as_patch_batch(batch, data_dim, x, bi))


@theorem("vectorMaeSample_input_hidden_get_eq_zero", crosshair=FLOATS)
def vectorMaeSample_input_hidden_get_eq_zero(batch: int, data_dim: int, period: int, offset: int,
                                             x: TensorLike, bi: int, j: int) -> bool:
    """Hypothesis ``selected (vectorMaeHiddenMask …) j``; then ``(sample.x …)[bi][j] = 0.0``.

    pre: _hidden_coordinate(data_dim, period, offset, j)
        # h : selected (vectorMaeHiddenMask dataDim period offset) j
    """
    decl = "vectorMaeSample_input_hidden_get_eq_zero"
    sample = vector_mae_sample(batch, data_dim, period, offset, x)
    entry = _entry(sample.input, batch, data_dim, bi, j, decl)  # checks bi and j
    require_hypothesis(_hidden_coordinate(data_dim, period, offset, j), decl, "h", HIDDEN_J, j)
    return float_eq(entry, 0.0)


@theorem("vectorMaeRow_predictive_objective_eq_maeLoss", crosshair=CALLABLES)
def vectorMaeRow_predictive_objective_eq_maeLoss(batch: int, data_dim: int, period: int,
                                                 offset: int, x: TensorLike, yhat: TensorLike,
                                                 bi: int,
                                                 patch_loss: Callable[[float, float], int]
                                                 ) -> bool:
    """``predictiveViewObjective (vectorMaeRowPredictiveContract … x yhat bi patchLoss) =
    maeLoss (vectorMaeSelectedIdxs …) (row bi of x) (row bi of yhat) patchLoss``."""
    contract = vector_mae_row_predictive_contract(batch, data_dim, period, offset, x, yhat, bi,
                                                  patch_loss)
    expected = mae_loss(data_dim, vector_mae_selected_idxs(data_dim, period, offset),
                        matrix_row_as_patch_batch(batch, data_dim, x, bi),
                        matrix_row_as_prediction(batch, data_dim, yhat, bi), patch_loss)
    return predictive_view_objective(contract) == expected


@theorem("imagePatchMask_pixel_eq_if_hidden", crosshair=FLOATS)
def imagePatchMask_pixel_eq_if_hidden(batch: int, c: int, h: int, w: int, patch_h: int,
                                      patch_w: int, period: int, offset: int, x: TensorLike,
                                      bi: int, ch: int, row: int, col: int) -> bool:
    """``imagePixel (imagePatchMask … x) bi ch row col =
    if imagePatchHidden h w patchH patchW period offset row col then 0.0 else imagePixel x …``."""
    out = image_patch_mask(batch, c, h, w, patch_h, patch_w, period, offset, x)
    expected = (0.0 if image_patch_hidden(h, w, patch_h, patch_w, period, offset, row, col)
                else image_pixel(batch, c, h, w, x, bi, ch, row, col))
    return float_eq(image_pixel(batch, c, h, w, out, bi, ch, row, col), expected)


@theorem("imagePatchMask_hidden_pixel_eq_zero", crosshair=FLOATS)
def imagePatchMask_hidden_pixel_eq_zero(batch: int, c: int, h: int, w: int, patch_h: int,
                                        patch_w: int, period: int, offset: int, x: TensorLike,
                                        bi: int, ch: int, row: int, col: int) -> bool:
    """Hypothesis ``imagePatchHidden … row col = true``; then the masked pixel is ``0.0``.

    pre: image_patch_hidden(h, w, patch_h, patch_w, period, offset, row, col)
        # hHidden : imagePatchHidden h w patchH patchW period offset row col = true
    """
    out = image_patch_mask(batch, c, h, w, patch_h, patch_w, period, offset, x)
    pixel = image_pixel(batch, c, h, w, out, bi, ch, row, col)  # checks the coordinates
    _require_pixel_hidden(True, "imagePatchMask_hidden_pixel_eq_zero", h, w, patch_h, patch_w,
                          period, offset, row, col)
    return float_eq(pixel, 0.0)


@theorem("imagePatchMask_visible_pixel_eq_input", crosshair=FLOATS)
def imagePatchMask_visible_pixel_eq_input(batch: int, c: int, h: int, w: int, patch_h: int,
                                          patch_w: int, period: int, offset: int, x: TensorLike,
                                          bi: int, ch: int, row: int, col: int) -> bool:
    """Hypothesis ``imagePatchHidden … row col = false``; then the pixel is copied from ``x``.

    pre: not image_patch_hidden(h, w, patch_h, patch_w, period, offset, row, col)
        # hVisible : imagePatchHidden h w patchH patchW period offset row col = false
    """
    out = image_patch_mask(batch, c, h, w, patch_h, patch_w, period, offset, x)
    pixel = image_pixel(batch, c, h, w, out, bi, ch, row, col)  # checks the coordinates
    _require_pixel_hidden(False, "imagePatchMask_visible_pixel_eq_input", h, w, patch_h, patch_w,
                          period, offset, row, col)
    return float_eq(pixel, image_pixel(batch, c, h, w, x, bi, ch, row, col))


@theorem("imagePatchMaeSample_input_eq_imagePatchMask", crosshair=FLOATS)
def imagePatchMaeSample_input_eq_imagePatchMask(batch: int, c: int, h: int, w: int,
                                                recon_dim: int, patch_h: int, patch_w: int,
                                                period: int, offset: int, x: TensorLike) -> bool:
    """Hypothesis ``reconDim ≤ c·h·w``; ``sample.x (imagePatchMaeSample …) =
    imagePatchMask … x``.

    pre: recon_dim <= c * h * w  # hRecon : reconDim ≤ Shape.size (Shape.Image c h w)
    """
    _require_recon(c, h, w, recon_dim, "imagePatchMaeSample_input_eq_imagePatchMask")
    sample = image_patch_mae_sample(batch, c, h, w, recon_dim, patch_h, patch_w, period, offset,
                                    x)
    return tensor_eq(sample.input,
                     image_patch_mask(batch, c, h, w, patch_h, patch_w, period, offset, x))


@theorem("imagePatchMaeSample_input_hidden_pixel_eq_zero", crosshair=FLOATS)
def imagePatchMaeSample_input_hidden_pixel_eq_zero(batch: int, c: int, h: int, w: int,
                                                   recon_dim: int, patch_h: int, patch_w: int,
                                                   period: int, offset: int, x: TensorLike,
                                                   bi: int, ch: int, row: int, col: int) -> bool:
    """Hypotheses ``reconDim ≤ c·h·w`` and ``imagePatchHidden … row col = true``; then
    ``imagePixel (sample.x …) bi ch row col = 0.0``.

    pre: recon_dim <= c * h * w  # hRecon : reconDim ≤ Shape.size (Shape.Image c h w)
    pre: image_patch_hidden(h, w, patch_h, patch_w, period, offset, row, col)
        # hHidden : imagePatchHidden h w patchH patchW period offset row col = true
    """
    decl = "imagePatchMaeSample_input_hidden_pixel_eq_zero"
    _require_recon(c, h, w, recon_dim, decl)
    sample = image_patch_mae_sample(batch, c, h, w, recon_dim, patch_h, patch_w, period, offset,
                                    x)
    pixel = image_pixel(batch, c, h, w, sample.input, bi, ch, row, col)  # checks the coordinates
    _require_pixel_hidden(True, decl, h, w, patch_h, patch_w, period, offset, row, col)
    return float_eq(pixel, 0.0)


@theorem("imagePatchMaeSample_input_visible_pixel_eq_source", crosshair=FLOATS)
def imagePatchMaeSample_input_visible_pixel_eq_source(batch: int, c: int, h: int, w: int,
                                                      recon_dim: int, patch_h: int, patch_w: int,
                                                      period: int, offset: int, x: TensorLike,
                                                      bi: int, ch: int, row: int,
                                                      col: int) -> bool:
    """Hypotheses ``reconDim ≤ c·h·w`` and ``imagePatchHidden … row col = false``; then the
    sample input pixel equals the source pixel.

    pre: recon_dim <= c * h * w  # hRecon : reconDim ≤ Shape.size (Shape.Image c h w)
    pre: not image_patch_hidden(h, w, patch_h, patch_w, period, offset, row, col)
        # hVisible : imagePatchHidden h w patchH patchW period offset row col = false
    """
    decl = "imagePatchMaeSample_input_visible_pixel_eq_source"
    _require_recon(c, h, w, recon_dim, decl)
    sample = image_patch_mae_sample(batch, c, h, w, recon_dim, patch_h, patch_w, period, offset,
                                    x)
    pixel = image_pixel(batch, c, h, w, sample.input, bi, ch, row, col)  # checks the coordinates
    _require_pixel_hidden(False, decl, h, w, patch_h, patch_w, period, offset, row, col)
    return float_eq(pixel, image_pixel(batch, c, h, w, x, bi, ch, row, col))


@theorem("imagePatchMaeSample_target_eq_flattenBatchPrefix", crosshair=FLOATS)
def imagePatchMaeSample_target_eq_flattenBatchPrefix(batch: int, c: int, h: int, w: int,
                                                     recon_dim: int, patch_h: int, patch_w: int,
                                                     period: int, offset: int,
                                                     x: TensorLike) -> bool:
    """Hypothesis ``reconDim ≤ c·h·w``; ``sample.y (imagePatchMaeSample …) =
    flattenBatchPrefix batch reconDim hRecon x``.

    pre: recon_dim <= c * h * w  # hRecon : reconDim ≤ Shape.size (Shape.Image c h w)
    """
    _require_recon(c, h, w, recon_dim, "imagePatchMaeSample_target_eq_flattenBatchPrefix")
    sample = image_patch_mae_sample(batch, c, h, w, recon_dim, patch_h, patch_w, period, offset,
                                    x)
    return tensor_eq(sample.target, flatten_batch_prefix(batch, recon_dim, (c, h, w), x))


@theorem("imagePatchMaeSample_target_row_eq_flattened_source_row", crosshair=FLOATS)
def imagePatchMaeSample_target_row_eq_flattened_source_row(batch: int, c: int, h: int, w: int,
                                                           recon_dim: int, patch_h: int,
                                                           patch_w: int, period: int, offset: int,
                                                           x: TensorLike, bi: int) -> bool:
    """Hypothesis ``reconDim ≤ c·h·w``; row ``bi`` of the sample target equals row ``bi`` of
    ``flattenBatchPrefix batch reconDim hRecon x`` (as ``matrixRowAsPatchBatch`` tables).

    pre: recon_dim <= c * h * w  # hRecon : reconDim ≤ Shape.size (Shape.Image c h w)
    """
    _require_recon(c, h, w, recon_dim, "imagePatchMaeSample_target_row_eq_flattened_source_row")
    sample = image_patch_mae_sample(batch, c, h, w, recon_dim, patch_h, patch_w, period, offset,
                                    x)
    flat = flatten_batch_prefix(batch, recon_dim, (c, h, w), x)
    return tensor_eq(matrix_row_as_patch_batch(batch, recon_dim, sample.target, bi),
                     matrix_row_as_patch_batch(batch, recon_dim, flat, bi))


@theorem("imagePatchMaeRow_predictive_objective_eq_maeLoss", crosshair=CALLABLES)
def imagePatchMaeRow_predictive_objective_eq_maeLoss(batch: int, c: int, h: int, w: int,
                                                     recon_dim: int, patch_h: int, patch_w: int,
                                                     period: int, offset: int, x: TensorLike,
                                                     yhat: TensorLike, bi: int,
                                                     patch_loss: Callable[[float, float], int]
                                                     ) -> bool:
    """Hypothesis ``reconDim ≤ c·h·w``; ``predictiveViewObjective
    (imagePatchMaeRowPredictiveContract … x yhat bi patchLoss) = maeLoss
    (imageMaeReconstructionIdxs reconDim) (target row bi) (row bi of yhat) patchLoss``.

    pre: recon_dim <= c * h * w  # hRecon : reconDim ≤ Shape.size (Shape.Image c h w)
    """
    _require_recon(c, h, w, recon_dim, "imagePatchMaeRow_predictive_objective_eq_maeLoss")
    contract = image_patch_mae_row_predictive_contract(batch, c, h, w, recon_dim, patch_h,
                                                       patch_w, period, offset, x, yhat, bi,
                                                       patch_loss)
    target = image_patch_mae_sample(batch, c, h, w, recon_dim, patch_h, patch_w, period, offset,
                                    x).target
    expected = mae_loss(recon_dim, image_mae_reconstruction_idxs(recon_dim),
                        matrix_row_as_patch_batch(batch, recon_dim, target, bi),
                        matrix_row_as_prediction(batch, recon_dim, yhat, bi), patch_loss)
    return predictive_view_objective(contract) == expected
