"""The four trainable objectives behind one protocol the training loop and the probe use.

A :class:`Task` builds its model for the data's ``(C, H, W)``, computes the loss of one batch
slice from the run's single CPU ``torch.Generator``, runs its after-step hook (the EMA target
update for I-JEPA), names its probe features and reconstructions, and computes the metrics logged
on a fixed batch at each logged step (I-JEPA's collapse metrics).

Multi-process equivalence. Every rank holds the same generator state and trains on its slice
``[start, stop)`` of the global batch. Each task consumes the generator exactly as a single
process would for the whole batch, so a rank's masks are the rows the one-process run would give
those samples: MAE draws its per-sample noise row by row (:func:`runtime.masks.random_masking`),
so a rank skips the rows before its slice and after it; I-JEPA samples the masks of the whole
global batch and keeps its rows; the compact tasks draw nothing. Each rank's loss is scaled so
that DDP's mean over ranks equals the one-process loss on the whole batch (only I-JEPA needs
this: its samples have different numbers of valid target tokens).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol, TypeVar

import torch
from torch import Tensor, nn

from maskproof.runtime.config import TrainConfig, parse_ratio
from maskproof.runtime.errors import UserError
from maskproof.runtime.optim import param_groups

ModelT = TypeVar("ModelT", bound=nn.Module)


@dataclass(frozen=True)
class Shard:
    """This rank's rows ``[start, stop)`` of a global batch of ``global_size`` samples."""

    start: int
    stop: int
    global_size: int

    @classmethod
    def whole(cls, size: int) -> Shard:
        return cls(0, size, size)


class StepOutputs(NamedTuple):
    """One training step's forward pass on this rank's rows.

    ``loss`` is what backward runs on (for I-JEPA under DDP, scaled by the rank's share of the
    valid target tokens); ``local_loss`` is the objective of this rank's rows alone. ``tensors``
    holds the detached tensors the loss was computed from, keyed by name (per task: MAE
    ``images, pred, mask_removed, ids_restore``; I-JEPA ``pred, target, context, context_valid,
    targets, targets_valid``; vector MAE ``x, pred``; image MAE ``images, pred``), so a live
    check can recompute the objective without running the model again.
    """

    loss: Tensor
    local_loss: Tensor
    tensors: dict[str, Tensor]


class Reconstructions(NamedTuple):
    """What ``reconstructions.png`` shows for ``[K, C, H, W]`` images.

    ``hidden`` is ``bool[K, 1, H, W]``: the pixels the model did not see (drawn in a colour no
    image pixel has). ``caption`` says in which space the reconstruction is shown and what it is
    made of (e.g. the norm-pix MAE's un-normalisation with the true patches' mean and std).
    """

    original: Tensor
    hidden: Tensor
    reconstruction: Tensor
    caption: str


class Task(Protocol):
    """What the training loop and the probe need from an objective."""

    name: str

    def build_model(self) -> nn.Module: ...

    def forward_step(self, model: nn.Module, images: Tensor, generator: torch.Generator,
                     shard: Shard) -> StepOutputs:
        """Loss of ``images`` (this rank's slice) and its inputs; ``model`` may be DDP."""
        ...

    def loss(self, model: nn.Module, images: Tensor, generator: torch.Generator,
             shard: Shard) -> Tensor:
        """``forward_step(...).loss``."""
        ...

    def after_step(self, model: nn.Module, step: int, total_steps: int) -> None:
        """Called after optimizer update number ``step`` (0-based) on the unwrapped model."""
        ...

    def features(self, model: nn.Module, images: Tensor) -> dict[str, Tensor]:
        """Named frozen-encoder feature sets ``[B, F]`` for the linear probe."""
        ...

    def reconstructions(self, model: nn.Module, images: Tensor,
                        generator: torch.Generator) -> Reconstructions | None:
        """Originals, hidden pixels and reconstructions for the PNG grid, if the task has any."""
        ...

    def monitor(self, model: nn.Module, images: Tensor) -> dict[str, float]:
        """Metrics of the unwrapped ``model`` (eval mode, no grad) on a fixed batch, logged at
        every logged step; must not draw from any generator."""
        ...

    def param_groups(self, model: nn.Module, weight_decay: float) -> list[dict[str, Any]]: ...


def _image_fits_patch(config: TrainConfig, height: int, width: int, exact: bool) -> None:
    patch = config.patch_size
    if patch > height or patch > width:
        raise UserError(f"--patch-size {patch}: larger than the {height}x{width} image")
    if exact and (height % patch or width % patch):
        raise UserError(f"--patch-size {patch}: the {height}x{width} image does not split into "
                        f"whole patches; the ViT needs H and W divisible by the patch size")


def _typed(model: nn.Module, kind: type[ModelT]) -> ModelT:
    """The unwrapped model as its concrete class (the loop never passes a DDP wrapper here)."""
    if not isinstance(model, kind):
        raise TypeError(f"expected a {kind.__name__}, got {type(model).__name__}")
    return model


def _preset(presets: dict[str, Any], name: str, task: str) -> Any:
    if name not in presets:
        raise UserError(f"--model {name!r}: no {task} preset of that name; expected one of "
                        f"{', '.join(sorted(presets))}")
    return presets[name]


class _TaskBase:
    """What the four tasks share: the loss is ``forward_step``'s, no after-step work, and the
    AdamW groups of :func:`runtime.optim.param_groups` (which leave out frozen parameters, such
    as I-JEPA's target encoder)."""

    def forward_step(self, model: nn.Module, images: Tensor, generator: torch.Generator,
                     shard: Shard) -> StepOutputs:
        raise NotImplementedError

    def loss(self, model: nn.Module, images: Tensor, generator: torch.Generator,
             shard: Shard) -> Tensor:
        return self.forward_step(model, images, generator, shard).loss

    def after_step(self, model: nn.Module, step: int, total_steps: int) -> None:
        return None

    def monitor(self, model: nn.Module, images: Tensor) -> dict[str, float]:
        return {}

    def param_groups(self, model: nn.Module, weight_decay: float) -> list[dict[str, Any]]:
        return param_groups(model, weight_decay)


class MAETask(_TaskBase):
    """The paper MAE: random masking at ``--mask-ratio``, per-patch MSE on masked patches."""

    name = "mae"

    def __init__(self, config: TrainConfig, shape: tuple[int, int, int]) -> None:
        from maskproof.runtime.models.mae import MAE_PRESETS

        channels, height, width = shape
        _image_fits_patch(config, height, width, exact=True)
        self.mask_ratio = parse_ratio(config.mask_ratio)
        try:
            self.model_config = dataclasses.replace(
                _preset(MAE_PRESETS, config.model, "mae"), img_size=(height, width),
                patch_size=config.patch_size, in_chans=channels,
                norm_pix_loss=config.norm_pix_loss)
        except ValueError as error:
            raise UserError(f"mae model for {channels}x{height}x{width} images: {error}") from None

    def build_model(self) -> nn.Module:
        from maskproof.runtime.models.mae import MaskedAutoencoderViT

        return MaskedAutoencoderViT(self.model_config)

    def forward_step(self, model: nn.Module, images: Tensor, generator: torch.Generator,
                     shard: Shard) -> StepOutputs:
        patches = self.model_config.num_patches
        _skip_noise_rows(generator, shard.start, patches)
        out = model(images, self.mask_ratio, generator)
        _skip_noise_rows(generator, shard.global_size - shard.stop, patches)
        return StepOutputs(out.loss, out.loss.detach(), {
            "images": images, "pred": out.pred.detach(), "mask_removed": out.mask_removed,
            "ids_restore": out.ids_restore})

    def features(self, model: nn.Module, images: Tensor) -> dict[str, Tensor]:
        from maskproof.runtime.models.mae import MaskedAutoencoderViT

        tokens = _typed(model, MaskedAutoencoderViT).forward_features(images)  # CLS first
        cls, mean = tokens[:, 0], tokens[:, 1:].mean(dim=1)
        return {"cls": cls, "mean_patch": mean, "cls+mean_patch": torch.cat([cls, mean], dim=1)}

    def reconstructions(self, model: nn.Module, images: Tensor,
                        generator: torch.Generator) -> Reconstructions | None:
        from maskproof.runtime.models.mae import NORM_PIX_EPS, MaskedAutoencoderViT

        mae = _typed(model, MaskedAutoencoderViT)
        out = mae(images, self.mask_ratio, generator)
        pred = out.pred.float()
        caption = "hidden patches: raw-pixel prediction; visible patches copied from the input"
        if self.model_config.norm_pix_loss:
            # The model predicts per-patch normalised pixels; to show them as an image they are
            # un-normalised with the TRUE patch's mean and std, which the model never saw.
            target = mae.patchify(images)
            mean = target.mean(dim=-1, keepdim=True)
            std = (target.var(dim=-1, keepdim=True, unbiased=True) + NORM_PIX_EPS) ** 0.5
            pred = pred * std + mean
            caption = ("hidden patches: norm-pix prediction un-normalised with the TRUE patch "
                       "mean/std; visible patches copied from the input")
        removed = out.mask_removed.unsqueeze(-1).expand_as(pred)
        removed_pixels = mae.unpatchify(removed)
        hidden = removed_pixels[:, :1] > 0.5
        pasted = torch.where(hidden, mae.unpatchify(pred), images)
        return Reconstructions(images, hidden, pasted, caption)


def _skip_noise_rows(generator: torch.Generator, rows: int, patches: int) -> None:
    """Advance ``generator`` past ``rows`` samples' masking noise: the same draw the model makes
    (``masking_noise``, row by row), so a rank's rows equal the one-process run's."""
    from maskproof.runtime.masks import masking_noise

    if rows > 0:
        masking_noise(rows, patches, generator)


class JEPATask(_TaskBase):
    """I-JEPA: multi-block masks, EMA target encoder (momentum `--ema-start` -> 1), smooth-L1."""

    name = "jepa"

    def __init__(self, config: TrainConfig, shape: tuple[int, int, int]) -> None:
        from maskproof.runtime.masks import MultiBlockMaskSampler
        from maskproof.runtime.models.ijepa import IJEPA_PRESETS

        channels, height, width = shape
        _image_fits_patch(config, height, width, exact=True)
        try:
            self.model_config = dataclasses.replace(
                _preset(IJEPA_PRESETS, config.model, "jepa"), img_size=(height, width),
                patch_size=config.patch_size, in_chans=channels)
            grid_h, grid_w = self.model_config.grid_size
            self.ema_start = config.ema_start
        except ValueError as error:
            raise UserError(f"jepa model for {channels}x{height}x{width} images: {error}") \
                from None
        try:
            self.sampler = MultiBlockMaskSampler(grid_h, grid_w)
        except ValueError as error:  # the sampler speaks of its own arguments, not the flags
            raise UserError(f"--patch-size {config.patch_size}: gives a {grid_h}x{grid_w} grid "
                            f"for the {height}x{width} images, too small for I-JEPA's target "
                            f"blocks and a disjoint context; expected a smaller --patch-size "
                            f"({str(error).split(';')[0]})") from None

    def build_model(self) -> nn.Module:
        from maskproof.runtime.models.ijepa import IJEPA

        return IJEPA(self.model_config)

    def forward_step(self, model: nn.Module, images: Tensor, generator: torch.Generator,
                     shard: Shard) -> StepOutputs:
        from maskproof.runtime.masks import JEPAMaskBatch

        masks = self.sampler.sample(shard.global_size, generator)  # same on every rank
        rows = slice(shard.start, shard.stop)
        local = JEPAMaskBatch(masks.context[rows], masks.context_valid[rows],
                              masks.targets[rows], masks.targets_valid[rows]).to(images.device)
        out = model(images, local)
        tensors = {"pred": out.pred.detach(), "target": out.target.detach(),
                   "context": local.context, "context_valid": local.context_valid,
                   "targets": local.targets, "targets_valid": local.targets_valid}
        loss: Tensor = out.loss
        if shard.stop - shard.start == shard.global_size:
            return StepOutputs(loss, loss.detach(), tensors)
        # DDP averages rank losses; weight each by its share of the valid target tokens so the
        # average is the one-process loss (a mean over all valid tokens of the global batch).
        world = shard.global_size // (shard.stop - shard.start)
        share = local.targets_valid.sum().cpu() * world / masks.targets_valid.sum().clamp(min=1)
        return StepOutputs(loss * share.to(loss.device), loss.detach(), tensors)

    def after_step(self, model: nn.Module, step: int, total_steps: int) -> None:
        from maskproof.runtime.models.ijepa import IJEPA, ema_momentum

        _typed(model, IJEPA).update_target(ema_momentum(step, total_steps, start=self.ema_start))

    def features(self, model: nn.Module, images: Tensor) -> dict[str, Tensor]:
        from maskproof.runtime.models.ijepa import IJEPA

        jepa = _typed(model, IJEPA)
        # The paper probes the target (EMA) encoder; with the EMA near 1 it stays close to init,
        # so the context encoder is probed too.  [B, N, D] tokens, no CLS token.
        return {"mean_patch": jepa.forward_features(images).mean(dim=1),
                "target_mean_patch": jepa.target_encoder(images).mean(dim=1)}

    def reconstructions(self, model: nn.Module, images: Tensor,
                        generator: torch.Generator) -> Reconstructions | None:
        return None  # I-JEPA predicts features, not pixels

    def monitor(self, model: nn.Module, images: Tensor) -> dict[str, float]:
        """Collapse metrics of the target (EMA) encoder's mean-pooled features ``[B, D]``.

        Mean-pooled over tokens, because the collapse seen on digits was to position-only
        features: per-token features still differ by position, their image means do not.
        """
        from maskproof.runtime.collapse import collapse_stats
        from maskproof.runtime.models.ijepa import IJEPA

        if images.shape[0] < 2:
            return {}  # a spread across images needs two of them
        features = _typed(model, IJEPA).target_encoder(images).float().mean(dim=1)
        stats = collapse_stats(features)
        return {"target_std_mean": stats.std_mean, "target_std_min": stats.std_min,
                "target_effective_rank": stats.effective_rank,
                "target_effective_rank_uncentred": stats.effective_rank_uncentred,
                "target_rank_max": float(stats.max_rank), "target_feature_rms": stats.feature_rms}


class VectorMAETask(_TaskBase):
    """TorchLean's vector MAE on each image flattened row-major (``C*H*W`` coordinates)."""

    name = "vector-mae"

    def __init__(self, config: TrainConfig, shape: tuple[int, int, int]) -> None:
        channels, height, width = shape
        self.data_dim = channels * height * width
        self.config = config

    def build_model(self) -> nn.Module:
        from maskproof.runtime.models.compact import VectorMAE

        return VectorMAE(self.data_dim, self.config.hidden_dim, self.config.period,
                         self.config.offset)

    def _rows(self, images: Tensor) -> Tensor:
        from maskproof.runtime.masks import flatten_batch_prefix

        return flatten_batch_prefix(images, self.data_dim)

    def forward_step(self, model: nn.Module, images: Tensor, generator: torch.Generator,
                     shard: Shard) -> StepOutputs:
        rows = self._rows(images)
        loss, prediction = model(rows)
        return StepOutputs(loss, loss.detach(), {"x": rows, "pred": prediction.detach()})

    def features(self, model: nn.Module, images: Tensor) -> dict[str, Tensor]:
        from maskproof.runtime.models.compact import VectorMAE

        features = _typed(model, VectorMAE).forward_features(self._rows(images))
        return {"hidden": features.flatten(1)}

    def reconstructions(self, model: nn.Module, images: Tensor,
                        generator: torch.Generator) -> Reconstructions | None:
        from maskproof.runtime.masks import vector_mae_hidden_mask

        rows = self._rows(images)
        hidden = vector_mae_hidden_mask(self.data_dim, self.config.period, self.config.offset,
                                        device=images.device).reshape(images.shape[1:])
        hidden = hidden.any(dim=0, keepdim=True)  # a pixel with any hidden channel value
        prediction: Tensor = model(rows)[1]
        return Reconstructions(images, hidden.expand(images.shape[0], 1, *images.shape[2:]),
                               prediction.reshape(images.shape),
                               "the model's output at every pixel (hidden and visible), "
                               "raw-pixel space")


class ImageMAETask(_TaskBase):
    """TorchLean's image-patch MAE: patch-masked input, loss on every target prefix coordinate."""

    name = "image-mae"

    def __init__(self, config: TrainConfig, shape: tuple[int, int, int]) -> None:
        channels, height, width = shape
        _image_fits_patch(config, height, width, exact=False)  # Lean rounds the grid up
        self.shape = shape
        self.recon_dim = config.recon_dim if config.recon_dim is not None else \
            channels * height * width
        if self.recon_dim > channels * height * width:
            raise UserError(f"--recon-dim {self.recon_dim}: exceeds the {channels}x{height}x"
                            f"{width} = {channels * height * width} values of an image")
        self.config = config

    def build_model(self) -> nn.Module:
        from maskproof.runtime.models.compact import ImagePatchMAE

        channels, height, width = self.shape
        patch = self.config.patch_size
        return ImagePatchMAE(channels, height, width, patch, patch, self.config.period,
                             self.config.offset, self.recon_dim, self.config.hidden_dim)

    def forward_step(self, model: nn.Module, images: Tensor, generator: torch.Generator,
                     shard: Shard) -> StepOutputs:
        loss, prediction = model(images)
        return StepOutputs(loss, loss.detach(), {"images": images, "pred": prediction.detach()})

    def features(self, model: nn.Module, images: Tensor) -> dict[str, Tensor]:
        from maskproof.runtime.models.compact import ImagePatchMAE

        features = _typed(model, ImagePatchMAE).forward_features(images)
        return {"hidden": features.flatten(1)}

    def reconstructions(self, model: nn.Module, images: Tensor,
                        generator: torch.Generator) -> Reconstructions | None:
        from maskproof.runtime.masks import image_patch_hidden

        if self.recon_dim != images[0].numel():
            return None  # a prefix target is not an image
        patch = self.config.patch_size
        _, height, width = self.shape
        hidden = image_patch_hidden(height, width, patch, patch, self.config.period,
                                    self.config.offset, device=images.device)
        prediction: Tensor = model(images)[1]
        return Reconstructions(images, hidden.expand(images.shape[0], 1, height, width),
                               prediction.reshape(images.shape),
                               "the model's output at every pixel (hidden and visible), "
                               "raw-pixel space")


_TASKS: dict[str, type[MAETask] | type[JEPATask] | type[VectorMAETask] | type[ImageMAETask]] = {
    "mae": MAETask, "jepa": JEPATask, "vector-mae": VectorMAETask, "image-mae": ImageMAETask,
}


def make_task(config: TrainConfig, shape: tuple[int, int, int]) -> Task:
    """The task named by ``config.task`` for images of ``shape = (C, H, W)``, validated."""
    if config.task not in _TASKS:
        raise UserError(f"unknown task {config.task!r}; expected one of {', '.join(_TASKS)}")
    task: Task = _TASKS[config.task](config, shape)
    return task


def build_model_seeded(task: Task, seed: int) -> nn.Module:
    """The task's model initialised from ``seed`` without disturbing the global RNG state."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return task.build_model()
