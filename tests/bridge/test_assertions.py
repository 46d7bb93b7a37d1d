"""``maskproof.testing``'s loss assertions: right losses pass, near-misses fail with the numbers."""

from __future__ import annotations

import pytest
import torch

from maskproof.runtime.models.compact import VectorMAE
from maskproof.runtime.models.mae import masked_patch_loss, normalize_patches
from maskproof.testing import (
    LossCheck,
    assert_paper_mae_loss,
    assert_paper_mae_norm_pix_loss,
    assert_vector_mae_loss,
)


def _batch(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    rng = torch.Generator().manual_seed(seed)
    target = torch.randn(3, 16, 12, generator=rng)
    pred = torch.randn(3, 16, 12, generator=rng)
    mask = (torch.rand(3, 16, generator=rng) < 0.75).float()
    return target, pred, mask


def test_paper_mae_loss_passes_and_returns_the_check() -> None:
    target, pred, mask = _batch()
    check = assert_paper_mae_loss(masked_patch_loss(target, pred, mask), target, pred, mask)
    assert isinstance(check, LossCheck) and check.holds and check.bound > 0


@pytest.mark.parametrize("relative", [1e-3, 1e-5])
def test_paper_mae_loss_off_by_a_little_fails_with_both_values(relative: float) -> None:
    target, pred, mask = _batch(1)
    loss = masked_patch_loss(target, pred, mask) * (1 + relative)
    with pytest.raises(AssertionError, match=r"paper MAE: the loss is not the Lean objective: .*"
                                             r"OUTSIDE bound"):
        assert_paper_mae_loss(loss, target, pred, mask)


def test_loss_over_every_patch_is_not_the_masked_loss() -> None:
    target, pred, mask = _batch(2)
    everything = (pred - target).pow(2).mean()
    with pytest.raises(AssertionError, match="OUTSIDE"):
        assert_paper_mae_loss(everything, target, pred, mask)


def test_norm_pix_loss_passes_and_a_biased_variance_fails() -> None:
    raw, pred, mask = _batch(3)
    normalised = normalize_patches(raw)
    loss = masked_patch_loss(normalised, pred, mask)
    assert assert_paper_mae_norm_pix_loss(loss, raw, pred, mask).holds
    assert assert_paper_mae_norm_pix_loss(loss, raw, pred, mask, normalised).holds
    mean, var = raw.mean(-1, keepdim=True), raw.var(-1, keepdim=True, unbiased=False)
    biased = (raw - mean) / (var + 1e-6) ** 0.5
    with pytest.raises(AssertionError, match="normalised target is not the per-patch"):
        assert_paper_mae_norm_pix_loss(masked_patch_loss(biased, pred, mask), raw, pred, mask,
                                       biased)


def test_vector_mae_loss_of_the_compact_model() -> None:
    torch.manual_seed(0)
    model = VectorMAE(data_dim=10, hidden_dim=8, period=3, offset=1)
    x = torch.randn(4, 10)
    loss, pred = model(x)
    assert assert_vector_mae_loss(loss, x, pred, period=3, offset=1).holds
    with pytest.raises(AssertionError, match="vector MAE"):
        assert_vector_mae_loss(loss, x, pred, period=3, offset=2)
