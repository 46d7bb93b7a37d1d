"""Zoo adapters for I-JEPA and fixed tensors: the reference with one thing broken."""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from maskproof.bridge.audit.protocols import FixedTensor, JEPAForward
from maskproof.bridge.audit.reference import ReferenceAdapter, ReferenceJEPATrainer, padded_masks
from maskproof.runtime.masks import Block, BlockDraw, JEPAMaskBatch, MultiBlockMaskSampler
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


def predict(model: IJEPA, feats: Tensor, context: Tensor, context_valid: Tensor,
            targets: Tensor, targets_valid: Tensor, *, target_positions: bool = True,
            key_padding: bool = True) -> Tensor:
    """``JEPAPredictor.forward`` with its target positions or its key-padding mask switchable."""
    predictor = model.predictor
    batch, blocks, target_len = targets.shape
    pos = predictor.pos_embed.expand(batch, -1, -1)
    ctx = predictor.embed(feats) + gather_tokens(pos, context)
    ctx_len, dim = ctx.shape[1], ctx.shape[2]
    ctx = ctx.unsqueeze(1).expand(-1, blocks, -1, -1).reshape(batch * blocks, ctx_len, dim)
    queries = predictor.mask_token.expand(batch, blocks, target_len, dim)
    if target_positions:
        queries = queries + gather_tokens(pos, targets)
    tokens = torch.cat([ctx, queries.reshape(batch * blocks, target_len, dim)], dim=1)
    ctx_valid = context_valid.unsqueeze(1).expand(-1, blocks, -1).reshape(batch * blocks, -1)
    key_valid = torch.cat([ctx_valid, targets_valid.reshape(batch * blocks, -1)], dim=1)
    out: Tensor = predictor.proj(
        predictor.transformer(tokens, key_valid if key_padding else None)[:, ctx_len:, :])
    return out.reshape(batch, blocks, target_len, -1)


class SwitchedJEPATrainer(ReferenceJEPATrainer):
    """``IJEPA.forward`` spelled out, with one switch per zoo defect (all off: the reference)."""

    target_positions = True
    key_padding = True
    reversed_targets = False
    context_sees_full_image = False
    target_layer_norm_applied = True

    def forward(self, images: Tensor, context: list[list[int]],
                targets: list[list[list[int]]]) -> JEPAForward:
        model = self.model
        masks = padded_masks(context, targets)
        check_mask_batch(masks, images.shape[0], model.cfg.num_patches)
        ctx = torch.where(masks.context_valid, masks.context, 0)
        tgt = torch.where(masks.targets_valid, masks.targets, 0)
        gather_at = tgt
        if self.reversed_targets:  # each block's rows gathered back to front
            flipped = [[block[::-1] for block in sample] for sample in targets]
            gather_at = padded_masks(context, flipped).targets
        with torch.no_grad():
            feats = model.target_encoder(images)
            if self.target_layer_norm_applied:
                feats = F.layer_norm(feats, (feats.shape[-1],))
            target = gather_tokens(feats, gather_at)
        if self.context_sees_full_image:  # every patch through the encoder, then gathered
            context_feats = gather_tokens(model.context_encoder(images), ctx)
        else:
            context_feats = model.encode_context(images, ctx, masks.context_valid)
        pred = predict(model, context_feats, ctx, masks.context_valid, tgt, masks.targets_valid,
                       target_positions=self.target_positions, key_padding=self.key_padding)
        return JEPAForward(smooth_l1_over_valid(pred, target, masks.targets_valid), pred, target)


class NoTargetPositionsTrainer(SwitchedJEPATrainer):
    target_positions = False


class PredictorWithoutTargetPositions(ReferenceAdapter):
    """The predictor's mask tokens get no positional embedding: every target row is one
    query."""

    trainer_class = NoTargetPositionsTrainer


class ReversedTargetsTrainer(SwitchedJEPATrainer):
    reversed_targets = True


class TargetRowsReversed(ReferenceAdapter):
    """Target rows gathered in the reverse of the block's index order, so each prediction is
    scored against another patch's target."""

    trainer_class = ReversedTargetsTrainer


class FullImageContextTrainer(SwitchedJEPATrainer):
    context_sees_full_image = True


class ContextSeesTargets(ReferenceAdapter):
    """The context encoder runs on every patch of the image and its output is then gathered at
    the context indices, so target pixels reach the predictions through attention."""

    trainer_class = FullImageContextTrainer


class RawTargetsTrainer(SwitchedJEPATrainer):
    target_layer_norm_applied = False


class TargetsNotLayerNormed(ReferenceAdapter):
    """The target encoder's features are used without I-JEPA's layer norm over features."""

    trainer_class = RawTargetsTrainer


class PaddingAttendedTrainer(SwitchedJEPATrainer):
    key_padding = False


class PaddingAttended(ReferenceAdapter):
    """The predictor runs without its key-padding mask: padded context and target slots are
    attended as if real, so padding changes the real predictions (and through them the loss)."""

    trainer_class = PaddingAttendedTrainer


class PerBatchSizeSampler(MultiBlockMaskSampler):
    def sample(self, batch_size: int, generator: torch.Generator | None = None) -> JEPAMaskBatch:
        rng = torch.Generator() if generator is None else generator
        # One (scale, aspect ratio) pair per target block for the whole batch.
        self.batch_sizes = torch.rand((self.num_targets, 2), generator=rng,
                                      dtype=torch.float64).tolist()
        return super().sample(batch_size, rng)

    def draw_blocks(self, generator: torch.Generator) -> BlockDraw:
        draws = torch.rand((self.num_targets + 1, 4), generator=generator,
                           dtype=torch.float64).tolist()
        targets = [self._block([*self.batch_sizes[k], *draws[k][2:]], self.target_scale,
                               self.target_aspect_ratio) for k in range(self.num_targets)]
        return BlockDraw(targets, self._block(draws[-1], self.context_scale,
                                              self.context_aspect_ratio))


class OneBlockSizePerBatch(ReferenceAdapter):
    """The collator draws each target block's scale and aspect ratio once per batch, as the
    official I-JEPA collator does, without declaring per_batch_block_size."""

    def __init__(self) -> None:
        super().__init__()
        self.sampler = PerBatchSizeSampler(*self.jepa_grid)
