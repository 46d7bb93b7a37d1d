"""``maskproof export RUN_DIR``: a trained run's encoder alone, as one ``.safetensors`` file.

Which encoder: MAE's ViT encoder (CLS token first); for I-JEPA the **target** (EMA) encoder,
the one the I-JEPA paper evaluates and the one whose features its loss regresses (the context
encoder is the online copy the predictor trains through); for the compact tasks the encoder MLP.
No decoder or predictor, no optimizer or RNG state, and no pickle: :mod:`runtime.encoder_file`
describes the file, and :func:`runtime.encoder_file.load_encoder` rebuilds the module from it.

Formats: ``safetensors`` keeps maskproof's tensor names; ``timm`` (ViT encoders only) renames
them to timm's ``VisionTransformer`` layout and writes a timm-style JSON sidecar
(``PATH.json`` beside ``PATH.safetensors``) whose ``model_args`` build the matching
``VisionTransformer`` with ``num_classes=0``.

The checkpoint is read with :func:`runtime.checkpoint.load_checkpoint` and validated against the
run's ``config.json`` (config, step, every model tensor) before anything is written. A run
without ``COMPLETE`` is refused unless ``allow_incomplete``; an existing output file is never
replaced.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from maskproof.runtime.atomic import write_bytes_atomic
from maskproof.runtime.config import TrainConfig
from maskproof.runtime.encoder_file import (
    FILE_FORMAT,
    FORMAT_VERSION,
    METADATA_KEY,
    POS_EMBED_KIND,
    CompactEncoder,
    tensors_sha256,
    to_timm_names,
)
from maskproof.runtime.errors import UserError
from maskproof.runtime.models.ijepa import IJEPAConfig
from maskproof.runtime.models.mae import MAEConfig
from maskproof.runtime.models.vit import LAYER_NORM_EPS, ViTEncoder

EXPORT_FORMATS = ("safetensors", "timm")
#: Output file in the run folder when ``--out`` is not given.
DEFAULT_NAMES = {"safetensors": "encoder.safetensors", "timm": "encoder-timm.safetensors"}


@dataclass(frozen=True)
class ExportResult:
    path: Path
    sidecar: Path | None  # the timm-style config (``timm`` format only)
    config: dict[str, Any]  # what the file's metadata records
    size: int  # bytes of the .safetensors file


def sidecar_path(out: Path) -> Path:
    """``encoder.safetensors`` -> ``encoder.json``; any other name gets ``.json`` appended."""
    return out.with_suffix(".json") if out.suffix == ".safetensors" else \
        out.with_name(out.name + ".json")


def _check_new_file(path: Path, flag: str) -> None:
    if path.is_dir():
        raise UserError(f"{flag} {path}: is a directory; expected a new file path")
    if path.exists() or path.is_symlink():
        raise UserError(f"{flag} {path}: exists; export never overwrites a file (pick a new "
                        "path or remove it)")
    if not path.parent.is_dir():
        raise UserError(f"{flag} {path}: no such directory {path.parent}")


def _write_new_file(path: Path, payload: bytes, flag: str) -> None:
    """Write ``payload`` atomically to ``path``, which must not exist.

    The bytes go to a temporary file first (fsync'ed, mode from the umask), which is then
    hard-linked to ``path``: a link fails on an existing name, so a file that appeared since
    :func:`_check_new_file` is never replaced. Where links are refused, a rename after the
    existence check does instead.
    """
    temp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    write_bytes_atomic(temp, payload)
    try:
        try:
            os.link(temp, path)
        except FileExistsError:
            raise UserError(f"{flag} {path}: appeared while exporting; export never "
                            "overwrites a file") from None
        except OSError:  # a filesystem without hard links
            _check_new_file(path, flag)
            os.replace(temp, path)
    finally:
        temp.unlink(missing_ok=True)


def _trained_model(folder: Path, allow_incomplete: bool
                   ) -> tuple[TrainConfig, nn.Module, int, tuple[int, int, int]]:
    """The run's model with its last checkpoint's weights (every field validated first), the
    checkpoint's step and the images' ``(C, H, W)``."""
    from maskproof.runtime.trained_run import load_trained_run

    run = load_trained_run(folder, "export", allow_incomplete)
    return run.config, run.model, run.step, run.data.shape


def _encoder_and_fields(config: TrainConfig, model: nn.Module, shape: tuple[int, int, int]
                        ) -> tuple[nn.Module, dict[str, Any]]:
    """The module to export and the config fields that rebuild it."""
    if config.task in ("mae", "jepa"):
        name = "encoder" if config.task == "mae" else "target_encoder"
        encoder = getattr(model, name)
        assert isinstance(encoder, ViTEncoder)
        cfg: MAEConfig | IJEPAConfig = getattr(model, "cfg")  # noqa: B009 - nn.Module attr
        return encoder, {
            "architecture": "vit", "encoder": name, "img_size": list(cfg.img_size),
            "patch_size": cfg.patch_size, "in_chans": cfg.in_chans, "embed_dim": cfg.embed_dim,
            "depth": cfg.depth, "num_heads": cfg.num_heads, "mlp_ratio": cfg.mlp_ratio,
            "norm_eps": LAYER_NORM_EPS, "class_token": encoder.use_cls_token,
            "pos_embed": POS_EMBED_KIND, "qkv_bias": True,
        }
    mlp = model.encoder
    assert isinstance(mlp, nn.Sequential)
    architecture = "vector-mae-mlp" if config.task == "vector-mae" else "image-mae-mlp"
    return CompactEncoder(shape, mlp), {
        "architecture": architecture, "encoder": "encoder", "in_shape": list(shape),
        "hidden_dim": config.hidden_dim,
    }


def timm_sidecar(fields: dict[str, Any], weights: str) -> dict[str, Any]:
    """timm's hub-style config: ``VisionTransformer(**model_args)`` has exactly the file's keys.

    ``global_pool`` is ``token`` with a CLS token and ``avg`` without; ``fc_norm`` is off so
    the final norm is timm's ``norm`` over every token (the place maskproof applies it), not a
    norm after pooling, which timm picks by default for ``avg``.
    """
    pool = "token" if fields["class_token"] else "avg"
    height, width = fields["img_size"]
    model_args = {
        "img_size": [height, width], "patch_size": fields["patch_size"],
        "in_chans": fields["in_chans"], "num_classes": 0, "global_pool": pool,
        "embed_dim": fields["embed_dim"], "depth": fields["depth"],
        "num_heads": fields["num_heads"], "mlp_ratio": fields["mlp_ratio"], "qkv_bias": True,
        "class_token": fields["class_token"], "no_embed_class": False, "reg_tokens": 0,
        "pos_embed": "learn", "pre_norm": False, "final_norm": True, "fc_norm": False,
        "dynamic_img_size": False,
    }
    return {
        "architecture": "VisionTransformer",
        "num_classes": 0, "num_features": fields["embed_dim"], "global_pool": pool,
        "model_args": model_args,
        "pretrained_cfg": {"input_size": [fields["in_chans"], height, width],
                           "num_classes": 0, "fixed_input_size": True,
                           "file": weights, "norm_eps": fields["norm_eps"],
                           "pos_embed_values": "fixed 2-D sin-cos (MAE / I-JEPA layout), "
                                               "all-zero CLS row"},
        "maskproof": {key: fields[key] for key in ("task", "encoder", "source_run", "step",
                                                   "maskproof_version")},
    }


def export_encoder(run_dir: str | Path, out: str | Path | None = None,
                   fmt: str = "safetensors", allow_incomplete: bool = False) -> ExportResult:
    """Export the encoder of the run in ``run_dir`` to ``out`` (default
    ``RUN_DIR/encoder.safetensors``, or ``encoder-timm.safetensors`` for ``fmt="timm"``)."""
    from safetensors.torch import save

    from maskproof import __version__

    if fmt not in EXPORT_FORMATS:
        raise UserError(f"--format {fmt!r}: expected one of {', '.join(EXPORT_FORMATS)}")
    folder = Path(run_dir)
    path = Path(out) if out is not None else folder / DEFAULT_NAMES[fmt]
    sidecar = sidecar_path(path) if fmt == "timm" else None
    config, model, step, shape = _trained_model(folder, allow_incomplete)
    if fmt == "timm" and config.task not in ("mae", "jepa"):
        raise UserError(f"--format timm: a {config.task} encoder is an MLP, not a ViT; timm's "
                        "VisionTransformer layout applies to mae and jepa runs (use --format "
                        "safetensors)")
    _check_new_file(path, "--out")
    if sidecar is not None:
        _check_new_file(sidecar, "--out (timm config)")
    encoder, fields = _encoder_and_fields(config, model, shape)
    tensors: dict[str, Tensor] = {name: value.detach().to("cpu", torch.float32).contiguous()
                                  for name, value in encoder.state_dict().items()}
    if fmt == "timm":
        tensors = to_timm_names(tensors)
    fields.update({"format": FILE_FORMAT, "format_version": FORMAT_VERSION,
                   "layout": "timm" if fmt == "timm" else "maskproof", "task": config.task,
                   "source_run": str(folder.resolve()), "step": step,
                   "maskproof_version": __version__, "dtype": "float32",
                   "tensors_sha256": tensors_sha256(tensors)})
    payload = save(tensors, metadata={METADATA_KEY: json.dumps(fields, sort_keys=True)})
    _write_new_file(path, payload, "--out")
    if sidecar is not None:
        text = json.dumps(timm_sidecar(fields, path.name), indent=2, sort_keys=True) + "\n"
        _write_new_file(sidecar, text.encode("utf-8"), "--out (timm config)")
    return ExportResult(path, sidecar, fields, len(payload))
