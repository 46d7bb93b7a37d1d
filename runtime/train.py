"""The training loop: validated setup, deterministic steps, atomic checkpoints, exact resume.

Randomness. One CPU ``torch.Generator`` seeded with ``--seed`` draws, in order, each epoch's
data permutation, each batch's crop boxes (``--crop-scale``) and every mask, all in the main
process (``--workers`` processes only read the images of the batches it chose); model
initialisation runs from the same seed inside a forked RNG scope. Nothing reads the global RNG,
so on CPU a run is a function of its config.

Resume. A checkpoint holds the model, AdamW state, the generator state, the current epoch's
permutation and the step; the learning rate is a pure function of the step. Restoring them and
continuing replays the same sequence of operations, so a run killed and resumed ends with the
same weights, bit for bit, as one never interrupted (on CPU with the same thread count). The
open logging window's losses are checkpointed too, so the metric lines match as well.

Run folder (rank 0 writes): ``config.json`` (the resolved config, the train/validation split
sizes, an image folder's class names), ``metrics.jsonl`` (one JSON
object per logged step: the window's mean ``loss``, its ``step_losses`` and ``step_lrs``,
``last_loss``, ``lr``, the pre-clip ``grad_norm``; for I-JEPA the collapse metrics of a fixed
batch; with ``--val-fraction`` the held-out ``val_loss``), ``checkpoint.pt``,
``loss_curve.png`` (every step's loss and the learning rate), ``reconstructions.png`` (tasks
that reconstruct pixels), ``collapse.png`` (I-JEPA), ``metrics.csv`` / ``tensorboard/`` (with
``--log``), then ``summary.json`` and finally the empty ``COMPLETE`` marker. Every
input is validated before the folder is created; a folder this call created is removed again if
setup fails before the first checkpoint, so no folder looks like a finished run unless it is.

One writer at a time: ``LOCK`` (pid and host, :mod:`runtime.runlock`) is held while a run writes
the folder. ``--resume`` validates every checkpoint field against the run before loading any, and
continues a folder stopped before its first checkpoint from step 0. Stale ``.NAME.*.tmp`` files
of a killed writer are removed when the run starts again.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from types import FrameType
from typing import Any, NamedTuple, Protocol

import torch
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel

from maskproof.runtime import distributed, metric_writers, run_history
from maskproof.runtime.atomic import blocking_file, with_path
from maskproof.runtime.augment import random_crop_boxes, resample_boxes
from maskproof.runtime.checkpoint import (
    CHECKPOINT_FORMAT,
    CHECKPOINT_NAME,
    check_config,
    check_epoch_order,
    check_generator,
    check_log_window,
    check_optimizer,
    check_schedule,
    check_step,
    check_tensors,
    keep_previous_checkpoint,
    load_checkpoint,
    prune_kept_checkpoints,
    save_checkpoint,
    write_bytes_atomic,
    write_json_atomic,
)
from maskproof.runtime.config import TrainConfig, config_from_json_dict
from maskproof.runtime.data import ImageData, load_images
from maskproof.runtime.errors import (
    NonFiniteLossError,
    RunStopped,
    StepCheckFailed,
    Terminated,
    UserError,
)
from maskproof.runtime.loader import BatchLoader
from maskproof.runtime.optim import build_adamw, default_warmup_steps, lr_at, scaled_lr, set_lr
from maskproof.runtime.runlock import LOCK_NAME, RunLock, check_unlocked
from maskproof.runtime.split import held_out_count, split_indices
from maskproof.runtime.tasks import Shard, StepOutputs, Task, build_model_seeded, make_task
from maskproof.runtime.train_step import (
    FirstStepTimer,
    autocast,
    compile_forward,
    make_grad_scaler,
    micro_shards,
    resolve_precision,
)

CONFIG_NAME = "config.json"
METRICS_NAME = "metrics.jsonl"
SUMMARY_NAME = "summary.json"
COMPLETE_NAME = "COMPLETE"
#: Images shown in the reconstruction grid.
GRID_IMAGES = 8
#: Files of a run folder written atomically; ``.NAME.*.tmp`` temporaries of them left by a killed
#: process are removed when the run starts again.
RUN_FILES = (CHECKPOINT_NAME, CONFIG_NAME, METRICS_NAME, SUMMARY_NAME, COMPLETE_NAME,
             "loss_curve.png", "reconstructions.png", "collapse.png", "metrics.csv", "probe.json")
#: Images of the fixed batch the task's monitor metrics (I-JEPA collapse) are computed on: the
#: first training images, in eval mode.
MONITOR_IMAGES = 256



@dataclass(frozen=True)
class LiveStep:
    """What a step check sees: the step about to update (0-based), the run's config, the
    unwrapped model (weights before this step's update) and the forward pass on this rank's
    rows of the live batch. Checks run inside the step's autocast context (bf16 on CUDA)."""

    step: int
    config: TrainConfig
    model: nn.Module
    outputs: StepOutputs


class AdvancedStep(NamedTuple):
    """What one step of the loop did: the loss, the pre-clip gradient norm, the learning rate,
    and the crop boxes of this rank's rows (``None`` without ``--crop-scale``)."""

    loss: float
    grad_norm: float
    lr: float
    boxes: Tensor | None

    @property
    def values(self) -> tuple[float, float, float]:
        return self.loss, self.grad_norm, self.lr


class StepCheck(Protocol):
    """A check run on live batches (the bridge supplies the runtime-vs-spec one).

    ``due(step)`` says whether step ``step`` (0-based) is checked; every rank asks, and every
    rank runs the check on its own rows. ``__call__`` returns ``None`` when the step agrees, or
    a one-line description of the first disagreement, which stops the run before the update.
    """

    def due(self, step: int) -> bool: ...

    def __call__(self, live: LiveStep) -> str | None: ...

    def summary(self) -> str:
        """One line on what was checked, printed when the run ends."""
        ...


@dataclass(frozen=True)
class Schedule:
    """Step counts and learning rates derived from the config and the data size."""

    steps_per_epoch: int
    total_steps: int
    warmup_steps: int
    peak_lr: float
    min_lr: float

    def as_dict(self) -> dict[str, float | int]:
        return {"steps_per_epoch": self.steps_per_epoch, "total_steps": self.total_steps,
                "warmup_steps": self.warmup_steps, "peak_lr": self.peak_lr,
                "min_lr": self.min_lr}


@dataclass
class RunResult:
    run_dir: Path
    final_step: int
    final_loss: float
    metrics: list[dict[str, Any]] = field(default_factory=list)
    is_main: bool = True  # False on torchrun ranks other than 0, which print nothing


def make_schedule(config: TrainConfig, num_images: int) -> Schedule:
    """Steps per epoch (last partial batch dropped), total steps, warmup, scaled peak lr.

    ``num_images``: all the data's images; the ``--val-fraction`` held out are not trained on.
    """
    held = held_out_count(config.val_fraction, num_images)
    training = num_images - held
    steps_per_epoch = training // config.batch_size
    if steps_per_epoch == 0:
        after = f" left after --val-fraction {config.val_fraction} holds out {held}" if held \
            else ""
        raise UserError(f"--batch-size {config.batch_size}: larger than the {training} "
                        f"training images{after}")
    total = config.steps if config.steps is not None else config.epochs * steps_per_epoch
    warmup = config.warmup_steps if config.warmup_steps is not None \
        else default_warmup_steps(total)
    if warmup > total:
        raise UserError(f"--warmup-steps {warmup}: more than the {total} training steps")
    peak = scaled_lr(config.lr, config.batch_size)
    if config.min_lr > peak:
        raise UserError(f"--min-lr {config.min_lr}: above the peak learning rate {peak:g}")
    return Schedule(steps_per_epoch, total, warmup, peak, config.min_lr)


def default_run_dir(task: str) -> Path:
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    return Path("runs") / f"{task}-{stamp}"


def claim_default_run_dir(task: str, parent: Path = Path("runs"),
                          stamp: str | None = None) -> Path:
    """Create and return ``parent/<task>-<stamp>``, or ``...-2``, ``-3``, ... if that is taken.

    ``mkdir`` without ``exist_ok`` is atomic, so two runs started in the same second (the stamp's
    resolution) get two folders, never one shared one.
    """
    stamp = stamp or datetime.now().strftime("%Y%m%d-%H%M%S")
    parent.mkdir(parents=True, exist_ok=True)
    for number in range(1, 10_000):
        folder = parent / (f"{task}-{stamp}" if number == 1 else f"{task}-{stamp}-{number}")
        try:
            folder.mkdir()
        except FileExistsError:
            continue
        return folder
    raise UserError(f"{parent}: no free run folder name for {task}-{stamp}; pass --out")


def remove_stale_temporaries(run_dir: Path) -> list[str]:
    """Delete the ``.NAME.*.tmp`` files a killed writer left in ``run_dir``; return their names."""
    removed = []
    for name in (*RUN_FILES, "checkpoint-*.pt"):  # the second: --keep-checkpoints copies
        for temp in run_dir.glob(f".{name}.*.tmp"):
            temp.unlink(missing_ok=True)
            removed.append(temp.name)
    return removed


def read_run_config(run_dir: Path) -> TrainConfig:
    """The resolved config a run folder was started with."""
    path = run_dir / CONFIG_NAME
    if not run_dir.is_dir():
        raise UserError(f"run folder {run_dir}: no such directory")
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"run folder {run_dir}: no {CONFIG_NAME}; not a maskproof run") from None
    except (OSError, json.JSONDecodeError) as error:
        raise UserError(f"{path}: unreadable ({error})") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("config"), dict):
        raise UserError(f"{path}: expected an object with a `config` entry")
    return config_from_json_dict(raw["config"], str(path))


@dataclass
class _Setup:
    """Everything validated and built before the run folder may be touched."""

    config: TrainConfig
    ctx: distributed.DistContext
    device: torch.device
    data: ImageData
    task: Task
    schedule: Schedule
    shard: Shard
    model: nn.Module
    optimizer: torch.optim.AdamW
    generator: torch.Generator
    #: Sorted data positions trained on and held out (``--val-fraction``; runtime.split).
    train_indices: Tensor
    val_indices: Tensor
    step: int = 0
    epoch_order: Tensor | None = None
    #: Losses of the steps since the last metric line (checkpointed: a resumed window's mean is
    #: the uninterrupted run's).
    log_window: list[float] = field(default_factory=list)
    log_window_lrs: list[float] = field(default_factory=list)  # each of those steps' lr
    #: Extra metric writers (``--log``): a subset of ``("csv", "tensorboard")``.
    log_writers: tuple[str, ...] = ()
    #: The resolved ``--precision`` (fp32, bf16 or fp16) and fp16's loss scaler (checkpointed).
    precision: str = field(init=False)
    scaler: torch.amp.GradScaler | None = field(init=False)

    def __post_init__(self) -> None:
        self.precision = resolve_precision(self.config.precision, self.device)
        self.scaler = make_grad_scaler(self.precision, self.device)
        micro_shards(self.shard, self.config.grad_accum)  # this rank's rows split evenly


def _prepare(config: TrainConfig, device: torch.device,
             ctx: distributed.DistContext) -> _Setup:
    data = load_images(config.data, config.labels, config.image_size)
    task = make_task(config, data.shape)
    schedule = make_schedule(config, data.count)
    train_indices, val_indices = split_indices(data.count, config.val_fraction, config.seed)
    rows = distributed.local_slice(config.batch_size, ctx)
    shard = Shard(rows.start, rows.stop, config.batch_size)
    model = build_model_seeded(task, config.seed).to(device)
    groups = task.param_groups(model, config.weight_decay)
    optimizer = build_adamw(groups, schedule.peak_lr, device)
    generator = torch.Generator().manual_seed(config.seed)
    return _Setup(config, ctx, device, data, task, schedule, shard, model, optimizer, generator,
                  train_indices, val_indices)


def validate_state(setup: _Setup, state: dict[str, Any], source: Path,
                   earlier: Earlier = ((), ())) -> None:
    """Every field ``--resume`` reads, checked against this run before anything is loaded.

    ``earlier``: configurations and schedules the folder records as replaced by a resume that
    changed the learning-rate knobs; a checkpoint may carry those instead of the current ones.
    """
    check_config(source, state["config"], setup.config.to_json_dict(), earlier[0])
    check_step(source, state["step"], setup.schedule.total_steps)
    check_schedule(source, state["schedule"], setup.schedule.as_dict(), earlier[1])
    check_tensors(source, "model", state["model"], setup.model.state_dict())
    check_optimizer(source, state["optimizer"], setup.optimizer)
    check_generator(source, state["generator"], setup.generator)
    check_epoch_order(source, state["epoch_order"], setup.train_indices.numel())
    window = open_window_length(state["step"], setup.schedule.total_steps,
                                setup.config.log_every)
    check_log_window(source, state.get("log_window"), window)
    check_log_window(source, state.get("log_window_lrs"), window, "log_window_lrs")


def open_window_length(step: int, total_steps: int, log_every: int) -> int:
    """Steps trained since the last metric line, at ``step`` (a line is logged every
    ``log_every`` steps and at the last step)."""
    return 0 if step == total_steps else step % log_every


Earlier = tuple[Sequence[Mapping[str, Any]], Sequence[Mapping[str, Any]]]


def _earlier(run_dir: Path, saved: TrainConfig, changes: Mapping[str, object],
             setup: _Setup) -> Earlier:
    """The configurations and schedules a checkpoint of this folder may carry besides the
    current ones: those config.json records as replaced, and ``saved`` when this resume
    changes it (the checkpoint predates the change)."""
    configs, schedules = run_history.earlier_settings(run_dir)
    if changes:
        configs.append(saved.to_json_dict())
        schedules.append(make_schedule(saved, setup.data.count).as_dict())
    return configs, schedules


def _restore(setup: _Setup, state: dict[str, Any], source: Path,
             earlier: Earlier = ((), ())) -> None:
    validate_state(setup, state, source, earlier)
    try:
        setup.model.load_state_dict(state["model"])
        setup.optimizer.load_state_dict(state["optimizer"])
        setup.generator.set_state(state["generator"])
        if setup.scaler is not None and "grad_scaler" in state:
            setup.scaler.load_state_dict(state["grad_scaler"])
    except (RuntimeError, ValueError, KeyError, TypeError) as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else repr(error)
        raise UserError(f"checkpoint {source}: does not fit this model ({first[:160]})") \
            from None
    setup.step = state["step"]
    order = state["epoch_order"]
    setup.epoch_order = order if isinstance(order, Tensor) and order.numel() else None
    setup.log_window = list(state.get("log_window") or [])
    setup.log_window_lrs = list(state.get("log_window_lrs") or [])


def _checkpoint_state(setup: _Setup) -> dict[str, Any]:
    order = setup.epoch_order if setup.epoch_order is not None else torch.empty(0, dtype=torch.long)
    return {
        "format": CHECKPOINT_FORMAT,
        "step": setup.step,
        "model": setup.model.state_dict(),
        "optimizer": setup.optimizer.state_dict(),
        "schedule": setup.schedule.as_dict(),
        "generator": setup.generator.get_state(),
        "epoch_order": order,
        "config": setup.config.to_json_dict(),
        "log_window": list(setup.log_window),
        "log_window_lrs": list(setup.log_window_lrs),
        **({} if setup.scaler is None else {"grad_scaler": setup.scaler.state_dict()}),
    }


def _autocast(device: torch.device,
              precision: str = "auto") -> contextlib.AbstractContextManager[Any]:
    """The step's autocast for ``--precision`` (auto: bf16 on CUDA, none on CPU)."""
    return autocast(resolve_precision(precision, device), device)


def _trim_metrics(path: Path, last_step: int) -> list[dict[str, Any]]:
    """Keep the metric lines up to the checkpoint a resumed run continues from."""
    if not path.is_file():
        return []
    kept: list[dict[str, Any]] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue  # a line torn by the kill
        if isinstance(record, dict) and record.get("step", math.inf) <= last_step:
            kept.append(record)
    payload = "".join(json.dumps(record) + "\n" for record in kept).encode()
    write_bytes_atomic(path, payload)
    return kept


@contextlib.contextmanager
def _signals_deferred() -> Iterator[None]:
    """Hold SIGINT and SIGTERM back for the block; a signal that came meanwhile acts after it.

    Only Python-level handlers are deferred (``KeyboardInterrupt``, the CLI's SIGTERM one): a
    signal mask would not do, since the kernel hands a process's signal to any thread that does
    not block it (PyTorch's worker threads), and the main thread then runs the handler anyway.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    pending: list[int] = []

    def hold(signum: int, frame: FrameType | None) -> None:
        pending.append(signum)

    handlers = {}
    for number in (signal.SIGINT, signal.SIGTERM):
        current = signal.getsignal(number)
        if callable(current):  # SIG_DFL / SIG_IGN / None stay as they are
            handlers[number] = current
            signal.signal(number, hold)
    try:
        yield
    finally:
        for number, handler in handlers.items():
            signal.signal(number, handler)
    if pending:
        handlers[signal.Signals(pending[0])](pending[0], None)


def _progress(total: int, initial: int, enabled: bool) -> Any:
    from tqdm import tqdm

    return tqdm(total=total, initial=initial, disable=not enabled, unit="step",
                dynamic_ncols=True, leave=False)


def _first_non_finite(model: nn.Module, optimizer: torch.optim.Optimizer) -> str | None:
    """The name of the first parameter or optimizer-state tensor holding NaN or infinity."""
    for name, tensor in model.state_dict().items():
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            return f"parameter {name}"
    for index, entry in enumerate(optimizer.state.values()):
        for key, value in entry.items():
            if isinstance(value, Tensor) and value.is_floating_point() \
                    and not bool(torch.isfinite(value).all()):
                return f"optimizer state {key} of parameter {index}"
    return None


class _Trainer:
    def __init__(self, setup: _Setup, run_dir: Path, quiet: bool,
                 checks: tuple[StepCheck, ...]) -> None:
        self.s = setup
        self.run_dir = run_dir
        self.main = setup.ctx.is_main
        self.quiet = quiet
        self.checks = checks
        self.metrics: list[dict[str, Any]] = []
        self.writers: list[Any] = []  # --log csv / tensorboard, opened with metrics.jsonl
        self.last_checkpoint = -1
        self.monitor_images = setup.data.gather(
            setup.train_indices[:MONITOR_IMAGES]).to(setup.device)
        self.loader = BatchLoader(setup.data, setup.config.workers)
        model = setup.model
        if setup.ctx.distributed:
            ids = [setup.device.index] if setup.device.type == "cuda" else None
            model = DistributedDataParallel(model, device_ids=ids)
        self.forward_model = compile_forward(model) if setup.config.compile else model
        self.first_step = FirstStepTimer(setup.config.compile)
        self.params = [p for group in setup.optimizer.param_groups for p in group["params"]]

    def _batches(self) -> Iterator[tuple[Tensor, Tensor]]:
        """This rank's ``(data positions, images)`` of each step from ``s.step`` on, drawing an
        epoch's order from the
        run's generator when the step that starts the epoch asks for its batch (lazily: the
        draw sits between the previous step's masks and this step's, with or without
        workers). The rest of the epoch's index batches go to the loader at once."""
        s = self.s
        per_epoch, size = s.schedule.steps_per_epoch, s.config.batch_size
        while s.step < s.schedule.total_steps:
            position = s.step % per_epoch
            if position == 0 or s.epoch_order is None:
                s.epoch_order = torch.randperm(s.train_indices.numel(), generator=s.generator)
            order = s.epoch_order
            last = min(per_epoch, position + s.schedule.total_steps - s.step)
            batches = [s.train_indices[order[p * size:(p + 1) * size]][s.shard.start:s.shard.stop]
                       for p in range(position, last)]
            yield from zip(batches, self.loader.load(batches), strict=True)

    def _validation(self) -> dict[str, float]:
        """``val_loss``: the task loss of the held-out images (eval mode, no gradients), in
        batches of ``--batch-size``, image-weighted; masks from a generator seeded afresh with
        ``--seed`` each time, so every logged value scores the same masks."""
        s = self.s
        if s.val_indices.numel() == 0:
            return {}
        generator = torch.Generator().manual_seed(s.config.seed)
        total = 0.0
        s.model.eval()
        try:
            with torch.no_grad(), _autocast(s.device, s.precision):
                size = s.config.batch_size
                for start in range(0, s.val_indices.numel(), size):
                    chunk = s.val_indices[start:start + size]
                    images = s.data.gather(chunk).to(s.device)
                    outputs = s.task.forward_step(s.model, images, generator,
                                                  Shard.whole(chunk.numel()))
                    total += float(outputs.local_loss.float()) * chunk.numel()
        finally:
            s.model.train()
        return {"val_loss": total / s.val_indices.numel()}

    def save(self) -> None:
        # A finite loss does not make the update finite (a huge step overflows the weights
        # after the loss was computed): every checkpoint is checked, so "the last good
        # checkpoint" a non-finite stop points to is finite, weights and optimizer state.
        where = _first_non_finite(self.s.model, self.s.optimizer)
        if where is not None:
            raise NonFiniteLossError(f"{where} is not finite after step {self.s.step}; training "
                                     f"stopped before writing it ({self._kept()}); resume with "
                                     "a smaller --lr or a --clip-grad")
        # SIGINT/SIGTERM wait until the checkpoint is written and recorded, so the step a
        # stopped run reports is the step on disk.
        with _signals_deferred():
            if self.main:
                path = self.run_dir / CHECKPOINT_NAME
                keep = self.s.config.keep_checkpoints
                previous = self.last_checkpoint
                if keep > 1 and 0 <= previous != self.s.step and path.is_file():
                    keep_previous_checkpoint(path, previous)
                save_checkpoint(path, _checkpoint_state(self.s))
                if keep > 1:  # only now, with the new one whole on disk, may older ones go
                    prune_kept_checkpoints(self.run_dir, self.s.step, keep)
            self.last_checkpoint = self.s.step

    def _log(self, record: dict[str, Any], handle: Any) -> None:
        self.metrics.append(record)
        if self.main:
            try:
                handle.write(json.dumps(record) + "\n")
                handle.flush()
            except OSError as error:  # a full disk names no file on write()
                raise with_path(error, self.run_dir / METRICS_NAME) from None
            for writer in self.writers:
                writer.write(record)

    def _monitor(self) -> dict[str, float]:
        """The task's metrics of the current weights on the fixed monitor batch (no gradients,
        no generator, full precision: a collapse metric needs more digits than bf16 has)."""
        model = self.s.model
        model.eval()
        try:
            with torch.no_grad():
                return self.s.task.monitor(model, self.monitor_images)
        finally:
            model.train()

    def _grad_norm(self) -> float:
        """Total L2 norm of every gradient before the update; with ``--clip-grad`` the norm
        before clipping (what ``clip_grad_norm_`` returns), so a clipped step shows its size."""
        grads = [p.grad for p in self.params if p.grad is not None]
        clip = self.s.config.clip_grad
        if clip is not None:
            norm = torch.nn.utils.clip_grad_norm_(self.params, clip)
        elif grads:
            norm = torch.nn.utils.get_total_norm(grads)
        else:
            return 0.0
        return float(norm)

    def _fail(self, what: str, value: float) -> NonFiniteLossError:
        return NonFiniteLossError(f"{what} is {value} at step {self.s.step}; training stopped "
                                  f"({self._kept()}); resume with a smaller --lr or a "
                                  "--clip-grad")

    def _run_checks(self, outputs: StepOutputs) -> None:
        """Run the due step checks on every rank; stop every rank if any rank disagrees."""
        s = self.s
        for check in self.checks:
            if not check.due(s.step):
                continue
            failure = check(LiveStep(s.step, s.config, s.model, outputs))
            failed = distributed.any_across_ranks(failure is not None, s.ctx)
            if failed:
                where = failure if failure is not None else "another process's check failed"
                raise StepCheckFailed(f"step {s.step}: {where}; training stopped before this "
                                      f"update ({self._kept()})")

    def _kept(self) -> str:
        if self.last_checkpoint < 0:
            return "no checkpoint was written"
        return (f"last good checkpoint: step {self.last_checkpoint} in "
                f"{self.run_dir / CHECKPOINT_NAME}")

    def advance(self, images: Tensor) -> AdvancedStep:
        """Step ``s.step`` of the loop on this rank's ``images``: the random resized crop (when
        ``--crop-scale`` is set), the update, the task's after-step (the EMA), ``s.step + 1``."""
        s = self.s
        batch = images.to(s.device, non_blocking=True)
        boxes = None
        if s.config.crop_scale is not None:
            boxes = random_crop_boxes(s.generator, s.config.crop_scale, s.shard.start,
                                      batch.shape[0], s.shard.global_size)
            batch = resample_boxes(batch, boxes)
        loss_value, grad_norm, lr = self.train_step(batch)
        s.task.after_step(s.model, s.step, s.schedule.total_steps)
        s.step += 1
        return AdvancedStep(loss_value, grad_norm, lr, boxes)

    def train_step(self, batch: Tensor) -> tuple[float, float, float]:
        """One optimizer update on this rank's ``batch``: ``(loss, pre-clip grad norm, lr)``.
        The loop's own step (``bench/throughput.py`` times it as the CLI runs it)."""
        s = self.s
        s.model.train()
        self.first_step.start()
        loss_value = self._forward_backward(batch)
        grad_norm = self._grad_norm()
        if not math.isfinite(grad_norm) and s.scaler is None:  # fp16: the scaler skips it
            raise self._fail("gradient norm", grad_norm)
        schedule = s.schedule
        lr = lr_at(s.step, schedule.total_steps, schedule.warmup_steps, schedule.peak_lr,
                   schedule.min_lr)
        set_lr(s.optimizer, lr)
        if s.scaler is None:
            s.optimizer.step()
        else:
            s.scaler.step(s.optimizer)
            s.scaler.update()
        self._report_compile()
        return loss_value, grad_norm, lr

    def _forward_backward(self, batch: Tensor) -> float:
        """Forward and backward of this rank's ``batch`` in ``--grad-accum`` micro-batches under
        the step's precision (see :mod:`runtime.train_step`); the step's loss, the mean over
        ranks. Each micro-batch restarts from the step's generator state, so its masks are the
        whole batch's rows; the step checks run on each, before its backward."""
        s = self.s
        parts = micro_shards(s.shard, s.config.grad_accum)
        start_state = s.generator.get_state() if len(parts) > 1 else None
        s.optimizer.zero_grad(set_to_none=True)
        total = 0.0
        for part in parts:
            if start_state is not None:
                s.generator.set_state(start_state)
            rows = batch[part.start - s.shard.start:part.stop - s.shard.start]
            with autocast(s.precision, s.device):
                outputs = s.task.forward_step(self.forward_model, rows, s.generator, part)
                loss = outputs.loss if len(parts) == 1 else outputs.loss / len(parts)
                value = float(distributed.mean_across_ranks(loss.detach().float(), s.ctx))
                if not math.isfinite(value):
                    raise self._fail("loss", value * len(parts))
                # Under the step's autocast: a check that recomputes part of the forward
                # pass (the MAE norm-pix target) repeats the step's own operations.
                self._run_checks(outputs)
            total += value
            torch.autograd.backward(loss if s.scaler is None else s.scaler.scale(loss))
        if s.scaler is not None:
            s.scaler.unscale_(s.optimizer)  # the gradient norm and clipping see true sizes
        return total

    def _report_compile(self) -> None:
        """After the first compiled step: its wall time, once, on stderr (and summary.json)."""
        seconds = self.first_step.stop()
        if seconds is not None and self.main and not self.quiet:
            print(f"maskproof train: first compiled step {seconds:.1f} s (compilation "
                  "included)", file=sys.stderr)

    def run(self, metrics_handle: Any) -> float:
        s = self.s
        config, schedule = s.config, s.schedule
        batches = self._batches()
        bar = _progress(schedule.total_steps, s.step,
                        self.main and not self.quiet and sys.stderr.isatty())
        started = time.perf_counter()
        # A run resumed from its final checkpoint (killed while finishing) trains no step.
        last_loss = float(self.metrics[-1]["last_loss"]) if self.metrics else math.nan
        try:
            while s.step < schedule.total_steps:
                _, images = next(batches)
                loss_value, grad_norm, lr = self.advance(images).values
                last_loss = loss_value
                window = s.log_window  # restored from the checkpoint on resume
                window.append(loss_value)
                s.log_window_lrs.append(lr)
                bar.update(1)
                if s.step % config.log_every == 0 or s.step == schedule.total_steps:
                    record = {"step": s.step, "epoch": s.step / schedule.steps_per_epoch,
                              "loss": sum(window) / len(window), "last_loss": loss_value,
                              "lr": lr, "grad_norm": grad_norm,
                              "seconds": time.perf_counter() - started,
                              "step_losses": list(window), "step_lrs": list(s.log_window_lrs),
                              **self._monitor(), **self._validation()}
                    bar.set_postfix(loss=f"{record['loss']:.4f}")
                    self._log(record, metrics_handle)
                    s.log_window, s.log_window_lrs = [], []
                if s.step % config.checkpoint_every == 0 or s.step == schedule.total_steps:
                    self.save()
        finally:
            bar.close()
        return last_loss


def _finish(trainer: _Trainer, final_loss: float, seconds: float, steps_run: int) -> None:
    from maskproof.runtime import plots

    s = trainer.s
    run_dir = trainer.run_dir
    all_metrics = trainer.metrics
    plots.plot_loss_curve(all_metrics, run_dir / "loss_curve.png", title=s.config.task)
    collapse = _final_collapse(all_metrics)
    monitored = min(MONITOR_IMAGES, s.train_indices.numel())
    if collapse is not None:
        plots.plot_collapse(all_metrics, run_dir / "collapse.png", title=s.config.task,
                            images=monitored)
    s.model.eval()
    with torch.no_grad():
        shown = s.data.gather(s.train_indices[:GRID_IMAGES]).to(s.device)
        grid = s.task.reconstructions(s.model, shown,
                                      torch.Generator().manual_seed(s.config.seed))
    if grid is not None:
        plots.plot_reconstructions(grid, run_dir / "reconstructions.png")
    images_per_second = steps_run * s.config.batch_size / seconds if seconds > 0 else 0.0
    summary: dict[str, Any] = {
        "task": s.config.task, "steps": s.step, "final_loss": final_loss,
        "train_seconds_this_invocation": seconds, "images_per_second": images_per_second,
        "device": str(s.device), "world_size": s.ctx.world_size, "data": s.data.source,
        "schedule": s.schedule.as_dict(), **_data_facts(s),
    }
    summary.update({"compile": s.config.compile, "compile_seconds": trainer.first_step.seconds,
                    "precision": s.precision, "grad_accum": s.config.grad_accum})
    if collapse is not None:
        summary["collapse"] = {
            **collapse, "features": "target (EMA) encoder tokens mean-pooled per image, on "
            f"the first {monitored} training images; effective_rank is of the centred "
            "features, effective_rank_uncentred of the features as they are"}
    write_json_atomic(run_dir / SUMMARY_NAME, summary)
    write_bytes_atomic(run_dir / COMPLETE_NAME, b"")


def _data_facts(setup: _Setup) -> dict[str, Any]:
    """What config.json and summary.json record of the data: the split sizes and, for an image
    folder with class subfolders, the class names in label order."""
    facts: dict[str, Any] = {"split": {"train": setup.train_indices.numel(),
                                       "validation": setup.val_indices.numel()}}
    if setup.data.classes is not None:
        facts["classes"] = list(setup.data.classes)
    return facts


def _final_collapse(metrics: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The last metric line's collapse metrics (I-JEPA), or ``None`` if it has none."""
    from maskproof.runtime.plots import COLLAPSE_FIELDS

    if not metrics or not all(name in metrics[-1] for name in COLLAPSE_FIELDS):
        return None
    last = metrics[-1]
    return {"step": last["step"], **{name: last[name] for name in last
                                     if name.startswith("target_")}}


@dataclass(frozen=True)
class SimulatedRank(distributed.DistContext):
    """Rank ``rank`` of ``world_size`` in this one process, without a process group: the rank's
    data shard, masks, crops and schedules, but no gradient all-reduce (each rank updates from
    its own rows). For the audit's rank contracts (``bridge.audit.reference_ranks``)."""

    @property
    def distributed(self) -> bool:
        return False


class StepLoop:
    """The training loop of ``config`` as rank ``ctx`` runs it, one step per :meth:`step`, with no
    run folder: nothing is written, logged or checkpointed. The steps are the CLI's own
    (:meth:`_Trainer.advance`); ``checks`` see each step's forward pass as in ``train``."""

    def __init__(self, config: TrainConfig, ctx: distributed.DistContext,
                 checks: tuple[StepCheck, ...] = ()) -> None:
        self.setup = _prepare(config, torch.device("cpu"), ctx)
        # The run folder is never written: save() is only reached from run().
        self._trainer = _Trainer(self.setup, Path(os.devnull), quiet=True, checks=checks)
        self._batches = self._trainer._batches()

    def step(self) -> tuple[Tensor, AdvancedStep]:
        """The next step: this rank's data positions, and what the step did."""
        positions, images = next(self._batches)
        return positions, self._trainer.advance(images)


def train(config: TrainConfig, *, out: str | None = None, resume: str | None = None,
          device: str | None = None, quiet: bool = False,
          checks: tuple[StepCheck, ...] = (), log: Sequence[str] = ()) -> RunResult:
    """Train ``config`` into a new run folder ``out`` (or continue the run folder ``resume``).

    ``log``: extra metric writers besides ``metrics.jsonl`` (``csv``, ``tensorboard``; the
    ``--log`` values, see :func:`runtime.metric_writers.parse_log_writers`).

    The folder is locked (``LOCK``) while this call writes it; a second writer is refused. SIGINT
    and SIGTERM (see ``runtime.cli``) surface as :class:`RunStopped`, which says where the run
    stopped and whether it can be resumed.
    """
    ctx = distributed.context_from_env()
    run_dir = Path(resume) if resume is not None else Path(out) if out is not None else None
    state: dict[str, Any] | None = None
    changes: dict[str, tuple[Any, Any]] = {}  # the learning-rate knobs a resume changes
    log_writers = metric_writers.parse_log_writers(log)
    metric_writers.require_available(log_writers)  # before any folder is touched
    with contextlib.ExitStack() as stack:
        try:
            if resume is not None:
                assert run_dir is not None
                saved = read_run_config(run_dir)
                if ctx.is_main:
                    stack.enter_context(RunLock(run_dir, "--resume"))
                if saved.task != config.task:
                    raise UserError(f"--resume {run_dir}: a {saved.task} run, not {config.task}")
                if (run_dir / COMPLETE_NAME).exists():
                    raise UserError(f"--resume {run_dir}: the run is already complete")
                changes = run_history.resume_changes(saved, config)
                config = run_history.apply_changes(saved, changes)
                metrics = run_dir / METRICS_NAME
                trained = metrics.is_file() and metrics.stat().st_size > 0
                if (run_dir / CHECKPOINT_NAME).exists() or trained:  # trained: checkpoint lost
                    state = load_checkpoint(run_dir / CHECKPOINT_NAME)
                elif ctx.is_main:
                    print(f"maskproof train: {run_dir} has a config but no checkpoint (stopped "
                          "before its first one); starting it again from step 0",
                          file=sys.stderr)
            elif run_dir is not None:
                blocking = blocking_file(run_dir)
                if blocking is not None:
                    raise UserError(f"--out {run_dir}: {blocking} is a file, expected a folder "
                                    "there")
                if run_dir.is_dir():
                    check_unlocked(run_dir, "--out")
                if run_dir.exists() and (not run_dir.is_dir() or any(run_dir.iterdir())):
                    raise UserError(f"--out {run_dir}: exists and is not empty; pick a new "
                                    "folder or continue it with --resume")
            device_kind = distributed.resolve_device(device or config.device, ctx)
            distributed.start(ctx, device_kind)
            try:
                setup = _prepare(config, device_kind, ctx)
                setup.log_writers = log_writers
                if state is not None:
                    assert run_dir is not None
                    _restore(setup, state, run_dir / CHECKPOINT_NAME,
                             _earlier(run_dir, saved, changes, setup))
                if changes and ctx.is_main:
                    assert run_dir is not None
                    before = saved, make_schedule(saved, setup.data.count).as_dict()
                    run_history.record_resume(run_dir, setup.step, changes, before,
                                              (setup.config, setup.schedule.as_dict()))
                    print(f"maskproof train: resuming {run_dir} at step {setup.step} with "
                          f"{run_history.describe(changes)}", file=sys.stderr)
                return _run(setup, run_dir, created=resume is None, fresh=state is None,
                            quiet=quiet, checks=checks, stack=stack)
            finally:
                distributed.stop(ctx)
        except RunStopped:
            raise
        except KeyboardInterrupt as stop:  # before the run folder was touched
            resumable = resume is not None
            raise RunStopped(_signal_name(stop), str(run_dir) if resumable else None,
                             None) from None
    raise AssertionError("unreachable")  # pragma: no cover - mypy: ExitStack may swallow


def _signal_name(stop: KeyboardInterrupt) -> str:
    return "SIGTERM" if isinstance(stop, Terminated) else "SIGINT"


def _run(setup: _Setup, run_dir: Path | None, created: bool, fresh: bool, quiet: bool,
         checks: tuple[StepCheck, ...], stack: contextlib.ExitStack) -> RunResult:
    """Train in ``run_dir`` (a new folder if ``created``; ``None``: claim the default name).

    ``fresh``: start at step 0 with a step-0 checkpoint (a new run, or a resumed folder that was
    stopped before its first checkpoint).
    """
    main = setup.ctx.is_main
    made_dir = False
    if run_dir is None:
        run_dir = claim_default_run_dir(setup.config.task) if main \
            else default_run_dir(setup.config.task)
        made_dir = main
        if main:
            stack.enter_context(RunLock(run_dir, "--out"))
    elif main and created:
        made_dir = not run_dir.exists()
        run_dir.mkdir(parents=True, exist_ok=True)
        stack.enter_context(RunLock(run_dir, "--out"))
        if any(path.name != LOCK_NAME for path in run_dir.iterdir()):  # filled meanwhile
            raise UserError(f"--out {run_dir}: exists and is not empty; pick a new folder or "
                            "continue it with --resume")
    if main:
        remove_stale_temporaries(run_dir)
    trainer = _Trainer(setup, run_dir, quiet, checks)
    try:
        with _open_run_files(setup, run_dir, created, trainer) as handle:
            start_step = setup.step
            started = time.perf_counter()
            if fresh:
                trainer.save()  # step 0: there is always a good checkpoint to fall back to
            else:
                trainer.last_checkpoint = setup.step
            final_loss = trainer.run(handle)
            seconds = time.perf_counter() - started
        distributed.barrier(setup.ctx)
        if main:
            _finish(trainer, final_loss, seconds, setup.step - start_step)
    except BaseException as error:
        removed = made_dir and trainer.last_checkpoint < 0
        if removed:
            shutil.rmtree(run_dir, ignore_errors=True)
        if isinstance(error, KeyboardInterrupt) and not isinstance(error, RunStopped):
            checkpoint = trainer.last_checkpoint if trainer.last_checkpoint >= 0 else None
            raise RunStopped(_signal_name(error), None if removed else str(run_dir),
                             checkpoint) from None
        raise
    return RunResult(run_dir, setup.step, final_loss, trainer.metrics, is_main=main)


@contextlib.contextmanager
def _open_run_files(setup: _Setup, run_dir: Path, created: bool,
                    trainer: _Trainer) -> Iterator[Any]:
    """Write ``config.json`` (new runs) and open ``metrics.jsonl`` for appending (rank 0)."""
    if not setup.ctx.is_main:
        yield None
        return
    metrics_path = run_dir / METRICS_NAME
    if created:
        write_json_atomic(run_dir / CONFIG_NAME, {
            "config": setup.config.to_json_dict(), "schedule": setup.schedule.as_dict(),
            "data": setup.data.source, **_data_facts(setup), "world_size": setup.ctx.world_size,
            "torch": torch.__version__, "precision_resolved": setup.precision,
        })
    else:  # a resumed run, from its checkpoint's step (0 for one stopped before the first)
        trainer.metrics = _trim_metrics(metrics_path, setup.step)
    with metrics_path.open("a", encoding="utf-8") as handle:
        trainer.writers = metric_writers.open_writers(
            setup.log_writers, run_dir, trainer.metrics, None if created else setup.step)
        try:
            yield handle
        finally:
            for writer in trainer.writers:
                writer.close()


def loop_step(config: TrainConfig,
              device: str = "cpu") -> tuple[Callable[[Tensor], tuple[float, float, float]],
                                            nn.Module]:
    """The training loop's own step for ``config`` and the model it trains, set up as
    :func:`train` sets them up (data, model, AdamW, ``--compile``, ``--precision``,
    ``--grad-accum``) but with no run folder: ``bench/throughput.py`` times it as the CLI runs
    it. ``step(batch)`` makes one update and returns ``(loss, grad_norm, lr)``."""
    ctx = distributed.context_from_env()
    setup = _prepare(config, torch.device(device), ctx)
    trainer = _Trainer(setup, Path("<benchmark>"), quiet=True, checks=())
    return trainer.train_step, setup.model
