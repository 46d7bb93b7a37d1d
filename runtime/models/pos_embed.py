"""Fixed (not learned) sine-cosine positional embeddings for a grid of patches.

Layout of :func:`sincos_2d` for a ``grid_h × grid_w`` grid and ``dim`` channels (``dim % 4 == 0``):

* rows of the table follow the patch order of ``patchify`` and of the patch-embedding convolution,
  i.e. row-major: token ``t`` sits at grid row ``t // grid_w`` and grid column ``t % grid_w``;
* channels ``[0, dim/2)`` encode the **column** index, channels ``[dim/2, dim)`` the **row** index
  (the layout of the official MAE and I-JEPA code, so tables are interchangeable with theirs);
* inside each half, the first quarter of ``dim`` holds ``sin(pos · ω_k)`` and the second quarter
  ``cos(pos · ω_k)`` with ``ω_k = 10000^(-k / (dim/4))`` for ``k = 0 … dim/4 - 1``;
* with ``cls_token=True`` an extra all-zero row 0 is prepended for the class token.

Tables are computed in float64 and rounded once to float32, so two calls always agree bit for bit.
"""

from __future__ import annotations

import torch
from torch import Tensor


def sincos_1d(dim: int, positions: Tensor) -> Tensor:
    """Return ``[len(positions), dim]``: ``sin`` in the first half of channels, ``cos`` in the rest.

    ``dim`` must be even; frequencies are ``10000^(-k / (dim/2))`` for ``k < dim/2``.
    """
    if dim <= 0 or dim % 2 != 0:
        raise ValueError(f"sin-cos embedding width must be a positive even number, got {dim}")
    half = dim // 2
    exponents = torch.arange(half, dtype=torch.float64) / half
    omega = 1.0 / (10000.0**exponents)
    angles = positions.to(torch.float64).reshape(-1, 1) * omega.reshape(1, -1)
    return torch.cat([torch.sin(angles), torch.cos(angles)], dim=1)


def sincos_2d(dim: int, grid_h: int, grid_w: int, cls_token: bool = False) -> Tensor:
    """Return the float32 table ``[(1 if cls_token) + grid_h * grid_w, dim]`` described above."""
    if dim <= 0 or dim % 4 != 0:
        raise ValueError(f"2-D sin-cos embedding width must be a positive multiple of 4, got {dim}")
    if grid_h <= 0 or grid_w <= 0:
        raise ValueError(f"patch grid must be non-empty, got {grid_h}x{grid_w}")
    rows = torch.arange(grid_h).repeat_interleave(grid_w)  # token t -> t // grid_w
    cols = torch.arange(grid_w).repeat(grid_h)  # token t -> t % grid_w
    table = torch.cat([sincos_1d(dim // 2, cols), sincos_1d(dim // 2, rows)], dim=1)
    if cls_token:
        table = torch.cat([torch.zeros(1, dim, dtype=torch.float64), table], dim=0)
    return table.to(torch.float32)
