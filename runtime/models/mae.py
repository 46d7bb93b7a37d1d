"""The paper's masked autoencoder (He et al., 2022) on a plain ViT.

Forward pass, in order:

1. encoder: patch tokens + fixed sin-cos positions, then per-sample noise
   (:func:`runtime.masks.masking_noise`) decides which tokens
   :func:`runtime.masks.random_masking_from_noise` drops, so hidden pixels never reach the
   encoder; CLS (+ its zero position row) is prepended and only the ``keep`` visible tokens go
   through the blocks;
2. decoder: a Linear to the decoder width, one shared mask token per removed patch, un-shuffled
   back to patch order with ``ids_restore``, the decoder's own sin-cos positions, its own blocks,
   and a Linear to ``patch² · C`` pixel values per patch (CLS row dropped);
3. loss: per-patch mean squared error, averaged over the **masked patches only**
   (:func:`masked_patch_loss`). This is the paper objective, not TorchLean's compact image
   objective, which scores every reconstruction coordinate (see :mod:`runtime.models.compact`).

The noise is drawn in :meth:`MaskedAutoencoderViT.forward` and everything after it is
:meth:`~MaskedAutoencoderViT.forward_from_noise`, plain tensor code that ``torch.compile`` takes
as one graph (``bench/throughput.py`` compiles it that way).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import torch
from torch import Tensor, nn

from maskproof.runtime.masks import (
    MaskRatio,
    mae_keep_count,
    masking_noise,
    random_masking_from_noise,
)
from maskproof.runtime.models.pos_embed import sincos_2d
from maskproof.runtime.models.vit import (
    Transformer,
    ViTEncoder,
    init_transformer_weights,
    patch_grid,
)

#: Added to the unbiased per-patch variance inside the square root (official ``norm_pix_loss``).
NORM_PIX_EPS = 1e-6


@dataclass(frozen=True)
class MAEConfig:
    """Shape of a :class:`MaskedAutoencoderViT`; ``img_size`` is ``(height, width)``."""

    img_size: tuple[int, int]
    patch_size: int
    in_chans: int
    embed_dim: int
    depth: int
    num_heads: int
    decoder_embed_dim: int
    decoder_depth: int
    decoder_num_heads: int
    mlp_ratio: float = 4.0
    norm_pix_loss: bool = True

    def __post_init__(self) -> None:
        patch_grid(self.img_size, self.patch_size)  # raises on sizes that do not tile
        for name in ("embed_dim", "decoder_embed_dim"):
            width = getattr(self, name)
            if width <= 0 or width % 4 != 0:
                raise ValueError(f"{name} must be a positive multiple of 4, got {width}")
        if self.in_chans <= 0:
            raise ValueError(f"in_chans must be positive, got {self.in_chans}")
        if self.norm_pix_loss and self.patch_size * self.patch_size * self.in_chans < 2:
            # The unbiased variance of a single value divides by zero.
            raise ValueError(
                "norm_pix_loss needs at least 2 values per patch, got patch_size="
                f"{self.patch_size} with in_chans={self.in_chans}"
            )

    @property
    def grid_size(self) -> tuple[int, int]:
        return patch_grid(self.img_size, self.patch_size)

    @property
    def num_patches(self) -> int:
        grid_h, grid_w = self.grid_size
        return grid_h * grid_w


def _paper_preset(
    patch: int, width: int, depth: int, heads: int, img: int = 224
) -> MAEConfig:
    """ViT encoder at ``img×img×3`` with the paper's decoder (512-d, 8 blocks, 16 heads)."""
    return MAEConfig(
        img_size=(img, img), patch_size=patch, in_chans=3, embed_dim=width, depth=depth,
        num_heads=heads, decoder_embed_dim=512, decoder_depth=8, decoder_num_heads=16,
    )


#: ``tiny`` and ``small`` are CPU sizes (``tiny`` fits the 1-channel digits upsampled to 16×16);
#: the ``vit_*`` presets are the paper's at 224×224×3.
MAE_PRESETS: dict[str, MAEConfig] = {
    "tiny": MAEConfig(
        img_size=(16, 16), patch_size=4, in_chans=1, embed_dim=128, depth=4, num_heads=4,
        decoder_embed_dim=64, decoder_depth=2, decoder_num_heads=4,
    ),
    "small": MAEConfig(
        img_size=(32, 32), patch_size=4, in_chans=3, embed_dim=256, depth=6, num_heads=8,
        decoder_embed_dim=128, decoder_depth=2, decoder_num_heads=4,
    ),
    "vit_b_16": _paper_preset(16, 768, 12, 12),
    "vit_l_16": _paper_preset(16, 1024, 24, 16),
    "vit_h_14": _paper_preset(14, 1280, 32, 16),
}


class MAEOutput(NamedTuple):
    """``mask_removed``: 1.0 = the patch was removed (masked, scored), 0.0 = kept (visible)."""

    loss: Tensor
    pred: Tensor
    mask_removed: Tensor
    ids_restore: Tensor


def patchify(imgs: Tensor, patch_size: int) -> Tensor:
    """``[B, C, H, W]`` → ``[B, N, p·p·C]``; patches row-major, pixels ``(row, col, channel)``."""
    batch, chans, height, width = imgs.shape
    grid_h, grid_w = patch_grid((height, width), patch_size)
    p = patch_size
    x = imgs.reshape(batch, chans, grid_h, p, grid_w, p)
    x = torch.einsum("nchpwq->nhwpqc", x)
    return x.reshape(batch, grid_h * grid_w, p * p * chans)


def unpatchify(x: Tensor, patch_size: int, grid_size: tuple[int, int], in_chans: int) -> Tensor:
    """Inverse of :func:`patchify` for a ``grid_h × grid_w`` grid of patches."""
    batch, count, values = x.shape
    grid_h, grid_w = grid_size
    p = patch_size
    if count != grid_h * grid_w or values != p * p * in_chans:
        raise ValueError(
            f"expected patches of shape [B, {grid_h * grid_w}, {p * p * in_chans}], "
            f"got {list(x.shape)}"
        )
    x = x.reshape(batch, grid_h, grid_w, p, p, in_chans)
    x = torch.einsum("nhwpqc->nchpwq", x)
    return x.reshape(batch, in_chans, grid_h * p, grid_w * p)


def normalize_patches(target: Tensor) -> Tensor:
    """Official ``norm_pix_loss`` target: per patch, subtract the mean and divide by
    ``sqrt(unbiased variance + 1e-6)``."""
    mean = target.mean(dim=-1, keepdim=True)
    var = target.var(dim=-1, keepdim=True, unbiased=True)
    return (target - mean) / (var + NORM_PIX_EPS) ** 0.5


def masked_patch_loss(target: Tensor, pred: Tensor, mask_removed: Tensor) -> Tensor:
    """``sum(mask_removed · per_patch_mse) / sum(mask_removed)`` over ``[B, N]`` patches.

    Patches with ``mask_removed == 0`` are excluded with ``torch.where``, so nothing about a
    visible patch's prediction (not even an inf or NaN) can reach the loss. If no patch is
    masked the loss is defined as 0 (with a zero gradient) rather than ``0 / 0``.
    """
    per_patch = (pred - target).pow(2).mean(dim=-1)
    scored = mask_removed != 0
    weighted = torch.where(scored, per_patch * mask_removed, torch.zeros_like(per_patch))
    return weighted.sum() / mask_removed.sum().clamp(min=1.0)


class MAEDecoder(nn.Module):
    """Lightweight decoder: its own width, depth, mask token and sin-cos positions."""

    def __init__(self, cfg: MAEConfig) -> None:
        super().__init__()
        dim = cfg.decoder_embed_dim
        self.embed = nn.Linear(cfg.embed_dim, dim)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, dim))
        grid_h, grid_w = cfg.grid_size
        self.pos_embed: Tensor
        self.register_buffer(
            "pos_embed", sincos_2d(dim, grid_h, grid_w, cls_token=True).unsqueeze(0)
        )
        self.transformer = Transformer(
            dim, cfg.decoder_depth, cfg.decoder_num_heads, cfg.mlp_ratio
        )
        self.pred = nn.Linear(dim, cfg.patch_size * cfg.patch_size * cfg.in_chans)

    def forward(self, latent: Tensor, ids_restore: Tensor) -> Tensor:
        """``latent [B, 1 + keep, D]`` (CLS first) → ``[B, N, p·p·C]`` in patch order."""
        x = self.embed(latent)
        batch, kept = x.shape[0], x.shape[1] - 1
        num_patches = ids_restore.shape[1]
        mask_tokens = self.mask_token.expand(batch, num_patches - kept, -1)
        shuffled = torch.cat([x[:, 1:, :], mask_tokens], dim=1)  # kept first, then removed
        index = ids_restore.unsqueeze(-1).expand(-1, -1, x.shape[2])
        unshuffled = torch.gather(shuffled, dim=1, index=index)  # row i <-> patch i
        x = torch.cat([x[:, :1, :], unshuffled], dim=1) + self.pos_embed
        x = self.transformer(x)
        out: Tensor = self.pred(x)[:, 1:, :]
        return out


class MaskedAutoencoderViT(nn.Module):
    """MAE with a ViT encoder (``self.encoder``) and a lightweight decoder (``self.decoder``)."""

    def __init__(self, cfg: MAEConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.encoder = ViTEncoder(
            cfg.img_size, cfg.patch_size, cfg.in_chans, cfg.embed_dim, cfg.depth,
            cfg.num_heads, cfg.mlp_ratio, use_cls_token=True,
        )
        self.decoder = MAEDecoder(cfg)
        self._init_weights()

    def _init_weights(self) -> None:
        init_transformer_weights(self)
        assert self.encoder.cls_token is not None  # this encoder is built with a CLS token
        nn.init.normal_(self.encoder.cls_token, std=0.02)
        nn.init.normal_(self.decoder.mask_token, std=0.02)

    def patchify(self, imgs: Tensor) -> Tensor:
        return patchify(imgs, self.cfg.patch_size)

    def unpatchify(self, x: Tensor) -> Tensor:
        return unpatchify(x, self.cfg.patch_size, self.cfg.grid_size, self.cfg.in_chans)

    def forward_encoder(
        self, imgs: Tensor, keep_count: int, generator: torch.Generator | None = None
    ) -> tuple[Tensor, Tensor, Tensor]:
        """Return ``(latent [B, 1 + keep, D], mask_removed [B, N], ids_restore [B, N])``."""
        return self.forward_encoder_from_noise(imgs, keep_count, self._noise(imgs, generator))

    def forward_encoder_from_noise(
        self, imgs: Tensor, keep_count: int, noise: Tensor
    ) -> tuple[Tensor, Tensor, Tensor]:
        """:meth:`forward_encoder` with the masking noise ``[B, N]`` given instead of drawn."""
        tokens = self.encoder.embed_patches(imgs)  # positions are added before dropping
        masking = random_masking_from_noise(tokens, keep_count, noise)
        latent = self.encoder.forward_tokens(self.encoder.prepend_cls(masking.x_kept))
        return latent, masking.mask_removed, masking.ids_restore

    def forward_decoder(self, latent: Tensor, ids_restore: Tensor) -> Tensor:
        out: Tensor = self.decoder(latent, ids_restore)
        return out

    def loss_target(self, imgs: Tensor) -> Tensor:
        """Per-patch regression target ``[B, N, p·p·C]``, normalised if ``norm_pix_loss``."""
        target = self.patchify(imgs)
        return normalize_patches(target) if self.cfg.norm_pix_loss else target

    def forward_loss(self, imgs: Tensor, pred: Tensor, mask_removed: Tensor) -> Tensor:
        return masked_patch_loss(self.loss_target(imgs), pred, mask_removed)

    def forward(
        self,
        imgs: Tensor,
        mask_ratio: MaskRatio = "0.75",
        generator: torch.Generator | None = None,
    ) -> MAEOutput:
        keep_count = mae_keep_count(self.cfg.num_patches, mask_ratio)
        return self.forward_from_noise(imgs, keep_count, self._noise(imgs, generator))

    def _noise(self, imgs: Tensor, generator: torch.Generator | None) -> Tensor:
        """The ``[B, N]`` masking noise for a batch ``imgs``, drawn from ``generator``."""
        return masking_noise(imgs.shape[0], self.cfg.num_patches, generator, imgs.device)

    def forward_from_noise(self, imgs: Tensor, keep_count: int, noise: Tensor) -> MAEOutput:
        """:meth:`forward` with the masking noise ``[B, N]`` given: the mask is a function of
        ``noise``, so this is plain tensor code with no random draw and no Python-side ratio
        arithmetic. ``torch.compile(model.forward_from_noise, fullgraph=True)`` compiles the
        whole step (forward and backward) as one graph; :meth:`forward` would break the graph
        at the draw."""
        latent, mask_removed, ids_restore = self.forward_encoder_from_noise(
            imgs, keep_count, noise)
        pred = self.forward_decoder(latent, ids_restore)
        loss = self.forward_loss(imgs, pred, mask_removed)
        return MAEOutput(loss, pred, mask_removed, ids_restore)

    def forward_features(self, imgs: Tensor) -> Tensor:
        """Unmasked encoder output ``[B, 1 + N, D]`` (CLS first) after the final norm."""
        out: Tensor = self.encoder(imgs)
        return out
