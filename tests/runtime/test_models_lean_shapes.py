"""The runtime models against the shapes TorchLean's constructors give for the same config.

``spec.models`` mirrors ``nn.models.vitMaskedAutoencoder`` / ``vectorMaskedAutoencoder``
(``NN.API.Models.SelfSupervised``) as layer lists with activation shapes. These tests build the
runtime model from the same sizes and compare what the two share: input and output shapes, the
first and last linear widths, and (for the paper MAE) the patch embedding and token count.
proofs_notes/models.md says where the architectures differ, so nothing else is compared.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from maskproof.runtime.models.compact import ImagePatchMAE, VectorMAE
from maskproof.runtime.models.mae import MAE_PRESETS, MaskedAutoencoderViT
from maskproof.spec.models import (
    VectorGenerativeConfig,
    VitMaeConfig,
    vector_masked_autoencoder,
    vit_mae_in_shape,
    vit_mae_out_shape,
    vit_masked_autoencoder,
)


def linears(module: nn.Module) -> list[tuple[int, int]]:
    return [(m.in_features, m.out_features) for m in module.modules() if isinstance(m, nn.Linear)]


@pytest.mark.parametrize(("batch", "data_dim", "hidden_dim"), [(1, 8, 4), (3, 16, 32)])
def test_vector_mae_matches_the_lean_vector_autoencoder_shapes(batch: int, data_dim: int,
                                                                hidden_dim: int) -> None:
    lean = vector_masked_autoencoder(VectorGenerativeConfig(batch, data_dim, hidden_dim, 2))
    model = VectorMAE(data_dim, hidden_dim, period=3, offset=1)
    _, prediction = model(torch.zeros(batch, data_dim))
    assert tuple(prediction.shape) == lean.output_shape == lean.input_shape
    lean_linears = [(lin.argument("inDim"), lin.argument("outDim")) for lin in lean.of("nn.linear")]
    runtime = linears(model)
    assert runtime[0] == lean_linears[0] == (data_dim, hidden_dim)  # dataDim → hiddenDim
    assert runtime[-1] == lean_linears[-1] == (hidden_dim, data_dim)  # hiddenDim → dataDim


@pytest.mark.parametrize(("c", "h", "w", "patch", "recon_dim"),
                         [(1, 8, 8, 4, 64), (3, 8, 12, 4, 20)])
def test_image_patch_mae_matches_the_lean_vit_mae_io_shapes(c: int, h: int, w: int, patch: int,
                                                            recon_dim: int) -> None:
    cfg = VitMaeConfig(batch=2, in_c=c, in_h=h, in_w=w, patch_h=patch, patch_w=patch,
                       stride=patch, d_model=8, recon_dim=recon_dim, num_heads=2, head_dim=4,
                       ffn_hidden=16)
    lean = vit_masked_autoencoder(cfg)
    model = ImagePatchMAE(c, h, w, patch, patch, period=2, offset=0, recon_dim=recon_dim,
                          hidden_dim=16)
    _, prediction = model(torch.zeros(*vit_mae_in_shape(cfg)))
    assert lean.input_shape == vit_mae_in_shape(cfg)
    assert tuple(prediction.shape) == lean.output_shape == vit_mae_out_shape(cfg)
    assert linears(model)[-1][1] == lean.of("nn.linear")[-1].argument("outDim") == recon_dim


@pytest.mark.parametrize("preset", ["tiny", "small"])
def test_paper_mae_shares_the_lean_patch_embedding_and_token_count(preset: str) -> None:
    mae = MAE_PRESETS[preset]
    (height, width), patch = mae.img_size, mae.patch_size
    cfg = VitMaeConfig(batch=2, in_c=mae.in_chans, in_h=height, in_w=width, patch_h=patch,
                       patch_w=patch, stride=patch, d_model=mae.embed_dim,
                       recon_dim=mae.in_chans * height * width, num_heads=mae.num_heads,
                       head_dim=mae.embed_dim // mae.num_heads, ffn_hidden=4 * mae.embed_dim)
    conv, tokens = vit_masked_autoencoder(cfg).layers[:2]
    model = MaskedAutoencoderViT(mae)
    proj = model.encoder.patch_embed.proj
    assert isinstance(proj, nn.Conv2d)
    assert (proj.in_channels, proj.out_channels) == (cfg.in_c, conv.argument("outC"))
    assert proj.kernel_size == (conv.argument("kH"), conv.argument("kW"))
    assert proj.stride == (conv.argument("stride"),) * 2
    assert proj.padding == (conv.argument("padding"),) * 2
    # Lean keeps every patch as a token (seqLen); the runtime encoder adds CLS in front.
    assert model.cfg.num_patches == cfg.seq_len() == tokens.output_shape[1]
    features = model.forward_features(torch.zeros(*vit_mae_in_shape(cfg)))
    assert tuple(features.shape) == (2, 1 + cfg.seq_len(), cfg.d_model)
