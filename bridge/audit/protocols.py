"""The adapter protocol: one ``typing.Protocol`` per capability an implementation may have.

An adapter is any object; the audit checks each capability with ``isinstance`` against these
runtime-checkable protocols (attribute presence only) and runs the contracts of the capabilities
it finds. A capability the adapter lacks makes its contracts "not applicable", never "holds".

Conventions every adapter converts to (the glue is the adapter's job, not the implementation's):

* masks are ``[B, N]`` tensors with ``1`` / ``True`` = **masked** (removed from the encoder,
  scored by the loss) and ``0`` = visible, patches in row-major grid order;
* ``ids_restore[b, i]`` is the position of token ``i`` in sample ``b``'s shuffle, whose first
  ``K`` entries are the kept tokens (the MAE paper's convention);
* images are ``[B, C, H, W]``; patches are ``[B, N, P]`` with ``P = p·p·C``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple, Protocol, runtime_checkable

import torch
from torch import Tensor, nn

#: ``keep_count_convention = "keep_floor"`` (the default): keep ``⌊N·(1 − r)⌋`` tokens a sample
#: and mask the rest, the MAE paper's code (``len_keep = int(L * (1 - mask_ratio))``, read
#: exactly).
KEEP_FLOOR = "keep_floor"
#: ``keep_count_convention = "mask_floor"``: mask ``⌊N·r⌋`` tokens a sample and keep the rest
#: (``num_masked = int(masking_ratio * num_patches)``, as in lucidrains/vit-pytorch's MAE).
MASK_FLOOR = "mask_floor"
#: The conventions an adapter may declare, with the masked count each one means.
KEEP_COUNT_CONVENTIONS: tuple[str, ...] = (KEEP_FLOOR, MASK_FLOOR)


@runtime_checkable
class RandomMaskingCapability(Protocol):
    """MAE random masking of tokens ``x [B, N, D]``.

    An implementation that rounds the ratio the other way declares it with an optional attribute
    ``keep_count_convention``: ``"keep_floor"`` (default; keep ``⌊N(1 − r)⌋``) or
    ``"mask_floor"`` (mask ``⌊N·r⌋``). ``masking.keep_count`` checks the declared one exactly,
    with ``r`` read exactly as the decimal the float stands for (its shortest ``repr``: ``0.8``
    is ``4/5``), so a binary-float count that falls one short fails under either.
    """

    def random_masking(self, x: Tensor, mask_ratio: float,
                       generator: torch.Generator) -> tuple[Tensor, Tensor, Tensor]:
        """``(x_kept [B, K, D], mask [B, N] 1 = masked, ids_restore [B, N])``; all randomness
        from ``generator``."""
        ...


@runtime_checkable
class PatchifyCapability(Protocol):
    """Images to patch rows and back, for any patch size and image shape that tiles.

    An implementation bound to one patch size and channel count declares it with an optional
    attribute ``patchify_fixed = (patch_size, in_chans)``; the contracts then draw only the grid.
    """

    def patchify(self, images: Tensor, patch_size: int) -> Tensor:
        """``[B, C, H, W]`` -> ``[B, (H/p)·(W/p), p·p·C]``, patches row-major over the grid."""
        ...

    def unpatchify(self, patches: Tensor, patch_size: int,
                   image_shape: tuple[int, int, int]) -> Tensor:
        """Inverse of ``patchify`` for images of shape ``(C, H, W)``."""
        ...


@runtime_checkable
class MAELossCapability(Protocol):
    """The MAE reconstruction loss given images, predictions and the mask."""

    #: Side of the square patches the loss cuts images into.
    patch_size: int
    #: Number of image channels the loss expects.
    in_chans: int
    #: Whether the target is the per-patch normalised image (MAE's ``norm_pix_loss``).
    norm_pix_loss: bool

    def loss(self, images: Tensor, pred: Tensor, mask: Tensor) -> Tensor:
        """Scalar loss for ``images [B, C, H, W]``, ``pred [B, N, P]``, ``mask [B, N]``."""
        ...


@runtime_checkable
class EncoderCapability(Protocol):
    """The MAE encoder run on the visible patches a given mask leaves."""

    patch_size: int
    #: ``(C, H, W)`` of the images the encoder was built for.
    encoder_image_shape: tuple[int, int, int]

    def encode(self, images: Tensor, mask: Tensor) -> Tensor:
        """Encoder output for ``images`` with the patches where ``mask`` is 1 removed; every
        sample masks the same number of patches. Any shape ``[B, ...]``."""
        ...


@runtime_checkable
class VectorMaskCapability(Protocol):
    """TorchLean ``vectorMaeMask`` on ``x [B, D]``."""

    def vector_mae_mask(self, x: Tensor, period: int, offset: int) -> Tensor: ...


@runtime_checkable
class ImagePatchMaskCapability(Protocol):
    """TorchLean ``imagePatchMask`` on NCHW ``x``."""

    def image_patch_mask(self, x: Tensor, patch_h: int, patch_w: int, period: int,
                         offset: int) -> Tensor: ...


@runtime_checkable
class BlockMaskCapability(Protocol):
    """TorchLean ``BlockMask.apply`` on every sample of ``x [B, *shape]``."""

    def block_mask_apply(self, x: Tensor, blocks: Sequence[int | None], period: int,
                         offset: int) -> Tensor: ...


@runtime_checkable
class JEPACollatorCapability(Protocol):
    """An I-JEPA mask collator on a ``grid_h x grid_w`` patch grid."""

    jepa_grid: tuple[int, int]
    #: Whether context and targets may share cells (False in I-JEPA).
    allow_overlap: bool

    def sample_jepa_masks(self, batch_size: int, generator: torch.Generator
                          ) -> tuple[list[list[int]], list[list[list[int]]]]:
        """Per sample the context's flat grid indices and the list of target blocks' indices."""
        ...


class JEPAForward(NamedTuple):
    """One I-JEPA forward: ``pred`` and ``target`` are ``[B, M, L, D]``, row ``[b, m, k]`` for
    the ``k``-th index of sample ``b``'s block ``m``; ``L`` is the longest block, and rows past a
    block's length are padding (never compared, never to be scored by ``loss``)."""

    loss: Tensor
    pred: Tensor
    target: Tensor


@runtime_checkable
class JEPATrainer(Protocol):
    """A freshly built I-JEPA model with its optimizer and EMA schedule.

    ``target_encoder(images)`` must return the full image's features ``[B, T + N, D]``, ``T``
    leading non-patch rows (CLS, registers) then the ``N`` patches row-major. Optional
    declarations (on the trainer or the adapter), read by ``bridge.audit.contracts_jepa_model``:
    ``target_prefix_tokens: int = 0`` (that ``T``), ``target_layer_norm: bool = True`` (target
    rows are those features layer-normed over the feature axis, no affine, as in I-JEPA) and
    ``truncates_to_batch_min: bool = False`` (``forward`` cuts every context and target block to
    the batch's shortest, as the official I-JEPA collator does, and returns ``L`` = the shortest
    block). Contracts perturb the parameters in place, so ``forward`` must read them from
    ``context_encoder``, ``target_encoder`` and ``predictor``.
    """

    context_encoder: nn.Module
    target_encoder: nn.Module
    predictor: nn.Module
    optimizer: torch.optim.Optimizer
    #: ``(C, H, W)`` of the images and ``(grid_h, grid_w)`` of the patch grid.
    image_shape: tuple[int, int, int]
    grid_size: tuple[int, int]
    #: The documented EMA schedule: momentum goes linearly from ``ema_start`` at step 0 to
    #: ``ema_end`` at step ``ema_horizon`` and stays there.
    ema_start: float
    ema_end: float
    ema_horizon: int

    def forward(self, images: Tensor, context: list[list[int]],
                targets: list[list[list[int]]]) -> JEPAForward: ...

    def train_step(self, images: Tensor, context: list[list[int]],
                   targets: list[list[list[int]]], step: int) -> None:
        """Forward, backward, optimizer step and EMA update for global step ``step``."""
        ...


@runtime_checkable
class JEPATrainingCapability(Protocol):
    def jepa_trainer(self, seed: int) -> JEPATrainer:
        """A new trainer whose random initialisation is seeded with ``seed``."""
        ...


class MAEForward(NamedTuple):
    """One forward of an MAE model: ``loss`` is the scalar training loss the model itself
    returns, ``pred [B, N, P]`` its per-patch predictions in row-major patch order (CLS row
    already dropped), ``mask [B, N]`` 1 = masked (removed from the encoder, scored), and
    ``ids_restore [B, N]`` as in the module docstring. ``latent`` is the encoder's output on the
    visible tokens, ``[B, L, D]`` in the implementation's own row order (CLS first where it
    has one); contracts only compare it row set against row set, never row by row."""

    loss: Tensor
    pred: Tensor
    mask: Tensor
    ids_restore: Tensor
    latent: Tensor


@runtime_checkable
class MAEModelCapability(Protocol):
    """The implementation's own MAE forward pass, with the masking noise given.

    Noise convention (the MAE paper's code): ``noise [B, N]`` is per-sample noise over the
    patches; ``argsort(noise[b])`` (ascending) is sample ``b``'s shuffle and its first ``K``
    entries are kept, so the ``K`` patches with the **smallest** noise are visible. ``K`` follows
    ``mask_ratio`` under the adapter's ``keep_count_convention`` (see
    :class:`RandomMaskingCapability`). Contracts pass distinct noise values, so the shuffle is
    unambiguous.

    ``module`` is the ``nn.Module`` whose parameters the forward reads: contracts backpropagate
    its loss into it, and perturb its trainable parameters in a ``copy.deepcopy`` of the adapter
    (so the adapter must deep-copy, and ``mae_forward`` must read ``self.module``'s parameters).
    Frozen tensors (``requires_grad=False``, e.g. sin-cos tables) are never perturbed.
    """

    module: nn.Module
    patch_size: int
    in_chans: int
    #: ``(C, H, W)`` of the images the model was built for.
    model_image_shape: tuple[int, int, int]
    #: Whether the model's loss target is the per-patch normalised image.
    norm_pix_loss: bool

    def mae_forward(self, images: Tensor, noise: Tensor, mask_ratio: float) -> MAEForward:
        """The model's own forward (encoder, decoder and loss) on ``images [B, C, H, W]``."""
        ...


@dataclass(frozen=True)
class SinCos2D:
    """The MAE / I-JEPA 2-D sin-cos table: ``[(1 if cls_token) + gh·gw, dim]``, columns in the
    first half of the channels and rows in the second, sin before cos, ``ω_k = 10000^(-k/(dim/4))``,
    an all-zero CLS row first when ``cls_token``."""

    dim: int
    grid_h: int
    grid_w: int
    cls_token: bool = False


@dataclass(frozen=True)
class Constant:
    """Every entry equals ``value`` (e.g. a zero-initialised token)."""

    value: float


@dataclass(frozen=True)
class FixedTensor:
    """A tensor whose value after construction is documented, and that must not train."""

    name: str
    value: Tensor
    documented: SinCos2D | Constant


@runtime_checkable
class FixedTensorsCapability(Protocol):
    def fixed_tensors(self, seed: int) -> Sequence[FixedTensor]:
        """The documented fixed tensors of a model built with random seed ``seed``."""
        ...


class RankStep(NamedTuple):
    """What one step of a rank's training loop trained on, this rank's rows only.

    ``sample_ids`` are the dataset positions of the rank's samples (before augmentation);
    ``masks`` holds the step's masks, one row per sample in any layout that is equal exactly
    when the masks are (MAE ``[B, N]`` 1 = masked; I-JEPA e.g. ``[B, 1 + M, N]`` membership of
    the context and each target block); ``crops`` one row of crop parameters per sample, or
    ``None`` when the loop has no random crop."""

    sample_ids: list[int]
    masks: Tensor
    crops: Tensor | None


@runtime_checkable
class RankLoop(Protocol):
    """The user's training loop as rank ``rank`` of ``world_size`` runs it, simulated in one
    process: its data sharding, mask and crop generators, optimizer and schedules are the
    rank's, only the gradient all-reduce is absent (each rank updates from its own rows).

    ``total_steps`` is the number of optimizer steps the rank runs for the configured training
    (kept small for the audit: the schedule contract runs all of them). ``final_lr`` is the
    documented learning rate of the last step (``min_lr`` of a cosine schedule); a group with an
    ``lr_scale`` entry runs at ``lr_scale`` times the schedule. With an EMA teacher,
    ``ema_target`` / ``ema_online`` are the two modules (same parameter names) and ``ema_end``
    the documented momentum of the last step; without one, ``ema_target`` is ``None``.
    ``no_weight_decay_parts``: parameter-name fragments documented as not decayed beyond the
    universal rule (tensors of rank <= 1 and names ending in ``bias`` are never decayed).
    """

    module: nn.Module
    optimizer: torch.optim.Optimizer
    dataset_size: int
    total_steps: int
    final_lr: float
    ema_target: nn.Module | None
    ema_online: nn.Module | None
    ema_end: float
    no_weight_decay_parts: tuple[str, ...]

    def step(self) -> RankStep:
        """Run the loop's next step (data, augmentation, masks, forward, backward, optimizer
        step, schedules, EMA) and say what it trained on."""
        ...


@runtime_checkable
class RankedTrainingCapability(Protocol):
    """One or more training loops (``rank_loop_kinds``, e.g. ``("mae", "jepa")``) that a
    contract can start as any rank of any world size it draws."""

    rank_loop_kinds: tuple[str, ...]

    def rank_loop(self, kind: str, world_size: int, rank: int, seed: int) -> RankLoop:
        """A fresh loop of ``kind`` for ``rank`` of ``world_size``, seeded with ``seed`` as the
        user's launch would seed every rank (the same command line on every rank)."""
        ...


#: Every capability, in the order the report lists them.
CAPABILITIES: tuple[type, ...] = (
    RandomMaskingCapability, PatchifyCapability, MAELossCapability, EncoderCapability,
    VectorMaskCapability, ImagePatchMaskCapability, BlockMaskCapability, JEPACollatorCapability,
    JEPATrainingCapability, FixedTensorsCapability, MAEModelCapability,
    RankedTrainingCapability,
)


def capabilities_of(adapter: object) -> list[str]:
    """Names of the capabilities ``adapter`` exposes."""
    return [cap.__name__ for cap in CAPABILITIES if isinstance(adapter, cap)]
