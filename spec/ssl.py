"""Mirror of ``NN.API.ssl`` (file ``NN/API/SelfSupervised.lean``): the executable tensor layer.

Two deterministic masks, both hiding one residue class modulo ``period``:

* the vector mask on a ``batch × dataDim`` matrix hides feature ``j`` when
  ``j % period = offset % period``;
* the image-patch mask on an NCHW batch hides pixel ``(row, col)`` when its patch index
  ``(row / patchH) · ⌈width / patchW⌉ + col / patchW`` is in that class (every batch row and channel
  alike).

``period = 0`` (and for images ``patchH = 0`` or ``patchW = 0``) hides nothing; ``offset % period``
is only evaluated once ``period > 0`` is known. A hidden scalar becomes exactly ``0.0`` (positive
zero); a visible scalar is the very same Python ``float`` object, NaN and ``-0.0`` included.

The image objective and the paper's MAE differ on purpose: ``imageMaeReconstructionIdxs`` lists
*every* flattened target coordinate, whereas the vector objective (``vectorMaeSelectedIdxs``) and
the paper MAE sum over hidden coordinates only.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeAlias, cast

from maskproof.spec.errors import LeanContractError
from maskproof.spec.lean import fin_range, nat_div, nat_mod, require_fin, require_nat
from maskproof.spec.masking import Mask
from maskproof.spec.predictive_view import PredictiveViewContract, mae_as_predictive_view_contract
from maskproof.spec.registry import mirrors
from maskproof.spec.tensor import (
    Matrix,
    SupervisedSample,
    Tensor,
    TensorLike,
    flatten_batch_prefix,
    map_scalars,
    require_matrix,
    require_tensor,
    shape_size,
)

#: ``Shape.Images batch c h w``: ``x[bi][ch][row][col]``.
Images: TypeAlias = tuple[tuple[tuple[tuple[float, ...], ...], ...], ...]
#: A per-coordinate loss ``Float → Float → Nat``.
PatchLoss: TypeAlias = Callable[[float, float], int]
#: The contract type both row bridges build (``PredictiveViewContract n Unit Float Float Float``).
RowContract: TypeAlias = PredictiveViewContract[None, float, float, float]

#: The value a hidden scalar becomes: positive zero, whatever the input was.
HIDDEN_VALUE = 0.0


def _require_images(x: object, batch: int, c: int, h: int, w: int, declaration: str) -> Images:
    return cast(Images, require_tensor(x, (batch, c, h, w), declaration, "x"))


@mirrors("vectorMaeHiddenMask")
def vector_mae_hidden_mask(data_dim: int, period: int, offset: int) -> Mask:
    """Lean ``vectorMaeHiddenMask dataDim period offset``: ``True`` = feature ``j`` is hidden.

    ``j ↦ false`` when ``period = 0``, else ``j % period = offset % period``.
    """
    decl = "vectorMaeHiddenMask"
    require_nat(data_dim, decl, "dataDim")
    require_nat(period, decl, "period")
    require_nat(offset, decl, "offset")
    if period == 0:
        return (False,) * data_dim
    return tuple(nat_mod(j, period) == nat_mod(offset, period) for j in range(data_dim))


@mirrors("vectorMaeMask")
def vector_mae_mask(batch: int, data_dim: int, period: int, offset: int,
                    x: TensorLike) -> Matrix:
    """Lean ``vectorMaeMask batch dataDim period offset x``.

    ``out[bi][j]`` is ``x[bi][j]`` (the same float) when ``period = 0`` or
    ``j % period ≠ offset % period``, else ``0.0``.
    """
    decl = "vectorMaeMask"
    require_nat(batch, decl, "batch")
    hidden = vector_mae_hidden_mask(data_dim, period, offset)
    matrix = require_matrix(x, batch, data_dim, decl, "x")
    return tuple(tuple(HIDDEN_VALUE if hidden[j] else row[j] for j in range(data_dim))
                 for row in matrix)


@mirrors("vectorMaeSample")
def vector_mae_sample(batch: int, data_dim: int, period: int, offset: int,
                      x: TensorLike) -> SupervisedSample[Matrix, Matrix]:
    """Lean ``vectorMaeSample``: input ``vectorMaeMask … x``, target the source ``x`` itself."""
    # Checked here first, so a bad argument is reported against the declaration called.
    for binder, value in (("batch", batch), ("dataDim", data_dim), ("period", period),
                          ("offset", offset)):
        require_nat(value, "vectorMaeSample", binder)
    source = require_matrix(x, batch, data_dim, "vectorMaeSample", "x")
    return SupervisedSample(vector_mae_mask(batch, data_dim, period, offset, source), source)


@mirrors("vectorMaeSelectedIdxs")
def vector_mae_selected_idxs(data_dim: int, period: int, offset: int) -> list[int]:
    """Lean ``vectorMaeSelectedIdxs``: the hidden ``Fin dataDim`` indices, ascending."""
    hidden = vector_mae_hidden_mask(data_dim, period, offset)
    return [j for j in fin_range(data_dim) if hidden[j]]


def _matrix_row(declaration: str, binder: str, batch: int, n: int, x: TensorLike,
                bi: int) -> tuple[float, ...]:
    require_nat(batch, declaration, "batch")
    require_nat(n, declaration, "n")
    matrix = require_matrix(x, batch, n, declaration, binder)
    return matrix[require_fin(bi, batch, declaration, "bi")]


@mirrors("matrixRowAsPatchBatch")
def matrix_row_as_patch_batch(batch: int, n: int, x: TensorLike, bi: int) -> tuple[float, ...]:
    """Lean ``matrixRowAsPatchBatch batch n x bi``: row ``bi`` as a ``PatchBatch n Float`` table."""
    return _matrix_row("matrixRowAsPatchBatch", "x", batch, n, x, bi)


@mirrors("matrixRowAsPrediction")
def matrix_row_as_prediction(batch: int, n: int, yhat: TensorLike,
                             bi: int) -> tuple[float, ...]:
    """Lean ``matrixRowAsPrediction batch n yhat bi``: row ``bi`` as a ``Fin n → Float`` table."""
    return _matrix_row("matrixRowAsPrediction", "yhat", batch, n, yhat, bi)


@mirrors("vectorMaeRowPredictiveContract")
def vector_mae_row_predictive_contract(batch: int, data_dim: int, period: int, offset: int,
                                       x: TensorLike, yhat: TensorLike, bi: int,
                                       patch_loss: PatchLoss) -> RowContract:
    """Lean ``vectorMaeRowPredictiveContract``: row ``bi`` as an MAE predictive-view contract.

    Target indices are ``vectorMaeSelectedIdxs`` (hidden features only), the target is row ``bi``
    of ``x`` and the prediction row ``bi`` of ``yhat``.
    """
    return mae_as_predictive_view_contract(
        data_dim,
        vector_mae_selected_idxs(data_dim, period, offset),
        matrix_row_as_patch_batch(batch, data_dim, x, bi),
        matrix_row_as_prediction(batch, data_dim, yhat, bi),
        patch_loss,
    )


@mirrors("tensorPrefixMaeSample")
def tensor_prefix_mae_sample(batch: int, data_dim: int, source: Sequence[int], period: int,
                             offset: int, x: TensorLike) -> SupervisedSample[Matrix, Matrix]:
    """Lean ``tensorPrefixMaeSample batch dataDim hData period offset x``.

    ``vectorMaeSample`` applied to ``flattenBatchPrefix batch dataDim x``; the proof argument
    ``hData : dataDim ≤ Shape.size source`` is checked by ``flattenBatchPrefix``.
    """
    flat = flatten_batch_prefix(batch, data_dim, source, x)
    return vector_mae_sample(batch, data_dim, period, offset, flat)


def _patch_hidden(width: int, patch_h: int, patch_w: int, period: int, offset: int, row: int,
                  col: int) -> bool:
    # Shared by imagePatchHidden and imagePatchMask once the Nat/Fin arguments are checked.
    if period == 0 or patch_h == 0 or patch_w == 0:
        return False
    patches_per_row = nat_div(width + patch_w - 1, patch_w)
    patch_index = nat_div(row, patch_h) * patches_per_row + nat_div(col, patch_w)
    return nat_mod(patch_index, period) == nat_mod(offset, period)


@mirrors("imagePatchHidden")
def image_patch_hidden(height: int, width: int, patch_h: int, patch_w: int, period: int,
                       offset: int, row: int, col: int) -> bool:
    """Lean ``imagePatchHidden height width patchH patchW period offset row col``.

    ``False`` if ``period``, ``patchH`` or ``patchW`` is 0; otherwise, with the *ceiling*
    ``patchesPerRow = (width + patchW - 1) / patchW``, hidden iff
    ``((row / patchH) · patchesPerRow + col / patchW) % period = offset % period``.
    """
    decl = "imagePatchHidden"
    for binder, value in (("height", height), ("width", width), ("patchH", patch_h),
                          ("patchW", patch_w), ("period", period), ("offset", offset)):
        require_nat(value, decl, binder)
    require_fin(row, height, decl, "row")
    require_fin(col, width, decl, "col")
    return _patch_hidden(width, patch_h, patch_w, period, offset, row, col)


@mirrors("imagePixel")
def image_pixel(batch: int, c: int, height: int, width: int, x: TensorLike, bi: int, ch: int,
                row: int, col: int) -> float:
    """Lean ``imagePixel batch c height width x bi ch row col``: ``x[bi][ch][row][col]``."""
    decl = "imagePixel"
    for binder, value in (("batch", batch), ("c", c), ("height", height), ("width", width)):
        require_nat(value, decl, binder)
    images = _require_images(x, batch, c, height, width, decl)
    return images[require_fin(bi, batch, decl, "bi")][require_fin(ch, c, decl, "ch")][
        require_fin(row, height, decl, "row")][require_fin(col, width, decl, "col")]


@mirrors("imagePatchMask")
def image_patch_mask(batch: int, c: int, h: int, w: int, patch_h: int, patch_w: int,
                     period: int, offset: int, x: TensorLike) -> Images:
    """Lean ``imagePatchMask batch c h w patchH patchW period offset x``.

    Every pixel whose ``(row, col)`` satisfies ``imagePatchHidden h w …`` becomes ``0.0``; every
    other pixel is copied (the same float), in every batch row and channel.
    """
    decl = "imagePatchMask"
    for binder, value in (("batch", batch), ("c", c), ("h", h), ("w", w), ("patchH", patch_h),
                          ("patchW", patch_w), ("period", period), ("offset", offset)):
        require_nat(value, decl, binder)
    images = _require_images(x, batch, c, h, w, decl)

    def mask_pixel(coordinate: tuple[int, ...], value: float) -> float:
        _, _, row, col = coordinate
        hidden = _patch_hidden(w, patch_h, patch_w, period, offset, row, col)
        return HIDDEN_VALUE if hidden else value

    return cast(Images, map_scalars(cast(Tensor, images), (batch, c, h, w), mask_pixel))


def _require_recon_dim(declaration: str, c: int, h: int, w: int, recon_dim: int) -> None:
    # Lean's `hRecon : reconDim ≤ Shape.size (Shape.Image c h w)` is a proof argument.
    size = shape_size((c, h, w))
    if require_nat(recon_dim, declaration, "reconDim") > size:
        raise LeanContractError(declaration, "hRecon", f"reconDim <= c*h*w = {size}", recon_dim)


@mirrors("imagePatchMaeSample")
def image_patch_mae_sample(batch: int, c: int, h: int, w: int, recon_dim: int, patch_h: int,
                           patch_w: int, period: int, offset: int,
                           x: TensorLike) -> SupervisedSample[Images, Matrix]:
    """Lean ``imagePatchMaeSample batch c h w reconDim patchH patchW period offset hRecon x``.

    Input: ``imagePatchMask … x``. Target: ``flattenBatchPrefix batch reconDim x`` of the
    *unmasked* source. ``reconDim > c·h·w`` is a contract error (Lean's ``hRecon``).
    """
    _require_recon_dim("imagePatchMaeSample", c, h, w, recon_dim)
    masked = image_patch_mask(batch, c, h, w, patch_h, patch_w, period, offset, x)
    return SupervisedSample(masked, flatten_batch_prefix(batch, recon_dim, (c, h, w), x))


@mirrors("imageMaeReconstructionIdxs")
def image_mae_reconstruction_idxs(recon_dim: int) -> list[int]:
    """Lean ``imageMaeReconstructionIdxs reconDim := List.finRange reconDim``.

    Every flattened target coordinate, hidden or not: unlike the paper MAE, the compact image
    objective scores the whole reconstruction prefix.
    """
    return fin_range(require_nat(recon_dim, "imageMaeReconstructionIdxs", "reconDim"))


@mirrors("imagePatchMaeRowPredictiveContract")
def image_patch_mae_row_predictive_contract(batch: int, c: int, h: int, w: int, recon_dim: int,
                                            patch_h: int, patch_w: int, period: int,
                                            offset: int, x: TensorLike, yhat: TensorLike,
                                            bi: int, patch_loss: PatchLoss) -> RowContract:
    """Lean ``imagePatchMaeRowPredictiveContract``: one image row as an MAE contract.

    Indices ``imageMaeReconstructionIdxs reconDim`` (all of them), target row ``bi`` of the
    sample's flattened target, prediction row ``bi`` of ``yhat``.
    """
    target = image_patch_mae_sample(batch, c, h, w, recon_dim, patch_h, patch_w, period, offset,
                                    x).target
    return mae_as_predictive_view_contract(
        recon_dim,
        image_mae_reconstruction_idxs(recon_dim),
        matrix_row_as_patch_batch(batch, recon_dim, target, bi),
        matrix_row_as_prediction(batch, recon_dim, yhat, bi),
        patch_loss,
    )
