"""I-JEPA: stop-gradient target branch, EMA direction, padding and hidden-pixel invariance."""

from __future__ import annotations

import dataclasses

import pytest
import torch
import torch.nn.functional as F
from torch import Tensor

from maskproof.runtime.masks import JEPAMaskBatch, MultiBlockMaskSampler, collate_jepa_masks
from maskproof.runtime.models.ijepa import IJEPA, IJEPA_PRESETS, IJEPAConfig, ema_momentum

CFG = IJEPAConfig(
    img_size=(16, 16), patch_size=4, in_chans=1, embed_dim=32, depth=2, num_heads=4,
    pred_embed_dim=16, pred_depth=2, pred_num_heads=2,
)


def make_model(cfg: IJEPAConfig = CFG, seed: int = 0) -> IJEPA:
    torch.manual_seed(seed)
    return IJEPA(cfg)


def sample_masks(batch: int, seed: int = 0) -> JEPAMaskBatch:
    sampler = MultiBlockMaskSampler(4, 4, min_keep=2)
    masks = sampler.sample(batch, torch.Generator().manual_seed(seed))
    assert not bool(masks.context_valid.all()), "test needs a padded context"
    return masks


def with_garbage_padding(masks: JEPAMaskBatch, seed: int) -> JEPAMaskBatch:
    """Same batch with every padding slot holding a random index, in range or not."""
    gen = torch.Generator().manual_seed(seed)

    def scramble(index: Tensor, valid: Tensor) -> Tensor:
        garbage = torch.randint(-5, 40, index.shape, generator=gen)
        return torch.where(valid, index, garbage)

    return JEPAMaskBatch(
        scramble(masks.context, masks.context_valid), masks.context_valid,
        scramble(masks.targets, masks.targets_valid), masks.targets_valid,
    )


def test_target_branch_gets_no_gradient() -> None:
    model = make_model()
    out = model(torch.randn(3, 1, 16, 16), sample_masks(3))
    assert not out.target.requires_grad
    out.loss.backward()
    assert all(not p.requires_grad and p.grad is None for p in model.target_encoder.parameters())
    for module in (model.context_encoder, model.predictor):
        grads = [p.grad for p in module.parameters()]
        assert all(g is not None for g in grads)
    assert model.predictor.mask_token.grad is not None and model.predictor.mask_token.grad.any()


def test_targets_are_layer_normed_target_features_at_target_indices() -> None:
    model = make_model()
    imgs = torch.randn(2, 1, 16, 16)
    masks = sample_masks(2, seed=1)
    out = model(imgs, masks)
    feats = F.layer_norm(model.target_encoder(imgs), (32,))
    rows = torch.arange(2)[:, None, None].expand_as(masks.targets)
    want = feats[rows, masks.targets]  # advanced indexing, independent of the model's gather
    valid_slots = masks.targets_valid
    torch.testing.assert_close(out.target[valid_slots], want[valid_slots])
    valid = out.target[masks.targets_valid]
    torch.testing.assert_close(valid.mean(-1), torch.zeros(len(valid)), atol=1e-5, rtol=0)


def test_loss_is_smooth_l1_mean_over_valid_tokens_and_features() -> None:
    model = make_model()
    masks = sample_masks(2, seed=0)
    out = model(torch.randn(2, 1, 16, 16), masks)
    valid = masks.targets_valid
    assert not bool(valid.all()), "test needs padded targets"
    want = F.smooth_l1_loss(out.pred[valid], out.target[valid])  # [n_valid, D] mean
    torch.testing.assert_close(out.loss, want)


def test_garbage_in_padding_slots_does_not_change_the_loss() -> None:
    model = make_model()
    imgs = torch.randn(3, 1, 16, 16)
    masks = sample_masks(3, seed=3)
    reference = model(imgs, masks)
    for seed in range(3):
        scrambled = with_garbage_padding(masks, seed)
        assert not torch.equal(scrambled.context, masks.context)
        assert torch.equal(model(imgs, scrambled).loss, reference.loss)


def test_longer_padding_does_not_change_the_loss() -> None:
    model = make_model()
    imgs = torch.randn(2, 1, 16, 16)
    contexts = [[0, 1, 2, 4, 5], [3, 7, 11]]
    targets = [[[10, 11], [15]], [[0, 4, 8], [1]]]
    tight = collate_jepa_masks(contexts, targets)
    loose = collate_jepa_masks(contexts + [list(range(16))], targets + [[[0, 1, 2, 3], [5]]])
    loose = JEPAMaskBatch(loose.context[:2], loose.context_valid[:2], loose.targets[:2],
                          loose.targets_valid[:2])
    assert loose.context.shape[1] > tight.context.shape[1]
    # Different padded lengths change the kernels' reduction shapes, so the comparison is to
    # float32 rounding rather than bitwise.
    torch.testing.assert_close(model(imgs, loose).loss, model(imgs, tight).loss)


def test_hidden_pixels_never_influence_the_context_encoder() -> None:
    model = make_model()
    imgs = torch.randn(3, 1, 16, 16)
    masks = sample_masks(3, seed=4)
    context = torch.where(masks.context_valid, masks.context, 0)
    feats = model.encode_context(imgs, context, masks.context_valid)
    in_context = torch.zeros(3, 16, dtype=torch.bool)
    for b in range(3):
        in_context[b, masks.context[b][masks.context_valid[b]]] = True
    pixels = in_context.reshape(3, 1, 4, 1, 4, 1).expand(-1, -1, -1, 4, -1, 4)
    pixels = pixels.reshape(3, 1, 16, 16)
    assert (~pixels).any()
    replaced = torch.where(pixels, imgs, torch.randn_like(imgs) * 100)
    feats_replaced = model.encode_context(replaced, context, masks.context_valid)
    valid = masks.context_valid
    assert torch.equal(feats_replaced[valid], feats[valid])
    # A context pixel does influence it.
    changed = torch.where(pixels, imgs + 1.0, imgs)
    assert not torch.equal(model.encode_context(changed, context, valid)[valid], feats[valid])


def test_ema_momentum_one_keeps_target_zero_copies_online() -> None:
    model = make_model()
    with torch.no_grad():
        for p in model.context_encoder.parameters():
            p.add_(torch.randn_like(p))
    before = [p.clone() for p in model.target_encoder.parameters()]
    model.update_target(1.0)
    kept = zip(model.target_encoder.parameters(), before, strict=True)
    assert all(torch.equal(p, b) for p, b in kept)
    model.update_target(0.0)
    pairs = zip(model.target_encoder.parameters(), model.context_encoder.parameters(),
                strict=True)
    assert all(torch.equal(t, c) for t, c in pairs)


def test_ema_updates_every_parameter_exactly_once() -> None:
    model = make_model()
    with torch.no_grad():
        for t, c in zip(model.target_encoder.parameters(), model.context_encoder.parameters(),
                        strict=True):
            t.fill_(1.0)
            c.fill_(3.0)
    model.update_target(0.5)  # once: 2.0; twice: 2.5; never: 1.0
    for name, t in model.target_encoder.named_parameters():
        assert torch.equal(t, torch.full_like(t, 2.0)), name
    with pytest.raises(ValueError, match="EMA momentum must be in"):
        model.update_target(1.5)


def test_ema_momentum_schedule_is_linear_from_0996_to_1() -> None:
    assert ema_momentum(0, 100) == 0.996
    assert ema_momentum(100, 100) == 1.0
    assert ema_momentum(50, 100) == pytest.approx(0.998)
    assert ema_momentum(500, 100) == 1.0
    with pytest.raises(ValueError, match="total_steps must be positive, got 0"):
        ema_momentum(0, 0)


def test_target_encoder_starts_as_a_copy_of_the_context_encoder() -> None:
    model = make_model()
    pairs = zip(model.target_encoder.state_dict().items(),
                model.context_encoder.state_dict().items(), strict=True)
    for (name_t, t), (name_c, c) in pairs:
        assert name_t == name_c and torch.equal(t, c) and t.data_ptr() != c.data_ptr()


def test_forward_features_is_unmasked_patch_tokens_without_cls() -> None:
    model = make_model()
    assert model.forward_features(torch.randn(2, 1, 16, 16)).shape == (2, 16, 32)
    assert model.context_encoder.cls_token is None


def test_non_square_input_and_batch_one() -> None:
    model = make_model(dataclasses.replace(CFG, img_size=(16, 24)))
    masks = MultiBlockMaskSampler(4, 6, min_keep=2).sample(1, torch.Generator().manual_seed(0))
    out = model(torch.randn(1, 1, 16, 24), masks)
    assert out.pred.shape == out.target.shape == (*masks.targets.shape, 32)
    out.loss.backward()
    assert torch.isfinite(out.loss)


def test_out_of_range_valid_index_is_refused() -> None:
    masks = sample_masks(2)
    bad = masks.context.clone()
    bad[0, 0] = 16
    with pytest.raises(ValueError, match=r"context holds patch index .* outside \[0, 16\)"):
        make_model()(torch.randn(2, 1, 16, 16),
                     JEPAMaskBatch(bad, masks.context_valid, masks.targets, masks.targets_valid))


def test_vit_b_16_preset_has_narrow_predictor() -> None:
    with torch.device("meta"):
        model = IJEPA(IJEPA_PRESETS["vit_b_16"])
    encoder = sum(p.numel() for p in model.context_encoder.parameters())
    assert 85e6 < encoder < 87e6
    assert model.predictor.embed.out_features == 384
    assert model.predictor.proj.out_features == 768


def test_compiled_forward_keeps_padding_out_of_attention() -> None:
    # Traced for CPU, attention takes SDPA's math backend (runtime.models.vit): the key-padding
    # mask must still keep padding out, and the loss must match the eager model's. (The mask
    # batch's range check reads tensor values, so the forward is traced in several graphs.)
    model = make_model()
    imgs, masks = torch.randn(3, 1, 16, 16), sample_masks(3)
    compiled = torch.compile(model, backend="eager")
    loss = compiled(imgs, masks).loss
    torch.testing.assert_close(loss, model(imgs, masks).loss)
    torch.testing.assert_close(compiled(imgs, with_garbage_padding(masks, seed=1)).loss, loss)
