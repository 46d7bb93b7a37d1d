"""Zoo adapters for the MAE model's own forward, mask sources and the empty-mask loss.

The model cards swap :attr:`ReferenceAdapter.mae_class` for a :class:`MaskedAutoencoderViT`
with one step of its forward broken; the rest keep the reference model and override one
adapter method, as the cards of :mod:`bridge.zoo.broken_mae` do. :func:`decode` is
``MAEDecoder.forward`` step by step with a switch per step, so each decoder card turns off
exactly one (``tests/bridge/test_audit_model.py`` checks that all switches on is the decoder).
"""

from __future__ import annotations

import torch
from torch import Tensor

from maskproof.bridge.audit.reference import ReferenceAdapter
from maskproof.runtime import masks as runtime_masks
from maskproof.runtime.masks import random_masking_from_noise
from maskproof.runtime.models.mae import MAEDecoder, MAEOutput, MaskedAutoencoderViT


def decode(decoder: MAEDecoder, latent: Tensor, ids_restore: Tensor, *, positions: bool = True,
           unshuffle: bool = True, mask_token: bool = True, drop_cls: bool = True) -> Tensor:
    """``MAEDecoder.forward``; each switch off skips one step (``drop_cls=False`` returns all
    ``1 + N`` rows, CLS first)."""
    x = decoder.embed(latent)
    batch, kept = x.shape[0], x.shape[1] - 1
    token = decoder.mask_token if mask_token else torch.zeros_like(decoder.mask_token)
    tokens = token.expand(batch, ids_restore.shape[1] - kept, -1)
    rows = torch.cat([x[:, 1:, :], tokens], dim=1)
    if unshuffle:
        rows = torch.gather(rows, 1, ids_restore.unsqueeze(-1).expand(-1, -1, x.shape[2]))
    x = torch.cat([x[:, :1, :], rows], dim=1)
    if positions:
        x = x + decoder.pos_embed
    out: Tensor = decoder.pred(decoder.transformer(x))
    return out[:, 1:, :] if drop_cls else out


class _PosAddedTwiceMAE(MaskedAutoencoderViT):
    def forward_encoder_from_noise(self, imgs: Tensor, keep_count: int, noise: Tensor
                                   ) -> tuple[Tensor, Tensor, Tensor]:
        masking = random_masking_from_noise(self.encoder.embed_patches(imgs), keep_count, noise)
        # Added again to "the sequence", indexed by slot: slot k gets patch k's position.
        kept = masking.x_kept + self.encoder.pos_embed[:, 1:keep_count + 1, :]
        latent = self.encoder.forward_tokens(self.encoder.prepend_cls(kept))
        return latent, masking.mask_removed, masking.ids_restore


class PosAddedTwice(ReferenceAdapter):
    """The encoder adds the position table once per patch before masking and again to the
    kept sequence after it, by slot (``x + pos_embed[:, 1:K + 1]``)."""

    mae_class = _PosAddedTwiceMAE


class _EncoderWithoutPositionsMAE(MaskedAutoencoderViT):
    def forward_encoder_from_noise(self, imgs: Tensor, keep_count: int, noise: Tensor
                                   ) -> tuple[Tensor, Tensor, Tensor]:
        tokens = self.encoder.patch_embed(imgs)  # the position table never added
        masking = random_masking_from_noise(tokens, keep_count, noise)
        latent = self.encoder.forward_tokens(self.encoder.prepend_cls(masking.x_kept))
        return latent, masking.mask_removed, masking.ids_restore


class EncoderWithoutPositions(ReferenceAdapter):
    """The model's forward embeds patches without adding the encoder's position table."""

    mae_class = _EncoderWithoutPositionsMAE


class _DecoderWithoutPositionsMAE(MaskedAutoencoderViT):
    def forward_decoder(self, latent: Tensor, ids_restore: Tensor) -> Tensor:
        return decode(self.decoder, latent, ids_restore, positions=False)


class DecoderWithoutPositions(ReferenceAdapter):
    """The decoder never adds its position table: every mask token enters it identical."""

    mae_class = _DecoderWithoutPositionsMAE


class _NoUnshuffleMAE(MaskedAutoencoderViT):
    def forward_decoder(self, latent: Tensor, ids_restore: Tensor) -> Tensor:
        return decode(self.decoder, latent, ids_restore, unshuffle=False)


class NoUnshuffle(ReferenceAdapter):
    """The decoder appends the mask tokens but never applies ``ids_restore``: its rows stay in
    shuffle order, so row ``i`` is not patch ``i``."""

    mae_class = _NoUnshuffleMAE


class _MaskTokenUnusedMAE(MaskedAutoencoderViT):
    def forward_decoder(self, latent: Tensor, ids_restore: Tensor) -> Tensor:
        return decode(self.decoder, latent, ids_restore, mask_token=False)


class MaskTokenUnused(ReferenceAdapter):
    """The removed patches enter the decoder as zeros; the learned ``mask_token`` is never
    read, so it never trains."""

    mae_class = _MaskTokenUnusedMAE


class _ClsSliceOffByOneMAE(MaskedAutoencoderViT):
    def forward_from_noise(self, imgs: Tensor, keep_count: int, noise: Tensor) -> MAEOutput:
        latent, mask_removed, ids_restore = self.forward_encoder_from_noise(
            imgs, keep_count, noise)
        rows = decode(self.decoder, latent, ids_restore, drop_cls=False)  # [B, 1 + N, P]
        loss = self.forward_loss(imgs, rows[:, :-1, :], mask_removed)  # drops the wrong end
        return MAEOutput(loss, rows[:, 1:, :], mask_removed, ids_restore)


class ClsSliceOffByOne(ReferenceAdapter):
    """The decoder keeps the CLS row; the forward returns ``rows[:, 1:]`` as the prediction but
    scores ``rows[:, :-1]``, one row off next to CLS."""

    mae_class = _ClsSliceOffByOneMAE


class GlobalRNGMasking(ReferenceAdapter):
    """``random_masking`` draws its noise with ``torch.rand`` from the global RNG; the
    generator it is handed is ignored."""

    def random_masking(self, x: Tensor, mask_ratio: float,
                       generator: torch.Generator) -> tuple[Tensor, Tensor, Tensor]:
        keep = runtime_masks.mae_keep_count(x.shape[1], mask_ratio)
        out = random_masking_from_noise(x, keep, torch.rand(x.shape[0], x.shape[1]))
        return out.x_kept, out.mask_removed, out.ids_restore


class OneNoisePerBatch(ReferenceAdapter):
    """One noise row drawn for the batch and broadcast: every sample masks the same patches."""

    def random_masking(self, x: Tensor, mask_ratio: float,
                       generator: torch.Generator) -> tuple[Tensor, Tensor, Tensor]:
        keep = runtime_masks.mae_keep_count(x.shape[1], mask_ratio)
        noise = torch.rand(1, x.shape[1], generator=generator).expand(x.shape[0], -1)
        out = random_masking_from_noise(x, keep, noise)
        return out.x_kept, out.mask_removed, out.ids_restore


class UnclampedMaskMean(ReferenceAdapter):
    """``(loss * mask).sum() / mask.sum()``: right on every non-empty mask, 0/0 = NaN at mask
    ratio 0."""

    def loss(self, images: Tensor, pred: Tensor, mask: Tensor) -> Tensor:
        per_patch = (pred - self.mae.loss_target(images)).pow(2).mean(dim=-1)
        return (per_patch * mask).sum() / mask.sum()
