"""Runtime tensors as the spec's values: the Python side of TorchLean's tensor bridge.

A torch tensor becomes a nested tuple of Python floats: float32, bfloat16 and float16 widen to
binary64 exactly (``tensor.double().tolist()``), so the spec sees the very values the runtime
computed with (LEAN_SEMANTICS.md, trap 6). The row, pixel and prefix readers call the ``spec/``
mirrors of ``matrixRowAsPatchBatch``, ``matrixRowAsPrediction``, ``imagePixel`` and
``flattenBatchPrefix``; the index lists are the spec's (``vectorMaeSelectedIdxs``,
``imageMaeReconstructionIdxs``, ``BlockMAE.hiddenReconstructionIndices``) or read off a runtime
mask (the paper MAE's ``mask_removed`` row, an I-JEPA target block).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

import torch

from maskproof.spec import block_mae, ssl
from maskproof.spec import tensor as spec_tensor
from maskproof.spec.lean import float_eq
from maskproof.spec.tensor import Matrix, Shape, Tensor


class ExtractionError(ValueError):
    """A runtime value that has no meaning on the spec side (a mask entry that is not 0 or 1)."""


def _tuples(value: object) -> Tensor:
    if isinstance(value, list):
        return tuple(_tuples(v) for v in value)
    return cast(float, value)


def to_spec(x: torch.Tensor) -> Tensor:
    """``x`` as a nested tuple of binary64 floats, widened exactly from any float dtype."""
    if not x.is_floating_point():
        raise ExtractionError(f"to_spec: expected a floating-point tensor, got dtype {x.dtype}")
    return _tuples(x.detach().cpu().double().tolist())


def shape_of(x: torch.Tensor) -> Shape:
    """The spec ``Shape`` of ``x`` (its extents, outermost first)."""
    return tuple(int(extent) for extent in x.shape)


def flat_floats(x: torch.Tensor) -> list[float]:
    """Every scalar of ``x`` in row-major order, widened exactly to binary64."""
    values: list[float] = x.detach().cpu().double().reshape(-1).tolist()
    return values


def matrix_row_as_patch_batch(x: torch.Tensor, bi: int) -> tuple[float, ...]:
    """Lean ``matrixRowAsPatchBatch batch n x bi`` on a runtime ``[batch, n]`` tensor."""
    batch, n = _matrix_shape(x, "x")
    return ssl.matrix_row_as_patch_batch(batch, n, to_spec(x), bi)


def matrix_row_as_prediction(yhat: torch.Tensor, bi: int) -> tuple[float, ...]:
    """Lean ``matrixRowAsPrediction batch n yhat bi`` on a runtime ``[batch, n]`` tensor."""
    batch, n = _matrix_shape(yhat, "yhat")
    return ssl.matrix_row_as_prediction(batch, n, to_spec(yhat), bi)


def _matrix_shape(x: torch.Tensor, name: str) -> tuple[int, int]:
    if x.dim() != 2:
        raise ExtractionError(f"{name} must be a [batch, n] tensor, got shape {list(x.shape)}")
    return int(x.shape[0]), int(x.shape[1])


def image_pixel(x: torch.Tensor, bi: int, ch: int, row: int, col: int) -> float:
    """Lean ``imagePixel batch c h w x bi ch row col`` on a runtime NCHW tensor."""
    if x.dim() != 4:
        raise ExtractionError(f"x must be an NCHW tensor, got shape {list(x.shape)}")
    batch, c, h, w = shape_of(x)
    return ssl.image_pixel(batch, c, h, w, to_spec(x), bi, ch, row, col)


def flatten_batch_prefix(x: torch.Tensor, take_dim: int) -> Matrix:
    """Lean ``flattenBatchPrefix batch takeDim x`` on a runtime ``[batch, *sample]`` tensor."""
    if x.dim() < 1:
        raise ExtractionError(f"x needs a leading batch axis, got shape {list(x.shape)}")
    batch, *sample = shape_of(x)
    return spec_tensor.flatten_batch_prefix(batch, take_dim, sample, to_spec(x))


def hidden_idxs(hidden: torch.Tensor) -> list[int]:
    """Ascending flat (row-major) indices where a runtime Boolean mask is ``True``."""
    if hidden.dtype != torch.bool:
        raise ExtractionError(f"hidden must be a bool tensor, got dtype {hidden.dtype}")
    indices: list[int] = hidden.reshape(-1).nonzero().reshape(-1).tolist()
    return indices


def vector_mae_selected_idxs(data_dim: int, period: int, offset: int) -> list[int]:
    """The spec's ``vectorMaeSelectedIdxs dataDim period offset`` (the vector loss's index list)."""
    return ssl.vector_mae_selected_idxs(data_dim, period, offset)


def image_mae_reconstruction_idxs(recon_dim: int) -> list[int]:
    """The spec's ``imageMaeReconstructionIdxs reconDim = finRange reconDim`` (every coordinate)."""
    return ssl.image_mae_reconstruction_idxs(recon_dim)


def block_hidden_reconstruction_indices(data_shape: Sequence[int], width: int,
                                        blocks: Sequence[int | None], period: int,
                                        offset: int) -> list[int]:
    """The spec's ``BlockMAE.hiddenReconstructionIndices``; Lean's width error becomes a raise."""
    result = block_mae.hidden_reconstruction_indices(data_shape, width, blocks, period, offset)
    if isinstance(result, block_mae.ExceptError):
        raise ExtractionError(result.message)
    return result.value


def masked_patch_idxs(mask_removed_row: torch.Tensor) -> list[int]:
    """The paper MAE's masked-patch list (``List (Fin N)``, ascending) from one ``mask_removed``
    row: entry ``1`` = removed (masked, scored), ``0`` = kept. Any other value is refused."""
    if mask_removed_row.dim() != 1:
        raise ExtractionError(
            f"mask_removed row must be 1-D [N], got shape {list(mask_removed_row.shape)}")
    values = flat_floats(mask_removed_row)
    for i, value in enumerate(values):
        if value not in (0.0, 1.0):
            raise ExtractionError(f"mask_removed[{i}] = {value!r}: expected 0.0 (kept) or "
                                  "1.0 (removed)")
    return [i for i, value in enumerate(values) if value == 1.0]


def image_patches(images: Tensor, shape: Shape, patch: int) -> list[list[tuple[float, ...]]]:
    """Per image, its patches in row-major grid order, each read pixel by pixel as Lean's
    ``imagePixel`` reads them, in ``(row, col, channel)`` order within the patch.

    ``images`` must already be a checked ``[batch, c, h, w]`` spec tensor whose ``h`` and ``w``
    are multiples of ``patch`` (the paper MAE's grid)."""
    batch, chans, height, width = shape
    if patch <= 0 or height % patch or width % patch:
        raise ExtractionError(f"patch {patch} does not tile a {height}x{width} image")
    grid = cast(tuple[tuple[tuple[tuple[float, ...], ...], ...], ...], images)
    out: list[list[tuple[float, ...]]] = []
    for bi in range(batch):
        rows = []
        for top in range(0, height, patch):
            for left in range(0, width, patch):
                rows.append(tuple(grid[bi][ch][top + r][left + q] for r in range(patch)
                                  for q in range(patch) for ch in range(chans)))
        out.append(rows)
    return out


def jepa_block_slots(valid_row: torch.Tensor, index_row: torch.Tensor) -> list[tuple[int, int]]:
    """``(slot, patch)`` for every valid entry of one padded I-JEPA index row, in slot order."""
    valid: list[bool] = valid_row.reshape(-1).tolist()
    index: list[int] = index_row.reshape(-1).tolist()
    return [(slot, patch) for slot, (ok, patch) in enumerate(zip(valid, index, strict=True))
            if ok]


def first_mismatch(runtime: torch.Tensor, spec_value: Tensor) -> tuple[tuple[int, ...], float,
                                                                       float] | None:
    """The first coordinate (row-major) where a runtime tensor and a spec tensor of the same
    shape differ as Lean ``Float`` values (bit patterns; any NaN equals any NaN), with both
    values, or ``None`` when they agree everywhere."""
    shape = shape_of(runtime)
    runtime_flat = flat_floats(runtime)
    spec_flat = spec_tensor.row_major_flatten(spec_tensor.require_tensor(
        spec_value, shape, "first_mismatch", "spec_value"), shape)
    for k, (a, b) in enumerate(zip(runtime_flat, spec_flat, strict=True)):
        if not float_eq(a, b):
            return _unravel(k, shape), a, b
    return None


def _unravel(k: int, shape: Shape) -> tuple[int, ...]:
    coordinate = []
    for extent in reversed(shape):
        coordinate.append(k % extent)
        k //= extent
    return tuple(reversed(coordinate))
