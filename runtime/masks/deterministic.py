"""TorchLean's deterministic SSL masks (``NN.API.ssl``), vectorised over any batch size.

Each function has the meaning of its Lean definition on every argument the Lean type admits:
``period = 0`` (or a zero patch side) hides nothing, ``offset`` is reduced modulo ``period``, and
the patch grid uses the ceiling of ``width / patchW`` patches per row. Hidden scalars become
exactly ``+0.0``; visible scalars are copied bit for bit. Masks are applied with ``torch.where``,
never by multiplying with a 0/1 mask: ``NaN * 0`` is ``NaN`` and ``-1.0 * 0`` is ``-0.0``.
"""

from __future__ import annotations

import math

import torch

from maskproof.runtime.masks._lean_mask import in_hidden_class, zero_where
from maskproof.runtime.masks._validate import require_floating, require_nat, require_rank


def vector_mae_hidden_mask(
    data_dim: int, period: int, offset: int, device: torch.device | str | None = None
) -> torch.Tensor:
    """Lean ``vectorMaeHiddenMask dataDim period offset`` as a ``bool[data_dim]`` tensor.

    ``True`` = hidden. Coordinate ``j`` is hidden iff ``period != 0`` and
    ``j % period == offset % period``.
    """
    data_dim = require_nat(data_dim, "data_dim")
    period = require_nat(period, "period")
    offset = require_nat(offset, "offset")
    if period == 0:
        return torch.zeros(data_dim, dtype=torch.bool, device=device)
    coordinates = torch.arange(data_dim, device=device)
    return in_hidden_class(coordinates, data_dim, period, offset)


def vector_mae_mask(x: torch.Tensor, period: int, offset: int) -> torch.Tensor:
    """Lean ``vectorMaeMask batch dataDim period offset x`` for ``x`` of shape ``[B, D]``.

    Hidden coordinates (``vector_mae_hidden_mask``) become ``+0.0`` in every row; the rest are
    copied unchanged. Returns a new tensor.
    """
    require_rank(x, 2, "[batch, data_dim]")
    require_floating(x)
    hidden = vector_mae_hidden_mask(x.shape[1], period, offset, device=x.device)
    return zero_where(hidden, x)


def image_patch_hidden(
    h: int,
    w: int,
    patch_h: int,
    patch_w: int,
    period: int,
    offset: int,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """Lean ``imagePatchHidden height width patchH patchW period offset`` as ``bool[h, w]``.

    ``True`` = the pixel's patch is hidden. Patches are numbered row-major with
    ``ceil(w / patch_w)`` patches per row, so a partial patch at the right edge gets its own index
    (``w // patch_w`` would merge it into the next row's numbering).
    """
    h = require_nat(h, "h")
    w = require_nat(w, "w")
    patch_h = require_nat(patch_h, "patch_h")
    patch_w = require_nat(patch_w, "patch_w")
    period = require_nat(period, "period")
    offset = require_nat(offset, "offset")
    if period == 0 or patch_h == 0 or patch_w == 0:
        return torch.zeros((h, w), dtype=torch.bool, device=device)
    # A patch at least as large as the image is one patch on that axis: every coordinate's
    # quotient is 0 either way. Clamping keeps Lean's Nat meaning for any size while torch's
    # int64 division never sees a divisor beyond 2^63 (it would wrap: a wrong mask, silently).
    patch_h, patch_w = min(patch_h, max(h, 1)), min(patch_w, max(w, 1))
    patches_per_row = (w + patch_w - 1) // patch_w
    patch_rows = (h + patch_h - 1) // patch_h
    patch_row = torch.div(torch.arange(h, device=device), patch_h, rounding_mode="floor")
    patch_col = torch.div(torch.arange(w, device=device), patch_w, rounding_mode="floor")
    patch_index = patch_row[:, None] * patches_per_row + patch_col[None, :]
    return in_hidden_class(patch_index, patch_rows * patches_per_row, period, offset)


def image_patch_mask(
    x: torch.Tensor, patch_h: int, patch_w: int, period: int, offset: int
) -> torch.Tensor:
    """Lean ``imagePatchMask batch c h w patchH patchW period offset x`` for NCHW ``x``.

    Every pixel of a hidden patch (``image_patch_hidden``) becomes ``+0.0`` in every batch item
    and channel; every other pixel is copied. Returns a new tensor.
    """
    require_rank(x, 4, "[batch, channels, height, width]")
    require_floating(x)
    hidden = image_patch_hidden(
        x.shape[2], x.shape[3], patch_h, patch_w, period, offset, device=x.device
    )
    return zero_where(hidden, x)


def flatten_batch_prefix(x: torch.Tensor, take_dim: int) -> torch.Tensor:
    """Lean ``flattenBatchPrefix batch takeDim x``: the first ``take_dim`` row-major scalars.

    ``x`` has shape ``[B, ...]``; each sample is flattened in row-major order and its first
    ``take_dim`` entries kept, giving ``[B, take_dim]``. Lean's precondition
    ``takeDim <= size of one sample`` is checked. The result may share storage with ``x``.
    """
    if x.dim() < 1:
        raise ValueError(f"x must have a leading batch axis, got shape {tuple(x.shape)}")
    take_dim = require_nat(take_dim, "take_dim")
    sample_size = math.prod(x.shape[1:])
    if take_dim > sample_size:
        raise ValueError(
            f"take_dim must be <= the size of one sample ({sample_size} for sample shape "
            f"{tuple(x.shape[1:])}), got {take_dim}"
        )
    return x.reshape(x.shape[0], sample_size)[:, :take_dim]
