"""``NN.API.Models.SelfSupervised`` mirrors on configs whose Lean value is worked out by hand.

``VitConfig.outH := (inH + 2 * padding - patchH) / stride + 1`` over Nat: truncated subtraction
and ``x / 0 = 0`` make the degenerate configs below legal Lean values with definite sizes.
"""

from __future__ import annotations

import pytest

from maskproof.spec import ssl
from maskproof.spec.errors import LeanContractError
from maskproof.spec.models import (
    Layer,
    VectorGenerativeConfig,
    VitMaeConfig,
    config_tensor_prefix_mae_sample,
    config_vector_mae_hidden_mask,
    config_vector_mae_mask,
    config_vector_mae_sample,
    vector_masked_autoencoder,
    vit_mae_in_shape,
    vit_mae_out_shape,
    vit_masked_autoencoder,
)


def vit_mae(**overrides: int) -> VitMaeConfig:
    base = dict(batch=2, in_c=3, in_h=8, in_w=12, patch_h=4, patch_w=4, stride=4, d_model=16,
                recon_dim=20, num_heads=2, head_dim=8, ffn_hidden=32)
    return VitMaeConfig(**{**base, **overrides})


def test_seq_len_and_flat_dim_of_a_tiling_config() -> None:
    cfg = vit_mae()
    # outH = (8 - 4) / 4 + 1 = 2, outW = (12 - 4) / 4 + 1 = 3
    assert (cfg.to_vit_config().out_h(), cfg.to_vit_config().out_w()) == (2, 3)
    assert cfg.seq_len() == 6
    assert cfg.flat_dim() == 6 * 16
    assert cfg.to_vit_config().out_dim == cfg.recon_dim


@pytest.mark.parametrize(("overrides", "out_hw"), [
    ({"stride": 0}, (1, 1)),  # (8 - 4) / 0 + 1 = 1: Lean's x / 0 = 0
    ({"patch_h": 10, "patch_w": 13}, (1, 1)),  # 8 - 10 truncates to 0
    ({"padding": 2, "stride": 2}, (5, 7)),  # (8 + 4 - 4) / 2 + 1, (12 + 4 - 4) / 2 + 1
    ({"stride": 3}, (2, 3)),  # (8 - 4) / 3 + 1 = 2 (floor), (12 - 4) / 3 + 1 = 3
])
def test_degenerate_configs_follow_nat_arithmetic(overrides: dict[str, int],
                                                   out_hw: tuple[int, int]) -> None:
    vit = vit_mae(**overrides).to_vit_config()
    assert (vit.out_h(), vit.out_w()) == out_hw
    assert vit.seq_len() == out_hw[0] * out_hw[1]


def test_in_and_out_shapes() -> None:
    cfg = vit_mae()
    assert vit_mae_in_shape(cfg) == (2, 3, 8, 12)
    assert vit_mae_out_shape(cfg) == (2, 20)


def test_vit_masked_autoencoder_layers_and_shapes() -> None:
    cfg = vit_mae()
    model = vit_masked_autoencoder(cfg)
    assert [layer.constructor for layer in model.layers] == [
        "nn.conv", "nn.lift (nchwToTokens)", "nn.transformerEncoderBlock", "nn.flattenBatch",
        "nn.linear"]
    assert (model.input_shape, model.output_shape) == ((2, 3, 8, 12), (2, 20))
    conv, tokens, block, flatten, linear = model.layers
    assert conv.output_shape == (2, 16, 2, 3)
    assert (conv.argument("outC"), conv.argument("kH"), conv.argument("stride")) == (16, 4, 4)
    assert tokens.output_shape == block.output_shape == (2, 6, 16)  # every patch stays a token
    assert flatten.output_shape == (2, 96)
    assert (linear.argument("inDim"), linear.argument("outDim")) == (96, 20)
    with pytest.raises(KeyError, match="nn.linear has no argument 'kH'"):
        linear.argument("kH")


def test_vit_masked_autoencoder_layers_carry_the_lean_arguments() -> None:
    # The Lean structure-literal fields of nn.conv / nn.transformerEncoderBlock, and the explicit
    # arguments of nn.linear; nn.lift and nn.flattenBatch take none. padding = 1, stride = 3,
    # kW = 5: outH = (8 + 2 - 4) / 3 + 1 = 3, outW = (12 + 2 - 5) / 3 + 1 = 4, seqLen = 12.
    model = vit_masked_autoencoder(vit_mae(padding=1, stride=3, patch_w=5))
    assert model.layers == (
        Layer("nn.conv", (("outC", 16), ("kH", 4), ("kW", 5), ("stride", 3), ("padding", 1)),
              (2, 3, 8, 12), (2, 16, 3, 4)),
        Layer("nn.lift (nchwToTokens)", (), (2, 16, 3, 4), (2, 12, 16)),
        Layer("nn.transformerEncoderBlock", (("numHeads", 2), ("headDim", 8), ("ffnHidden", 32),
                                             ("activation", "gelu")), (2, 12, 16), (2, 12, 16)),
        Layer("nn.flattenBatch", (), (2, 12, 16), (2, 192)),
        Layer("nn.linear", (("inDim", 192), ("outDim", 20)), (2, 192), (2, 20)),
    )


@pytest.mark.parametrize(("overrides", "binder"), [
    ({"in_c": 0}, "h_inC"), ({"patch_h": 0}, "h_patchH"), ({"patch_w": 0}, "h_patchW"),
    ({"d_model": 0}, "h_dModel"), ({"in_h": 0, "in_w": 0, "patch_h": 1, "patch_w": 1, "stride": 1,
                                    "padding": 0}, None),
])
def test_vit_masked_autoencoder_proof_arguments(overrides: dict[str, int],
                                                binder: str | None) -> None:
    cfg = vit_mae(**overrides)
    if binder is None:
        # outH, outW are `… / stride + 1 ≥ 1`, so `h_seqLen : seqLen ≠ 0` always holds: even
        # inH = inW = 0 gives (0 - 1) / 1 + 1 = 1 patch per axis and a legal call.
        assert vit_masked_autoencoder(cfg).output_shape == (2, 20)
        return
    with pytest.raises(LeanContractError) as caught:
        vit_masked_autoencoder(cfg)
    assert (caught.value.declaration, caught.value.binder) == ("vitMaskedAutoencoder", binder)


def test_fields_must_be_nats() -> None:
    with pytest.raises(LeanContractError, match=r"VitMaeConfig: binder `inC` expects a Nat"):
        vit_mae(in_c=-1)
    with pytest.raises(LeanContractError, match=r"VectorGenerativeConfig: binder `latentDim`"):
        VectorGenerativeConfig(batch=1, data_dim=4, hidden_dim=3, latent_dim=True)
    with pytest.raises(LeanContractError, match=r"vitMaeInShape: binder `cfg` expects a "
                                                r"VitMaeConfig, got \(1, 2\)"):
        vit_mae_in_shape((1, 2))  # type: ignore[arg-type]


def test_vector_masked_autoencoder_is_the_vector_autoencoder() -> None:
    model = vector_masked_autoencoder(VectorGenerativeConfig(batch=3, data_dim=10, hidden_dim=6,
                                                             latent_dim=2))
    assert (model.input_shape, model.output_shape) == ((3, 10), (3, 10))
    assert [(lin.argument("inDim"), lin.argument("outDim")) for lin in model.of("nn.linear")] == [
        (10, 6), (6, 2), (2, 6), (6, 10)]
    assert [layer.constructor for layer in model.layers if layer.constructor != "nn.linear"] == [
        "nn.relu", "nn.relu", "nn.relu", "nn.sigmoid"]
    # vectorAutoencoder's activations take no arguments and keep the Mat batch width shape.
    assert [layer for layer in model.layers if layer.constructor != "nn.linear"] == [
        Layer("nn.relu", (), (3, 6), (3, 6)), Layer("nn.relu", (), (3, 2), (3, 2)),
        Layer("nn.relu", (), (3, 6), (3, 6)), Layer("nn.sigmoid", (), (3, 10), (3, 10))]


def test_config_aliases_are_the_ssl_functions_at_the_config_sizes() -> None:
    cfg = VectorGenerativeConfig(batch=2, data_dim=5, hidden_dim=4, latent_dim=2)
    x = [[1.0, 2.0, 3.0, 4.0, 5.0], [6.0, 7.0, 8.0, 9.0, 10.0]]
    assert config_vector_mae_hidden_mask(cfg, 2, 1) == ssl.vector_mae_hidden_mask(5, 2, 1)
    assert config_vector_mae_mask(cfg, 2, 1, x) == ((1.0, 0.0, 3.0, 0.0, 5.0),
                                                    (6.0, 0.0, 8.0, 0.0, 10.0))
    assert config_vector_mae_sample(cfg, 2, 1, x) == ssl.vector_mae_sample(2, 5, 2, 1, x)
    images = [[[[float(k + 6 * b) for k in range(6)]]] for b in range(2)]  # 2×1×1×6
    assert config_tensor_prefix_mae_sample(cfg, (1, 1, 6), 3, 0, images) == \
        ssl.tensor_prefix_mae_sample(2, 5, (1, 1, 6), 3, 0, images)
    with pytest.raises(LeanContractError, match="nn.models.vectorMaeMask: binder `cfg`"):
        config_vector_mae_mask((2, 5), 2, 1, x)  # type: ignore[arg-type]
