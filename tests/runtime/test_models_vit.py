"""The ViT building blocks: sin-cos table layout, patch embedding, key-padding attention."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from maskproof.runtime.models.ijepa import IJEPA, IJEPAConfig
from maskproof.runtime.models.mae import MAEConfig, MaskedAutoencoderViT, patchify
from maskproof.runtime.models.pos_embed import sincos_1d, sincos_2d
from maskproof.runtime.models.vit import Attention, Block, PatchEmbed, Transformer, ViTEncoder


def expected_entry(dim: int, row: int, col: int, channel: int) -> float:
    """The documented layout, written out scalar by scalar."""
    half, quarter = dim // 2, dim // 4
    pos = col if channel < half else row  # first half: column, second half: row
    k = channel % half
    omega = 1.0 / 10000.0 ** ((k % quarter) / quarter)
    return math.sin(pos * omega) if k < quarter else math.cos(pos * omega)


@pytest.mark.parametrize(("grid_h", "grid_w"), [(3, 5), (4, 4), (1, 6)])
def test_sincos_2d_layout_columns_first_half_rows_second(grid_h: int, grid_w: int) -> None:
    dim = 16
    table = sincos_2d(dim, grid_h, grid_w)
    assert table.shape == (grid_h * grid_w, dim) and table.dtype == torch.float32
    for token in range(grid_h * grid_w):
        row, col = divmod(token, grid_w)  # row-major token order
        for channel in range(dim):
            want = expected_entry(dim, row, col, channel)
            assert table[token, channel].item() == pytest.approx(want, abs=1e-6)


def test_sincos_2d_halves_depend_only_on_their_coordinate() -> None:
    table = sincos_2d(8, 3, 5).reshape(3, 5, 8)
    # Column half is the same on every row; row half is the same on every column.
    assert torch.equal(table[:, :, :4], table[:1, :, :4].expand(3, -1, -1))
    assert torch.equal(table[:, :, 4:], table[:, :1, 4:].expand(-1, 5, -1))
    assert not torch.equal(table[0, 0, :4], table[0, 1, :4])
    assert not torch.equal(table[0, 0, 4:], table[1, 0, 4:])


def test_sincos_2d_cls_row_is_zero_and_rest_unchanged() -> None:
    with_cls = sincos_2d(8, 2, 3, cls_token=True)
    assert torch.equal(with_cls[0], torch.zeros(8))
    assert torch.equal(with_cls[1:], sincos_2d(8, 2, 3))


def test_sincos_1d_is_sin_then_cos() -> None:
    positions = torch.tensor([0.0, 1.0, 7.0])
    table = sincos_1d(4, positions)
    omega = torch.tensor([1.0, 0.01], dtype=torch.float64)
    angles = positions.double()[:, None] * omega
    assert torch.allclose(table, torch.cat([angles.sin(), angles.cos()], dim=1))


@pytest.mark.parametrize("dim", [0, 6, -4])
def test_sincos_2d_rejects_width_not_multiple_of_four(dim: int) -> None:
    with pytest.raises(ValueError, match=f"multiple of 4, got {dim}"):
        sincos_2d(dim, 2, 2)


def test_every_model_holds_the_table_right_after_construction() -> None:
    mae = MaskedAutoencoderViT(MAEConfig(
        img_size=(8, 12), patch_size=4, in_chans=2, embed_dim=16, depth=1, num_heads=2,
        decoder_embed_dim=8, decoder_depth=1, decoder_num_heads=2,
    ))
    assert torch.equal(mae.encoder.pos_embed[0], sincos_2d(16, 2, 3, cls_token=True))
    assert torch.equal(mae.decoder.pos_embed[0], sincos_2d(8, 2, 3, cls_token=True))
    jepa = IJEPA(IJEPAConfig(
        img_size=(8, 12), patch_size=4, in_chans=1, embed_dim=16, depth=1, num_heads=2,
        pred_embed_dim=8, pred_depth=1, pred_num_heads=2,
    ))
    for encoder in (jepa.context_encoder, jepa.target_encoder):
        assert torch.equal(encoder.pos_embed[0], sincos_2d(16, 2, 3))
    assert torch.equal(jepa.predictor.pos_embed[0], sincos_2d(8, 2, 3))


def test_positional_tables_are_not_trainable_but_are_saved() -> None:
    encoder = ViTEncoder((8, 8), 4, 1, 8, 1, 2)
    assert all(param is not encoder.pos_embed for param in encoder.parameters())
    assert not encoder.pos_embed.requires_grad
    assert "pos_embed" in encoder.state_dict()


@pytest.mark.parametrize(("size", "patch"), [((15, 16), 4), ((16, 18), 4), ((4, 4), 8)])
def test_patch_embed_rejects_sizes_that_do_not_tile(size: tuple[int, int], patch: int) -> None:
    with pytest.raises(ValueError, match=f"not divisible by patch size {patch}"):
        PatchEmbed(size, patch, 3, 8)


def test_patch_embed_rejects_wrong_input_shape() -> None:
    embed = PatchEmbed((8, 12), 4, 3, 8)
    with pytest.raises(ValueError, match=r"expected images of shape \[B, 3, 8, 12\]"):
        embed(torch.zeros(1, 3, 12, 8))


def test_patch_embed_token_t_is_patch_t_of_patchify() -> None:
    torch.manual_seed(0)
    embed = PatchEmbed((8, 12), 4, 3, 5)
    imgs = torch.randn(2, 3, 8, 12)
    tokens = embed(imgs)
    # patchify orders pixels (row, col, channel); the conv weight is [out, channel, row, col].
    weight = embed.proj.weight.permute(0, 2, 3, 1).reshape(5, -1)
    assert embed.proj.bias is not None
    by_hand = patchify(imgs, 4) @ weight.T + embed.proj.bias
    assert tokens.shape == (2, 6, 5)
    torch.testing.assert_close(tokens, by_hand)


def test_attention_matches_explicit_softmax() -> None:
    torch.manual_seed(1)
    attn = Attention(8, 2)
    x = torch.randn(3, 5, 8)
    key_valid = torch.tensor([[True] * 5, [True, True, False, True, False], [True] + [False] * 4])
    q, k, v = attn.qkv(x).reshape(3, 5, 3, 2, 4).permute(2, 0, 3, 1, 4)
    scores = q @ k.transpose(-1, -2) / 2.0  # sqrt(head_dim = 4)
    scores = scores.masked_fill(~key_valid[:, None, None, :], float("-inf"))
    by_hand = attn.proj((scores.softmax(-1) @ v).transpose(1, 2).reshape(3, 5, 8))
    torch.testing.assert_close(attn(x, key_valid), by_hand)


def test_padding_tokens_do_not_change_real_tokens() -> None:
    torch.manual_seed(2)
    stack = Transformer(8, 2, 2, 4.0)
    x = torch.randn(2, 6, 8)
    key_valid = torch.tensor([[True] * 4 + [False] * 2, [True] * 6])
    garbage = x.clone()
    garbage[0, 4:] = torch.randn(2, 8) * 1e3
    out, out_garbage = stack(x, key_valid), stack(garbage, key_valid)
    assert torch.equal(out[0, :4], out_garbage[0, :4])
    assert torch.equal(out[1], out_garbage[1])
    # Without the mask the padding does leak in, so the check above is not vacuous.
    assert not torch.equal(stack(x)[0, :4], stack(garbage)[0, :4])


def test_key_valid_must_be_a_bool_mask_of_the_token_shape() -> None:
    stack = Transformer(8, 1, 2, 4.0)
    with pytest.raises(ValueError, match="key_valid must be a bool mask of shape"):
        stack(torch.zeros(2, 3, 8), torch.ones(2, 3))


def test_block_is_pre_norm_with_gelu_mlp() -> None:
    torch.manual_seed(3)
    stack = Transformer(8, 1, 2, 2.0)
    block = stack.blocks[0]
    assert isinstance(block, Block)
    x = torch.randn(2, 3, 8)
    h = x + block.attn(F.layer_norm(x, (8,), block.norm1.weight, block.norm1.bias, 1e-6))
    normed = F.layer_norm(h, (8,), block.norm2.weight, block.norm2.bias, 1e-6)
    h = h + block.mlp.fc2(F.gelu(block.mlp.fc1(normed)))
    assert block.mlp.fc1.out_features == 16
    torch.testing.assert_close(block(x), h)
