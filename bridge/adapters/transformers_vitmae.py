"""Audit adapter for Hugging Face transformers' ``ViTMAEForPreTraining``.

``maskproof audit maskproof.bridge.adapters.transformers_vitmae:TinyViTMAE`` audits a small
random-init model (16x16 RGB images, 4x4 patches, a 2-layer 32-wide encoder and a 1-layer
16-wide decoder; ``norm_pix_loss=True``, not the config's default, so that
``loss.norm_pix_convention`` applies): the whole catalogue at the default 40 examples takes
about 18 s of CPU (37 s wall on a loaded 2-core machine, importing transformers included). To audit
your own model, configuration or checkpoint, build the adapter in a module of yours and name
that object as the TARGET (``maskproof audit my_audit:checkpoint``)::

    # my_audit.py
    from transformers import ViTMAEConfig, ViTMAEForPreTraining
    from maskproof.bridge.adapters.transformers_vitmae import ViTMAEAdapter

    checkpoint = ViTMAEAdapter.from_pretrained("path/to/checkpoint")  # a local directory only
    config = ViTMAEAdapter(ViTMAEForPreTraining(ViTMAEConfig(image_size=32, patch_size=4)))

or subclass :class:`ViTMAEAdapter` (a class TARGET is built with no arguments, as
:class:`TinyViTMAE` is).

Every capability calls the model's own code, never a copy of it, and the model's semantics are
never patched:

* ``random_masking`` is ``ViTMAEEmbeddings.random_masking(sequence, noise)`` with ``noise``
  drawn from the audit's generator; the ratio is the config's ``mask_ratio``, which that method
  reads, set for the call and restored after it.
* ``patchify`` / ``unpatchify`` are ``ViTMAEForPreTraining.patchify`` / ``unpatchify``
  (``unpatchify`` with ``original_image_size``); the model has one patch size and channel count
  (``patchify_fixed``). Images of another size than the config's go through the path the model
  takes for them, ``interpolate_pos_encoding=True``: without it ``patchify`` rejects any
  non-square image (line 714), with it the same reshape code handles any grid.
* ``loss`` is the loss of ``ViTMAEForPreTraining.forward``: transformers 5 has no
  ``forward_loss`` and computes the loss inline (modeling_vit_mae.py:845-853 in 5.24.0). The
  adapter runs ``forward`` with ``noise`` chosen so that the model's own ``random_masking``
  returns exactly the given mask (checked), and replaces the decoder's output by ``pred``
  through a forward hook, so the loss lines run unchanged on the audit's predictions.
* ``encode`` is the encoder ``model.vit`` run with such a ``noise``: its ``random_masking``
  keeps exactly the patches where ``mask == 0`` (in ascending patch order). The output is
  ``last_hidden_state`` ``[B, 1 + K, hidden]``, the CLS token first.
* ``mae_forward`` is ``ViTMAEForPreTraining.forward`` itself with ``noise=`` (the model keeps
  the ``int(N·(1 − r))`` smallest-noise patches, lines 310-327) and the ratio set as for
  ``random_masking``; a forward hook on ``model.vit`` only records its ``last_hidden_state``
  as the latent. ``module`` is the model: the model contracts backpropagate its own loss.
* ``fixed_tensors`` are the encoder's ``position_embeddings`` and the decoder's
  ``decoder_pos_embed``: documented as the MAE 2-D sin-cos table with a zero CLS row
  (modeling_vit_mae.py:273-290 and 523-534 build it with ``build_2d_sinusoidal_position_embedding``
  and swap the halves to the official layout, columns first) and frozen
  (``requires_grad=False``, lines 196 and 464). ``cls_token`` and ``mask_token`` are trainable
  (documented init: normal, std ``initializer_range``), so they are no fixed tensors.

The adapter puts the model in eval mode (dropout off: the contracts compare outputs bit for bit).

What the audit finds on transformers 5.24.0 (``tests/bridge/test_adapter_transformers.py`` pins
each verdict; every line number is modeling_vit_mae.py of that release unless named):

* ``masking.keep_count`` fails, a real defect: ``len_keep = int(seq_length * (1 -
  self.config.mask_ratio))`` (line 310) rounds in binary floating point, so e.g. ``N=10,
  r=0.8`` gives ``10 * 0.19999999999999996 = 1.9999999999999996`` and keeps 1 token, not 2:
  the float-rounding defect of the official MAE code, carried over (the audit's shrunk
  counterexample at the defaults: ``N=5, r=0.8``, 5 masked where the ratio means 4).
* ``fixed.documented_values`` fails, a real defect: ``ViTMAEForPreTraining(config)`` leaves
  both position tables all zero (and ``cls_token``, ``mask_token`` zero too). The decoder's
  constructor fills its table (``initialize_weights``, line 534), but ``post_init`` then runs
  ``ViTMAEPreTrainedModel._init_weights``, which zeroes ``decoder_pos_embed`` and
  ``mask_token`` (lines 608-609). The encoder's table is filled only by
  ``ViTMAEEmbeddings.initialize_weights``, which returns at once when
  ``patch_embeddings.projection._is_hf_initialized`` is set (line 274); ``initialize_weights``
  visits children before their parent (modeling_utils.py:2409-2415) and marks each visited
  module (modeling_utils.py:2393), so the projection is always marked first and the table,
  the xavier init of the projection (line 294) and the ``cls_token`` init (line 297) never run.
  The same zeros come from ``model.init_weights()``, ``ViTMAEForPreTraining._from_config``,
  ``AutoModelForPreTraining.from_config`` and a ``save_pretrained`` / ``from_pretrained``
  round trip, so they are not an artefact of how this adapter builds the model. A checkpoint
  loaded with ``from_pretrained`` has a second defect: its position tables come back
  trainable, since loading wraps each tensor as ``nn.Parameter(value,
  requires_grad=value.is_floating_point())`` (core_model_loading.py:1589), dropping the
  ``requires_grad=False`` of lines 196 and 464.

* ``model.masked_rows_follow_position``, ``model.every_parameter_gets_gradient`` and
  ``model.encoder_position_sensitive`` fail: the same zero tables, seen through the model's own
  forward. With ``decoder_pos_embed`` and ``mask_token`` zero every mask token enters the
  decoder as one zero vector, so all masked rows come out identical; LayerNorm maps that zero
  vector to zero, so the masked rows' queries and keys are the (zero) biases, and in the
  one-layer decoder the visible rows are never scored: the decoder's ``q_proj`` / ``k_proj``
  weights get an exactly zero gradient. With ``position_embeddings`` zero the encoder sees no
  positions: moving the visible pixels only reorders its rows. A model whose tables the
  model's own init code fills passes all three (the test module's ``filled``).
* ``masking.empty_mask_loss_zero`` fails, a real deviation from the spec: the loss is
  ``(loss * mask).sum() / mask.sum()`` (line 853), 0/0 = NaN when nothing is masked, where
  ``maskedLoss`` of no patches is 0.

Every other applicable contract holds (masking, patchify, loss, encoder, the model's loss, mask
and shuffle order); the TorchLean and I-JEPA contracts are not applicable.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import torch
from torch import Tensor, nn
from transformers import ViTMAEConfig, ViTMAEForPreTraining
from transformers.models.vit_mae.modeling_vit_mae import ViTMAEDecoderOutput

from maskproof.bridge.audit.protocols import FixedTensor, MAEForward, SinCos2D

#: The small configuration of :class:`TinyViTMAE`: 16x16 RGB images, 4x4 patches (a 4x4 grid).
TINY_CONFIG: dict[str, Any] = {
    "image_size": 16, "patch_size": 4, "num_channels": 3,
    "hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 64,
    "decoder_hidden_size": 16, "decoder_num_hidden_layers": 1, "decoder_num_attention_heads": 2,
    "decoder_intermediate_size": 32, "mask_ratio": 0.75, "norm_pix_loss": True,
}

#: How the adapter builds a fresh model for ``fixed_tensors(seed)``.
ModelBuilder = Callable[[int], ViTMAEForPreTraining]
AdapterT = TypeVar("AdapterT", bound="ViTMAEAdapter")


def seeded(build: Callable[[], ViTMAEForPreTraining], seed: int) -> ViTMAEForPreTraining:
    """``build()`` with the global RNG seeded from ``seed``, its state restored after."""
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        return build()


def from_config(config: ViTMAEConfig) -> ModelBuilder:
    """Build ``ViTMAEForPreTraining(config)``, as a user does for a random-init model."""
    return lambda seed: seeded(lambda: ViTMAEForPreTraining(config), seed)


def from_checkpoint(path: str | os.PathLike[str]) -> ModelBuilder:
    """Load ``ViTMAEForPreTraining.from_pretrained(path)`` from a local directory only."""
    if not os.path.isdir(path):
        raise FileNotFoundError(f"{os.fspath(path)!r} is not a local directory (the adapter "
                                "never downloads: save_pretrained the model there first)")

    def load() -> ViTMAEForPreTraining:
        model: ViTMAEForPreTraining = ViTMAEForPreTraining.from_pretrained(
            os.fspath(path), local_files_only=True)
        return model

    return lambda seed: seeded(load, seed)


def kept_first_noise(mask: Tensor) -> tuple[Tensor, int]:
    """``noise [B, N]`` whose ``argsort`` lists each sample's visible patches (``mask == 0``,
    ascending) before its masked ones, and the visible count ``K`` (the same for every sample)."""
    removed = (mask != 0).to(torch.int8)
    counts = removed.sum(dim=1)
    if counts.numel() and bool((counts != counts[0]).any()):
        raise ValueError(f"ViTMAE masks the same number of patches in every sample, got "
                         f"{counts.tolist()}")
    order = torch.argsort(removed, dim=1, stable=True)
    noise = torch.argsort(order, dim=1).to(torch.float32)  # distinct: argsort(noise) == order
    keep = mask.shape[1] - (int(counts[0]) if counts.numel() else 0)
    return noise, keep


def ratio_keeping(tokens: int, keep: int) -> float:
    """A ``mask_ratio`` with ``int(tokens * (1 - ratio)) == keep`` in floating point: the
    midpoint ``(keep + 1/2) / tokens`` is half a token away from either rounding edge."""
    if keep >= tokens:
        return 0.0
    ratio = (tokens - keep - 0.5) / tokens
    assert int(tokens * (1 - ratio)) == keep, (tokens, keep, ratio)
    return ratio


class ViTMAEAdapter:
    """The audit capabilities of one ``ViTMAEForPreTraining``.

    ``build(seed)`` makes the fresh models ``fixed_tensors`` inspects (default: the constructor
    on ``model.config``, seeded); :meth:`from_pretrained` reloads the checkpoint instead.
    """

    #: Reported with its version in audit.json.
    audited_packages = ("transformers",)

    def __init__(self, model: ViTMAEForPreTraining, build: ModelBuilder | None = None) -> None:
        config = model.config
        if not isinstance(config.patch_size, int) or not isinstance(config.image_size, int):
            raise ValueError("ViTMAEForPreTraining.patchify needs an int patch_size and "
                             f"image_size, got {config.patch_size!r}, {config.image_size!r}")
        to_eval: Callable[[], object] = model.eval  # transformers leaves eval() unannotated
        to_eval()
        self.model = model
        self.module: nn.Module = model
        self.build: ModelBuilder = build if build is not None else from_config(config)
        self.patch_size: int = config.patch_size
        self.in_chans: int = config.num_channels
        self.norm_pix_loss: bool = bool(config.norm_pix_loss)
        self.image_size: int = config.image_size
        self.encoder_image_shape = (self.in_chans, self.image_size, self.image_size)
        self.model_image_shape = self.encoder_image_shape
        self.patchify_fixed = (self.patch_size, self.in_chans)

    @classmethod
    def from_pretrained(cls: type[AdapterT], path: str | os.PathLike[str]) -> AdapterT:
        """The adapter of the checkpoint ``save_pretrained`` wrote to the local ``path``."""
        build = from_checkpoint(path)
        return cls(build(0), build=build)

    # The model reads the ratio from its config (modeling_vit_mae.py:310): set it for one call.
    @contextmanager
    def mask_ratio(self, ratio: float) -> Iterator[None]:
        config = self.model.vit.embeddings.config
        saved = config.mask_ratio
        config.mask_ratio = ratio
        try:
            yield
        finally:
            config.mask_ratio = saved

    def interpolate(self, images: Tensor) -> bool:
        """Whether ``images`` need the model's ``interpolate_pos_encoding`` path (any size but
        the config's square one)."""
        return tuple(images.shape[2:]) != (self.image_size, self.image_size)

    def check_mask(self, got: Tensor, want: Tensor) -> None:
        if not torch.equal(got != 0, want != 0):
            raise RuntimeError(f"the adapter's noise did not reproduce the mask: model "
                               f"{got.tolist()}, wanted {want.tolist()}")

    # RandomMaskingCapability
    def random_masking(self, x: Tensor, mask_ratio: float,
                       generator: torch.Generator) -> tuple[Tensor, Tensor, Tensor]:
        noise = torch.rand(tuple(x.shape[:2]), generator=generator).to(x.device)
        masking: Callable[..., tuple[Tensor, Tensor, Tensor]] = (
            self.model.vit.embeddings.random_masking)  # unannotated in transformers
        with self.mask_ratio(mask_ratio):
            return masking(x, noise=noise)

    # PatchifyCapability
    def patchify(self, images: Tensor, patch_size: int) -> Tensor:
        self.check_patch(patch_size)
        patches: Tensor = self.model.patchify(images,
                                              interpolate_pos_encoding=self.interpolate(images))
        return patches

    def unpatchify(self, patches: Tensor, patch_size: int,
                   image_shape: tuple[int, int, int]) -> Tensor:
        self.check_patch(patch_size)
        _, height, width = image_shape
        images: Tensor = self.model.unpatchify(patches, original_image_size=(height, width))
        return images

    def check_patch(self, patch_size: int) -> None:
        if patch_size != self.patch_size:
            raise ValueError(f"the model's patch size is {self.patch_size}, not {patch_size}")

    # MAELossCapability: the loss lines of ViTMAEForPreTraining.forward on the given pred.
    def loss(self, images: Tensor, pred: Tensor, mask: Tensor) -> Tensor:
        noise, keep = kept_first_noise(mask)

        def predictions(module: nn.Module, args: Any, output: Any) -> ViTMAEDecoderOutput:
            return ViTMAEDecoderOutput(logits=pred)

        handle = self.model.decoder.register_forward_hook(predictions)
        try:
            with self.mask_ratio(ratio_keeping(mask.shape[1], keep)):
                out = self.model(images, noise=noise.to(images.device),
                                 interpolate_pos_encoding=self.interpolate(images))
        finally:
            handle.remove()
        self.check_mask(out.mask, mask)
        loss: Tensor = out.loss
        return loss

    # EncoderCapability: model.vit keeping exactly the patches where mask == 0.
    def encode(self, images: Tensor, mask: Tensor) -> Tensor:
        noise, keep = kept_first_noise(mask)
        with self.mask_ratio(ratio_keeping(mask.shape[1], keep)), torch.no_grad():
            out = self.model.vit(images, noise=noise.to(images.device),
                                 interpolate_pos_encoding=self.interpolate(images))
        self.check_mask(out.mask, mask)
        hidden: Tensor = out.last_hidden_state
        return hidden

    # MAEModelCapability: ViTMAEForPreTraining.forward itself with the audit's noise; a forward
    # hook on model.vit only records the encoder's last_hidden_state (the latent).
    def mae_forward(self, images: Tensor, noise: Tensor, mask_ratio: float) -> MAEForward:
        latents: list[Tensor] = []

        def record(module: nn.Module, args: Any, output: Any) -> None:
            latents.append(output.last_hidden_state)

        handle = self.model.vit.register_forward_hook(record)
        try:
            with self.mask_ratio(mask_ratio):
                out = self.model(images, noise=noise.to(images.device),
                                 interpolate_pos_encoding=self.interpolate(images))
        finally:
            handle.remove()
        return MAEForward(out.loss, out.logits, out.mask, out.ids_restore, latents[-1])

    # FixedTensorsCapability
    def fixed_tensors(self, seed: int) -> list[FixedTensor]:
        model = self.build(seed)
        config = model.config
        grid = self.image_size // self.patch_size
        return [
            FixedTensor("vit.embeddings.position_embeddings",
                        model.vit.embeddings.position_embeddings[0],
                        SinCos2D(config.hidden_size, grid, grid, cls_token=True)),
            FixedTensor("decoder.decoder_pos_embed", model.decoder.decoder_pos_embed[0],
                        SinCos2D(config.decoder_hidden_size, grid, grid, cls_token=True)),
        ]


def tiny_config() -> ViTMAEConfig:
    return ViTMAEConfig(**TINY_CONFIG)


class TinyViTMAE(ViTMAEAdapter):
    """``ViTMAEForPreTraining(ViTMAEConfig(**TINY_CONFIG))`` with seed 0: an audit TARGET."""

    def __init__(self) -> None:
        build = from_config(tiny_config())
        super().__init__(build(0), build=build)
