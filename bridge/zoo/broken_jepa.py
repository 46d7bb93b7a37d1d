"""Zoo adapters for I-JEPA and fixed tensors: the reference with one thing broken."""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from maskproof.bridge.audit.protocols import FixedTensor, JEPAForward
from maskproof.bridge.audit.reference import ReferenceAdapter, ReferenceJEPATrainer, padded_masks
from maskproof.runtime.masks import Block, MultiBlockMaskSampler
from maskproof.runtime.models.ijepa import (
    IJEPA,
    check_mask_batch,
    gather_tokens,
    smooth_l1_over_valid,
)
from maskproof.runtime.models.mae import patchify, unpatchify

#: ``(model, images, targets, context, context_valid) -> target features [B, M, L, D]``.
TargetFn = Callable[[IJEPA, Tensor, Tensor, Tensor, Tensor], Tensor]


def forward_with_targets(model: IJEPA, images: Tensor, context_lists: list[list[int]],
                         target_lists: list[list[list[int]]], target_fn: TargetFn
                         ) -> JEPAForward:
    """``IJEPA.forward`` with the target computation replaced by ``target_fn``."""
    masks = padded_masks(context_lists, target_lists)
    check_mask_batch(masks, images.shape[0], model.cfg.num_patches)
    context = torch.where(masks.context_valid, masks.context, 0)
    targets = torch.where(masks.targets_valid, masks.targets, 0)
    target = target_fn(model, images, targets, context, masks.context_valid)
    feats = model.encode_context(images, context, masks.context_valid)
    pred = model.predictor(feats, context, masks.context_valid, targets, masks.targets_valid)
    return JEPAForward(smooth_l1_over_valid(pred, target, masks.targets_valid), pred, target)


def _targets_with_grad(model: IJEPA, images: Tensor, targets: Tensor, _context: Tensor,
                       _valid: Tensor) -> Tensor:
    feats = model.target_encoder(images)
    return gather_tokens(F.layer_norm(feats, (feats.shape[-1],)), targets)


def _targets_of_context_view(model: IJEPA, images: Tensor, targets: Tensor, context: Tensor,
                             valid: Tensor) -> Tensor:
    p = model.cfg.patch_size
    rows = patchify(images, p)
    seen = torch.zeros(rows.shape[:2], dtype=torch.bool)
    seen.scatter_(1, torch.where(valid, context, 0), valid)
    rows = torch.where(seen.unsqueeze(-1), rows, torch.zeros_like(rows))
    view = unpatchify(rows, p, model.cfg.grid_size, model.cfg.in_chans)
    return model.encode_targets(view, targets)


class GradThroughTargetTrainer(ReferenceJEPATrainer):
    def __init__(self, seed: int) -> None:
        super().__init__(seed)
        self.target_encoder.requires_grad_(True)

    def forward(self, images: Tensor, context: list[list[int]],
                targets: list[list[list[int]]]) -> JEPAForward:
        return forward_with_targets(self.model, images, context, targets, _targets_with_grad)


class TargetGradient(ReferenceAdapter):
    """EMA copy without ``requires_grad_(False)``, targets computed outside ``no_grad``."""

    trainer_class = GradThroughTargetTrainer


class MaskedTeacherTrainer(ReferenceJEPATrainer):
    def forward(self, images: Tensor, context: list[list[int]],
                targets: list[list[list[int]]]) -> JEPAForward:
        return forward_with_targets(self.model, images, context, targets,
                                    _targets_of_context_view)


class TeacherSeesContextOnly(ReferenceAdapter):
    """The EMA teacher encodes the student's masked view instead of the full image."""

    trainer_class = MaskedTeacherTrainer


class PaddingScoredTrainer(ReferenceJEPATrainer):
    def forward(self, images: Tensor, context: list[list[int]],
                targets: list[list[list[int]]]) -> JEPAForward:
        out = self.model(images, padded_masks(context, targets))
        return JEPAForward(F.smooth_l1_loss(out.pred, out.target), out.pred, out.target)


class PaddingScored(ReferenceAdapter):
    """The loss averages over every slot of the padded target batch, padding included."""

    trainer_class = PaddingScoredTrainer


class NoEMATrainer(ReferenceJEPATrainer):
    def update_target(self, step: int) -> None:
        pass


class EMANeverCalled(ReferenceAdapter):
    """The momentum update is defined but never called from the training step."""

    trainer_class = NoEMATrainer


class LongHorizonTrainer(ReferenceJEPATrainer):
    def momentum(self, step: int) -> float:
        horizon = 2 * self.ema_horizon  # e.g. iterations per epoch counted twice
        return self.ema_start + (self.ema_end - self.ema_start) * min(step, horizon) / horizon


class EMAHorizonWrong(ReferenceAdapter):
    """The momentum schedule runs over a horizon other than the documented one."""

    trainer_class = LongHorizonTrainer


class EncoderOnlyOptimizerTrainer(ReferenceJEPATrainer):
    def build_optimizer(self) -> torch.optim.Optimizer:
        return torch.optim.AdamW(self.model.context_encoder.parameters(), lr=1e-3)


class PredictorNotOptimized(ReferenceAdapter):
    """The optimizer is built over the context encoder only; the predictor stays at init."""

    trainer_class = EncoderOnlyOptimizerTrainer


class OverlapIgnored(ReferenceAdapter):
    """The collator keeps target cells in the context although overlap is disallowed."""

    def __init__(self) -> None:
        super().__init__()
        self.sampler = MultiBlockMaskSampler(*self.jepa_grid, allow_overlap=True)


class ExclusiveCornerSampler(MultiBlockMaskSampler):
    def _block(self, draws: list[float], scale: tuple[float, float],
               aspect_ratio: tuple[float, float]) -> Block:
        block = super()._block(draws, scale, aspect_ratio)
        # randint(0, H - h): the upper end is exclusive, so the last row and column are lost.
        top_choices = max(self.grid_h - block.height, 1)
        left_choices = max(self.grid_w - block.width, 1)
        top = min(int(draws[2] * top_choices), top_choices - 1)
        left = min(int(draws[3] * left_choices), left_choices - 1)
        return Block(top, left, block.height, block.width)


class ExclusiveCorner(ReferenceAdapter):
    """Block corners drawn with an exclusive upper bound: the last row and column never a
    target."""

    def __init__(self) -> None:
        super().__init__()
        self.sampler = ExclusiveCornerSampler(*self.jepa_grid)


class TrainablePosEmbed(ReferenceAdapter):
    """The sin-cos table registered as a trainable parameter and re-initialised by the
    truncated-normal init loop."""

    def fixed_tensors(self, seed: int) -> list[FixedTensor]:
        out = []
        for fixed in super().fixed_tensors(seed):
            table = nn.Parameter(torch.empty_like(fixed.value))
            with torch.random.fork_rng():
                torch.manual_seed(seed)
                nn.init.trunc_normal_(table, std=0.02)
            out.append(FixedTensor(fixed.name, table, fixed.documented))
        return out


class RowColumnSwapped(ReferenceAdapter):
    """The sin-cos table with the row half of the channels first and the column half second."""

    def fixed_tensors(self, seed: int) -> list[FixedTensor]:
        out = []
        for fixed in super().fixed_tensors(seed):
            half = fixed.value.shape[-1] // 2
            value = torch.cat([fixed.value[..., half:], fixed.value[..., :half]], dim=-1)
            out.append(FixedTensor(fixed.name, value, fixed.documented))
        return out
