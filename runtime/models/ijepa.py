"""I-JEPA (Assran et al., 2023): predict the target encoder's features of masked blocks.

* context encoder: a ViT (no CLS token) over the context tokens only. Tokens are embedded with
  their positions, gathered at the context indices, and run as a padded batch whose key-padding
  mask keeps padding out of every attention row; padding slots are zeroed before the blocks, so
  whatever index they carry (garbage included) cannot reach the output;
* target encoder: a deep copy of the context encoder with ``requires_grad_(False)``, updated
  only by :meth:`IJEPA.update_target` (EMA), run under ``torch.no_grad()`` on the full image;
  its output is layer-normed over features and gathered at each target block's indices;
* predictor: a narrow transformer (its own width) over the context tokens projected to that
  width plus one mask token per target position carrying that position's sin-cos embedding;
  all target blocks go through it as one batch of ``B · M`` sequences, then back to the
  encoder width;
* loss: smooth-L1 (``beta = 1``) averaged over valid target tokens and features; 0 when no
  target token is valid.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from maskproof.runtime.masks import JEPAMaskBatch
from maskproof.runtime.models.pos_embed import sincos_2d
from maskproof.runtime.models.vit import Block, Transformer, ViTEncoder, patch_grid

#: Standard deviation of the truncated-normal init of the official I-JEPA code.
INIT_STD = 0.02


@dataclass(frozen=True)
class IJEPAConfig:
    """Shape of an :class:`IJEPA` model; ``img_size`` is ``(height, width)``."""

    img_size: tuple[int, int]
    patch_size: int
    in_chans: int
    embed_dim: int
    depth: int
    num_heads: int
    pred_embed_dim: int
    pred_depth: int
    pred_num_heads: int
    mlp_ratio: float = 4.0

    def __post_init__(self) -> None:
        patch_grid(self.img_size, self.patch_size)  # raises on sizes that do not tile
        for name in ("embed_dim", "pred_embed_dim"):
            width = getattr(self, name)
            if width <= 0 or width % 4 != 0:
                raise ValueError(f"{name} must be a positive multiple of 4, got {width}")
        if self.in_chans <= 0:
            raise ValueError(f"in_chans must be positive, got {self.in_chans}")

    @property
    def grid_size(self) -> tuple[int, int]:
        return patch_grid(self.img_size, self.patch_size)

    @property
    def num_patches(self) -> int:
        grid_h, grid_w = self.grid_size
        return grid_h * grid_w


def _paper_preset(patch: int, width: int, depth: int, heads: int) -> IJEPAConfig:
    """ViT at 224×224×3 with the official predictor: 384-d, 12 blocks, encoder's head count."""
    return IJEPAConfig(
        img_size=(224, 224), patch_size=patch, in_chans=3, embed_dim=width, depth=depth,
        num_heads=heads, pred_embed_dim=384, pred_depth=12, pred_num_heads=heads,
    )


#: ``tiny`` and ``small`` are CPU sizes (``tiny`` fits the 1-channel digits upsampled to 16×16).
IJEPA_PRESETS: dict[str, IJEPAConfig] = {
    "tiny": IJEPAConfig(
        img_size=(16, 16), patch_size=4, in_chans=1, embed_dim=128, depth=4, num_heads=4,
        pred_embed_dim=64, pred_depth=2, pred_num_heads=4,
    ),
    "small": IJEPAConfig(
        img_size=(32, 32), patch_size=4, in_chans=3, embed_dim=256, depth=6, num_heads=8,
        pred_embed_dim=128, pred_depth=4, pred_num_heads=4,
    ),
    "vit_b_16": _paper_preset(16, 768, 12, 12),
    "vit_l_16": _paper_preset(16, 1024, 24, 16),
    "vit_h_14": _paper_preset(14, 1280, 32, 16),
}


class JEPAOutput(NamedTuple):
    """``pred`` and ``target`` are ``[B, M, Lt, D]``; rows where ``targets_valid`` is False are
    padding and carry no meaning."""

    loss: Tensor
    pred: Tensor
    target: Tensor


def ema_momentum(step: int, total_steps: int, start: float = 0.996, end: float = 1.0) -> float:
    """Linear EMA momentum schedule: ``start`` at step 0 to ``end`` at ``total_steps`` (clamped)."""
    if total_steps <= 0:
        raise ValueError(f"total_steps must be positive, got {total_steps}")
    if step < 0:
        raise ValueError(f"step must be non-negative, got {step}")
    progress = min(step, total_steps) / total_steps
    return start + (end - start) * progress


def gather_tokens(tokens: Tensor, index: Tensor) -> Tensor:
    """``tokens [B, N, D]`` at ``index [B, *rest]`` → ``[B, *rest, D]``."""
    batch, dim = tokens.shape[0], tokens.shape[-1]
    flat = index.reshape(batch, -1)
    picked = torch.gather(tokens, 1, flat.unsqueeze(-1).expand(-1, -1, dim))
    return picked.reshape(*index.shape, dim)


def check_mask_batch(masks: JEPAMaskBatch, batch: int, num_patches: int) -> None:
    """Raise a one-line error for mis-shaped masks or a valid index outside ``[0, N)``."""
    fields = {
        "context": (masks.context, masks.context_valid, 2),
        "targets": (masks.targets, masks.targets_valid, 3),
    }
    for name, (index, valid, rank) in fields.items():
        if index.dim() != rank or index.shape[0] != batch or index.shape != valid.shape:
            raise ValueError(
                f"{name} must be [{batch}, ...] of rank {rank} matching {name}_valid, "
                f"got {list(index.shape)} and {list(valid.shape)}"
            )
        if valid.dtype != torch.bool:
            raise ValueError(f"{name}_valid must be a bool tensor, got {valid.dtype}")
        real = index[valid]
        if real.numel() and (int(real.min()) < 0 or int(real.max()) >= num_patches):
            raise ValueError(
                f"{name} holds patch index {int(real.min())}..{int(real.max())} outside "
                f"[0, {num_patches})"
            )


def smooth_l1_over_valid(pred: Tensor, target: Tensor, valid: Tensor) -> Tensor:
    """Smooth-L1 averaged over the valid tokens (``valid [B, M, Lt]``) and all features."""
    per_value = F.smooth_l1_loss(pred, target, reduction="none")
    kept = torch.where(valid.unsqueeze(-1), per_value, torch.zeros_like(per_value))
    count = valid.sum() * pred.shape[-1]
    return kept.sum() / count.clamp(min=1)


class JEPAPredictor(nn.Module):
    """Narrow transformer mapping context features to features at target positions."""

    def __init__(self, cfg: IJEPAConfig) -> None:
        super().__init__()
        dim = cfg.pred_embed_dim
        self.embed = nn.Linear(cfg.embed_dim, dim)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, dim))
        grid_h, grid_w = cfg.grid_size
        self.pos_embed: Tensor
        self.register_buffer("pos_embed", sincos_2d(dim, grid_h, grid_w).unsqueeze(0))
        self.transformer = Transformer(dim, cfg.pred_depth, cfg.pred_num_heads, cfg.mlp_ratio)
        self.proj = nn.Linear(dim, cfg.embed_dim)

    def forward(
        self,
        context_feats: Tensor,
        context_idx: Tensor,
        context_valid: Tensor,
        target_idx: Tensor,
        target_valid: Tensor,
    ) -> Tensor:
        """Context ``[B, Lc, D]`` + indices → predictions ``[B, M, Lt, D]``."""
        batch, blocks, target_len = target_idx.shape
        pos = self.pos_embed.expand(batch, -1, -1)
        ctx = self.embed(context_feats) + gather_tokens(pos, context_idx)
        ctx_len, dim = ctx.shape[1], ctx.shape[2]
        ctx = ctx.unsqueeze(1).expand(-1, blocks, -1, -1).reshape(batch * blocks, ctx_len, dim)
        queries = self.mask_token + gather_tokens(pos, target_idx)  # [B, M, Lt, dim]
        tokens = torch.cat([ctx, queries.reshape(batch * blocks, target_len, dim)], dim=1)
        ctx_valid = context_valid.unsqueeze(1).expand(-1, blocks, -1).reshape(batch * blocks, -1)
        key_valid = torch.cat([ctx_valid, target_valid.reshape(batch * blocks, -1)], dim=1)
        out: Tensor = self.proj(self.transformer(tokens, key_valid)[:, ctx_len:, :])
        return out.reshape(batch, blocks, target_len, -1)


class IJEPA(nn.Module):
    """I-JEPA with ``context_encoder``, EMA ``target_encoder`` and ``predictor``."""

    def __init__(self, cfg: IJEPAConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.context_encoder = ViTEncoder(
            cfg.img_size, cfg.patch_size, cfg.in_chans, cfg.embed_dim, cfg.depth,
            cfg.num_heads, cfg.mlp_ratio, use_cls_token=False,
        )
        self.predictor = JEPAPredictor(cfg)
        init_jepa_weights(self.context_encoder)
        init_jepa_weights(self.predictor)
        nn.init.trunc_normal_(self.predictor.mask_token, std=INIT_STD)
        self.target_encoder = copy.deepcopy(self.context_encoder).requires_grad_(False)

    def encode_context(self, imgs: Tensor, context: Tensor, context_valid: Tensor) -> Tensor:
        """Context features ``[B, Lc, D]``; rows where ``context_valid`` is False are padding.

        Only the context patches' tokens enter the blocks (hidden pixels never do), and padding
        slots are replaced by zeros first, so their index does not matter.
        """
        tokens = gather_tokens(self.context_encoder.embed_patches(imgs), context)
        tokens = torch.where(context_valid.unsqueeze(-1), tokens, torch.zeros_like(tokens))
        return self.context_encoder.forward_tokens(tokens, context_valid)

    @torch.no_grad()
    def encode_targets(self, imgs: Tensor, targets: Tensor) -> Tensor:
        """Layer-normed target-encoder features of the full image at ``targets [B, M, Lt]``."""
        feats = self.target_encoder(imgs)
        feats = F.layer_norm(feats, (feats.shape[-1],))
        return gather_tokens(feats, targets)

    def forward(self, imgs: Tensor, masks: JEPAMaskBatch) -> JEPAOutput:
        check_mask_batch(masks, imgs.shape[0], self.cfg.num_patches)
        # Padding slots may hold any index; point them at patch 0 so gathers stay in range.
        context = torch.where(masks.context_valid, masks.context, 0)
        targets = torch.where(masks.targets_valid, masks.targets, 0)
        target = self.encode_targets(imgs, targets)
        context_feats = self.encode_context(imgs, context, masks.context_valid)
        pred = self.predictor(context_feats, context, masks.context_valid, targets,
                              masks.targets_valid)
        loss = smooth_l1_over_valid(pred, target, masks.targets_valid)
        return JEPAOutput(loss, pred, target)

    @torch.no_grad()
    def update_target(self, momentum: float) -> None:
        """EMA step ``θ_t ← m·θ_t + (1 − m)·θ_c`` applied once to every target parameter."""
        if not 0.0 <= momentum <= 1.0:
            raise ValueError(f"EMA momentum must be in [0, 1], got {momentum}")
        online = dict(self.context_encoder.named_parameters())
        for name, target_param in self.target_encoder.named_parameters():
            target_param.mul_(momentum).add_(online[name], alpha=1.0 - momentum)

    def forward_features(self, imgs: Tensor) -> Tensor:
        """Unmasked context-encoder output ``[B, N, D]`` (no CLS token; mean-pool for a probe)."""
        out: Tensor = self.context_encoder(imgs)
        return out


def init_jepa_weights(module: nn.Module) -> None:
    """Official I-JEPA init: truncated normal (std 0.02) for Linear and Conv weights, zero
    biases, unit LayerNorms, then each block's output projections divided by
    ``sqrt(2 · block number)`` so deeper residual branches start smaller."""
    for sub in module.modules():
        if isinstance(sub, (nn.Linear, nn.Conv2d)):
            nn.init.trunc_normal_(sub.weight, std=INIT_STD)
            if sub.bias is not None:
                nn.init.zeros_(sub.bias)
        elif isinstance(sub, nn.LayerNorm):
            nn.init.ones_(sub.weight)
            nn.init.zeros_(sub.bias)
    blocks = [sub for sub in module.modules() if isinstance(sub, Block)]
    with torch.no_grad():
        for number, block in enumerate(blocks, start=1):
            block.attn.proj.weight.div_(math.sqrt(2.0 * number))
            block.mlp.fc2.weight.div_(math.sqrt(2.0 * number))

