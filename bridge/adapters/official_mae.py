"""Audit adapter for the official MAE code (facebookresearch/mae ``models_mae.py``).

The MAE code's CC-BY-NC licence keeps it out of maskproof: the adapter takes the path of your
own checkout and imports ``models_mae.py`` and ``util/pos_embed.py`` from there, the real,
unmodified files, with the real timm ``PatchEmbed`` / ``Block`` they import. To audit the
small model :class:`TinyOfficialMAE` builds (16x16 RGB images, 4x4 patches, a 2-block 32-wide
encoder and a 1-block 16-wide decoder, ``norm_pix_loss=True`` as the paper's best runs and so
that ``loss.norm_pix_convention`` applies)::

    git clone https://github.com/facebookresearch/mae /path/to/mae
    MASKPROOF_MAE_CHECKOUT=/path/to/mae \\
        maskproof audit maskproof.bridge.adapters.official_mae:TinyOfficialMAE

The whole catalogue at the default 40 examples takes about 22 s of CPU (23 s wall on a 2-core
machine, importing timm included; 36 s wall when it is shared). To audit another
configuration, build the adapter in a module of yours and name that object as the TARGET
(``maskproof audit my_audit:base``)::

    # my_audit.py
    from functools import partial
    from torch import nn
    from maskproof.bridge.adapters.official_mae import OfficialMAEAdapter

    base = OfficialMAEAdapter("/path/to/mae", img_size=32, patch_size=16, embed_dim=768,
                              depth=2, num_heads=12, decoder_embed_dim=512, decoder_depth=1,
                              decoder_num_heads=16, norm_layer=partial(nn.LayerNorm, eps=1e-6))

timm's ViT module imports torchvision at import time: a torchvision that loads beside your
torch is needed (without one the adapter raises a one-line ``ImportError`` saying so).

Every capability calls the model's own code, never a copy of it:

* ``random_masking`` is ``MaskedAutoencoderViT.random_masking(x, mask_ratio)`` with its noise
  drawn from the audit's generator. The method draws its noise with ``torch.rand(N, L)``
  (models_mae.py:132) and takes none as an argument, so for the call the adapter replaces the
  name ``torch`` in the globals of the privately loaded ``models_mae`` by a stand-in that
  forwards everything to torch except ``rand``, which returns the given noise (checked: one
  call, of shape ``[N, L]``). torch itself is never patched, and every line of the method runs
  unchanged on that noise (``torch.rand`` is uniform on [0, 1), as the audit's noise is).
* ``patchify`` / ``unpatchify`` are the model's own; it has one patch size and channel count
  (``patchify_fixed``).
* ``loss`` is ``forward_loss(imgs, pred, mask)``: its mask is 1 = removed, as maskproof's.
* ``encode`` is ``forward_encoder(imgs, mask_ratio)`` with noise that ranks the visible
  patches (``mask == 0``, ascending) first and a ratio whose ``int(L * (1 - r))`` is the
  visible count, so the model's own ``random_masking`` keeps exactly those patches (checked);
  the output is ``[B, 1 + K, embed_dim]``, the CLS token first.
* ``mae_forward`` is the model's own ``forward(imgs, mask_ratio)`` (``forward_encoder``,
  ``forward_decoder``, ``forward_loss``) with the noise given as above; for the call an
  instance attribute wraps ``forward_encoder`` to record its ``(latent, mask, ids_restore)``,
  which ``forward`` does not return. ``module`` is the model.
* ``fixed_tensors`` are ``pos_embed`` and ``decoder_pos_embed`` of a freshly built model:
  documented as the fixed 2-D sin-cos table with a zero CLS row (models_mae.py:37 and 51,
  ``requires_grad=False``; ``initialize_weights`` fills them with
  ``get_2d_sincos_pos_embed(..., cls_token=True)``, lines 68-72, which puts the column
  coordinate in the first half: util/pos_embed.py:28 and 42). ``cls_token`` and ``mask_token``
  are trainable (normal, std 0.02, lines 79-80), so they are no fixed tensors.
* ``keep_count_convention`` is ``"keep_floor"``: ``len_keep = int(L * (1 - mask_ratio))``.

The model is put in eval mode (no dropout in it anyway: every contract compares bit for bit).

Compatibility shims (applied only when needed, listed in ``compat_shims``; neither changes
what the code computes). The code at efb2a80 was written for timm 0.3.2 and numpy < 1.24:

* ``Block(..., qk_scale=None, ...)`` (models_mae.py:40 and 54): timm >= 0.9 removed the
  argument and raises ``TypeError``. ``None`` meant the default scale ``head_dim ** -0.5``
  (timm 0.3.2's ``qk_scale or head_dim ** -0.5``), which is what timm 1.0 always uses, so the
  privately loaded module's ``Block`` drops ``qk_scale=None`` (and refuses any other value).
* ``np.float`` (util/pos_embed.py:56): an alias of the builtin ``float`` that numpy 1.24
  removed (``AttributeError``). The privately loaded ``pos_embed`` sees a numpy whose ``float``
  is the builtin again; everything else is numpy itself.

What the audit finds at commit efb2a80 (models_mae.py line numbers;
``tests/bridge/third_party/test_official_mae.py`` pins each verdict and shows each defect
directly):

* ``masking.keep_count`` fails, a real defect: ``len_keep = int(L * (1 - mask_ratio))``
  (line 130) rounds in binary floating point, so ``L=10, r=0.8`` gives
  ``10 * 0.19999999999999996 = 1.9999999999999996`` and keeps 1 token, not 2 (the audit's
  shrunk counterexample: ``N=5, r=0.8``, 5 masked where the ratio means 4).
* ``masking.empty_mask_loss_zero`` fails, a real deviation from the spec: ``forward_loss``
  divides by ``mask.sum()`` (line 213), 0/0 = NaN when nothing is masked (mask ratio 0),
  where ``maskedLoss`` of no patches is 0.
* ``patchify`` asserts ``H == W`` (line 101) and ``unpatchify`` takes no image shape and
  assumes a square grid (``h = w = int(L ** .5)``, line 115): the model is square-only
  (``initialize_weights`` sizes its tables by ``int(num_patches ** .5)``, line 68). The adapter
  declares ``patchify_square = True``, so ``patchify.roundtrip`` and ``patchify.patch_content``
  are checked on every square grid, and hold there.

* Not in the catalogue's run (the tiny model is RGB), a real defect found while writing this
  adapter: ``patchify`` / ``unpatchify`` hard-code 3 channels (``reshape(..., 3, h, p, w, p)``,
  lines 104, 106, 118, 120) though the constructor takes ``in_chans`` (line 25) and sizes
  ``PatchEmbed`` and ``decoder_pred`` by it (lines 33, 58): ``MaskedAutoencoderViT(in_chans=1)``
  builds, and its ``forward`` raises in ``patchify`` (line 104). An adapter with
  ``in_chans=1`` fails ``patchify.*``, ``loss.*`` and ``model.*`` at that line.

Every other applicable contract holds (masking, loss, encoder, the model's own forward,
gradient and positions, the fixed tables); the TorchLean and I-JEPA contracts are not
applicable.
"""

from __future__ import annotations

import builtins
import hashlib
import importlib.util
import inspect
import os
import sys
import types
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy
import torch
from torch import Tensor, nn

from maskproof.bridge.audit.protocols import KEEP_FLOOR, FixedTensor, MAEForward, SinCos2D

#: The environment variable :class:`TinyOfficialMAE` reads the checkout's path from.
CHECKOUT_ENV = "MASKPROOF_MAE_CHECKOUT"
#: The files the adapter imports from a checkout.
MODELS_FILE, POS_EMBED_FILE = "models_mae.py", os.path.join("util", "pos_embed.py")

#: The small model of :class:`TinyOfficialMAE`: 16x16 RGB images, 4x4 patches (a 4x4 grid).
TINY_KWARGS: dict[str, Any] = {
    "img_size": 16, "patch_size": 4, "in_chans": 3, "embed_dim": 32, "depth": 2,
    "num_heads": 2, "decoder_embed_dim": 16, "decoder_depth": 1, "decoder_num_heads": 2,
    "norm_pix_loss": True,
}


def import_timm_vision_transformer() -> types.ModuleType:
    """``timm.models.vision_transformer``, which models_mae.py:17 imports, or one ImportError."""
    try:
        import timm.models.vision_transformer as vision_transformer
    except Exception as error:  # noqa: BLE001 - any failure to import is reported the same way
        cause = str(error).strip().splitlines()[0] if str(error).strip() else ""
        why = (" (timm's ViT code imports torchvision at import time: install a torchvision "
               f"that loads beside torch {torch.__version__})"
               if "torchvision" in f"{cause} {getattr(error, 'name', '')}" else "")
        raise ImportError(f"the official MAE code needs timm (models_mae.py imports "
                          f"timm.models.vision_transformer), which failed to import: "
                          f"{type(error).__name__}: {cause}{why}") from error
    return vision_transformer


class _NumpyWithFloat(types.ModuleType):
    """numpy, plus ``float`` (the builtin), the alias numpy 1.24 removed."""

    float = builtins.float

    def __getattr__(self, name: str) -> Any:
        return getattr(numpy, name)


def _block_without_qk_scale(block: type[nn.Module]) -> Callable[..., nn.Module]:
    def build(*args: Any, qk_scale: Any = None, **kwargs: Any) -> nn.Module:
        if qk_scale is not None:
            raise ValueError(f"qk_scale={qk_scale!r}: this timm's Block has no qk_scale (only "
                             "None, the default head_dim ** -0.5 scale, can be dropped)")
        return block(*args, **kwargs)

    return build


class OfficialMAECode:
    """The checkout's ``models_mae`` and ``util.pos_embed``, loaded under private names.

    ``models_mae.py`` imports ``util.pos_embed`` by its top-level name ``util``; while it runs,
    ``sys.modules['util']`` / ``['util.pos_embed']`` name the checkout's, and whatever was there
    before (another project's ``util``) is put back after. Nothing is left in ``sys.modules``.
    """

    def __init__(self, checkout: str | os.PathLike[str]) -> None:
        if not isinstance(checkout, (str, os.PathLike)):
            raise TypeError(f"checkout must be a path to a checkout of facebookresearch/mae, "
                            f"got {type(checkout).__name__} {checkout!r}")
        root = Path(os.fspath(checkout))
        if not root.is_dir():
            raise FileNotFoundError(f"{os.fspath(checkout)!r} is not a directory: expected a "
                                    "checkout of facebookresearch/mae (holding models_mae.py)")
        for name in (MODELS_FILE, POS_EMBED_FILE):
            if not (root / name).is_file():
                raise FileNotFoundError(f"{os.fspath(checkout)!r} has no {name}: expected a "
                                        "checkout of facebookresearch/mae")
        vision_transformer = import_timm_vision_transformer()
        self.root = root.resolve()
        prefix = "_maskproof_official_mae_" + hashlib.sha1(
            str(self.root).encode()).hexdigest()[:12]
        util = types.ModuleType("util")
        util.__path__ = [str(self.root / "util")]
        self.pos_embed = _exec_file(f"{prefix}.util.pos_embed", self.root / POS_EMBED_FILE, {})
        util.pos_embed = self.pos_embed  # type: ignore[attr-defined]
        self.models_mae = _exec_file(f"{prefix}.models_mae", self.root / MODELS_FILE,
                                     {"util": util, "util.pos_embed": self.pos_embed})
        shims: list[str] = []
        block = vision_transformer.Block
        takes = inspect.signature(block.__init__).parameters
        if "qk_scale" not in takes and not any(
                p.kind is inspect.Parameter.VAR_KEYWORD for p in takes.values()):
            vars(self.models_mae)["Block"] = _block_without_qk_scale(block)
            shims.append("timm Block without qk_scale: qk_scale=None dropped")
        if not hasattr(numpy, "float"):
            vars(self.pos_embed)["np"] = _NumpyWithFloat("numpy")
            shims.append("numpy >= 1.24 without np.float: the builtin float")
        self.shims = tuple(shims)
        self.MaskedAutoencoderViT: type[nn.Module] = self.models_mae.MaskedAutoencoderViT

    def __deepcopy__(self, memo: dict[int, object]) -> OfficialMAECode:
        return self  # code, not state: the audit's deep copies of an adapter share it

    @contextmanager
    def rand_returns(self, noise: Tensor) -> Iterator[None]:
        """For the block, ``torch.rand`` as ``models_mae`` sees it returns ``noise``."""
        module_globals = vars(self.models_mae)  # what the model's methods read as `torch`
        real = module_globals["torch"]
        stand_in = _TorchDrawing(noise)
        module_globals["torch"] = stand_in
        try:
            yield
        finally:
            module_globals["torch"] = real
        if stand_in.calls != 1:
            raise RuntimeError(f"models_mae drew torch.rand {stand_in.calls} times in a call "
                               "that draws once: the adapter's noise was not the model's")


def _exec_file(name: str, path: Path, aliases: dict[str, types.ModuleType]) -> types.ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {str(path)!r} as a Python module")
    module = importlib.util.module_from_spec(spec)
    saved = {key: sys.modules.get(key) for key in aliases}
    sys.modules.update(aliases)
    try:
        spec.loader.exec_module(module)
    finally:
        for key, value in saved.items():
            if value is None:
                sys.modules.pop(key, None)
            else:
                sys.modules[key] = value
    return module


class _TorchDrawing(types.ModuleType):
    """torch, except that ``rand(N, L, device=...)`` returns the given noise (once)."""

    def __init__(self, noise: Tensor) -> None:
        super().__init__("torch")
        self.noise = noise
        self.calls = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(torch, name)

    def rand(self, *size: Any, device: Any = None, **kwargs: Any) -> Tensor:
        self.calls += 1
        shape = tuple(size[0]) if len(size) == 1 and not isinstance(size[0], int) else size
        if tuple(shape) != tuple(self.noise.shape) or kwargs or self.calls > 1:
            raise RuntimeError(f"models_mae drew torch.rand{size} {kwargs or ''} (call "
                               f"{self.calls}); the adapter holds noise of shape "
                               f"{list(self.noise.shape)} for one call")
        return self.noise.to(device)


def kept_first_noise(mask: Tensor) -> tuple[Tensor, int]:
    """``noise [B, N]`` whose ``argsort`` lists each sample's visible patches (``mask == 0``,
    ascending) before its masked ones, and the visible count ``K`` (the same for every sample)."""
    removed = (mask != 0).to(torch.int8)
    counts = removed.sum(dim=1)
    if counts.numel() and bool((counts != counts[0]).any()):
        raise ValueError(f"the official MAE masks the same number of patches in every sample, "
                         f"got masked counts {counts.tolist()}")
    order = torch.argsort(removed, dim=1, stable=True)
    ranks = torch.argsort(order, dim=1).to(torch.float64)
    noise = ((ranks + 0.5) / max(mask.shape[1], 1)).to(torch.float32)  # distinct, in (0, 1)
    keep = mask.shape[1] - (int(counts[0]) if counts.numel() else 0)
    return noise, keep


def ratio_keeping(tokens: int, keep: int) -> float:
    """A ``mask_ratio`` with ``int(tokens * (1 - ratio)) == keep`` in floating point: the
    midpoint ``(tokens - keep - 1/2) / tokens`` is half a token from either rounding edge."""
    if keep >= tokens:
        return 0.0
    ratio = (tokens - keep - 0.5) / tokens
    if int(tokens * (1 - ratio)) != keep:  # pragma: no cover - half a token of slack
        raise ArithmeticError(f"no float ratio keeps {keep} of {tokens} tokens")
    return ratio


class OfficialMAEAdapter:
    """The audit capabilities of ``MaskedAutoencoderViT(**model_kwargs)`` from ``checkout``.

    The model is built with the global RNG seeded with ``seed`` (state restored after) and put
    in eval mode; ``fixed_tensors(seed)`` builds fresh ones the same way.
    """

    #: Reported with their versions in audit.json.
    audited_packages = ("timm", "numpy")
    keep_count_convention = KEEP_FLOOR

    def __init__(self, checkout: str | os.PathLike[str], seed: int = 0,
                 **model_kwargs: Any) -> None:
        self.code = OfficialMAECode(checkout)
        self.compat_shims = self.code.shims
        try:
            bound = inspect.signature(self.code.MaskedAutoencoderViT).bind(**model_kwargs)
        except TypeError as error:
            raise TypeError(f"MaskedAutoencoderViT does not take {model_kwargs!r}: "
                            f"{error}") from None
        bound.apply_defaults()
        args = bound.arguments
        if not isinstance(args["img_size"], int) or not isinstance(args["patch_size"], int):
            raise ValueError(f"img_size and patch_size must be ints (the official MAE is "
                             f"square-only), got {args['img_size']!r}, {args['patch_size']!r}")
        self.model_kwargs = dict(model_kwargs)
        self.model: Any = self.build(seed)
        self.module: nn.Module = self.model
        self.patch_size: int = args["patch_size"]
        self.in_chans: int = args["in_chans"]
        self.norm_pix_loss: bool = bool(args["norm_pix_loss"])
        self.image_size: int = args["img_size"]
        self.embed_dim: int = args["embed_dim"]
        self.decoder_embed_dim: int = args["decoder_embed_dim"]
        self.encoder_image_shape = (self.in_chans, self.image_size, self.image_size)
        self.model_image_shape = self.encoder_image_shape
        self.patchify_fixed = (self.patch_size, self.in_chans)
        # patchify asserts H == W (models_mae.py:101) and unpatchify assumes a square grid
        # (line 115): declared, so the patchify contracts check it on every square grid.
        self.patchify_square = True

    def build(self, seed: int) -> Any:
        """``MaskedAutoencoderViT(**model_kwargs)`` built under ``torch.manual_seed(seed)``."""
        with torch.random.fork_rng():
            torch.manual_seed(seed)
            model = self.code.MaskedAutoencoderViT(**self.model_kwargs)
        model.eval()
        return model

    def check_patch(self, patch_size: int) -> None:
        if patch_size != self.patch_size:
            raise ValueError(f"the model's patch size is {self.patch_size}, not {patch_size}")

    def check_mask(self, got: Tensor, want: Tensor) -> None:
        if not torch.equal(got != 0, want != 0):
            raise RuntimeError(f"the adapter's noise did not reproduce the mask: model "
                               f"{got.tolist()}, wanted {want.tolist()}")

    # RandomMaskingCapability: the model's random_masking on noise from the generator.
    def random_masking(self, x: Tensor, mask_ratio: float,
                       generator: torch.Generator) -> tuple[Tensor, Tensor, Tensor]:
        noise = torch.rand(tuple(x.shape[:2]), generator=generator).to(x.device)
        with self.code.rand_returns(noise):
            out: tuple[Tensor, Tensor, Tensor] = self.model.random_masking(x, mask_ratio)
        return out

    # PatchifyCapability: one patch size and channel count (patchify_fixed).
    def patchify(self, images: Tensor, patch_size: int) -> Tensor:
        self.check_patch(patch_size)
        patches: Tensor = self.model.patchify(images)
        return patches

    def unpatchify(self, patches: Tensor, patch_size: int,
                   image_shape: tuple[int, int, int]) -> Tensor:
        self.check_patch(patch_size)  # the model's unpatchify takes no shape: a square grid
        images: Tensor = self.model.unpatchify(patches)
        return images

    # MAELossCapability
    def loss(self, images: Tensor, pred: Tensor, mask: Tensor) -> Tensor:
        loss: Tensor = self.model.forward_loss(images, pred, mask)
        return loss

    # EncoderCapability: forward_encoder keeping exactly the patches where mask == 0.
    def encode(self, images: Tensor, mask: Tensor) -> Tensor:
        noise, keep = kept_first_noise(mask)
        with self.code.rand_returns(noise), torch.no_grad():
            latent, got, _ = self.model.forward_encoder(images,
                                                        ratio_keeping(mask.shape[1], keep))
        self.check_mask(got, mask)
        out: Tensor = latent
        return out

    # MAEModelCapability: the model's own forward with the given noise.
    def mae_forward(self, images: Tensor, noise: Tensor, mask_ratio: float) -> MAEForward:
        model: Any = self.module
        encoder = model.forward_encoder
        recorded: list[tuple[Tensor, Tensor, Tensor]] = []

        def recording(x: Tensor, ratio: float) -> tuple[Tensor, Tensor, Tensor]:
            out: tuple[Tensor, Tensor, Tensor] = encoder(x, ratio)
            recorded.append(out)
            return out

        model.forward_encoder = recording
        try:
            with self.code.rand_returns(noise):
                loss, pred, mask = model(images, mask_ratio=mask_ratio)
        finally:
            del model.forward_encoder
        latent, _, ids_restore = recorded[-1]
        return MAEForward(loss, pred, mask, ids_restore, latent)

    # FixedTensorsCapability
    def fixed_tensors(self, seed: int) -> list[FixedTensor]:
        model = self.build(seed)
        grid = self.image_size // self.patch_size
        return [
            FixedTensor("pos_embed", model.pos_embed[0],
                        SinCos2D(self.embed_dim, grid, grid, cls_token=True)),
            FixedTensor("decoder_pos_embed", model.decoder_pos_embed[0],
                        SinCos2D(self.decoder_embed_dim, grid, grid, cls_token=True)),
        ]


def checkout_from_env() -> str:
    """The checkout named by ``MASKPROOF_MAE_CHECKOUT``, or one line saying what is wrong."""
    value = os.environ.get(CHECKOUT_ENV, "")
    if not value:
        raise RuntimeError(f"{CHECKOUT_ENV} is not set: set it to a checkout of "
                           "facebookresearch/mae (the directory holding models_mae.py)")
    if not os.path.isfile(os.path.join(value, MODELS_FILE)):
        raise FileNotFoundError(f"{CHECKOUT_ENV}={value!r} is not a checkout of "
                                f"facebookresearch/mae: it has no {MODELS_FILE}")
    return value


class TinyOfficialMAE(OfficialMAEAdapter):
    """``MaskedAutoencoderViT(**TINY_KWARGS)`` from ``$MASKPROOF_MAE_CHECKOUT``, seed 0: an
    audit TARGET."""

    def __init__(self) -> None:
        super().__init__(checkout_from_env(), **TINY_KWARGS)
