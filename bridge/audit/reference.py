"""The adapter for maskproof's own runtime; it must pass every contract.

``maskproof audit bridge.audit.reference:ReferenceAdapter`` audits ``runtime.masks``,
``runtime.models.mae``, ``runtime.models.ijepa`` and ``runtime.optim`` through the protocol of
:mod:`bridge.audit.protocols`. Models are tiny (the contracts are about meaning, not scale) and
non-square with ``C = 2``, where square-only or RGB-only code breaks.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from maskproof.bridge.audit.protocols import FixedTensor, JEPAForward, MAEForward, SinCos2D
from maskproof.bridge.audit.reference_ranks import ReferenceRankLoop
from maskproof.runtime import masks as runtime_masks
from maskproof.runtime.masks import JEPAMaskBatch, MultiBlockMaskSampler, collate_jepa_masks
from maskproof.runtime.models.ijepa import IJEPA, IJEPAConfig, ema_momentum
from maskproof.runtime.models.mae import MAEConfig, MaskedAutoencoderViT, patchify, unpatchify
from maskproof.runtime.optim import build_adamw, param_groups

MAE_CONFIG = MAEConfig(img_size=(8, 6), patch_size=2, in_chans=2, embed_dim=16, depth=1,
                       num_heads=2, decoder_embed_dim=8, decoder_depth=1, decoder_num_heads=2,
                       norm_pix_loss=True)
JEPA_CONFIG = IJEPAConfig(img_size=(12, 12), patch_size=2, in_chans=1, embed_dim=16, depth=1,
                          num_heads=2, pred_embed_dim=8, pred_depth=1, pred_num_heads=2)


def seeded_mae(seed: int, model_class: type[MaskedAutoencoderViT] = MaskedAutoencoderViT
               ) -> MaskedAutoencoderViT:
    """A reference MAE initialised from ``seed`` without touching the global RNG's state."""
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        return model_class(MAE_CONFIG)


def seeded_ijepa(seed: int) -> IJEPA:
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        return IJEPA(JEPA_CONFIG)


def kept_first(mask: Tensor) -> Tensor:
    """Per sample, the visible patch indices (ascending) then the masked ones; one count for all."""
    counts = (mask != 0).sum(dim=1)
    if counts.numel() and bool((counts != counts[0]).any()):
        raise ValueError(f"every sample must mask the same number of patches, got "
                         f"{counts.tolist()}")
    return torch.argsort((mask != 0).to(torch.int8), dim=1, stable=True)


def padded_masks(context: list[list[int]], targets: list[list[list[int]]]) -> JEPAMaskBatch:
    return collate_jepa_masks(context, targets)


class ReferenceJEPATrainer:
    """The runtime's I-JEPA with AdamW over ``runtime.optim.param_groups`` and the linear EMA."""

    ema_start = 0.996
    ema_end = 1.0
    ema_horizon = 8

    def __init__(self, seed: int) -> None:
        self.model = seeded_ijepa(seed)
        self.context_encoder: nn.Module = self.model.context_encoder
        self.target_encoder: nn.Module = self.model.target_encoder
        self.predictor: nn.Module = self.model.predictor
        cfg = self.model.cfg
        self.image_shape = (cfg.in_chans, *cfg.img_size)
        self.grid_size = cfg.grid_size
        self.optimizer: torch.optim.Optimizer = self.build_optimizer()

    def build_optimizer(self) -> torch.optim.Optimizer:
        return build_adamw(param_groups(self.model, 0.05), 1e-3, torch.device("cpu"))

    def forward(self, images: Tensor, context: list[list[int]],
                targets: list[list[list[int]]]) -> JEPAForward:
        out = self.model(images, padded_masks(context, targets))
        return JEPAForward(out.loss, out.pred, out.target)

    def momentum(self, step: int) -> float:
        return ema_momentum(step, self.ema_horizon, self.ema_start, self.ema_end)

    def update_target(self, step: int) -> None:
        self.model.update_target(self.momentum(step))

    def train_step(self, images: Tensor, context: list[list[int]],
                   targets: list[list[list[int]]], step: int) -> None:
        loss = self.forward(images, context, targets).loss
        self.optimizer.zero_grad(set_to_none=True)
        torch.autograd.backward(loss)
        self.optimizer.step()
        self.update_target(step)


class ReferenceAdapter:
    """Every capability, backed by the runtime."""

    patch_size = MAE_CONFIG.patch_size
    in_chans = MAE_CONFIG.in_chans
    norm_pix_loss = MAE_CONFIG.norm_pix_loss
    encoder_image_shape = (MAE_CONFIG.in_chans, *MAE_CONFIG.img_size)
    model_image_shape = encoder_image_shape
    jepa_grid = JEPA_CONFIG.grid_size
    allow_overlap = False
    trainer_class: type[ReferenceJEPATrainer] = ReferenceJEPATrainer
    #: The MAE the model, loss and encoder capabilities run (the zoo swaps in broken ones).
    mae_class: type[MaskedAutoencoderViT] = MaskedAutoencoderViT

    def __init__(self) -> None:
        self.mae = seeded_mae(0, self.mae_class)
        self.module: nn.Module = self.mae
        self.sampler = MultiBlockMaskSampler(*self.jepa_grid)

    # RandomMaskingCapability
    def random_masking(self, x: Tensor, mask_ratio: float,
                       generator: torch.Generator) -> tuple[Tensor, Tensor, Tensor]:
        keep = runtime_masks.mae_keep_count(x.shape[1], mask_ratio)
        out = runtime_masks.random_masking(x, keep, generator)
        return out.x_kept, out.mask_removed, out.ids_restore

    # PatchifyCapability
    def patchify(self, images: Tensor, patch_size: int) -> Tensor:
        return patchify(images, patch_size)

    def unpatchify(self, patches: Tensor, patch_size: int,
                   image_shape: tuple[int, int, int]) -> Tensor:
        chans, height, width = image_shape
        return unpatchify(patches, patch_size, (height // patch_size, width // patch_size), chans)

    # MAELossCapability
    def loss(self, images: Tensor, pred: Tensor, mask: Tensor) -> Tensor:
        return self.mae.forward_loss(images, pred, mask)

    # EncoderCapability: MaskedAutoencoderViT.forward_encoder with the mask given, not drawn.
    def encode(self, images: Tensor, mask: Tensor) -> Tensor:
        encoder = self.mae.encoder
        tokens = encoder.embed_patches(images)
        order = kept_first(mask)
        keep = int((mask[0] == 0).sum()) if mask.shape[0] else 0
        index = order[:, :keep].unsqueeze(-1).expand(-1, -1, tokens.shape[2])
        with torch.no_grad():
            return encoder.forward_tokens(encoder.prepend_cls(torch.gather(tokens, 1, index)))

    # MAEModelCapability: MaskedAutoencoderViT.forward_from_noise itself; a forward hook only
    # records the encoder blocks' output (the latent) on its way to the decoder.
    def mae_forward(self, images: Tensor, noise: Tensor, mask_ratio: float) -> MAEForward:
        keep = runtime_masks.mae_keep_count(noise.shape[1], mask_ratio)
        latents: list[Tensor] = []
        handle = self.mae.encoder.transformer.register_forward_hook(
            lambda _module, _args, out: latents.append(out))
        try:
            out = self.mae.forward_from_noise(images, keep, noise)
        finally:
            handle.remove()
        return MAEForward(out.loss, out.pred, out.mask_removed, out.ids_restore, latents[-1])

    # TorchLean deterministic masks
    def vector_mae_mask(self, x: Tensor, period: int, offset: int) -> Tensor:
        return runtime_masks.vector_mae_mask(x, period, offset)

    def image_patch_mask(self, x: Tensor, patch_h: int, patch_w: int, period: int,
                         offset: int) -> Tensor:
        return runtime_masks.image_patch_mask(x, patch_h, patch_w, period, offset)

    def block_mask_apply(self, x: Tensor, blocks: Sequence[int | None], period: int,
                         offset: int) -> Tensor:
        return runtime_masks.block_mask_apply(x, blocks, period, offset)

    # JEPACollatorCapability
    def sample_jepa_masks(self, batch_size: int, generator: torch.Generator
                          ) -> tuple[list[list[int]], list[list[list[int]]]]:
        return jepa_lists(self.sampler.sample(batch_size, generator))

    # JEPATrainingCapability
    def jepa_trainer(self, seed: int) -> ReferenceJEPATrainer:
        return self.trainer_class(seed)

    # RankedTrainingCapability: the CLI's training loops (bridge.audit.reference_ranks)
    rank_loop_kinds = ("mae", "jepa")

    def rank_loop(self, kind: str, world_size: int, rank: int, seed: int) -> ReferenceRankLoop:
        return ReferenceRankLoop(kind, world_size, rank, seed)

    # FixedTensorsCapability
    def fixed_tensors(self, seed: int) -> list[FixedTensor]:
        mae, jepa = seeded_mae(seed), seeded_ijepa(seed)
        (grid_h, grid_w), (jepa_h, jepa_w) = MAE_CONFIG.grid_size, JEPA_CONFIG.grid_size
        return [
            FixedTensor("mae.encoder.pos_embed", mae.encoder.pos_embed,
                        SinCos2D(MAE_CONFIG.embed_dim, grid_h, grid_w, cls_token=True)),
            FixedTensor("mae.decoder.pos_embed", mae.decoder.pos_embed,
                        SinCos2D(MAE_CONFIG.decoder_embed_dim, grid_h, grid_w, cls_token=True)),
            FixedTensor("ijepa.context_encoder.pos_embed", jepa.context_encoder.pos_embed,
                        SinCos2D(JEPA_CONFIG.embed_dim, jepa_h, jepa_w)),
            FixedTensor("ijepa.predictor.pos_embed", jepa.predictor.pos_embed,
                        SinCos2D(JEPA_CONFIG.pred_embed_dim, jepa_h, jepa_w)),
        ]


def jepa_lists(batch: JEPAMaskBatch) -> tuple[list[list[int]], list[list[list[int]]]]:
    """A padded mask batch as plain per-sample index lists (padding dropped)."""
    contexts = [[int(i) for i, ok in zip(row, valid, strict=True) if ok]
                for row, valid in zip(batch.context.tolist(), batch.context_valid.tolist(),
                                      strict=True)]
    targets = [[[int(i) for i, ok in zip(block, valid, strict=True) if ok]
                for block, valid in zip(rows, valids, strict=True)]
               for rows, valids in zip(batch.targets.tolist(), batch.targets_valid.tolist(),
                                       strict=True)]
    return contexts, targets
