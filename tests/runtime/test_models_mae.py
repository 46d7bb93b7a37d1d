"""The paper MAE: masked-only loss, norm-pix convention, un-shuffling, hidden-pixel invariance."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from torch import Tensor, nn
from torch.nn.attention import SDPBackend, sdpa_kernel

from maskproof.runtime.masks import random_masking
from maskproof.runtime.models.mae import (
    MAE_PRESETS,
    MAEConfig,
    MaskedAutoencoderViT,
    masked_patch_loss,
    normalize_patches,
    patchify,
    unpatchify,
)
from maskproof.runtime.models.vit import Block

TINY = MAE_PRESETS["tiny"]


def small_cfg(**changes: object) -> MAEConfig:
    base = MAEConfig(
        img_size=(16, 16), patch_size=4, in_chans=1, embed_dim=32, depth=2, num_heads=4,
        decoder_embed_dim=16, decoder_depth=1, decoder_num_heads=2,
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def seeded(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def make_model(cfg: MAEConfig, seed: int = 0) -> MaskedAutoencoderViT:
    torch.manual_seed(seed)
    return MaskedAutoencoderViT(cfg).eval()


def pixel_mask(model: MaskedAutoencoderViT, mask_removed: Tensor) -> Tensor:
    """``[B, C, H, W]`` bool: True on every pixel of a removed patch."""
    values = model.cfg.patch_size ** 2 * model.cfg.in_chans
    per_patch = mask_removed[:, :, None].expand(-1, -1, values)
    return model.unpatchify(per_patch) > 0.5


# --- patchify -------------------------------------------------------------------------------

@pytest.mark.parametrize(("chans", "height", "width", "patch"), [(3, 8, 12, 4), (1, 6, 4, 2)])
def test_patchify_round_trip_is_exact(chans: int, height: int, width: int, patch: int) -> None:
    imgs = torch.randn(2, chans, height, width)
    patches = patchify(imgs, patch)
    assert patches.shape == (2, (height // patch) * (width // patch), patch * patch * chans)
    assert torch.equal(unpatchify(patches, patch, (height // patch, width // patch), chans), imgs)


def test_patchify_layout_is_row_major_patches_then_row_col_channel() -> None:
    imgs = torch.randn(1, 3, 4, 6)
    patches = patchify(imgs, 2)
    for patch_index in range(6):
        grid_row, grid_col = divmod(patch_index, 3)
        for value_index in range(12):
            rest, channel = divmod(value_index, 3)
            row, col = divmod(rest, 2)
            pixel = imgs[0, channel, grid_row * 2 + row, grid_col * 2 + col]
            assert patches[0, patch_index, value_index] == pixel


def test_unpatchify_rejects_wrong_shape() -> None:
    with pytest.raises(ValueError, match=r"expected patches of shape \[B, 6, 12\]"):
        unpatchify(torch.zeros(1, 6, 11), 2, (2, 3), 3)


# --- loss -----------------------------------------------------------------------------------

def test_norm_pix_target_matches_hand_formula_with_unbiased_variance() -> None:
    target = torch.randn(2, 3, 5, dtype=torch.float64) * 3 + 1
    out = normalize_patches(target)
    for b in range(2):
        for n in range(3):
            values = target[b, n].tolist()
            mean = sum(values) / 5
            var = sum((v - mean) ** 2 for v in values) / 4  # unbiased: n - 1
            want = torch.tensor([(v - mean) / (var + 1e-6) ** 0.5 for v in values],
                                dtype=torch.float64)
            torch.testing.assert_close(out[b, n], want, rtol=1e-12, atol=1e-12)
    # The biased-variance convention gives a measurably different target.
    biased = (target - target.mean(-1, keepdim=True)) / (target.var(-1, unbiased=False,
                                                                      keepdim=True) + 1e-6) ** 0.5
    assert (biased - out).abs().max() > 1e-3


def test_model_uses_normalized_target_only_with_norm_pix_loss() -> None:
    imgs = torch.randn(2, 1, 16, 16)
    with_norm = make_model(small_cfg(norm_pix_loss=True))
    without = make_model(small_cfg(norm_pix_loss=False))
    assert torch.equal(with_norm.loss_target(imgs), normalize_patches(patchify(imgs, 4)))
    assert torch.equal(without.loss_target(imgs), patchify(imgs, 4))


def test_norm_pix_loss_needs_two_values_per_patch() -> None:
    with pytest.raises(ValueError, match="norm_pix_loss needs at least 2 values per patch"):
        small_cfg(patch_size=1, embed_dim=32)


def test_masked_patch_loss_is_mean_over_masked_patches() -> None:
    target, pred = torch.randn(2, 4, 3), torch.randn(2, 4, 3)
    mask_removed = torch.tensor([[1.0, 0.0, 1.0, 0.0], [0.0, 0.0, 0.0, 1.0]])
    per_patch = ((pred - target) ** 2).mean(-1)
    want = (per_patch[0, 0] + per_patch[0, 2] + per_patch[1, 3]) / 3
    torch.testing.assert_close(masked_patch_loss(target, pred, mask_removed), want)


def test_loss_is_bit_identical_when_visible_predictions_change() -> None:
    model = make_model(small_cfg())
    imgs = torch.randn(3, 1, 16, 16)
    out = model(imgs, "0.75", seeded(7))
    visible = out.mask_removed == 0
    assert visible.any() and (~visible).any()
    perturbed = out.pred.detach().clone()
    perturbed[visible] = torch.randn_like(perturbed[visible]) * 1e4
    perturbed[tuple(visible.nonzero()[0].tolist())] = float("nan")
    recomputed = model.forward_loss(imgs, perturbed, out.mask_removed)
    assert torch.equal(recomputed, out.loss.detach())
    # A masked patch's prediction does count.
    masked = tuple((~visible).nonzero()[0].tolist())
    perturbed[masked] += 1.0
    assert not torch.equal(model.forward_loss(imgs, perturbed, out.mask_removed), out.loss)


def test_loss_is_bit_identical_when_decoder_output_is_hooked_at_visible_patches() -> None:
    model = make_model(small_cfg())
    imgs = torch.randn(2, 1, 16, 16)
    reference = model(imgs, "0.5", seeded(3))
    visible = reference.mask_removed == 0

    def scramble_visible(_module: nn.Module, _args: object, output: Tensor) -> Tensor:
        return torch.where(visible[:, :, None], torch.full_like(output, -1e6), output)

    handle = model.decoder.register_forward_hook(scramble_visible)
    try:
        hooked = model(imgs, "0.5", seeded(3))
    finally:
        handle.remove()
    assert torch.equal(hooked.mask_removed, reference.mask_removed)
    assert not torch.equal(hooked.pred, reference.pred)
    assert torch.equal(hooked.loss, reference.loss)


def test_nothing_masked_gives_zero_loss_and_finite_gradients() -> None:
    model = make_model(small_cfg())
    out = model(torch.randn(2, 1, 16, 16), 0, seeded(0))
    assert out.mask_removed.sum() == 0
    assert out.loss.item() == 0.0
    out.loss.backward()
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    assert grads and all(torch.isfinite(g).all() for g in grads)


def test_keep_count_is_exact_for_decimal_ratio() -> None:
    # 100 patches at ratio 0.8: binary floating point would keep 19; the exact count is 20.
    model = make_model(small_cfg(img_size=(40, 40)))
    out = model(torch.randn(1, 1, 40, 40), 0.8, seeded(0))
    assert out.mask_removed.sum().item() == 80


def test_mask_ratio_outside_unit_interval_is_refused() -> None:
    model = make_model(small_cfg())
    with pytest.raises(ValueError, match="mask ratio must be in"):
        model(torch.randn(1, 1, 16, 16), 1.0, seeded(0))


# --- encoder and decoder wiring ---------------------------------------------------------------

def test_encoder_sees_only_visible_tokens_with_their_positions() -> None:
    model = make_model(small_cfg(depth=0))  # encoder = final LayerNorm only
    imgs = torch.randn(2, 1, 16, 16)
    latent, mask_removed, ids_restore = model.forward_encoder(imgs, 5, seeded(4))
    assert latent.shape == (2, 6, 32)
    ids_keep = torch.argsort(ids_restore, dim=1)[:, :5]
    assert torch.equal(mask_removed.gather(1, ids_keep), torch.zeros(2, 5))
    tokens = model.encoder.patch_embed(imgs) + model.encoder.pos_embed[:, 1:]
    kept = torch.gather(tokens, 1, ids_keep[:, :, None].expand(-1, -1, 32))
    assert model.encoder.cls_token is not None
    cls = (model.encoder.cls_token + model.encoder.pos_embed[:, :1]).expand(2, -1, -1)
    want = model.encoder.transformer.norm(torch.cat([cls, kept], dim=1))
    torch.testing.assert_close(latent, want)


def test_ids_restore_unshuffles_decoder_rows_to_patch_order() -> None:
    model = make_model(small_cfg(decoder_depth=0))  # decoder = norm + linear, row-wise
    dec = model.decoder
    latent = torch.randn(2, 1 + 6, 32)
    masking = random_masking(torch.zeros(2, 16, 1), 6, seeded(9))
    pred = model.forward_decoder(latent, masking.ids_restore)
    assert pred.shape == (2, 16, 16)
    embedded = dec.embed(latent)
    for b in range(2):
        for patch in range(16):
            rank = int(masking.ids_restore[b, patch])
            token = embedded[b, 1 + rank] if rank < 6 else dec.mask_token[0, 0]
            row = dec.pred(dec.transformer.norm(token + dec.pos_embed[0, 1 + patch]))
            torch.testing.assert_close(pred[b, patch], row)
            # Kept patches sit at their original positions in the un-shuffled sequence.
            assert (rank < 6) == (masking.mask_removed[b, patch] == 0)


def test_hidden_pixels_never_reach_the_encoder() -> None:
    model = make_model(small_cfg())
    imgs = torch.randn(2, 1, 16, 16)
    latent, mask_removed, _ = model.forward_encoder(imgs, 4, seeded(11))
    hidden = pixel_mask(model, mask_removed)
    replaced = torch.where(hidden, torch.randn_like(imgs) * 100, imgs)
    latent_replaced, mask_again, _ = model.forward_encoder(replaced, 4, seeded(11))
    assert torch.equal(mask_again, mask_removed)
    assert torch.equal(latent_replaced, latent)
    # A visible pixel does reach it.
    visible_changed = torch.where(~hidden, imgs + 1.0, imgs)
    assert not torch.equal(model.forward_encoder(visible_changed, 4, seeded(11))[0], latent)


@pytest.mark.parametrize(("batch", "size"), [(1, (16, 16)), (3, (16, 24))])
def test_forward_shapes_batch_one_and_non_square(batch: int, size: tuple[int, int]) -> None:
    model = make_model(small_cfg(img_size=size, in_chans=3))
    imgs = torch.randn(batch, 3, *size)
    out = model(imgs, "0.75", seeded(0))
    patches = (size[0] // 4) * (size[1] // 4)
    assert out.pred.shape == (batch, patches, 48)
    assert out.mask_removed.shape == out.ids_restore.shape == (batch, patches)
    assert out.loss.shape == () and torch.isfinite(out.loss)
    out.loss.backward()
    assert model.unpatchify(out.pred).shape == imgs.shape
    assert model.forward_features(imgs).shape == (batch, 1 + patches, 32)


def test_forward_features_is_unmasked_and_deterministic() -> None:
    model = make_model(TINY)
    imgs = torch.randn(2, 1, 16, 16)
    feats = model.forward_features(imgs)
    assert feats.shape == (2, 17, 128)
    assert torch.equal(feats, model.forward_features(imgs))


def test_wrong_image_size_is_refused() -> None:
    model = make_model(small_cfg())
    with pytest.raises(ValueError, match=r"expected images of shape \[B, 1, 16, 16\]"):
        model(torch.randn(1, 1, 16, 12), "0.75", seeded(0))


def test_config_refuses_image_not_divisible_by_patch() -> None:
    with pytest.raises(ValueError, match="image size 18x16 is not divisible by patch size 4"):
        small_cfg(img_size=(18, 16))


# --- init and presets ---------------------------------------------------------------------------

def test_weight_init_follows_the_paper() -> None:
    model = make_model(TINY)
    for module in model.modules():
        if isinstance(module, nn.Linear):
            bound = (6 / (module.in_features + module.out_features)) ** 0.5
            assert module.weight.abs().max() <= bound
            assert module.weight.abs().max() > 0.9 * bound  # uniform, not a narrower init
            assert torch.equal(module.bias, torch.zeros_like(module.bias))
    conv = model.encoder.patch_embed.proj.weight
    fan_in, fan_out = conv[0].numel(), conv.shape[0]
    assert conv.abs().max() <= (6 / (fan_in + fan_out)) ** 0.5
    for token in (model.encoder.cls_token, model.decoder.mask_token):
        assert token is not None
        assert 0.01 < float(token.detach().std()) < 0.03


def test_vit_b_16_preset_has_the_known_encoder_size() -> None:
    cfg = MAE_PRESETS["vit_b_16"]
    with torch.device("meta"):
        model = MaskedAutoencoderViT(cfg)
    encoder = sum(p.numel() for p in model.encoder.parameters())
    # 12 blocks of (qkv + proj + 2 MLP layers + 2 norms), patch conv, CLS token, final norm.
    d = 768
    block = (d * 3 * d + 3 * d) + (d * d + d) + (d * 4 * d + 4 * d) + (4 * d * d + d) + 4 * d
    assert encoder == 12 * block + (3 * 16 * 16 * d + d) + d + 2 * d
    assert 85e6 < encoder < 87e6  # "ViT-B/16: 86M"
    assert model.decoder.embed.out_features == 512
    assert len(model.decoder.transformer.blocks) == 8
    first = model.decoder.transformer.blocks[0]
    assert isinstance(first, Block) and first.attn.num_heads == 16


@pytest.mark.parametrize(("name", "grid", "width", "depth"),
                         [("vit_l_16", 14, 1024, 24), ("vit_h_14", 16, 1280, 32)])
def test_large_presets_build_with_paper_decoder(
    name: str, grid: int, width: int, depth: int
) -> None:
    with torch.device("meta"):
        model = MaskedAutoencoderViT(MAE_PRESETS[name])
    assert model.encoder.patch_embed.grid_size == (grid, grid)
    assert model.encoder.embed_dim == width
    assert len(model.encoder.transformer.blocks) == depth
    assert len(model.decoder.transformer.blocks) == 8
    assert model.decoder.embed.out_features == 512


def test_tiny_preset_is_the_cpu_size() -> None:
    assert (TINY.img_size, TINY.patch_size, TINY.embed_dim, TINY.depth, TINY.num_heads) == (
        (16, 16), 4, 128, 4, 4)
    assert (TINY.decoder_embed_dim, TINY.decoder_depth) == (64, 2)


# --- the compilable core -------------------------------------------------------------------


def test_forward_is_forward_from_noise_on_the_drawn_noise() -> None:
    from maskproof.runtime.masks import masking_noise

    model = make_model(small_cfg())
    imgs = torch.randn(3, 1, 16, 16)
    drawn = model(imgs, "0.75", seeded(5))
    given = model.forward_from_noise(imgs, 4, masking_noise(3, 16, seeded(5)))
    for a, b in zip(drawn, given, strict=True):
        assert torch.equal(a, b)


def test_forward_from_noise_is_one_graph_for_torch_compile() -> None:
    # fullgraph=True raises on any graph break; the "eager" backend runs the captured graph
    # without code generation, so this checks capture (and its result) in a second.
    model = make_model(small_cfg())
    imgs, noise = torch.randn(3, 1, 16, 16), torch.rand(3, 16)
    compiled = torch.compile(model.forward_from_noise, fullgraph=True, backend="eager")
    out = compiled(imgs, 4, noise)
    # Traced for CPU, attention takes SDPA's math backend (runtime.models.vit); run eagerly
    # with that backend the model gives the same numbers bit for bit, and the default backend
    # the same attention up to rounding.
    with sdpa_kernel(SDPBackend.MATH):
        same_backend = model.forward_from_noise(imgs, 4, noise)
    default_backend = model.forward_from_noise(imgs, 4, noise)
    out.loss.backward()
    assert torch.equal(out.loss, same_backend.loss) and torch.equal(out.pred, same_backend.pred)
    torch.testing.assert_close(out.pred, default_backend.pred)
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)
