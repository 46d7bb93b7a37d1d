"""A timm-free replica of timm's ``VisionTransformer`` (inference path, no dropout), for tests.

timm cannot be installed beside the CPU torch here (its torchvision import fails), so the
``--format timm`` export is checked against this replica instead. It is written from timm's
documented architecture (``timm/models/vision_transformer.py``: ``VisionTransformer``,
``Block``; ``timm/layers``: ``PatchEmbed``, ``Attention``, ``Mlp``) and keeps timm's module
names, so its ``state_dict`` keys are timm's for the options it supports: ``patch_embed.proj``,
``cls_token``, ``pos_embed`` (a CLS row first unless ``no_embed_class``), ``blocks.N.norm1``,
``blocks.N.attn.qkv``, ``blocks.N.attn.proj``, ``blocks.N.norm2``, ``blocks.N.mlp.fc1``,
``blocks.N.mlp.fc2``, ``norm``, ``fc_norm`` (when on) and ``head`` (``num_classes > 0``).
Identity modules (layer scale, drop path, q/k norm, ``norm_pre``) carry no tensors, as in timm.
Unsupported options (register tokens, layer scale, qk-norm, attention pooling, pre-norm,
dynamic image size) are refused rather than silently ignored.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

#: timm's default ``norm_layer``: LayerNorm with eps 1e-6.
TIMM_NORM_EPS = 1e-6


class PatchEmbed(nn.Module):
    def __init__(self, img_size: tuple[int, int], patch_size: int, in_chans: int,
                 embed_dim: int) -> None:
        super().__init__()
        self.grid_size = (img_size[0] // patch_size, img_size[1] // patch_size)
        self.num_patches = self.grid_size[0] * self.grid_size[1]
        self.proj = nn.Conv2d(in_chans, embed_dim, kernel_size=patch_size, stride=patch_size)
        self.norm = nn.Identity()

    def forward(self, x: Tensor) -> Tensor:
        out: Tensor = self.norm(self.proj(x).flatten(2).transpose(1, 2))  # NCHW -> NLC
        return out


class Attention(nn.Module):
    def __init__(self, dim: int, num_heads: int, qkv_bias: bool) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
        self.q_norm = nn.Identity()
        self.k_norm = nn.Identity()
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: Tensor) -> Tensor:
        batch, length, dim = x.shape
        qkv = self.qkv(x).reshape(batch, length, 3, self.num_heads, self.head_dim)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)
        q, k = self.q_norm(q), self.k_norm(k)
        x = F.scaled_dot_product_attention(q, k, v)  # timm's fused path, dropout 0
        out: Tensor = self.proj(x.transpose(1, 2).reshape(batch, length, dim))
        return out


class Mlp(nn.Module):
    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.norm = nn.Identity()
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: Tensor) -> Tensor:
        out: Tensor = self.fc2(self.norm(self.act(self.fc1(x))))
        return out


class Block(nn.Module):
    def __init__(self, dim: int, num_heads: int, mlp_ratio: float, qkv_bias: bool) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=TIMM_NORM_EPS)
        self.attn = Attention(dim, num_heads, qkv_bias)
        self.ls1 = nn.Identity()
        self.drop_path1 = nn.Identity()
        self.norm2 = nn.LayerNorm(dim, eps=TIMM_NORM_EPS)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))
        self.ls2 = nn.Identity()
        self.drop_path2 = nn.Identity()

    def forward(self, x: Tensor) -> Tensor:
        x = x + self.drop_path1(self.ls1(self.attn(self.norm1(x))))
        out: Tensor = x + self.drop_path2(self.ls2(self.mlp(self.norm2(x))))
        return out


_UNSUPPORTED = {"reg_tokens": 0, "pre_norm": False, "dynamic_img_size": False,
                "pos_embed": "learn", "final_norm": True}


class VisionTransformer(nn.Module):
    """``timm.models.vision_transformer.VisionTransformer`` for the options listed above."""

    def __init__(self, img_size: int | list[int] | tuple[int, int] = 224, patch_size: int = 16,
                 in_chans: int = 3, num_classes: int = 1000, global_pool: str = "token",
                 embed_dim: int = 768, depth: int = 12, num_heads: int = 12,
                 mlp_ratio: float = 4.0, qkv_bias: bool = True, class_token: bool = True,
                 no_embed_class: bool = False, fc_norm: bool | None = None,
                 **fixed: Any) -> None:
        super().__init__()
        for name, value in fixed.items():
            if name not in _UNSUPPORTED or value != _UNSUPPORTED[name]:
                raise ValueError(f"replica does not support {name}={value!r}")
        if global_pool not in ("", "token", "avg"):
            raise ValueError(f"replica does not support global_pool={global_pool!r}")
        size = (img_size, img_size) if isinstance(img_size, int) else tuple(img_size)
        self.global_pool = global_pool
        self.num_prefix_tokens = 1 if class_token else 0
        self.no_embed_class = no_embed_class
        # timm: fc_norm=None means "a norm after pooling iff global_pool is avg".
        use_fc_norm = global_pool == "avg" if fc_norm is None else fc_norm
        self.patch_embed = PatchEmbed((size[0], size[1]), patch_size, in_chans, embed_dim)
        num_patches = self.patch_embed.num_patches
        self.cls_token = nn.Parameter(torch.zeros(1, 1, embed_dim)) if class_token else None
        embed_len = num_patches if no_embed_class else num_patches + self.num_prefix_tokens
        self.pos_embed = nn.Parameter(torch.zeros(1, embed_len, embed_dim))
        self.pos_drop = nn.Identity()
        self.patch_drop = nn.Identity()
        self.norm_pre = nn.Identity()
        self.blocks = nn.Sequential(*[Block(embed_dim, num_heads, mlp_ratio, qkv_bias)
                                      for _ in range(depth)])
        self.norm = nn.LayerNorm(embed_dim, eps=TIMM_NORM_EPS) if not use_fc_norm \
            else nn.Identity()
        self.fc_norm = nn.LayerNorm(embed_dim, eps=TIMM_NORM_EPS) if use_fc_norm \
            else nn.Identity()
        self.head_drop = nn.Identity()
        self.head = nn.Linear(embed_dim, num_classes) if num_classes > 0 else nn.Identity()

    def _pos_embed(self, x: Tensor) -> Tensor:
        prefix = [] if self.cls_token is None else [self.cls_token.expand(x.shape[0], -1, -1)]
        if self.no_embed_class:  # add, then concatenate
            x = x + self.pos_embed
            return torch.cat(prefix + [x], dim=1) if prefix else x
        if prefix:  # the original timm / JAX ViT: concatenate, then add (a CLS row)
            x = torch.cat(prefix + [x], dim=1)
        out: Tensor = self.pos_drop(x + self.pos_embed)
        return out

    def forward_features(self, x: Tensor) -> Tensor:
        x = self.norm_pre(self.patch_drop(self._pos_embed(self.patch_embed(x))))
        out: Tensor = self.norm(self.blocks(x))
        return out

    def forward_head(self, x: Tensor, pre_logits: bool = False) -> Tensor:
        if self.global_pool == "avg":
            x = x[:, self.num_prefix_tokens:].mean(dim=1)
        elif self.global_pool == "token":
            x = x[:, 0]
        x = self.head_drop(self.fc_norm(x))
        out: Tensor = x if pre_logits else self.head(x)
        return out

    def forward(self, x: Tensor) -> Tensor:
        return self.forward_head(self.forward_features(x))
