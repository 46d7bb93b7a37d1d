"""Representation-collapse metrics of a feature matrix ``[N, D]`` (N samples, D dimensions).

Two numbers tell a healthy encoder from a collapsed one (every image mapped to nearly the same
vector, as the I-JEPA digits runs did when their loss fell to ~1e-5):

* per-dimension standard deviation across the N samples: ~0 in every dimension once collapsed;
* effective rank (Roy & Vetterli, "The effective rank: a measure of effective dimensionality",
  EUSIPCO 2007): ``exp(H(p))`` with ``p_k = s_k / sum(s)`` the normalised singular values and
  ``H`` the Shannon entropy. It runs from 1 (rank one: all rows parallel) to ``min(N, D)`` (all
  singular values equal) and is invariant to scaling the matrix.

Both ranks are reported. The *centred* one (features minus their mean over the samples) counts
the directions in which images differ, the dimensional-collapse reading (Jing et al. 2022); the
*uncentred* one (as in RankMe, Garrido et al. 2023) is ~1 whenever one common vector dominates,
which the tiny digits ViT's mean-pooled features do already at initialisation (mean norm ~10,
per-dimension std ~0.005), so it cannot tell a trained collapse from that. Read the centred rank
with the std. Singular values of the centred matrix at rounding level (below
``max(N, D) * eps * s_max`` of the uncentred matrix, the tolerance of a numerical rank, with the
input dtype's ``eps``) are dropped: N copies of one vector have centred rank 0, not the rank of
their rounding residue. ``feature_rms`` gives the scale the std is small or large against.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
from torch import Tensor


class CollapseStats(NamedTuple):
    """The collapse metrics of one feature matrix."""

    std_mean: float  # mean over dimensions of the per-dimension std across samples
    std_min: float  # smallest per-dimension std
    effective_rank: float  # of the centred features (Roy & Vetterli 2007); 0 .. min(N, D)
    effective_rank_uncentred: float  # of the features as they are; 1 .. min(N, D)
    max_rank: int  # min(N, D): the effective rank of a matrix with a flat spectrum
    feature_rms: float  # root mean square of all feature values: the features' scale


def _matrix(features: Tensor) -> Tensor:
    if not isinstance(features, Tensor) or features.dim() != 2:
        shape = tuple(features.shape) if isinstance(features, Tensor) else type(features).__name__
        raise ValueError(f"features of shape {shape}: expected a [samples, dims] matrix")
    if features.shape[0] < 2 or features.shape[1] < 1:
        raise ValueError(f"features of shape {tuple(features.shape)}: expected at least 2 "
                         "samples and 1 dimension")
    if not bool(torch.isfinite(features).all()):
        raise ValueError("features hold NaN or infinite values; expected finite numbers")
    # float64 on CPU: the SVD of a near-collapsed matrix needs the precision, and it is cheap.
    return features.detach().to("cpu", torch.float64)


def per_dim_std(features: Tensor) -> Tensor:
    """``[D]`` standard deviation of each dimension across the samples (unbiased, N - 1)."""
    return _matrix(features).std(dim=0, unbiased=True)


def effective_rank(features: Tensor, tolerance: float = 0.0) -> float:
    """Roy & Vetterli (2007) effective rank ``exp(-sum p_k log p_k)``, ``p = s / sum(s)``, over
    the singular values ``s`` above ``tolerance``.

    0.0 when none is (the zero matrix: no direction at all).
    """
    singular = torch.linalg.svdvals(_matrix(features))
    singular = singular[singular > tolerance]
    total = float(singular.sum())
    if total == 0.0:
        return 0.0
    p = singular / total
    p = p[p > 0]
    return math.exp(float(-(p * p.log()).sum()))


def collapse_stats(features: Tensor) -> CollapseStats:
    """Per-dimension std (mean, min), centred and uncentred effective rank, and the scale of
    ``features [N, D]``."""
    matrix = _matrix(features)
    std = matrix.std(dim=0, unbiased=True)
    centred = matrix - matrix.mean(dim=0, keepdim=True)
    dtype = features.dtype if features.is_floating_point() else torch.float64
    rounding = max(matrix.shape) * torch.finfo(dtype).eps * float(torch.linalg.matrix_norm(
        matrix, ord=2))
    return CollapseStats(float(std.mean()), float(std.min()), effective_rank(centred, rounding),
                         effective_rank(matrix), min(matrix.shape[0], matrix.shape[1]),
                         float(matrix.square().mean().sqrt()))
