"""Collapse metrics (runtime.collapse): effective rank (Roy & Vetterli 2007) and per-dim std."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from maskproof.runtime.collapse import collapse_stats, effective_rank, per_dim_std


def _random(rows: int, cols: int, seed: int) -> torch.Tensor:
    return torch.randn(rows, cols, generator=torch.Generator().manual_seed(seed),
                       dtype=torch.float64)


@given(st.integers(2, 12), st.integers(1, 12), st.integers(0, 2**16))
@settings(max_examples=40, deadline=None)
def test_rank_one_matrix_has_effective_rank_one(rows: int, cols: int, seed: int) -> None:
    u, v = _random(rows, 1, seed), _random(1, cols, seed + 1)
    assert effective_rank(u @ v) == pytest.approx(1.0, abs=1e-9)


@pytest.mark.parametrize("n", [2, 5, 16])
def test_orthonormal_matrix_has_full_effective_rank(n: int) -> None:
    q, _ = torch.linalg.qr(_random(n, n, n))
    # An orthonormal n x n matrix: n singular values all 1, a flat spectrum of n entries.
    assert effective_rank(q) == pytest.approx(float(n), rel=1e-9)


def test_identical_rows_look_collapsed() -> None:
    """The JEPA failure: every image mapped to the same vector."""
    row = _random(1, 8, 3)
    stats = collapse_stats(row.expand(30, 8).clone())
    assert stats.effective_rank == 0.0  # their centred residue is rounding: no direction left
    assert stats.effective_rank_uncentred == pytest.approx(1.0, abs=1e-9)
    assert stats.std_mean == stats.std_min == 0.0
    assert stats.max_rank == 8
    assert stats.feature_rms == pytest.approx(float(row.square().mean().sqrt()), rel=1e-12)


@given(st.integers(0, 2**16), st.floats(1e2, 1e4))
@settings(max_examples=30, deadline=None)
def test_centred_rank_ignores_a_dominant_common_vector(seed: int, offset: float) -> None:
    """A large shared component (the digits ViT at init) drives the uncentred rank to ~1; the
    centred one still counts the directions in which the samples differ."""
    spread = _random(40, 6, seed)
    common = _random(1, 6, seed + 1) * offset
    stats = collapse_stats(common + spread)
    assert stats.effective_rank == pytest.approx(
        effective_rank(spread - spread.mean(dim=0, keepdim=True)), rel=1e-6)
    assert stats.effective_rank > 3.0
    assert stats.effective_rank_uncentred < 1.5


@given(st.integers(0, 2**16), st.floats(1e-6, 1e6))
@settings(max_examples=40, deadline=None)
def test_effective_rank_is_scale_invariant(seed: int, scale: float) -> None:
    features = _random(10, 6, seed)
    assert effective_rank(features * scale) == pytest.approx(effective_rank(features), rel=1e-9)


@given(st.integers(0, 2**16))
@settings(max_examples=30, deadline=None)
def test_effective_rank_lies_between_one_and_min_dim(seed: int) -> None:
    features = _random(7, 5, seed)
    assert 1.0 - 1e-12 <= effective_rank(features) <= 5.0 + 1e-12


def test_effective_rank_is_the_exponential_of_the_spectral_entropy() -> None:
    # diag(3, 1): p = (3/4, 1/4), H = -(3/4 log 3/4 + 1/4 log 1/4).
    entropy = -(0.75 * math.log(0.75) + 0.25 * math.log(0.25))
    assert effective_rank(torch.diag(torch.tensor([3.0, 1.0]))) == pytest.approx(
        math.exp(entropy), rel=1e-12)


def test_zero_matrix_has_effective_rank_zero() -> None:
    assert effective_rank(torch.zeros(4, 3)) == 0.0


def test_singular_values_at_or_below_the_tolerance_are_dropped() -> None:
    matrix = torch.diag(torch.tensor([3.0, 1.0, 1e-9]))
    assert effective_rank(matrix, tolerance=1e-6) == effective_rank(matrix[:2, :2])
    assert effective_rank(matrix, tolerance=3.0) == 0.0


def test_per_dim_std_is_the_unbiased_std_of_each_column() -> None:
    features = torch.tensor([[0.0, 1.0], [2.0, 1.0], [4.0, 1.0]])
    assert per_dim_std(features).tolist() == [2.0, 0.0]
    stats = collapse_stats(features)
    assert (stats.std_mean, stats.std_min) == (1.0, 0.0)


@pytest.mark.parametrize(("features", "message"), [
    (torch.zeros(4), r"shape \(4,\): expected a \[samples, dims\] matrix"),
    (torch.zeros(1, 3), r"shape \(1, 3\): expected at least 2 samples"),
    (torch.tensor([[0.0, math.nan], [1.0, 2.0]]), "NaN or infinite"),
])
def test_bad_features_are_one_line_errors(features: torch.Tensor, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        effective_rank(features)
