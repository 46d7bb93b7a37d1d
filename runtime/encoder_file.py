"""The exported-encoder file: one ``.safetensors`` file, its config in the header metadata.

Layout. The tensors are the encoder's state dict (float32, no pickle anywhere: safetensors is a
JSON header plus raw little-endian buffers). The header's ``__metadata__`` holds one entry,
``maskproof.encoder``, a JSON object with everything needed to rebuild the module (architecture,
sizes, token layout, key layout), where it came from (task, run folder, step, maskproof
version), and the SHA-256 of the tensor bytes. The config lives in the file itself rather than
in a sidecar so that weights and config can never drift apart or be copied one without the other;
the ``timm`` export adds a timm-style JSON sidecar for timm's tools, which :func:`load_encoder`
does not need.

Key layouts. ``maskproof``: the names of :class:`~runtime.models.vit.ViTEncoder` (or of
:class:`CompactEncoder`). ``timm``: those of timm's ``VisionTransformer`` — the same names
without the ``transformer.`` prefix (``blocks.N.norm1``, ``blocks.N.attn.qkv``, ``norm``, ...);
``pos_embed`` already has timm's layout (a CLS row first when there is a CLS token).

:func:`load_encoder` checks the header, the hash, the key set, shapes and dtypes, and that the
fixed sin-cos table is the one the config names, before loading with ``strict=True``; every
failure is one :class:`~runtime.errors.EncoderFileError` line.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from maskproof.runtime.errors import EncoderFileError
from maskproof.runtime.models.pos_embed import sincos_2d
from maskproof.runtime.models.vit import LAYER_NORM_EPS, ViTEncoder

METADATA_KEY = "maskproof.encoder"
FILE_FORMAT = "maskproof-encoder"
FORMAT_VERSION = 1
LAYOUTS = ("maskproof", "timm")
POS_EMBED_KIND = "sincos-2d-fixed"
#: Architectures of an exported encoder: a ViT (mae, jepa) or the compact tasks' MLPs.
ARCHITECTURES = ("vit", "vector-mae-mlp", "image-mae-mlp")
_TIMM_PREFIX = "transformer."


class CompactEncoder(nn.Module):
    """The encoder MLP of a compact TorchLean model, on images ``[B, C, H, W]``.

    ``mlp`` is the training model's ``encoder``: ``Linear, GELU`` on the flattened image
    (vector MAE, whose rows are the row-major flattened images) or ``Flatten, Linear, GELU,
    Linear, GELU`` (image MAE); both see ``images.flatten(1)``, on which ``Flatten`` is a no-op.
    """

    def __init__(self, in_shape: tuple[int, int, int], mlp: nn.Sequential) -> None:
        super().__init__()
        self.in_shape = in_shape
        self.mlp = mlp

    def forward(self, images: Tensor) -> Tensor:
        if images.dim() != 4 or tuple(images.shape[1:]) != self.in_shape:
            c, h, w = self.in_shape
            raise ValueError(f"expected images of shape [B, {c}, {h}, {w}], "
                             f"got {list(images.shape)}")
        out: Tensor = self.mlp(images.flatten(1))
        return out


def compact_mlp(architecture: str, in_features: int, hidden_dim: int) -> nn.Sequential:
    """The layer stack of :class:`~runtime.models.compact.VectorMAE` / ``ImagePatchMAE``'s
    ``encoder`` (the export test checks the two stay the same)."""
    if architecture == "vector-mae-mlp":
        return nn.Sequential(nn.Linear(in_features, hidden_dim), nn.GELU())
    return nn.Sequential(nn.Flatten(), nn.Linear(in_features, hidden_dim), nn.GELU(),
                         nn.Linear(hidden_dim, hidden_dim), nn.GELU())


def tensors_sha256(tensors: Mapping[str, Tensor]) -> str:
    """SHA-256 over every tensor's name, dtype, shape and bytes, in name order."""
    digest = hashlib.sha256()
    for name in sorted(tensors):
        value = tensors[name].detach().cpu().contiguous()
        digest.update(f"{name}|{value.dtype}|{list(value.shape)}|".encode())
        digest.update(value.view(torch.uint8).numpy().tobytes() if value.numel() else b"")
    return digest.hexdigest()


def to_timm_names(tensors: Mapping[str, Tensor]) -> dict[str, Tensor]:
    return {name.removeprefix(_TIMM_PREFIX): value for name, value in tensors.items()}


def from_timm_names(tensors: Mapping[str, Tensor]) -> dict[str, Tensor]:
    def ours(name: str) -> str:
        return _TIMM_PREFIX + name if name.startswith(("blocks.", "norm.")) else name

    return {ours(name): value for name, value in tensors.items()}


def _field(config: Mapping[str, Any], name: str, kind: type | tuple[type, ...],
           source: str) -> Any:
    if name not in config:
        raise EncoderFileError(f"{source}: config has no `{name}`; not a complete export")
    value = config[name]
    if isinstance(value, bool) and kind is not bool or not isinstance(value, kind):
        raise EncoderFileError(f"{source}: config `{name}` is {value!r}; expected "
                               f"{getattr(kind, '__name__', kind)}")
    return value


def _positive(config: Mapping[str, Any], name: str, source: str) -> int:
    value: int = _field(config, name, int, source)
    if value <= 0:
        raise EncoderFileError(f"{source}: config `{name}` is {value}; expected an integer > 0")
    return value


def _pair(config: Mapping[str, Any], name: str, source: str, size: int) -> tuple[int, ...]:
    value = _field(config, name, list, source)
    if len(value) != size or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0
                                     for v in value):
        raise EncoderFileError(f"{source}: config `{name}` is {value!r}; expected {size} "
                               "positive integers")
    return tuple(value)


def build_encoder(config: Mapping[str, Any], source: str) -> nn.Module:
    """An encoder of the shape ``config`` describes, at an arbitrary initialisation."""
    architecture = _field(config, "architecture", str, source)
    if architecture not in ARCHITECTURES:
        raise EncoderFileError(f"{source}: architecture {architecture!r}; expected one of "
                               f"{', '.join(ARCHITECTURES)}")
    try:
        if architecture != "vit":
            shape = _pair(config, "in_shape", source, 3)
            c, h, w = shape
            mlp = compact_mlp(architecture, c * h * w, _positive(config, "hidden_dim", source))
            return CompactEncoder((c, h, w), mlp)
        eps = _field(config, "norm_eps", (int, float), source)
        if eps != LAYER_NORM_EPS:
            raise EncoderFileError(f"{source}: config `norm_eps` is {eps!r}; this maskproof "
                                   f"builds LayerNorms with eps {LAYER_NORM_EPS}")
        kind = _field(config, "pos_embed", str, source)
        if kind != POS_EMBED_KIND:
            raise EncoderFileError(f"{source}: config `pos_embed` is {kind!r}; expected "
                                   f"{POS_EMBED_KIND!r}")
        height, width = _pair(config, "img_size", source, 2)
        ratio = _field(config, "mlp_ratio", (int, float), source)
        if not ratio > 0:
            raise EncoderFileError(f"{source}: config `mlp_ratio` is {ratio!r}; expected > 0")
        return ViTEncoder((height, width), _positive(config, "patch_size", source),
                          _positive(config, "in_chans", source),
                          _positive(config, "embed_dim", source),
                          _field(config, "depth", int, source),
                          _positive(config, "num_heads", source), float(ratio),
                          use_cls_token=_field(config, "class_token", bool, source))
    except ValueError as error:  # sizes that do not fit together (heads, patch grid, width)
        raise EncoderFileError(f"{source}: config does not describe a buildable encoder "
                               f"({error})") from None


def read_encoder_file(path: Path) -> tuple[dict[str, Any], dict[str, Tensor]]:
    """The config and the tensors (in maskproof's key layout) of an exported encoder."""
    from safetensors import safe_open
    from safetensors.torch import load_file

    if not path.is_file():
        raise EncoderFileError(f"encoder {path}: no such file")
    try:
        with safe_open(str(path), framework="pt") as handle:
            metadata = handle.metadata() or {}
        tensors = load_file(str(path))
    except Exception as error:  # safetensors raises its own error type, or OSError, for a bad file
        reason = (str(error).strip().splitlines() or [type(error).__name__])[0][:160]
        raise EncoderFileError(f"encoder {path}: not a readable safetensors file ({reason})") \
            from None
    if METADATA_KEY not in metadata:
        raise EncoderFileError(f"encoder {path}: no `{METADATA_KEY}` entry in its metadata; not "
                               "a file written by maskproof export")
    try:
        config = json.loads(metadata[METADATA_KEY])
    except json.JSONDecodeError as error:
        raise EncoderFileError(f"encoder {path}: `{METADATA_KEY}` metadata is not JSON "
                               f"({error.msg})") from None
    if not isinstance(config, dict):
        raise EncoderFileError(f"encoder {path}: `{METADATA_KEY}` is {type(config).__name__}; "
                               "expected a JSON object")
    source = f"encoder {path}"
    if config.get("format") != FILE_FORMAT or config.get("format_version") != FORMAT_VERSION:
        raise EncoderFileError(f"{source}: format {config.get('format')!r} version "
                               f"{config.get('format_version')!r}; expected {FILE_FORMAT!r} "
                               f"version {FORMAT_VERSION}")
    digest = _field(config, "tensors_sha256", str, source)
    if tensors_sha256(tensors) != digest:
        raise EncoderFileError(f"{source}: the tensors' SHA-256 differs from the recorded "
                               f"{digest[:12]}...; the file was modified after export")
    layout = _field(config, "layout", str, source)
    if layout not in LAYOUTS:
        raise EncoderFileError(f"{source}: layout {layout!r}; expected one of "
                               f"{', '.join(LAYOUTS)}")
    return config, from_timm_names(tensors) if layout == "timm" else tensors


def _check_fits(source: str, tensors: Mapping[str, Tensor], module: nn.Module) -> None:
    expected = module.state_dict()
    missing = [name for name in expected if name not in tensors]
    if missing:
        raise EncoderFileError(f"{source}: tensor `{missing[0]}` is missing for the encoder the "
                               f"config describes ({len(missing)} missing)")
    extra = [name for name in tensors if name not in expected]
    if extra:
        raise EncoderFileError(f"{source}: tensor `{extra[0]}` is not part of the encoder the "
                               "config describes")
    for name, like in expected.items():
        value = tensors[name]
        if value.shape != like.shape or value.dtype != like.dtype:
            raise EncoderFileError(f"{source}: tensor `{name}` is {value.dtype} "
                                   f"{list(value.shape)}; the config's encoder has {like.dtype} "
                                   f"{list(like.shape)}")
        if value.is_floating_point() and not bool(torch.isfinite(value).all()):
            raise EncoderFileError(f"{source}: tensor `{name}` holds NaN or infinite values")


def _check_positions(source: str, module: nn.Module, tensors: Mapping[str, Tensor]) -> None:
    """The saved ``pos_embed`` is the fixed table the config names (it is never trained)."""
    if not isinstance(module, ViTEncoder):
        return
    grid_h, grid_w = module.patch_embed.grid_size
    table = sincos_2d(module.embed_dim, grid_h, grid_w, cls_token=module.use_cls_token)
    if not torch.equal(tensors["pos_embed"], table.unsqueeze(0)):
        raise EncoderFileError(f"{source}: `pos_embed` is not the fixed sin-cos table of a "
                               f"{grid_h}x{grid_w} grid the config describes")


def load_encoder(path: str | Path) -> nn.Module:
    """Rebuild the encoder ``maskproof export`` wrote to ``path`` and load its weights.

    Either export format loads (``safetensors`` or ``timm``: the config in the file says
    which). The module is returned in eval mode on the CPU; its ``forward`` maps images
    ``[B, C, H, W]`` to what the trained model's encoder gives on the full, unmasked image:
    ViT tokens ``[B, (1 +) N, D]`` after the final norm (CLS first for MAE; I-JEPA has none),
    or the hidden features ``[B, hidden_dim]`` of the compact models. A missing, truncated,
    modified or inconsistent file raises :class:`~runtime.errors.EncoderFileError` (one line).
    """
    file = Path(path)
    source = f"encoder {file}"
    config, tensors = read_encoder_file(file)
    module = build_encoder(config, source)
    _check_fits(source, tensors, module)
    _check_positions(source, module, tensors)
    try:
        module.load_state_dict(tensors, strict=True)
    except RuntimeError as error:
        raise EncoderFileError(f"{source}: does not fit the encoder its config describes "
                               f"({str(error).splitlines()[0][:160]})") from None
    return module.eval()
