"""``maskproof train {mae,jepa,vector-mae,image-mae}`` and ``maskproof probe RUN_DIR``.

Flags default to "not given" so that ``--config FILE`` values are overridden only by flags the
user actually typed. ``bridge.cli`` wires these parsers in; ``python -m runtime.cli`` runs them
on their own with the same one-line error handling.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import os
import re
import shlex
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from types import FrameType
from typing import TYPE_CHECKING, Any, NoReturn

from maskproof.runtime.config import (
    COMPILE_PAYS,
    DEVICES,
    TASKS,
    check_flags_apply,
    read_config_file,
    resolve_config,
    validate_config,
)
from maskproof.runtime.errors import (
    RunStopped,
    StepCheckFailed,
    Terminated,
    UserError,
    is_disk_full,
    os_error_message,
    usage_message,
)
from maskproof.runtime.run_history import RESUMABLE

if TYPE_CHECKING:
    from maskproof.runtime.train import StepCheck

#: Builds the live step check for ``--check-every K`` (supplied by ``bridge.cli``, so that
#: ``runtime`` never imports the bridge that checks it).
StepCheckFactory = Callable[[int], "StepCheck"]
#: K when ``--check-every`` is given without a value. The exact checks are pure Python and cost
#: about 0.4 s (vector MAE), 1.1 s (image MAE) and 3.5 s (I-JEPA) per batch of 128 on one CPU
#: thread, so K = 1000 keeps them near or under 5% of those tasks' step time; the paper MAE with
#: norm-pix (170 s per check, from the exact square-root enclosures) is far above it. Measured
#: with ``bench/check_overhead.py``.
DEFAULT_CHECK_EVERY = 1000

#: (flag, config field, type, help) of every flag that sets a TrainConfig field.
_CONFIG_FLAGS: tuple[tuple[str, str, type, str], ...] = (
    ("--epochs", "epochs", int, "passes over the data (default 100 for mae/jepa, 20 compact)"),
    ("--steps", "steps", int, "optimizer steps; overrides --epochs"),
    ("--batch-size", "batch_size", int,
     "global batch size, split across torchrun processes (default 128)"),
    ("--mask-ratio", "mask_ratio", str,
     "mae: fraction of patches masked, a decimal or fraction in [0, 1) (default 0.75)"),
    ("--patch-size", "patch_size", int, "patch side in pixels (default 4)"),
    ("--lr", "lr", float, "base learning rate; the peak is lr x batch / 256 "
                          "(default 1.5e-3 mae, 3e-4 jepa, 1e-3 compact)"),
    ("--min-lr", "min_lr", float, "learning rate at the end of the cosine (default 0)"),
    ("--warmup-steps", "warmup_steps", int, "linear warmup steps (default 5%% of the steps)"),
    ("--weight-decay", "weight_decay", float,
     "AdamW weight decay on weight matrices (default 0.05)"),
    ("--clip-grad", "clip_grad", float, "clip the global gradient norm to this value"),
    ("--crop-scale", "crop_scale", float,
     "mae/jepa: random resized crop covering [S, 1] of each image's area, as in the papers "
     "(0.2 MAE, 0.3 I-JEPA; default: no crop)"),
    ("--ema-start", "ema_start", float,
     "jepa: EMA momentum at step 0, rising linearly to 1 (default 0.9995)"),
    ("--seed", "seed", int, "seed of the data order, masks and initialisation (default 0)"),
    ("--device", "device", str, "auto, cpu or cuda (default auto)"),
    ("--data", "data", str,
     "N x C x H x W .npy images, uint8 or float, memory-mapped; or a folder of PNG/JPEG files, "
     "optionally in class subfolders (default: digits)"),
    ("--labels", "labels", str, "N integer labels .npy for --data (used by the probe)"),
    ("--image-size", "image_size", int, "side of the upsampled digits (default 16)"),
    ("--model", "model", str, "mae/jepa model preset: tiny, small, vit_b_16, ... (default tiny)"),
    ("--period", "period", int, "vector-mae/image-mae: mask period (default 4)"),
    ("--offset", "offset", int, "vector-mae/image-mae: mask offset (default 0)"),
    ("--hidden-dim", "hidden_dim", int, "vector-mae/image-mae: MLP width (default 256)"),
    ("--recon-dim", "recon_dim", int, "image-mae: reconstruction prefix width (default C*H*W)"),
    ("--checkpoint-every", "checkpoint_every", int, "steps between checkpoints (default 100)"),
    ("--keep-checkpoints", "keep_checkpoints", int,
     "checkpoints kept: checkpoint.pt (the latest, which --resume reads) and the K-1 before it "
     "as checkpoint-STEP.pt, older checkpoint-STEP.pt files deleted (default 1: only the "
     "latest, nothing deleted)"),
    ("--log-every", "log_every", int, "steps between metric lines (default 10)"),
    ("--grad-accum", "grad_accum", int,
     "split each batch into N micro-batches whose gradients are summed into one update, with "
     "the masks the whole batch would draw (default 1)"),
    ("--precision", "precision", str,
     "auto, fp32, bf16 or fp16 autocast; fp16 scales the loss with a GradScaler (default auto: "
     "bf16 on CUDA, fp32 on CPU)"),
    ("--workers", "workers", int,
     "DataLoader worker processes reading the batches (default 0: in-process); masks and "
     "crops stay drawn from the run's generator, so results do not depend on it"),
    ("--val-fraction", "val_fraction", float,
     "hold out round(F x N) images of a seeded split and log their val_loss at each metric "
     "line (default 0)"),
)
#: Exit status of a run stopped by a signal: 128 + the signal number, as a shell reports it.
STOP_EXIT_CODES = {"SIGINT": 130, "SIGTERM": 143}
#: Flags a resumed run may still take: where it runs, and the learning-rate knobs
#: (``runtime.run_history.RESUMABLE``), whose changes config.json records.
_RESUME_FLAGS = {"device", *RESUMABLE}


def _one_line_error(parser: argparse.ArgumentParser, message: str) -> NoReturn:
    print(f"{parser.prog}: {usage_message(parser, message)}", file=sys.stderr)
    sys.exit(2)


def _quiet_errors(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """argparse's own errors as one line (no usage dump), exit status 2 as usual."""
    setattr(parser, "error", lambda message: _one_line_error(parser, message))  # noqa: B010
    return parser


def add_train_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
                     step_checks: StepCheckFactory | None = None) -> None:
    """Register ``train``; with ``step_checks`` it also takes ``--check-every [K]``."""
    parser = subparsers.add_parser(
        "train", allow_abbrev=False, help="train MAE, I-JEPA or a compact TorchLean model",
        description="Train a masked self-supervised model into a run folder (config.json, "
                    "metrics.jsonl, checkpoint.pt, loss_curve.png, reconstructions.png, "
                    "collapse.png for jepa, summary.json, COMPLETE). Works unchanged under "
                    "torchrun (DDP). "
                    "Precedence: defaults < --config FILE < flags.")
    parser.add_argument("task", choices=TASKS, help="objective to train")
    for flag, dest, kind, text in _CONFIG_FLAGS:
        parser.add_argument(flag, dest=dest, type=kind, default=None, help=text)
    parser.add_argument("--norm-pix-loss", dest="norm_pix_loss", default=None,
                        action=argparse.BooleanOptionalAction,
                        help="mae: regress per-patch normalised pixels (default on, as in the "
                             "paper); --no-norm-pix-loss regresses raw pixels")
    parser.add_argument("--compile", dest="compile", default=None,
                        action=argparse.BooleanOptionalAction,
                        help="torch.compile the model's forward (default: on for mae, where it "
                             "was measured faster; off for jepa and the compact tasks)")
    parser.add_argument("--config", default=None,
                        help="JSON object of the same settings (dashes or underscores); a "
                             ".yaml/.yml file is read as YAML (needs PyYAML)")
    parser.add_argument("--out", default=None,
                        help="new run folder (default runs/<task>-<timestamp>, with -2, -3, ... "
                             "for runs started in the same second)")
    parser.add_argument("--resume", default=None, metavar="RUN_DIR",
                        help="continue the run in RUN_DIR from its last checkpoint (from step "
                             "0 if it was stopped before its first one)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument("--log", action="append", default=None, metavar="WRITER",
                        help="also write the metric lines as csv (metrics.csv) and/or "
                             "tensorboard (tensorboard/, needs the tensorboard package); "
                             "repeatable or a comma list; metrics.jsonl is always written")
    if step_checks is not None:
        parser.add_argument(
            "--check-every", dest="check_every", type=int, nargs="?", const=DEFAULT_CHECK_EVERY,
            default=None, metavar="K",
            help="check the first and every K-th live batch against the Lean spec (masks, and "
                 "the loss against the exact spec loss within its rounding bound); stop with a "
                 "one-line diff and exit status 1 on the first disagreement (K defaults to "
                 f"{DEFAULT_CHECK_EVERY})")
    parser.set_defaults(func=run_train, step_checks=step_checks)
    _quiet_errors(parser)


def add_probe_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "probe", allow_abbrev=False, help="linear probe of a run's frozen encoder",
        description="Fit a logistic-regression probe on frozen encoder features (pretrained, "
                    "the same architecture at its initialisation, and raw pixels) on a fixed "
                    "stratified split; print the accuracies and write RUN_DIR/probe.json.")
    parser.add_argument("run_dir", metavar="RUN_DIR", help="a folder written by maskproof train")
    parser.add_argument("--labels", default=None,
                        help="N integer labels .npy (default: the run's labels or digits')")
    parser.add_argument("--device", default="auto", help=f"{', '.join(DEVICES)} (default auto)")
    parser.add_argument("--quiet", action="store_true", help="do not print the table")
    parser.add_argument("--allow-incomplete", action="store_true",
                        help="probe the last checkpoint of a run that has no COMPLETE marker "
                             "(still training, or stopped)")
    parser.set_defaults(func=run_probe)
    _quiet_errors(parser)


def add_export_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "export", allow_abbrev=False, help="write a run's encoder alone as safetensors",
        description="Write the encoder of a run (MAE: the ViT encoder; I-JEPA: the target "
                    "encoder; compact tasks: the encoder MLP) as a .safetensors file holding "
                    "its config in the metadata: no decoder, optimizer or pickle. Load it with "
                    "maskproof.runtime.load_encoder(PATH). --format timm renames the tensors "
                    "to timm's VisionTransformer layout and adds a timm-style PATH.json.")
    parser.add_argument("run_dir", metavar="RUN_DIR", help="a folder written by maskproof train")
    parser.add_argument("--format", dest="fmt", required=True, metavar="FORMAT",
                        help="safetensors (maskproof's tensor names) or timm (timm's "
                             "VisionTransformer names; mae and jepa runs)")
    parser.add_argument("--out", default=None, metavar="PATH",
                        help="new file to write (default RUN_DIR/encoder.safetensors, or "
                             "encoder-timm.safetensors for timm); never overwritten")
    parser.add_argument("--allow-incomplete", action="store_true",
                        help="export the last checkpoint of a run that has no COMPLETE marker")
    parser.set_defaults(func=run_export)
    _quiet_errors(parser)


def _given_flags(args: argparse.Namespace) -> dict[str, Any]:
    dests = [dest for _, dest, _, _ in _CONFIG_FLAGS] + ["norm_pix_loss", "compile"]
    return {dest: getattr(args, dest) for dest in dests if getattr(args, dest) is not None}


def run_train(args: argparse.Namespace) -> int:
    from pathlib import Path

    from maskproof.runtime.train import read_run_config, train

    flags = _given_flags(args)
    if args.resume is not None:
        extra = ["--" + name.replace("_", "-") for name in sorted(set(flags) - _RESUME_FLAGS)]
        extra += [flag for flag, value in (("--config", args.config), ("--out", args.out))
                  if value is not None]
        if extra:
            may = ", ".join("--" + name.replace("_", "-") for name in sorted(_RESUME_FLAGS))
            raise UserError(f"--resume continues the saved config; drop {', '.join(extra)} "
                            f"(a resume may change only {may})")
        saved = read_run_config(Path(args.resume))
        if saved.task != args.task:
            raise UserError(f"--resume {args.resume}: a {saved.task} run, not {args.task}")
        knobs = {name: value for name, value in flags.items() if name in RESUMABLE}
        config = dataclasses.replace(saved, **knobs)
        validate_config(config)
    else:
        check_flags_apply(args.task, flags)
        file_values = read_config_file(args.config) if args.config is not None else {}
        if "compile" not in flags and "compile" not in file_values:
            flags["compile"] = COMPILE_PAYS[args.task]  # the CLI's measured default
        config = resolve_config(args.task, file_values, flags)
    checks = _step_checks(args)
    try:
        with _sigterm_as_interrupt():
            result = train(config, out=args.out, resume=args.resume, device=flags.get("device"),
                           quiet=args.quiet, checks=checks, log=args.log or ())
    except StepCheckFailed as failure:
        print(f"maskproof train: spec check failed at {failure}", file=sys.stderr)
        return 1
    except RunStopped as stop:
        print(f"maskproof train: {stopped_message(stop, config.task)}", file=sys.stderr)
        return STOP_EXIT_CODES[stop.signal_name]
    except (RuntimeError, MemoryError) as error:
        if not is_allocation_failure(error):
            raise
        raise UserError(allocation_message(error, config)) from None
    except OSError as error:
        if not is_disk_full(error):
            raise
        folder = args.resume or args.out
        resume = (f"maskproof train {config.task} --resume {shlex.quote(folder)}"
                  if folder is not None else "--resume on the run folder")
        raise UserError(f"{os_error_message(error).removesuffix(', then run the command again')}"
                        f"; the run folder keeps its last checkpoint: then {resume}") from None
    if not args.quiet and result.is_main:
        print(f"{config.task}: {result.final_step} steps, final loss {result.final_loss:.6g}, "
              f"run folder {result.run_dir}")
        for check in checks:
            print(check.summary())
    return 0


_ASKED = re.compile(r"tried to allocate (\d+) bytes")


def is_allocation_failure(error: BaseException) -> bool:
    """torch's CPU allocator refusing (a RuntimeError), CUDA's out-of-memory, or MemoryError."""
    text = str(error)
    return (isinstance(error, MemoryError) or "can't allocate memory" in text
            or type(error).__name__ == "OutOfMemoryError" or "out of memory" in text.lower())


def _machine_memory() -> int | None:
    try:
        return int(os.sysconf("SC_PHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (AttributeError, OSError, ValueError):
        return None


def _bytes(n: int) -> str:
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if value < 1024 or unit == "PiB":
            return f"{value:.3g} {unit}"
        value /= 1024
    return f"{n} B"


def allocation_message(error: BaseException, config: object) -> str:
    """One line: how much was asked for, by which sizes, against the machine's memory."""
    asked = _ASKED.search(str(error))
    amount = f"an allocation of {_bytes(int(asked.group(1)))}" if asked else "an allocation"
    values = vars(config) if hasattr(config, "__dict__") else {}
    sizes = ", ".join(f"--{k.replace('_', '-')} {v}" for k, v in sorted(values.items())
                      if isinstance(v, int) and not isinstance(v, bool)
                      and any(w in k for w in ("size", "dim", "width", "depth", "batch")))
    memory = _machine_memory()
    has = f" (this machine has {_bytes(memory)})" if memory else ""
    return (f"out of memory: {amount} failed{has} with {sizes or 'these settings'}; expected "
            "sizes whose model and batch fit in memory")


def stopped_message(stop: RunStopped, task: str) -> str:
    """One line: which signal stopped the run, and how to resume it (or that nothing can be)."""
    if stop.run_dir is None:
        return (f"stopped by {stop.signal_name} before the first checkpoint; no run folder was "
                f"kept, nothing to resume (start it again with the same command)")
    where = f"last checkpoint: step {stop.step}" if stop.step is not None else "no new checkpoint"
    return (f"stopped by {stop.signal_name} ({where}); the run folder {stop.run_dir} is "
            f"resumable: maskproof train {task} --resume {shlex.quote(stop.run_dir)}")


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """While training, SIGTERM raises :class:`Terminated` in the main thread, as SIGINT raises
    ``KeyboardInterrupt``: the run unwinds the same way (temporaries removed, lock released)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def _raise(signum: int, frame: FrameType | None) -> None:
        raise Terminated()

    previous = signal.signal(signal.SIGTERM, _raise)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _step_checks(args: argparse.Namespace) -> tuple[StepCheck, ...]:
    every: int | None = getattr(args, "check_every", None)
    factory: StepCheckFactory | None = getattr(args, "step_checks", None)
    if every is None or factory is None:
        return ()
    if every <= 0:
        raise UserError(f"--check-every {every}: expected a positive number of steps")
    return (factory(every),)


def run_probe(args: argparse.Namespace) -> int:
    from maskproof.runtime.probe import run_probe as probe

    probe(args.run_dir, labels_path=args.labels, device_name=args.device, quiet=args.quiet,
          allow_incomplete=args.allow_incomplete)
    return 0


def run_export(args: argparse.Namespace) -> int:
    from maskproof.runtime.export import export_encoder

    result = export_encoder(args.run_dir, out=args.out, fmt=args.fmt,
                            allow_incomplete=args.allow_incomplete)
    extra = f" and its timm config {result.sidecar}" if result.sidecar is not None else ""
    print(f"{result.config['task']} {result.config['encoder']} at step {result.config['step']}: "
          f"wrote {result.path} ({result.size} bytes){extra}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Stand-alone entry (``python -m runtime.cli``); ``maskproof`` itself is bridge.cli."""
    parser = argparse.ArgumentParser(prog="maskproof", allow_abbrev=False)
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    add_train_parser(subparsers)
    add_probe_parser(subparsers)
    add_export_parser(subparsers)
    args = parser.parse_args(argv)
    try:
        result: int = args.func(args)
    except (UserError, ValueError, OSError) as error:
        print(f"maskproof {args.command}: {error}", file=sys.stderr)
        return 2
    return result


if __name__ == "__main__":
    sys.exit(main())
