"""Audit adapter for the official I-JEPA code (facebookresearch/ijepa), from your own checkout.

The official code is CC-BY-NC, so none of it is in maskproof: the adapter imports it from a
checkout you name. It needs only torch and numpy (no timm, no torchvision)::

    git clone https://github.com/facebookresearch/ijepa /path/to/ijepa
    MASKPROOF_IJEPA_CHECKOUT=/path/to/ijepa \\
        maskproof audit maskproof.bridge.adapters.official_ijepa:TinyOfficialIJEPA --out audit/

``TinyOfficialIJEPA`` reads ``MASKPROOF_IJEPA_CHECKOUT`` when it is built. For another
configuration write a module of yours and name its object as the TARGET::

    # my_audit.py
    from maskproof.bridge.adapters.official_ijepa import OfficialIJEPAAdapter, TinyConfig
    adapter = OfficialIJEPAAdapter("/path/to/ijepa", TinyConfig(image_size=64, min_keep=10))

The checkout's top-level package is ``src``. It is imported as a package whose ``__path__`` is
the checkout's ``src`` folder only (no ``sys.path`` entry, so no other ``src`` on the path can
take its place), and every ``src`` / ``src.*`` entry the import put in ``sys.modules`` is removed
afterwards (any that were there before are put back); the loaded modules live on in the adapter.
Importing ``src/helper.py`` calls ``logging.basicConfig`` on the root logger (helper.py:19); the
root logger's handlers and level are restored after the import.

What runs where (the official code itself; the adapter only converts index lists and calls it):

* ``sample_jepa_masks`` is ``src/masks/multiblock.py::MaskCollator.__call__`` on a batch of
  placeholder items. Its randomness has two sources, and the adapter draws both from the audit's
  generator: the block sizes come from a ``torch.Generator`` seeded with the collator's step
  counter (multiblock.py:125-127, one seed per batch, a ``multiprocessing.Value`` starting at -1),
  so the counter is set to a drawn value just before the call (the collator then behaves as at
  that training iteration); the block positions come from the **global** torch RNG (the
  ``torch.randint`` calls of lines 89-90 take no generator), so the call runs inside
  ``torch.random.fork_rng`` with the global RNG seeded from the audit's generator (as in a
  DataLoader worker with that seed) and the caller's global RNG state is untouched. Nothing in
  the collator's semantics changes. The returned lists are the collator's tensors, already cut
  to the batch minimum (lines 164-168). Its "Valid mask not found" warnings are dropped.
* ``jepa_trainer(seed)`` builds the encoder and predictor with ``src/helper.py::init_model``
  (a tiny ``VisionTransformer`` factory is added to the loaded ``vision_transformer`` module for
  it), the target encoder as a frozen deep copy, and the optimizer with ``helper.init_opt``
  (AdamW over its four parameter groups, biases and 1-D tensors without weight decay, and the
  official ``WarmupCosineSchedule`` / ``CosineWDSchedule``). Its ``forward`` is the step of
  ``src/train.py::main`` (lines 295-319): ``F.layer_norm`` of the target encoder's features,
  ``apply_masks`` and ``repeat_interleave_batch`` for the targets, ``encoder(imgs, masks_enc)``
  then ``predictor(z, masks_enc, masks_pred)``, ``F.smooth_l1_loss`` and ``AllReduce``.
  ``train_step`` adds the lr and wd scheduler steps, ``backward``, ``optimizer.step``,
  ``zero_grad`` and the EMA update of lines 332-336 with the momentum of lines 228-229. The
  training step and the momentum generator are local to ``main`` and cannot be imported: those
  lines are re-expressed here (one call per official call, same order); everything they call is
  the checkout's. The forward takes the audit's per-sample index lists and makes the collator's
  tensors of them, cut to the batch minimum as the collator does (``truncates_to_batch_min``):
  the official forward only accepts equal-length masks (``torch.cat`` in apply_masks, utils.py:20).
* Declarations, from the official code: ``target_layer_norm = True`` (train.py:298),
  ``target_prefix_tokens = 0`` (no CLS token), ``truncates_to_batch_min = True``
  (multiblock.py:164-168), ``per_batch_block_size = True`` (one ``p_size`` per batch,
  multiblock.py:128-131), ``allow_overlap = False`` (the configs), and the EMA schedule of
  train.py:228-229: from ``ema[0] = 0.996`` to ``ema[1] = 1.0`` (the configs) over
  ``ipe · num_epochs · ipe_scale`` steps, here 4 · 2 · 1.0 = 8 = ``ema_horizon``.
* ``fixed_tensors``: the encoder's ``pos_embed`` and the predictor's ``predictor_pos_embed``,
  frozen 2-D sin-cos tables without CLS row (vision_transformer.py:244-249 and 362-366).

The tiny configuration: 32x32 RGB images, patch 4 (an 8x8 grid), a 1-block 32-wide encoder with
2 heads, a 1-block 16-wide predictor, the ViT-H/14 config's mask settings (4 target blocks of
scale 0.15-0.2 and aspect ratio 0.75-1.5, one context block of scale 0.85-1.0) and
``min_keep = 4`` (the collator's default; the config's 10 is for a 16x16 grid). On this grid the
target blocks are 3x3 or 4x3, more cells than ``min_keep``, so the retry loop ends.

**The collator can loop forever.** ``_sample_block_mask`` (multiblock.py:87-104) redraws a block
until it has more than ``min_keep`` cells; for a target block nothing changes between tries (no
acceptable regions, fixed size), so a target size ``h·w <= min_keep`` never ends. On a 4x4 grid
(16x16 images, patch 4) with ``min_keep = 4`` the target blocks are 1x1 to 2x2 (``max_keep =
int(16·0.15..0.2)`` is 2 or 3): ``TinyConfig(image_size=16)`` hangs in the first call, and so
does the 8x8 grid with the configs' ``min_keep = 10`` whenever a batch draws 3x3 blocks. The
audit reports it as "did not terminate" at ``--timeout`` with the line it was on
(multiblock.py:96, in ``_sample_block_mask``), counted with the failures: the three collator
contracts, each after ``--timeout`` seconds; ``tests/bridge/third_party/test_official_ijepa.py``
pins that.

What the audit finds at commit 52c1ae9 (``tests/bridge/third_party/test_official_ijepa.py``
pins each verdict and shows each defect directly; lines are the checkout's). 12 hold, 1 fails,
30 are not applicable:

* ``jepa.positions_reachable`` fails, a real defect: the last row and the last column of the
  patch grid are never in a target or a context block. Block sizes are clamped to ``h <= height
  - 1`` (multiblock.py:67-70) and the corner is ``torch.randint(0, self.height - h, (1,))``
  (lines 89-90), whose upper bound is exclusive, so ``top + h <= height - 1``. At the ViT-H/14
  config (16x16 grid) 31 of the 256 patches are never seen nor predicted, and the context block
  (scale 0.85-1.0, so always 15x15) always sits at the top-left corner: ``randint(0, 1) = 0``.
  With the bound made inclusive every cell is a target, and every cell is context in batches of
  one; in batches of 32 the bottom-right cell still never is: the cut to the batch minimum
  keeps a row-major prefix of each context (lines 164-168) and that cell is always cut.
* ``jepa.loss_equals_spec``, ``jepa.target_no_gradient``, ``jepa.teacher_full_view``,
  ``jepa.context_only_reaches_pred``, ``jepa.target_is_target_encoder_at_position`` and
  ``jepa.pred_follows_target_position`` hold. (The first run of this adapter found them failing
  as false alarms: they drew target blocks of several sizes, which the declared
  ``truncates_to_batch_min`` forward cut to one cell. For a truncating trainer they now draw
  blocks of one shape, as the official collator's are, and cut the contexts to the shortest.)
* ``jepa.padding_never_counts`` holds as declared: the official forward only takes equal-length
  masks (``torch.cat`` in apply_masks, masks/utils.py:20) and the collator cuts every context to
  the batch's shortest (lines 164-168). Its cost, measured at the ViT-H/14 config with 128
  images per GPU: about 40% of a sample's context tokens, always the bottom of the block.
  Target blocks are never cut (all have the batch's one size ``h·w``, lines 128-131).
* ``jepa.masks_disjoint_nonempty``, ``jepa.ema_law``, ``jepa.optimizer_coverage``,
  ``jepa.blocks_vary_per_sample`` (one size per batch, declared) and ``fixed.documented_values``
  hold. The relaxation of lines 99-104 (after 20 failed tries one target complement fewer
  constrains the context, which may then overlap that target) was never reached: 0 of 1920
  samples here and at the ViT-H/14 config.
* Not tested by any contract, shown by the tests: masks repeat across ranks. The size seed is
  the collator's own step counter (lines 46-53, 125-127) with no rank in it, so every rank
  draws the same block sizes at every iteration; the positions come from the global RNG, which
  train.py seeds with ``_GLOBAL_SEED = 0`` on every rank (train.py:58-60) and from which each
  DataLoader worker's seed derives (base seed drawn from it, plus the worker id), so two ranks'
  collators draw identical masks unless their transforms consume the RNG differently.
  Within one rank the workers do not repeat each other: the counter is one shared
  ``multiprocessing.Value`` and each worker's seed adds its id. Scale and
  aspect ratio share one random number (``_rand``, lines 56-63): a larger block is a taller one.

Run time of the whole catalogue at the default 40 examples: about 8 s wall on a loaded 2-core
machine (``time maskproof audit ...:TinyOfficialIJEPA``: real 7.6 s, user 6.9 s). The
training loop (``train.*``) is not adapted: the official loop lives inside ``train.py``'s
``main()``, which builds its data loader from ImageNet folders.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import logging
import os
import sys
import types
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from maskproof.bridge.audit.protocols import FixedTensor, JEPAForward, SinCos2D

#: The environment variable :class:`TinyOfficialIJEPA` reads.
CHECKOUT_ENV = "MASKPROOF_IJEPA_CHECKOUT"

#: The checkout's files the adapter imports (relative to the checkout).
REQUIRED_FILES = (
    "src/masks/multiblock.py",
    "src/masks/utils.py",
    "src/models/vision_transformer.py",
    "src/utils/tensors.py",
    "src/utils/schedulers.py",
    "src/utils/distributed.py",
    "src/helper.py",
)

#: Name under which the tiny encoder factory is added to the loaded vision_transformer module.
TINY_MODEL_NAME = "maskproof_tiny_vit"


@dataclass(frozen=True)
class OfficialModules:
    """The checkout's modules the adapter calls."""

    root: Path
    multiblock: types.ModuleType
    masks_utils: types.ModuleType
    vit: types.ModuleType
    tensors: types.ModuleType
    schedulers: types.ModuleType
    distributed: types.ModuleType
    helper: types.ModuleType


def _is_src(name: str) -> bool:
    return name == "src" or name.startswith("src.")


@contextlib.contextmanager
def _private_src(src_dir: Path) -> Iterator[None]:
    """``src`` (and ``src.*``) resolves to ``src_dir`` alone inside the block; afterwards
    ``sys.modules`` and the root logger are as they were."""
    saved = {name: module for name, module in sys.modules.items() if _is_src(name)}
    for name in saved:
        del sys.modules[name]
    root_logger = logging.getLogger()
    handlers, level = list(root_logger.handlers), root_logger.level
    package = types.ModuleType("src")
    package.__path__ = [str(src_dir)]
    package.__file__ = None
    sys.modules["src"] = package
    try:
        yield
    finally:
        for name in [name for name in sys.modules if _is_src(name)]:
            del sys.modules[name]
        sys.modules.update(saved)
        root_logger.handlers[:] = handlers
        root_logger.setLevel(level)


def checkout_root(path: str | os.PathLike[str]) -> Path:
    """``path`` resolved, after checking that it is an I-JEPA checkout (one-line errors)."""
    root = Path(path).expanduser()
    if not root.is_dir():
        raise ValueError(f"I-JEPA checkout {str(path)!r} is not a directory; expected a clone "
                         "of https://github.com/facebookresearch/ijepa")
    missing = [name for name in REQUIRED_FILES if not (root / name).is_file()]
    if missing:
        raise ValueError(f"{str(path)!r} is not an I-JEPA checkout: it lacks "
                         f"{', '.join(missing)} (expected a clone of "
                         "https://github.com/facebookresearch/ijepa)")
    return root.resolve()


@functools.cache
def _load(root: Path) -> OfficialModules:
    import importlib

    with _private_src(root / "src"):
        try:
            loaded = {short: importlib.import_module(f"src.{name}") for short, name in (
                ("multiblock", "masks.multiblock"), ("masks_utils", "masks.utils"),
                ("vit", "models.vision_transformer"), ("tensors", "utils.tensors"),
                ("schedulers", "utils.schedulers"), ("distributed", "utils.distributed"),
                ("helper", "helper"))}
        except ImportError as error:
            raise ImportError(f"cannot import the I-JEPA checkout at {str(root)!r}: "
                              f"{type(error).__name__}: {error}".splitlines()[0]) from error
    return OfficialModules(root, **loaded)


def load_official(path: str | os.PathLike[str]) -> OfficialModules:
    """The official modules of the checkout at ``path`` (imported once per checkout)."""
    return _load(checkout_root(path))


@dataclass(frozen=True)
class TinyConfig:
    """A small official-style configuration (the names of the official YAML configs)."""

    image_size: int = 32
    patch_size: int = 4
    in_chans: int = 3
    embed_dim: int = 32
    depth: int = 1
    num_heads: int = 2
    pred_depth: int = 1
    pred_emb_dim: int = 16
    # -- mask (configs/in1k_vith14_ep300.yaml except min_keep, the collator's default)
    pred_mask_scale: tuple[float, float] = (0.15, 0.2)
    enc_mask_scale: tuple[float, float] = (0.85, 1.0)
    aspect_ratio: tuple[float, float] = (0.75, 1.5)
    num_enc_masks: int = 1
    num_pred_masks: int = 4
    min_keep: int = 4
    allow_overlap: bool = False
    # -- optimization (the config's values; iterations per epoch and epochs made tiny)
    ema: tuple[float, float] = (0.996, 1.0)
    ipe: int = 4
    epochs: int = 2
    ipe_scale: float = 1.0
    warmup: float = 1.0
    start_lr: float = 0.0002
    lr: float = 0.001
    final_lr: float = 1.0e-06
    weight_decay: float = 0.04
    final_weight_decay: float = 0.4

    @property
    def grid(self) -> int:
        return self.image_size // self.patch_size

    @property
    def ema_horizon(self) -> int:
        """``ipe · num_epochs · ipe_scale``: where train.py:228-229's momentum reaches ema[1]."""
        steps = self.ipe * self.epochs * self.ipe_scale
        if steps != int(steps) or steps < 1:
            raise ValueError(f"ipe * epochs * ipe_scale must be a positive integer for a "
                             f"documented horizon, got {steps!r}")
        return int(steps)


def momentum_schedule(cfg: TinyConfig) -> Iterator[float]:
    """train.py:228-229: momentum ``ema[0] + i·(ema[1] - ema[0]) / T`` for ``i = 0 .. int(T)``,
    ``T = ipe · epochs · ipe_scale``; exhausted after that."""
    total = cfg.ipe * cfg.epochs * cfg.ipe_scale
    start, end = cfg.ema
    for i in range(int(total) + 1):
        yield start + i * (end - start) / total


def _masks(context: list[list[int]], targets: list[list[list[int]]]
           ) -> tuple[list[Tensor], list[Tensor]]:
    """The collator's ``(masks_enc, masks_pred)`` for these lists: one context tensor
    ``[B, K]`` and one ``[B, L]`` per target block, cut to the batch's shortest context and
    shortest block (multiblock.py:138-168)."""
    if not context or len(context) != len(targets):
        raise ValueError(f"expected one context and one target list per sample, got "
                         f"{len(context)} contexts and {len(targets)} target lists")
    blocks = {len(t) for t in targets}
    if len(blocks) != 1 or 0 in blocks:
        raise ValueError(f"every sample must have the same number (>= 1) of target blocks, "
                         f"got {sorted(blocks)}")
    keep_enc = min(len(c) for c in context)
    keep_pred = min(len(block) for t in targets for block in t)
    masks_enc = [torch.tensor([c[:keep_enc] for c in context], dtype=torch.long)]
    masks_pred = [torch.tensor([t[m][:keep_pred] for t in targets], dtype=torch.long)
                  for m in range(len(targets[0]))]
    return masks_enc, masks_pred


class OfficialIJEPATrainer:
    """The official encoder, predictor, target encoder, optimizer and schedules of one run."""

    target_layer_norm = True
    target_prefix_tokens = 0
    truncates_to_batch_min = True

    def __init__(self, official: OfficialModules, cfg: TinyConfig, seed: int) -> None:
        self.official, self.cfg = official, cfg
        self.image_shape = (cfg.in_chans, cfg.image_size, cfg.image_size)
        self.grid_size = (cfg.grid, cfg.grid)
        self.ema_start, self.ema_end = cfg.ema
        self.ema_horizon = cfg.ema_horizon
        vit = official.vit
        setattr(vit, TINY_MODEL_NAME, functools.partial(
            vit.VisionTransformer, in_chans=cfg.in_chans, embed_dim=cfg.embed_dim,
            depth=cfg.depth, num_heads=cfg.num_heads, mlp_ratio=4, qkv_bias=True,
            norm_layer=functools.partial(nn.LayerNorm, eps=1e-6)))
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            encoder, predictor = official.helper.init_model(
                device=torch.device("cpu"), patch_size=cfg.patch_size,
                model_name=TINY_MODEL_NAME, crop_size=cfg.image_size,
                pred_depth=cfg.pred_depth, pred_emb_dim=cfg.pred_emb_dim)
        self.context_encoder: nn.Module = encoder
        self.predictor: nn.Module = predictor
        self.target_encoder: nn.Module = copy.deepcopy(encoder)
        for p in self.target_encoder.parameters():
            p.requires_grad = False
        optimizer, _scaler, self.scheduler, self.wd_scheduler = official.helper.init_opt(
            encoder=encoder, predictor=predictor, wd=cfg.weight_decay,
            final_wd=cfg.final_weight_decay, start_lr=cfg.start_lr, ref_lr=cfg.lr,
            final_lr=cfg.final_lr, iterations_per_epoch=cfg.ipe, warmup=cfg.warmup,
            num_epochs=cfg.epochs, ipe_scale=cfg.ipe_scale, use_bfloat16=False)
        self.optimizer: torch.optim.Optimizer = optimizer
        self.momentum = momentum_schedule(cfg)
        #: The global step the next ``train_step`` is (train.py counts from 0).
        self.next_step = 0

    def forward(self, images: Tensor, context: list[list[int]],
                targets: list[list[list[int]]]) -> JEPAForward:
        """train.py:295-319 on the collator's tensors for these lists."""
        masks_enc, masks_pred = _masks(context, targets)
        tensors, apply_masks = self.official.tensors, self.official.masks_utils.apply_masks
        with torch.no_grad():
            h = self.target_encoder(images)
            h = F.layer_norm(h, (h.size(-1),))
            h = apply_masks(h, masks_pred)
            h = tensors.repeat_interleave_batch(h, len(images), repeat=len(masks_enc))
        z = self.predictor(self.context_encoder(images, masks_enc), masks_enc, masks_pred)
        loss = self.official.distributed.AllReduce.apply(F.smooth_l1_loss(z, h))
        # Rows are block-major (apply_masks concatenates the blocks along the batch axis).
        shape = (len(masks_pred), len(images), masks_pred[0].shape[1], z.shape[-1])
        pred = z.reshape(shape).transpose(0, 1)
        target = h.reshape(shape).transpose(0, 1)
        return JEPAForward(loss, pred, target)

    @property
    def last_step(self) -> int:
        """The last step the official momentum generator has (``int(T)``, train.py:229)."""
        return int(self.cfg.ipe * self.cfg.epochs * self.cfg.ipe_scale)

    def advance(self) -> float:
        """One iteration of the official schedules' counters (as on resuming, train.py:242-246
        advances them) and the momentum of this step."""
        self.next_step += 1
        return next(self.momentum)

    def train_step(self, images: Tensor, context: list[list[int]],
                   targets: list[list[list[int]]], step: int) -> None:
        """train.py:290-336 at global step ``step`` (steps skipped are advanced over)."""
        if step < self.next_step:
            raise ValueError(f"step {step} is before this run's next step {self.next_step}: "
                             "the official schedules only go forward")
        if step > self.last_step:
            raise ValueError(f"step {step} is past the official momentum schedule, which ends "
                             f"at step {self.last_step}")
        while self.next_step < step:
            self.scheduler.step()
            self.wd_scheduler.step()
            self.advance()
        self.scheduler.step()
        self.wd_scheduler.step()
        loss = self.forward(images, context, targets).loss
        torch.autograd.backward(loss)
        self.optimizer.step()
        self.optimizer.zero_grad()
        m = self.advance()
        with torch.no_grad():
            for online, target in zip(self.context_encoder.parameters(),
                                      self.target_encoder.parameters(), strict=True):
                target.data.mul_(m).add_((1.0 - m) * online.detach().data)


class _DropRetryWarnings(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("Mask generator says")


class OfficialIJEPAAdapter:
    """``JEPACollatorCapability``, ``JEPATrainingCapability`` and ``FixedTensorsCapability`` of
    the official code in the checkout at ``checkout``."""

    per_batch_block_size = True
    truncates_to_batch_min = True
    target_layer_norm = True
    target_prefix_tokens = 0

    def __init__(self, checkout: str | os.PathLike[str], config: TinyConfig | None = None
                 ) -> None:
        self.official = load_official(checkout)
        self.config = TinyConfig() if config is None else config
        cfg = self.config
        if cfg.image_size % cfg.patch_size or cfg.grid < 2:
            raise ValueError(f"image_size {cfg.image_size} must be a multiple of patch_size "
                             f"{cfg.patch_size} with a grid of at least 2x2")
        self.jepa_grid = (cfg.grid, cfg.grid)
        self.allow_overlap = cfg.allow_overlap
        self.collator: Any = self.official.multiblock.MaskCollator(
            input_size=(cfg.image_size, cfg.image_size), patch_size=cfg.patch_size,
            pred_mask_scale=cfg.pred_mask_scale, enc_mask_scale=cfg.enc_mask_scale,
            aspect_ratio=cfg.aspect_ratio, nenc=cfg.num_enc_masks, npred=cfg.num_pred_masks,
            allow_overlap=cfg.allow_overlap, min_keep=cfg.min_keep)

    # JEPACollatorCapability
    def collate(self, batch_size: int, iteration: int, worker_seed: int
                ) -> tuple[Tensor, list[Tensor], list[Tensor]]:
        """The official collator on ``batch_size`` placeholder items at training iteration
        ``iteration`` (its step counter) with the global torch RNG seeded ``worker_seed``."""
        if batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
        with self.collator._itr_counter.get_lock():
            self.collator._itr_counter.value = iteration - 1
        quiet = _DropRetryWarnings()
        logging.getLogger().addFilter(quiet)
        try:
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(worker_seed)
                items = [torch.zeros(1) for _ in range(batch_size)]
                out: tuple[Tensor, list[Tensor], list[Tensor]] = self.collator(items)
                return out
        finally:
            logging.getLogger().removeFilter(quiet)

    def sample_jepa_masks(self, batch_size: int, generator: torch.Generator
                          ) -> tuple[list[list[int]], list[list[list[int]]]]:
        iteration, worker_seed = torch.randint(0, 2**31 - 1, (2,), generator=generator).tolist()
        _, masks_enc, masks_pred = self.collate(batch_size, iteration, worker_seed)
        contexts = [[int(i) for i in row] for row in masks_enc[0].tolist()]
        blocks = [block.tolist() for block in masks_pred]
        targets = [[[int(i) for i in block[b]] for block in blocks] for b in range(batch_size)]
        return contexts, targets

    # JEPATrainingCapability
    def jepa_trainer(self, seed: int) -> OfficialIJEPATrainer:
        return OfficialIJEPATrainer(self.official, self.config, seed)

    # FixedTensorsCapability
    def fixed_tensors(self, seed: int) -> list[FixedTensor]:
        trainer = self.jepa_trainer(seed)
        cfg = self.config
        encoder: Any = trainer.context_encoder
        predictor: Any = trainer.predictor
        return [
            FixedTensor("encoder.pos_embed", encoder.pos_embed[0],
                        SinCos2D(cfg.embed_dim, cfg.grid, cfg.grid)),
            FixedTensor("predictor.predictor_pos_embed", predictor.predictor_pos_embed[0],
                        SinCos2D(cfg.pred_emb_dim, cfg.grid, cfg.grid)),
        ]


def checkout_from_env() -> str:
    """The checkout named by ``MASKPROOF_IJEPA_CHECKOUT`` (one-line error when unset)."""
    path = os.environ.get(CHECKOUT_ENV, "")
    if not path:
        raise ValueError(f"{CHECKOUT_ENV} is not set; set it to a checkout of "
                         "https://github.com/facebookresearch/ijepa (its CC-BY-NC licence keeps "
                         "it out of maskproof)")
    try:
        checkout_root(path)
    except ValueError as error:
        raise ValueError(f"{CHECKOUT_ENV}: {error}") from None
    return path


class TinyOfficialIJEPA(OfficialIJEPAAdapter):
    """The tiny configuration on the checkout named by ``MASKPROOF_IJEPA_CHECKOUT``."""

    def __init__(self) -> None:
        super().__init__(checkout_from_env())


__all__ = ["CHECKOUT_ENV", "OfficialIJEPAAdapter", "OfficialIJEPATrainer", "TinyConfig",
           "TinyOfficialIJEPA", "load_official"]
