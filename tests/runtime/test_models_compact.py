"""The compact TorchLean models: what each scores, what each sees, and the empty cases."""

from __future__ import annotations

import pytest
import torch

from maskproof.runtime.masks import flatten_batch_prefix, image_patch_hidden
from maskproof.runtime.models.compact import ImagePatchMAE, VectorMAE


def test_vector_loss_is_mse_over_hidden_coordinates_only() -> None:
    torch.manual_seed(0)
    model = VectorMAE(data_dim=7, hidden_dim=5, period=3, offset=4)  # hidden j: j % 3 == 1
    x = torch.randn(4, 7)
    loss, pred = model(x)
    hidden = [1, 4]
    want = sum(float((pred[b, j].detach() - x[b, j]) ** 2) for b in range(4) for j in hidden) / 8
    assert loss.item() == pytest.approx(want, rel=1e-6)
    assert torch.equal(model.selected_idxs, torch.tensor(hidden))


def test_vector_prediction_never_sees_hidden_coordinates() -> None:
    torch.manual_seed(1)
    model = VectorMAE(data_dim=6, hidden_dim=4, period=2, offset=0)  # hidden: 0, 2, 4
    x = torch.randn(3, 6)
    changed = x.clone()
    changed[:, [0, 2, 4]] = torch.tensor([float("nan"), 1e6, -0.0])
    assert torch.equal(model(changed)[1], model(x)[1])
    visible_changed = x.clone()
    visible_changed[:, 1] += 1.0
    assert not torch.equal(model(visible_changed)[1], model(x)[1])


@pytest.mark.parametrize(("period", "offset"), [(0, 0), (10, 9)])
def test_vector_empty_hidden_set_gives_zero_loss_with_defined_gradient(
    period: int, offset: int
) -> None:
    model = VectorMAE(data_dim=5, hidden_dim=3, period=period, offset=offset)
    loss, _ = model(torch.randn(2, 5))
    assert loss.item() == 0.0
    loss.backward()
    for param in model.parameters():
        assert param.grad is not None and torch.equal(param.grad, torch.zeros_like(param))


def test_vector_bad_arguments_get_one_line_errors() -> None:
    with pytest.raises(ValueError, match="data_dim must be a positive int, got 0"):
        VectorMAE(0, 3, 1, 0)
    with pytest.raises(ValueError, match="period"):
        VectorMAE(4, 3, -1, 0)
    with pytest.raises(ValueError, match=r"expected x of shape \[B, 4\], got \[2, 5\]"):
        VectorMAE(4, 3, 2, 0)(torch.zeros(2, 5))


def test_image_loss_covers_every_reconstruction_coordinate() -> None:
    torch.manual_seed(2)
    model = ImagePatchMAE(c=2, h=5, w=7, patch_h=2, patch_w=3, period=2, offset=1,
                          recon_dim=30, hidden_dim=8)
    x = torch.randn(3, 2, 5, 7)
    loss, pred = model(x)
    target = flatten_batch_prefix(x, 30)
    errors = (pred.detach() - target) ** 2
    want = sum(float(errors[b, j]) for b in range(3) for j in range(30)) / 90
    assert pred.shape == (3, 30)
    assert loss.item() == pytest.approx(want, rel=1e-6)


def test_image_loss_scores_visible_pixels_unlike_paper_mae() -> None:
    torch.manual_seed(3)
    model = ImagePatchMAE(1, 4, 4, 2, 2, period=2, offset=0, recon_dim=16, hidden_dim=8)
    hidden = image_patch_hidden(4, 4, 2, 2, 2, 0).flatten()
    assert hidden.any() and (~hidden).any()
    loss, pred = model(torch.randn(2, 1, 4, 4))
    pred.retain_grad()
    loss.backward()
    assert pred.grad is not None
    # Every target coordinate, hidden or visible, pulls on its prediction.
    assert bool((pred.grad[:, ~hidden] != 0).all()) and bool((pred.grad[:, hidden] != 0).all())


def test_image_prediction_never_sees_hidden_pixels() -> None:
    torch.manual_seed(4)
    model = ImagePatchMAE(3, 5, 7, 2, 3, period=3, offset=2, recon_dim=10, hidden_dim=6)
    hidden = image_patch_hidden(5, 7, 2, 3, 3, 2)
    assert hidden.any() and (~hidden).any()
    x = torch.randn(2, 3, 5, 7)
    changed = torch.where(hidden, torch.full_like(x, float("nan")), x)
    assert torch.equal(model(changed)[1], model(x)[1])


def test_image_zero_recon_dim_gives_zero_loss() -> None:
    model = ImagePatchMAE(1, 4, 4, 2, 2, period=2, offset=0, recon_dim=0, hidden_dim=4)
    loss, pred = model(torch.randn(2, 1, 4, 4))
    assert pred.shape == (2, 0) and loss.item() == 0.0
    loss.backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())


def test_image_degenerate_patch_hides_nothing_and_trains() -> None:
    model = ImagePatchMAE(1, 3, 3, 0, 2, period=2, offset=0, recon_dim=9, hidden_dim=4)
    loss, _ = model(torch.randn(2, 1, 3, 3))
    loss.backward()
    assert torch.isfinite(loss)


def test_image_bad_arguments_get_one_line_errors() -> None:
    expected = r"recon_dim must be an int in \[0, c\*h\*w = 16\], got 17"
    with pytest.raises(ValueError, match=expected):
        ImagePatchMAE(1, 4, 4, 2, 2, 2, 0, recon_dim=17, hidden_dim=4)
    with pytest.raises(ValueError, match=r"expected x of shape \[B, 1, 4, 4\], got \[2, 1, 4, 5\]"):
        ImagePatchMAE(1, 4, 4, 2, 2, 2, 0, 16, 4)(torch.zeros(2, 1, 4, 5))


def test_forward_features_use_the_unmasked_input() -> None:
    torch.manual_seed(5)
    vector = VectorMAE(6, 4, 2, 0)
    x = torch.randn(2, 6)
    assert torch.equal(vector.forward_features(x), vector.encoder(x))
    image = ImagePatchMAE(1, 4, 4, 2, 2, 2, 0, 8, 5)
    imgs = torch.randn(2, 1, 4, 4)
    assert image.forward_features(imgs).shape == (2, 5)
    assert torch.equal(image.forward_features(imgs), image.encoder(imgs))
