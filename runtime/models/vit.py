"""A plain Vision Transformer encoder: patch embedding, fixed sin-cos positions, pre-norm blocks.

Token order everywhere is row-major over the patch grid (see :mod:`runtime.models.pos_embed`).
Attention runs on :func:`torch.nn.functional.scaled_dot_product_attention`; an optional
``key_valid`` mask ``[B, L]`` (``True`` = a real token) keeps padding tokens out of every
attention row, which is what the padded I-JEPA context batches need.
"""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.attention import SDPBackend, sdpa_kernel

from maskproof.runtime.models.pos_embed import sincos_2d

#: LayerNorm epsilon of the official MAE / I-JEPA code.
LAYER_NORM_EPS = 1e-6


def patch_grid(img_size: tuple[int, int], patch_size: int) -> tuple[int, int]:
    """Return ``(grid_h, grid_w)`` or raise if the image does not split into whole patches."""
    height, width = img_size
    if patch_size <= 0:
        raise ValueError(f"patch size must be positive, got {patch_size}")
    if height <= 0 or width <= 0:
        raise ValueError(f"image size must be positive, got {height}x{width}")
    if height % patch_size != 0 or width % patch_size != 0:
        raise ValueError(
            f"image size {height}x{width} is not divisible by patch size {patch_size}"
        )
    return height // patch_size, width // patch_size


class PatchEmbed(nn.Module):
    """Cut ``[B, C, H, W]`` into ``patch × patch`` tiles and project each to ``embed_dim``.

    A ``Conv2d`` whose stride equals its kernel touches every pixel of exactly one patch, so a
    token depends on its own patch's pixels only.
    """

    def __init__(
        self, img_size: tuple[int, int], patch_size: int, in_chans: int, embed_dim: int
    ) -> None:
        super().__init__()
        if in_chans <= 0:
            raise ValueError(f"number of input channels must be positive, got {in_chans}")
        self.img_size = img_size
        self.patch_size = patch_size
        self.in_chans = in_chans
        self.grid_size = patch_grid(img_size, patch_size)
        self.num_patches = self.grid_size[0] * self.grid_size[1]
        self.proj = nn.Conv2d(in_chans, embed_dim, kernel_size=patch_size, stride=patch_size)

    def forward(self, imgs: Tensor) -> Tensor:
        expected = (self.in_chans, *self.img_size)
        if imgs.dim() != 4 or tuple(imgs.shape[1:]) != expected:
            raise ValueError(
                f"expected images of shape [B, {expected[0]}, {expected[1]}, {expected[2]}], "
                f"got {list(imgs.shape)}"
            )
        tokens: Tensor = self.proj(imgs)
        return tokens.flatten(2).transpose(1, 2)


class Attention(nn.Module):
    """Multi-head self-attention with an optional key-padding mask."""

    def __init__(self, dim: int, num_heads: int) -> None:
        super().__init__()
        if num_heads <= 0 or dim % num_heads != 0:
            raise ValueError(f"width {dim} is not divisible by number of heads {num_heads}")
        self.num_heads = num_heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: Tensor, key_valid: Tensor | None = None) -> Tensor:
        batch, length, dim = x.shape
        qkv = self.qkv(x).reshape(batch, length, 3, self.num_heads, dim // self.num_heads)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)  # each [B, heads, L, head_dim]
        attn_mask = None if key_valid is None else key_valid[:, None, None, :]
        with _compiled_cpu_backend(x):
            out = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask)
        projected: Tensor = self.proj(out.transpose(1, 2).reshape(batch, length, dim))
        return projected


def _compiled_cpu_backend(x: Tensor) -> AbstractContextManager[None]:
    """SDPA's math backend when ``torch.compile`` traces for CPU; the default choice otherwise.

    Traced, the math backend is two batched matmuls around a softmax that inductor fuses with the
    scaling and masking. For the short token sequences of a masked encoder that beats the CPU
    flash kernel: a whole training step 5–9% faster at ``bench/throughput.py --preset tiny``
    (5 and 17 tokens), no difference at its 32×32×3 default (17 and 65). Run eagerly, the
    unfused math backend is the slower one, so eager code keeps PyTorch's choice. Both compute
    the same attention.
    """
    if x.device.type == "cpu" and torch.compiler.is_compiling():
        return sdpa_kernel(SDPBackend.MATH)
    return nullcontext()


class Mlp(nn.Module):
    """Two linear layers with a GELU between them."""

    def __init__(self, dim: int, hidden_dim: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden_dim)
        self.fc2 = nn.Linear(hidden_dim, dim)

    def forward(self, x: Tensor) -> Tensor:
        out: Tensor = self.fc2(F.gelu(self.fc1(x)))
        return out


class Block(nn.Module):
    """Pre-norm transformer block: ``x + attn(norm(x))`` then ``x + mlp(norm(x))``."""

    def __init__(self, dim: int, num_heads: int, mlp_ratio: float) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=LAYER_NORM_EPS)
        self.attn = Attention(dim, num_heads)
        self.norm2 = nn.LayerNorm(dim, eps=LAYER_NORM_EPS)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))

    def forward(self, x: Tensor, key_valid: Tensor | None = None) -> Tensor:
        x = x + self.attn(self.norm1(x), key_valid)
        out: Tensor = x + self.mlp(self.norm2(x))
        return out


class Transformer(nn.Module):
    """A stack of pre-norm blocks followed by a final LayerNorm."""

    def __init__(self, dim: int, depth: int, num_heads: int, mlp_ratio: float) -> None:
        super().__init__()
        if depth < 0:
            raise ValueError(f"transformer depth must be non-negative, got {depth}")
        self.blocks = nn.ModuleList(Block(dim, num_heads, mlp_ratio) for _ in range(depth))
        self.norm = nn.LayerNorm(dim, eps=LAYER_NORM_EPS)

    def forward(self, x: Tensor, key_valid: Tensor | None = None) -> Tensor:
        if key_valid is not None:
            check_key_valid(key_valid, x)
        for block in self.blocks:
            x = block(x, key_valid)
        out: Tensor = self.norm(x)
        return out


def check_key_valid(key_valid: Tensor, x: Tensor) -> None:
    """Raise unless ``key_valid`` is a bool ``[B, L]`` mask matching tokens ``x [B, L, D]``."""
    if key_valid.dtype != torch.bool or tuple(key_valid.shape) != tuple(x.shape[:2]):
        raise ValueError(
            f"key_valid must be a bool mask of shape {list(x.shape[:2])}, "
            f"got {key_valid.dtype} {list(key_valid.shape)}"
        )


class ViTEncoder(nn.Module):
    """Patch embedding + fixed 2-D sin-cos positions (+ optional CLS token) + transformer.

    ``pos_embed`` is a buffer (saved with the weights, never trained) of shape
    ``[1, (1 if use_cls_token) + N, embed_dim]``; its CLS row is all zeros.
    """

    def __init__(
        self,
        img_size: tuple[int, int],
        patch_size: int,
        in_chans: int,
        embed_dim: int,
        depth: int,
        num_heads: int,
        mlp_ratio: float = 4.0,
        use_cls_token: bool = True,
    ) -> None:
        super().__init__()
        self.embed_dim = embed_dim
        self.patch_embed = PatchEmbed(img_size, patch_size, in_chans, embed_dim)
        self.num_patches = self.patch_embed.num_patches
        self.use_cls_token = use_cls_token
        self.cls_token = nn.Parameter(torch.zeros(1, 1, embed_dim)) if use_cls_token else None
        grid_h, grid_w = self.patch_embed.grid_size
        table = sincos_2d(embed_dim, grid_h, grid_w, cls_token=use_cls_token)
        self.pos_embed: Tensor
        self.register_buffer("pos_embed", table.unsqueeze(0))
        self.transformer = Transformer(embed_dim, depth, num_heads, mlp_ratio)

    def embed_patches(self, imgs: Tensor) -> Tensor:
        """Patch tokens plus their positional embedding, ``[B, N, D]`` (no CLS)."""
        offset = 1 if self.use_cls_token else 0
        tokens: Tensor = self.patch_embed(imgs)
        return tokens + self.pos_embed[:, offset:, :]

    def prepend_cls(self, tokens: Tensor) -> Tensor:
        """Prepend the CLS token (plus its all-zero position row) if this encoder has one."""
        if self.cls_token is None:
            return tokens
        cls = (self.cls_token + self.pos_embed[:, :1, :]).expand(tokens.shape[0], -1, -1)
        return torch.cat([cls, tokens], dim=1)

    def forward_tokens(self, tokens: Tensor, key_valid: Tensor | None = None) -> Tensor:
        """Run already-embedded tokens through the blocks and the final norm."""
        out: Tensor = self.transformer(tokens, key_valid)
        return out

    def forward(self, imgs: Tensor) -> Tensor:
        """All tokens of the full image, ``[B, (1) + N, D]`` after the final norm."""
        return self.forward_tokens(self.prepend_cls(self.embed_patches(imgs)))


def init_transformer_weights(module: nn.Module) -> None:
    """Paper-style init: xavier-uniform Linear weights, zero biases, unit LayerNorms.

    The patch-embedding convolution is initialised as the Linear it is (xavier on the weight
    viewed as ``[out, in·k·k]``); CLS and mask tokens are set by the owning model.
    """
    for sub in module.modules():
        if isinstance(sub, nn.Linear):
            nn.init.xavier_uniform_(sub.weight)
            if sub.bias is not None:
                nn.init.zeros_(sub.bias)
        elif isinstance(sub, nn.LayerNorm):
            nn.init.ones_(sub.weight)
            nn.init.zeros_(sub.bias)
        elif isinstance(sub, PatchEmbed):
            weight = sub.proj.weight
            nn.init.xavier_uniform_(weight.view(weight.shape[0], -1))
