"""Zoo adapters for MAE masking, patchify, loss and encoder: the reference with one thing broken.

Each class overrides exactly one method of :class:`ReferenceAdapter` with code in the shape the
bug had in the public report its card cites.
"""

from __future__ import annotations

import torch
from torch import Tensor

from maskproof.bridge.audit.reference import ReferenceAdapter, kept_first
from maskproof.runtime import masks as runtime_masks
from maskproof.runtime.models.mae import masked_patch_loss, patchify


def _split(x: Tensor, ids_shuffle: Tensor, keep: int) -> tuple[Tensor, Tensor]:
    ids_restore = torch.argsort(ids_shuffle, dim=1)
    index = ids_shuffle[:, :keep].unsqueeze(-1).expand(-1, -1, x.shape[2])
    return torch.gather(x, 1, index), ids_restore


class RatioIgnored(ReferenceAdapter):
    """``random_masking(x)`` called without the ratio: the default 0.75 is always used."""

    def random_masking(self, x: Tensor, mask_ratio: float,
                       generator: torch.Generator) -> tuple[Tensor, Tensor, Tensor]:
        return super().random_masking(x, 0.75, generator)


class FloatKeepCount(ReferenceAdapter):
    """``len_keep = int(L * (1 - mask_ratio))`` in binary floating point."""

    def random_masking(self, x: Tensor, mask_ratio: float,
                       generator: torch.Generator) -> tuple[Tensor, Tensor, Tensor]:
        keep = int(x.shape[1] * (1 - mask_ratio))
        out = runtime_masks.random_masking(x, keep, generator)
        return out.x_kept, out.mask_removed, out.ids_restore


class MaskWithReplacement(ReferenceAdapter):
    """Masked positions drawn with ``randint`` (with replacement): duplicates mask fewer."""

    def random_masking(self, x: Tensor, mask_ratio: float,
                       generator: torch.Generator) -> tuple[Tensor, Tensor, Tensor]:
        batch, tokens, _ = x.shape
        keep = runtime_masks.mae_keep_count(tokens, mask_ratio)
        picked = torch.randint(0, tokens, (batch, tokens - keep), generator=generator)
        mask = torch.zeros(batch, tokens).scatter_(1, picked, 1.0)
        ids_shuffle = torch.argsort(mask, dim=1, stable=True)
        kept, ids_restore = _split(x, ids_shuffle, keep)
        return kept, mask, ids_restore


class RestoreIsShuffle(ReferenceAdapter):
    """``ids_restore`` returned as the shuffle itself (the second argsort forgotten)."""

    def random_masking(self, x: Tensor, mask_ratio: float,
                       generator: torch.Generator) -> tuple[Tensor, Tensor, Tensor]:
        keep = runtime_masks.mae_keep_count(x.shape[1], mask_ratio)
        out = runtime_masks.random_masking(x, keep, generator)
        ids_shuffle = torch.argsort(out.ids_restore, dim=1)
        return out.x_kept, out.mask_removed, ids_shuffle


class GatherSampleZero(ReferenceAdapter):
    """Kept tokens gathered with sample 0's indices for the whole batch."""

    def random_masking(self, x: Tensor, mask_ratio: float,
                       generator: torch.Generator) -> tuple[Tensor, Tensor, Tensor]:
        keep = runtime_masks.mae_keep_count(x.shape[1], mask_ratio)
        out = runtime_masks.random_masking(x, keep, generator)
        first = out.ids_keep[:1].expand(x.shape[0], -1)
        kept = torch.gather(x, 1, first.unsqueeze(-1).expand(-1, -1, x.shape[2]))
        return kept, out.mask_removed, out.ids_restore


class SquareUnpatchify(ReferenceAdapter):
    """``h = w = int(N ** 0.5)`` in unpatchify: only square images round-trip."""

    def unpatchify(self, patches: Tensor, patch_size: int,
                   image_shape: tuple[int, int, int]) -> Tensor:
        side = int(patches.shape[1] ** 0.5)
        chans = image_shape[0]
        x = patches.reshape(patches.shape[0], side, side, patch_size, patch_size, chans)
        x = torch.einsum("nhwpqc->nchpwq", x)
        return x.reshape(patches.shape[0], chans, side * patch_size, side * patch_size)


class ColumnMajorPatches(ReferenceAdapter):
    """Patches numbered column by column (``nchpwq->nwhpqc``), un-done consistently, so the
    round trip holds but row ``i`` is not grid cell ``i``."""

    def patchify(self, images: Tensor, patch_size: int) -> Tensor:
        batch, chans, height, width = images.shape
        p = patch_size
        x = images.reshape(batch, chans, height // p, p, width // p, p)
        x = torch.einsum("nchpwq->nwhpqc", x)
        return x.reshape(batch, (height // p) * (width // p), p * p * chans)

    def unpatchify(self, patches: Tensor, patch_size: int,
                   image_shape: tuple[int, int, int]) -> Tensor:
        chans, height, width = image_shape
        p = patch_size
        x = patches.reshape(patches.shape[0], width // p, height // p, p, p, chans)
        x = torch.einsum("nwhpqc->nchpwq", x)
        return x.reshape(patches.shape[0], chans, height, width)


class InvertedPolarity(ReferenceAdapter):
    """The "masked-only" loss applied with ``~mask`` to a True = masked mask: visible scored."""

    def loss(self, images: Tensor, pred: Tensor, mask: Tensor) -> Tensor:
        return masked_patch_loss(self.mae.loss_target(images), pred, 1.0 - mask)


class AllPatchesScored(ReferenceAdapter):
    """Masked and visible patches averaged together."""

    def loss(self, images: Tensor, pred: Tensor, mask: Tensor) -> Tensor:
        return (pred - self.mae.loss_target(images)).pow(2).mean()


class MeanDividedTwice(ReferenceAdapter):
    """The masked mean divided once more by the masked count."""

    def loss(self, images: Tensor, pred: Tensor, mask: Tensor) -> Tensor:
        return super().loss(images, pred, mask) / mask.sum()


class ShiftedLossMask(ReferenceAdapter):
    """Loss mask shifted by one position (a CLS token counted where there is none)."""

    def loss(self, images: Tensor, pred: Tensor, mask: Tensor) -> Tensor:
        shifted = torch.cat([mask[:, 1:], torch.zeros_like(mask[:, :1])], dim=1)
        return masked_patch_loss(self.mae.loss_target(images), pred, shifted)


def _normalised_loss(images: Tensor, pred: Tensor, mask: Tensor, p: int, biased: bool,
                     eps_inside: bool) -> Tensor:
    target = patchify(images, p)
    mean = target.mean(dim=-1, keepdim=True)
    var = target.var(dim=-1, keepdim=True, unbiased=not biased)
    scale = (var + 1e-6) ** 0.5 if eps_inside else var**0.5 + 1e-6
    return masked_patch_loss((target - mean) / scale, pred, mask)


class BiasedVariance(ReferenceAdapter):
    """norm-pix with the biased (population) variance."""

    def loss(self, images: Tensor, pred: Tensor, mask: Tensor) -> Tensor:
        return _normalised_loss(images, pred, mask, self.patch_size, True, True)


class EpsOutsideSqrt(ReferenceAdapter):
    """norm-pix dividing by ``sqrt(var) + eps`` instead of ``sqrt(var + eps)``."""

    def loss(self, images: Tensor, pred: Tensor, mask: Tensor) -> Tensor:
        return _normalised_loss(images, pred, mask, self.patch_size, False, False)


class EncoderSeesFullImage(ReferenceAdapter):
    """Every patch goes through the encoder blocks; the kept rows are sliced out afterwards."""

    def encode(self, images: Tensor, mask: Tensor) -> Tensor:
        encoder = self.mae.encoder
        with torch.no_grad():
            full = encoder.forward_tokens(encoder.prepend_cls(encoder.embed_patches(images)))
        keep = int((mask[0] == 0).sum())
        order = kept_first(mask)[:, :keep] + 1  # +1: skip the CLS row
        index = torch.cat([torch.zeros_like(order[:, :1]), order], dim=1)
        return torch.gather(full, 1, index.unsqueeze(-1).expand(-1, -1, full.shape[2]))


class BatchStatistics(ReferenceAdapter):
    """Pixels standardised with the whole batch's mean and std before the encoder."""

    def encode(self, images: Tensor, mask: Tensor) -> Tensor:
        return super().encode((images - images.mean()) / images.std(), mask)
