"""The training configuration: one frozen record, merged from defaults, a JSON file and flags.

Precedence is built-in defaults < per-task defaults < ``--config FILE`` < explicit flags. Every
value is validated here, before any run folder exists, so a bad flag never leaves a half-made run
behind. The resolved record is what ``config.json`` in the run folder holds and what ``--resume``
and ``maskproof probe`` read back.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

from maskproof.runtime.errors import UserError

TASKS = ("mae", "jepa", "vector-mae", "image-mae")
DEVICES = ("auto", "cpu", "cuda")
#: ``--precision``: auto is bf16 autocast on CUDA and float32 on CPU.
PRECISIONS = ("auto", "fp32", "bf16", "fp16")
#: What ``maskproof train`` compiles when neither ``--compile``/``--no-compile`` nor the
#: ``--config`` file says (measured on the 2-core CPU, see README "Throughput"): the default
#: mae step (digits 16x16, tiny, batch 128) is ~1.2x faster compiled, so its ~1400 steps about
#: repay a warm-cache compile (9-19 s; ~68 s cold) and longer runs gain; the compact MLPs have
#: too little to fuse, and I-JEPA's masks change the token counts from step to step (recompiles:
#: a 4-step compiled run took 100 s for its first step), so they stay eager. ``TrainConfig`` itself
#: (the Python API) keeps ``compile=False`` unless asked.
COMPILE_PAYS = {"mae": True, "jepa": False, "vector-mae": False, "image-mae": False}


@dataclass(frozen=True)
class TrainConfig:
    """Everything that determines a training run (``quiet`` and the like are not part of it)."""

    task: str
    model: str = "tiny"  # preset name for mae / jepa; the compact tasks ignore it
    epochs: int = 100
    steps: int | None = None  # overrides epochs when set
    batch_size: int = 128  # global batch, split across processes under torchrun
    mask_ratio: str = "0.75"  # kept as the user wrote it, so the keep count is exact
    ema_start: float = 0.996  # jepa: EMA momentum at step 0, rising linearly to 1
    norm_pix_loss: bool = True  # mae: regress per-patch normalised pixels (the paper default)
    patch_size: int = 4
    lr: float = 1.5e-3  # base learning rate; the peak is lr * batch_size / 256
    min_lr: float = 0.0
    warmup_steps: int | None = None  # default: 5% of the total steps
    weight_decay: float = 0.05
    clip_grad: float | None = None  # max global gradient norm; None = no clipping
    crop_scale: float | None = None  # mae/jepa: random resized crop of area [crop_scale, 1]
    seed: int = 0
    device: str = "auto"
    data: str | None = None  # N x C x H x W .npy or image folder; None = scikit-learn digits
    labels: str | None = None  # N integer labels .npy (probe only)
    image_size: int = 16  # digits are upsampled to this size; ignored for --data
    period: int = 4  # compact tasks: TorchLean's deterministic mask period
    offset: int = 0  # compact tasks: TorchLean's deterministic mask offset
    hidden_dim: int = 256  # compact tasks: MLP width
    recon_dim: int | None = None  # image-mae: target prefix width; None = C*H*W
    checkpoint_every: int = 100
    keep_checkpoints: int = 1  # checkpoint.pt plus the K-1 before it as checkpoint-STEP.pt
    log_every: int = 10
    compile: bool = False  # torch.compile the model's forward (CLI default: COMPILE_PAYS)
    grad_accum: int = 1  # micro-batches of batch_size / grad_accum summed into one update
    precision: str = "auto"  # one of PRECISIONS; fp16 adds a GradScaler
    workers: int = 0  # DataLoader worker processes gathering batches; 0 = in-process
    val_fraction: float = 0.0  # images held out for the logged val_loss (runtime.split)

    def to_json_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


#: Settings only some tasks read; a flag given for another task is refused, not ignored.
TASK_SETTINGS: dict[str, tuple[str, ...]] = {
    "model": ("mae", "jepa"),
    "mask_ratio": ("mae",),
    "norm_pix_loss": ("mae",),
    "ema_start": ("jepa",),
    "crop_scale": ("mae", "jepa"),
    "patch_size": ("mae", "jepa", "image-mae"),
    "period": ("vector-mae", "image-mae"),
    "offset": ("vector-mae", "image-mae"),
    "hidden_dim": ("vector-mae", "image-mae"),
    "recon_dim": ("image-mae",),
}


def check_flags_apply(task: str, given: Iterable[str]) -> None:
    """Refuse a command-line setting ``task`` never reads (``--model`` for vector-mae).

    Only flags are checked: a config file may be a saved ``config.json`` entry, which records
    every field for every task.
    """
    for name in given:
        tasks = TASK_SETTINGS.get(name)
        if tasks is not None and task not in tasks:
            flag = "--" + name.replace("_", "-")
            raise UserError(f"{flag}: a setting of {' and '.join(tasks)}; {task} does not use "
                            "it (drop the flag)")


#: Per-task defaults that differ from the dataclass defaults (kept small: each is a tuning fact).
TASK_DEFAULTS: dict[str, dict[str, Any]] = {
    "mae": {},
    # At lr 1e-3 / EMA 0.996 the digits run collapses to position-only features within 200
    # steps; a slower target and a smaller step keep image content (bench/probe_table.py).
    "jepa": {"lr": 3e-4, "ema_start": 0.9995},
    "vector-mae": {"epochs": 20, "lr": 1e-3},
    "image-mae": {"epochs": 20, "lr": 1e-3},
}

_FIELDS = {field.name: field for field in dataclasses.fields(TrainConfig)}
_INT = {"epochs", "steps", "batch_size", "patch_size", "warmup_steps", "seed", "image_size",
        "period", "offset", "hidden_dim", "recon_dim", "checkpoint_every", "keep_checkpoints",
        "log_every", "workers", "grad_accum"}
_FLOAT = {"lr", "min_lr", "weight_decay", "clip_grad", "ema_start", "crop_scale",
          "val_fraction"}
_STR = {"task", "model", "device", "data", "labels", "precision"}
_BOOL = {"norm_pix_loss", "compile"}
_OPTIONAL = {"steps", "warmup_steps", "clip_grad", "crop_scale", "data", "labels",
             "recon_dim"}


#: What a non-optional setting must hold, for the message naming a null.
_EXPECTED = {**{name: "an integer" for name in _INT}, **{name: "a number" for name in _FLOAT},
             **{name: "a string" for name in _STR}, **{name: "true or false" for name in _BOOL},
             "mask_ratio": "a number or a string"}


def _coerce(name: str, value: object, source: str) -> object:
    """Check one value's type; JSON numbers and flag strings both arrive here."""
    if value is None:
        if name in _OPTIONAL:
            return None
        raise UserError(f"{source}: `{name}` is None (null); expected "
                        f"{_EXPECTED.get(name, 'a value')}")
    if name in _INT:
        if isinstance(value, bool) or not isinstance(value, int):
            raise UserError(f"{source}: `{name}` must be an integer, got {value!r}")
        return value
    if name in _FLOAT:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise UserError(f"{source}: `{name}` must be a number, got {value!r}")
        return float(value)
    if name == "mask_ratio":
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise UserError(f"{source}: `mask_ratio` must be a number or a string, got {value!r}")
        # A JSON float keeps its shortest repr (0.75 -> "0.75"), the decimal the user wrote.
        return value if isinstance(value, str) else repr(value)
    if name in _BOOL:
        if not isinstance(value, bool):
            raise UserError(f"{source}: `{name}` must be true or false, got {value!r}")
        return value
    if name in _STR:
        if not isinstance(value, str):
            raise UserError(f"{source}: `{name}` must be a string, got {value!r}")
        return value
    raise AssertionError(f"field {name} has no type rule")  # pragma: no cover


def read_config_file(path: str) -> dict[str, object]:
    """Read a ``--config`` JSON object; keys may use dashes (flag spelling) or underscores."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise UserError(f"--config {path}: byte {error.start} is not UTF-8; expected a UTF-8 "
                        "JSON file") from None
    except OSError as error:
        raise UserError(f"--config {path}: cannot read ({error.strerror or error})") from None
    if file.suffix.lower() in YAML_SUFFIXES:
        raw = _load_yaml(text, path)
    else:
        try:
            raw = json.loads(text, object_pairs_hook=_unique_keys(path))
        except json.JSONDecodeError as error:
            raise UserError(f"--config {path}: not valid JSON ({error.msg} at line "
                            f"{error.lineno})") from None
    if not isinstance(raw, dict):
        raise UserError(f"--config {path}: expected a JSON object (a YAML mapping), got "
                        f"{type(raw).__name__}")
    values = {str(key).replace("-", "_"): value for key, value in raw.items()}
    for name in values:
        if name not in _FIELDS:
            raise UserError(f"--config {path}: unknown setting {name!r}; expected "
                            f"{_closest(name)}")
    return values


#: ``--config`` files read as YAML (through PyYAML, an optional dependency); any other is JSON.
YAML_SUFFIXES = (".yaml", ".yml")


def _load_yaml(text: str, path: str) -> object:
    """A YAML mapping of the same settings, with the JSON reader's guarantees: PyYAML's safe
    loader (no object construction), and a repeated key refused rather than last-wins."""
    try:
        import yaml
    except ImportError:
        raise UserError(f"--config {path}: a YAML file needs PyYAML (pip install pyyaml); "
                        "expected it installed, or the settings as JSON") from None

    class UniqueKeyLoader(yaml.SafeLoader):
        def construct_mapping(self, node: Any, deep: bool = False) -> dict[Any, Any]:
            keys = [self.construct_object(key, deep=deep) for key, _ in node.value]
            repeated = next((key for key in keys if keys.count(key) > 1), None)
            if repeated is not None:
                raise UserError(f"--config {path}: setting {repeated!r} is given twice; "
                                "expected each setting once")
            return dict(super().construct_mapping(node, deep=deep))

    try:
        return yaml.load(text, Loader=UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(error, "problem", None) or type(error).__name__
        raise UserError(f"--config {path}: not valid YAML ({problem}{where})") from None


def _unique_keys(path: str) -> Callable[[list[tuple[str, object]]], dict[str, object]]:
    """A JSON object hook refusing a repeated key (``json`` keeps the last one silently)."""
    def build(pairs: list[tuple[str, object]]) -> dict[str, object]:
        seen: dict[str, object] = {}
        for key, value in pairs:
            if key in seen:
                raise UserError(f"--config {path}: setting {key!r} is given twice; expected "
                                "each setting once")
            seen[key] = value
        return seen
    return build


def _closest(name: str) -> str:
    """``'epochs'``-style hint for a misspelt setting, else the list of settings."""
    close = difflib.get_close_matches(name, list(_FIELDS), n=1)
    if close:
        return f"a known setting such as {close[0]!r}"
    return "one of " + ", ".join(sorted(_FIELDS))


def resolve_config(
    task: str, file_values: Mapping[str, object], flag_values: Mapping[str, object]
) -> TrainConfig:
    """Merge defaults, file and flags (flags win), type-check and validate the result."""
    if task not in TASKS:
        raise UserError(f"unknown task {task!r}; expected one of {', '.join(TASKS)}")
    if file_values.get("task", task) != task:  # a saved config names its task; it must agree
        raise UserError(f"--config: task {file_values['task']!r} does not match command {task!r}")
    values: dict[str, object] = dict(TASK_DEFAULTS[task])
    for source, layer in (("--config", file_values), ("flag", flag_values)):
        for name, value in layer.items():
            if name == "task" and source == "--config":
                continue
            if name not in _FIELDS or name == "task":
                raise UserError(f"{source}: unknown setting {name!r}")
            values[name] = _coerce(name, value, source)
    for name in ("data", "labels"):
        path = values.get(name)
        if isinstance(path, str):  # absolute, so resume and probe work from any directory
            values[name] = str(Path(path).expanduser().resolve())
    config = TrainConfig(task=task, **values)  # type: ignore[arg-type]
    validate_config(config)
    return config


def config_from_json_dict(raw: Mapping[str, object], source: str) -> TrainConfig:
    """Rebuild a config saved in a run folder (``config.json`` or a checkpoint)."""
    values = {}
    for name, value in raw.items():
        if name not in _FIELDS:
            raise UserError(f"{source}: unknown setting {name!r}")
        values[name] = _coerce(name, value, source)
    if "task" not in values:
        raise UserError(f"{source}: no `task` recorded")
    config = TrainConfig(**values)  # type: ignore[arg-type]
    validate_config(config)
    return config


def parse_ratio(text: str) -> Fraction:
    """The mask ratio as an exact fraction in [0, 1), from the decimal the user wrote."""
    try:
        ratio = Fraction(text)
    except (ValueError, ZeroDivisionError):
        raise UserError(f"--mask-ratio {text!r}: expected a number in [0, 1)") from None
    if not 0 <= ratio < 1:
        raise UserError(f"--mask-ratio {text}: expected a number in [0, 1)")
    return ratio


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise UserError(message)


def validate_config(config: TrainConfig) -> None:
    """Reject every value no run could use; shape checks against the data happen in tasks."""
    _require(config.task in TASKS,
             f"unknown task {config.task!r}; expected one of {', '.join(TASKS)}")
    _require(config.device in DEVICES,
             f"--device {config.device!r}: expected one of {', '.join(DEVICES)}")
    _require(config.epochs > 0, f"--epochs {config.epochs}: expected a positive integer")
    _require(0.0 <= config.ema_start <= 1.0,
             f"--ema-start {config.ema_start}: expected a number in [0, 1]")
    _require(config.steps is None or config.steps > 0,
             f"--steps {config.steps}: expected a positive integer")
    _require(config.batch_size > 0,
             f"--batch-size {config.batch_size}: expected a positive integer")
    parse_ratio(config.mask_ratio)
    _require(config.patch_size > 0,
             f"--patch-size {config.patch_size}: expected a positive integer")
    for flag, value in (("--lr", config.lr), ("--min-lr", config.min_lr),
                        ("--weight-decay", config.weight_decay)):
        _require(math.isfinite(value) and value >= 0,
                 f"{flag} {value}: expected a finite non-negative number")
    _require(config.lr > 0, f"--lr {config.lr}: expected a positive number")
    _require(config.warmup_steps is None or config.warmup_steps >= 0,
             f"--warmup-steps {config.warmup_steps}: expected a non-negative integer")
    _require(config.clip_grad is None or (math.isfinite(config.clip_grad)
                                          and config.clip_grad > 0),
             f"--clip-grad {config.clip_grad}: expected a positive number")
    _require(config.crop_scale is None or (math.isfinite(config.crop_scale)
                                           and 0 < config.crop_scale <= 1),
             f"--crop-scale {config.crop_scale}: expected a number in (0, 1]")
    _require(config.crop_scale is None or config.task in ("mae", "jepa"),
             f"--crop-scale: {config.task} trains on TorchLean's fixed masks of the images as "
             "given; crops apply to mae and jepa")
    _require(0 <= config.seed < 2**64,
             f"--seed {config.seed}: expected an integer in [0, 2^64) (torch seeds are 64-bit)")
    _require(config.image_size > 0,
             f"--image-size {config.image_size}: expected a positive integer")
    _require(config.period >= 0, f"--period {config.period}: expected a non-negative integer")
    _require(config.offset >= 0, f"--offset {config.offset}: expected a non-negative integer")
    _require(config.hidden_dim > 0,
             f"--hidden-dim {config.hidden_dim}: expected a positive integer")
    _require(config.recon_dim is None or config.recon_dim > 0,
             f"--recon-dim {config.recon_dim}: expected a positive integer")
    _require(config.checkpoint_every > 0,
             f"--checkpoint-every {config.checkpoint_every}: expected a positive integer")
    _require(config.keep_checkpoints >= 1,
             f"--keep-checkpoints {config.keep_checkpoints}: expected an integer >= 1 (1 keeps "
             "only the latest checkpoint)")
    _require(config.log_every > 0, f"--log-every {config.log_every}: expected a positive integer")
    _require(config.precision in PRECISIONS,
             f"--precision {config.precision!r}: expected one of {', '.join(PRECISIONS)}")
    _require(config.grad_accum > 0,
             f"--grad-accum {config.grad_accum}: expected a positive integer")
    _require(config.batch_size % config.grad_accum == 0,
             f"--grad-accum {config.grad_accum}: does not divide --batch-size "
             f"{config.batch_size}; expected a divisor (equal micro-batches)")
    _require(config.workers >= 0,
             f"--workers {config.workers}: expected a non-negative integer (0 loads in-process)")
    _require(math.isfinite(config.val_fraction) and 0 <= config.val_fraction < 1,
             f"--val-fraction {config.val_fraction}: expected a number in [0, 1)")
    _require(config.labels is None or config.data is not None,
             "--labels needs --data (the embedded digits bring their own labels)")
