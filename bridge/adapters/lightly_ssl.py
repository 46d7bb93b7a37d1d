"""Audit adapters for lightly's MAE pieces and I-JEPA mask collator (lightly 1.6.0, MIT).

``maskproof audit maskproof.bridge.adapters.lightly_ssl:TinyLightlyMAE`` audits the MAE that
lightly's documented example builds (``examples/pytorch/mae.py``: a timm ``VisionTransformer``
wrapped in ``MaskedVisionTransformerTIMM``; an ``MAEDecoderTIMM``, which lightly 1.6.0
deprecates with a ``FutureWarning`` for ``MaskedVisionTransformerDecoderTIMM``;
``utils.random_token_mask`` with the class token; ``repeat_token``, ``set_at_index`` and
``get_at_index``; the target ``get_at_index(patchify(images), idx_mask - 1)`` and
``nn.MSELoss``), here small: 16x16 RGB images, 4x4 patches, a 2-layer 32-wide encoder, a 1-layer
16-wide decoder. ``maskproof audit maskproof.bridge.adapters.lightly_ssl:LightlyIJEPACollator``
audits ``lightly.data.ijepa_collate.IJEPAMaskCollator(input_size=(224, 224), patch_size=32)``,
the collator of lightly's I-JEPA example (``examples/pytorch/ijepa.py``; a 7x7 grid, the other
settings the defaults). To audit your own configuration, build :class:`LightlyMAEAdapter` or
:class:`IJEPACollatorAdapter` in a module of yours and name that object as the TARGET. Line
numbers below are lightly 1.6.0's.

**The loss is the user's code.** lightly ships no MAE loss: the example computes
``nn.MSELoss()(predictions, targets)`` in its training loop. :class:`LightlyMAE` writes the
example's model and loss as a user of lightly would, so what the ``model.*`` contracts say about
the loss is about that example code, not about a lightly function. ``mae_forward`` applies the
decoder's ``predict`` (one ``nn.Linear``, row-wise) to every decoded row and then gathers the
masked rows, where the example gathers first; the rows are the same, and ``pred`` can then hold
every patch, as ``MAEForward`` asks.

Every other capability calls lightly's own code:

* ``random_masking`` is ``utils.random_token_mask((B, N + 1), mask_ratio, device=...)`` called
  as the example calls it (class token at position 0, never masked), the class token dropped and
  the indices shifted by one. It takes **no generator**: its noise is ``torch.rand(...)`` from
  the global RNG (utils.py:601), so the adapter cannot pass the audit's generator on, and does
  not reseed the global RNG to hide that. The kept count is ``int(N * (1 - mask_ratio))`` in
  binary floats (utils.py:598-599, the CLS added back at 605): ``keep_count_convention`` is the
  default ``keep_floor``.
* ``patchify`` / ``unpatchify`` are ``utils.patchify`` / ``utils.unpatchify`` (utils.py:507-564);
  ``unpatchify`` takes the channel count from ``image_shape`` (it has no height or width
  argument). Both are square-only: ``patchify`` asserts ``H == W`` (utils.py:524), and
  ``unpatchify`` rebuilds a square grid of side ``int(sqrt(N))`` (utils.py:558-563), so a 2x8
  grid's 16 patches come back, without an error, as a 4x4 image. The model is square-only by
  design too (the sin-cos tables take ``int(sqrt(N))`` as the grid side, utils.py:1327), so the
  adapter declares ``patchify_square = True`` (as the official MAE adapter does) and the patchify
  contracts run on square grids, where they hold. ``patchify``'s docstring only asks width and
  height to be multiples of the patch size, which the assert contradicts.
* ``encode`` is ``MaskedVisionTransformerTIMM.encode(images, idx_keep=[0] + visible + 1)``, the
  example's ``forward_encoder``: ``[B, 1 + K, D]``, the class token first.
* ``mae_forward``: the noise the audit gives is ordered as ``random_token_mask`` orders its own
  (lines 601-610: the class token's noise set to -1, ``argsort``, the first ``num_keep`` kept),
  with ``num_keep`` the length of ``idx_keep`` that ``random_token_mask`` itself returns for
  that ratio (called under ``torch.random.fork_rng``); then the example's encoder, decoder and
  loss.
* ``fixed_tensors``: ``vit.pos_embed`` and ``decoder.decoder_pos_embed``, both documented as the
  MAE 2-D sin-cos table with a zero CLS row (``utils.initialize_2d_sine_cosine_positional_
  embedding``, utils.py:1306-1337, frozen at line 1337; called from
  masked_vision_transformer_timm.py:60-64 and masked_autoencoder_timm.py:209-212).

The collator adapter calls ``IJEPAMaskCollator.__call__`` on a batch of placeholder items. Its
randomness is no generator either: block **sizes** come from a ``torch.Generator`` seeded with
the collator's own call counter (ijepa_collate.py:147-157, so the n-th call of any collator has
the same sizes) and block **positions** from the global RNG (``torch.randint``, lines 113-114).
The generator is not used. One size per call for the whole batch is documented (the official
I-JEPA collator does the same): ``per_batch_block_size = True``. Masks are returned as the
collator returns them, every block cut to the batch's shortest (lines 187-195).

What the audit finds (``tests/bridge/third_party/test_lightly.py`` pins each verdict):

* ``masking.keep_count`` fails, a real defect: ``num_keep = int(mask_sequence_length * (1 -
  mask_ratio))`` (utils.py:599) rounds in binary floats, e.g. ``N=5, r=0.8`` keeps
  ``int(0.9999999999999998) = 0`` patches and masks all 5, where the ratio means 4 (the float
  rounding of the official MAE code, carried over).
* ``masking.generator_decides`` fails, a real limitation: ``random_token_mask`` has no generator
  argument and draws ``torch.rand`` from the global RNG (utils.py:601), so the same generator
  gives different masks under different global seeds. ``masking.batch_independent`` fails for
  the same reason and no other (its message speaks of other samples' content, but two calls
  simply draw two global noises; the detail may say "not reproducible on replay"): with the
  global RNG reseeded from the generator before each call both hold (the test module's
  ``GlobalSeeded``).
* ``model.every_parameter_gets_gradient`` fails, a real (if mild) defect of the example's
  model: ``MaskedVisionTransformerTIMM`` creates its own trainable ``mask_token``
  (masked_vision_transformer_timm.py:46-50), used only when ``encode`` gets ``idx_mask`` or
  ``mask`` (masked_vision_transformer.py:188-195); the example's encoder gets ``idx_keep`` only,
  so the token never receives a gradient though ``model.parameters()`` hands it to the optimizer
  (AdamW skips it; torch's ``DistributedDataParallel`` needs ``find_unused_parameters=True``
  for such a parameter). With it frozen every ``model.*`` contract holds.
* ``jepa.positions_reachable`` fails, a real defect: block corners are drawn with
  ``torch.randint(0, self.height - h, (1,))`` and ``torch.randint(0, self.width - w, (1,))``
  (ijepa_collate.py:113-114), whose upper bound is exclusive, so a block never touches the last
  row or the last column: those cells are never a target and never context. The same lines are
  in the official I-JEPA code (src/masks/multiblock.py:89-90). With the bound made inclusive
  every cell is a target; the contract's second clause (every cell context at least once in 256
  samples) then still misses a centre cell under a few global seeds in a hundred: two large
  target blocks a sample and contexts cut to the batch's shortest make centre cells rare
  there, not impossible, so that clause is a statistical check, not a proof.
* ``jepa.masks_disjoint_nonempty`` fails, a real defect: when 20 context blocks in a row leave
  at most ``min_keep`` cells outside the targets, ``_sample_block_mask`` drops the targets'
  complements one at a time (``tries``, ijepa_collate.py:99-104, 122-127) and the context may
  then lie on target cells although ``allow_overlap=False``: measured, 1 sample in 3 on the
  example's 7x7 grid (540 of 1600), 2 in 100 on the default 14x14 one. The official I-JEPA
  collator has the same relaxation (src/masks/multiblock.py:77-104). The audit's first failing
  example may not replay (the collator reads the global RNG), so the detail may say "not
  reproducible on replay"; the test module shows the overlap directly.

Every other applicable contract holds (ids_restore, gathering, ratio 0, distinct samples, the
patchify on square grids, the encoder, the model's own loss, mask and order, the sin-cos
tables, and the collator's
per-sample block positions). ``MAELossCapability`` is not exposed (lightly has no
loss function), nor a JEPA trainer: the loss contracts, the TorchLean and the I-JEPA model
contracts are not applicable.

Run time (2 shared cores, torch 2.13.0+cpu; ``python -c`` driving ``maskproof.bridge.cli.main``
with the test stand-in torchvision): the catalogue at the default 40 examples takes 7.5 s wall
on :class:`TinyLightlyMAE` and 7.4 s on :class:`LightlyIJEPACollator`, importing timm and lightly
included.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn

from maskproof.bridge.audit.protocols import KEEP_FLOOR, FixedTensor, MAEForward, SinCos2D


def _import_message(what: str, error: BaseException) -> str:
    text = str(error).strip()
    first = text.splitlines()[0] if text else ""
    return (f"maskproof.bridge.adapters.lightly_ssl needs {what}; importing it failed: "
            f"{type(error).__name__}: {first}")


try:
    from lightly.models import utils as lightly_utils  # type: ignore[import-untyped]
    from lightly.models.modules import (  # type: ignore[import-untyped]
        masked_vision_transformer_timm as _mvt,
    )
    from lightly.models.modules.masked_autoencoder_timm import (  # type: ignore[import-untyped]
        MAEDecoderTIMM,
    )
    from timm.models.vision_transformer import VisionTransformer

    MaskedVisionTransformerTIMM = _mvt.MaskedVisionTransformerTIMM
except (ImportError, RuntimeError) as _error:  # torchvision beside a mismatched torch: RuntimeError
    raise ImportError(_import_message("lightly and timm (pip install lightly timm)", _error)
                      ) from None

#: The small model of :class:`TinyLightlyMAE`: 16x16 RGB images, 4x4 patches (a 4x4 grid).
TINY_VIT: dict[str, Any] = {"img_size": 16, "patch_size": 4, "in_chans": 3, "num_classes": 0,
                            "embed_dim": 32, "depth": 2, "num_heads": 2, "mlp_ratio": 2.0}
TINY_DECODER: dict[str, Any] = {"decoder_dim": 16, "decoder_depth": 1, "decoder_num_heads": 2}


class LightlyMAE(nn.Module):
    """The model of lightly's MAE example (``examples/pytorch/mae.py``), written as its user
    writes it: lightly's encoder and decoder modules and ``lightly.models.utils``, with the
    example's ``nn.MSELoss`` on the masked patches (user code: lightly has no MAE loss)."""

    def __init__(self, vit: VisionTransformer, decoder_dim: int = 512, decoder_depth: int = 8,
                 decoder_num_heads: int = 16, mask_ratio: float = 0.75) -> None:
        super().__init__()
        patch = vit.patch_embed.patch_size
        self.patch_size: int = int(patch[0] if isinstance(patch, tuple) else patch)
        self.in_chans: int = int(vit.patch_embed.proj.in_channels)
        self.mask_ratio = mask_ratio
        mask_token = nn.Parameter(torch.zeros(1, 1, decoder_dim))
        self.backbone = MaskedVisionTransformerTIMM(vit=vit)
        self.sequence_length: int = int(self.backbone.sequence_length)
        self.decoder = MAEDecoderTIMM(
            num_patches=vit.patch_embed.num_patches, patch_size=self.patch_size,
            in_chans=self.in_chans, embed_dim=vit.embed_dim, decoder_embed_dim=decoder_dim,
            decoder_depth=decoder_depth, decoder_num_heads=decoder_num_heads, mlp_ratio=4.0,
            proj_drop_rate=0.0, attn_drop_rate=0.0, mask_token=mask_token)
        self.criterion = nn.MSELoss()

    def forward_encoder(self, images: Tensor, idx_keep: Tensor) -> Tensor:
        out: Tensor = self.backbone.encode(images=images, idx_keep=idx_keep)
        return out

    def forward_decoder(self, x_encoded: Tensor, idx_keep: Tensor) -> Tensor:
        """The example's decoder input and forward; returns the predictions of every row
        (CLS first): the example's ``predict`` is one ``nn.Linear`` applied row by row."""
        batch_size = x_encoded.shape[0]
        x_decode = self.decoder.embed(x_encoded)
        x_masked = lightly_utils.repeat_token(self.decoder.mask_token,
                                              (batch_size, self.sequence_length))
        x_masked = lightly_utils.set_at_index(x_masked, idx_keep, x_decode.type_as(x_masked))
        x_decoded = self.decoder.decode(x_masked)
        pred: Tensor = self.decoder.predict(x_decoded)
        return pred

    def forward(self, images: Tensor, idx_keep: Tensor, idx_mask: Tensor
                ) -> tuple[Tensor, Tensor, Tensor]:
        """``(loss, predictions of every patch [B, N, P], encoder output [B, 1 + K, D])``."""
        latent = self.forward_encoder(images, idx_keep)
        pred_all = self.forward_decoder(latent, idx_keep)
        x_pred = lightly_utils.get_at_index(pred_all, idx_mask)
        patches = lightly_utils.patchify(images, self.patch_size)
        target = lightly_utils.get_at_index(patches, idx_mask - 1)  # no class token in patches
        loss: Tensor = self.criterion(x_pred, target)
        return loss, pred_all[:, 1:], latent


#: How the adapter builds a fresh model for ``fixed_tensors(seed)``.
ModelBuilder = Callable[[int], LightlyMAE]


def seeded(build: Callable[[], LightlyMAE], seed: int) -> LightlyMAE:
    """``build()`` with the global RNG seeded from ``seed``, its state restored after."""
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        return build()


def _same_count(mask: Tensor) -> int:
    """The number of masked patches, the same in every sample (lightly's index tensors)."""
    counts = (mask != 0).sum(dim=1)
    if counts.numel() and bool((counts != counts[0]).any()):
        raise ValueError(f"lightly's index masks mask the same number of patches in every "
                         f"sample, got {counts.tolist()}")
    return int(counts[0]) if counts.numel() else 0


def _mask_and_restore(idx_keep: Tensor, idx_mask: Tensor, tokens: int
                      ) -> tuple[Tensor, Tensor, Tensor]:
    """From lightly's indices over ``[CLS] + patches`` (CLS kept first): the kept patch indices,
    ``mask [B, N]`` (1 = masked) and ``ids_restore [B, N]``."""
    if idx_keep.shape[1] == 0 or bool((idx_keep[:, 0] != 0).any()):
        raise RuntimeError(f"random_token_mask did not keep the class token first: idx_keep "
                           f"{idx_keep.tolist()}")
    kept = idx_keep[:, 1:] - 1
    masked = idx_mask - 1
    mask = torch.zeros(idx_keep.shape[0], tokens, device=idx_keep.device)
    mask.scatter_(1, masked, 1.0)
    ids_restore = torch.argsort(torch.cat([kept, masked], dim=1), dim=1)
    return kept, mask, ids_restore


class LightlyMAEAdapter:
    """The audit capabilities of one :class:`LightlyMAE`; ``build(seed)`` makes the fresh models
    ``fixed_tensors`` inspects."""

    audited_packages = ("lightly", "timm")
    #: random_token_mask keeps int(N * (1 - r)) patches (utils.py:599).
    keep_count_convention = KEEP_FLOOR
    #: The example's loss is plain MSE on the patches.
    norm_pix_loss = False
    #: utils.patchify asserts H == W (utils.py:524); unpatchify assumes a square grid.
    patchify_square = True

    def __init__(self, model: LightlyMAE, build: ModelBuilder) -> None:
        if not isinstance(model, LightlyMAE):
            raise TypeError(f"LightlyMAEAdapter wraps a LightlyMAE, got {type(model).__name__}")
        vit = model.backbone.vit
        size = vit.patch_embed.img_size
        if not (isinstance(size, tuple) and size[0] == size[1]):
            raise ValueError(f"lightly's patchify needs square images, got img_size {size!r}")
        model.eval()
        self.model = model
        self.module: nn.Module = model
        self.build = build
        self.patch_size = model.patch_size
        self.in_chans = model.in_chans
        self.image_size = int(size[0])
        self.encoder_image_shape = (self.in_chans, self.image_size, self.image_size)
        self.model_image_shape = self.encoder_image_shape

    # RandomMaskingCapability: lightly reads the global RNG; the generator cannot be passed on.
    def random_masking(self, x: Tensor, mask_ratio: float,
                       generator: torch.Generator) -> tuple[Tensor, Tensor, Tensor]:
        batch, tokens = x.shape[0], x.shape[1]
        idx_keep, idx_mask = lightly_utils.random_token_mask(
            size=(batch, tokens + 1), mask_ratio=mask_ratio, device=x.device)
        kept, mask, ids_restore = _mask_and_restore(idx_keep, idx_mask, tokens)
        return lightly_utils.get_at_index(x, kept), mask, ids_restore

    # PatchifyCapability
    def patchify(self, images: Tensor, patch_size: int) -> Tensor:
        patches: Tensor = lightly_utils.patchify(images, patch_size)
        return patches

    def unpatchify(self, patches: Tensor, patch_size: int,
                   image_shape: tuple[int, int, int]) -> Tensor:
        images: Tensor = lightly_utils.unpatchify(patches, patch_size, channels=image_shape[0])
        return images

    # EncoderCapability: the example's forward_encoder on [CLS] + the visible patches.
    def encode(self, images: Tensor, mask: Tensor) -> Tensor:
        _same_count(mask)
        removed = (mask != 0).to(torch.int8)
        order = torch.argsort(removed, dim=1, stable=True)  # visible first, ascending
        keep = mask.shape[1] - _same_count(mask)
        cls = torch.zeros(mask.shape[0], 1, dtype=torch.long)
        idx_keep = torch.cat([cls, order[:, :keep] + 1], dim=1).to(images.device)
        with torch.no_grad():
            return self.model.forward_encoder(images, idx_keep)

    def lightly_keep_count(self, tokens: int, mask_ratio: float, device: torch.device) -> int:
        """The ``idx_keep`` length ``random_token_mask`` returns for ``[CLS] + tokens``."""
        with torch.random.fork_rng(devices=[]):
            idx_keep, _ = lightly_utils.random_token_mask(
                size=(1, tokens + 1), mask_ratio=mask_ratio, device=device)
        return int(idx_keep.shape[1])

    # MAEModelCapability
    def mae_forward(self, images: Tensor, noise: Tensor, mask_ratio: float) -> MAEForward:
        batch, tokens = noise.shape
        num_keep = self.lightly_keep_count(tokens, mask_ratio, images.device)
        # lightly's own order (utils.py:601-610) on the audit's noise: ranks in [0, 1), the
        # class token's noise -1, argsort, the first num_keep kept.
        ranks = torch.argsort(torch.argsort(noise, dim=1), dim=1).to(torch.float32) / tokens
        full = torch.cat([torch.full((batch, 1), -1.0), ranks.cpu()], dim=1).to(images.device)
        indices = torch.argsort(full, dim=1)
        idx_keep, idx_mask = indices[:, :num_keep], indices[:, num_keep:]
        _, mask, ids_restore = _mask_and_restore(idx_keep, idx_mask, tokens)
        loss, pred, latent = self.model(images, idx_keep, idx_mask)
        return MAEForward(loss, pred, mask, ids_restore, latent)

    # FixedTensorsCapability
    def fixed_tensors(self, seed: int) -> list[FixedTensor]:
        model = self.build(seed)
        grid = self.image_size // self.patch_size
        vit = model.backbone.vit
        return [
            FixedTensor("backbone.vit.pos_embed", vit.pos_embed[0],
                        SinCos2D(int(vit.embed_dim), grid, grid, cls_token=True)),
            FixedTensor("decoder.decoder_pos_embed", model.decoder.decoder_pos_embed[0],
                        SinCos2D(int(model.decoder.decoder_pos_embed.shape[-1]), grid, grid,
                                 cls_token=True)),
        ]


def tiny_model() -> LightlyMAE:
    return LightlyMAE(VisionTransformer(**TINY_VIT), **TINY_DECODER)


class TinyLightlyMAE(LightlyMAEAdapter):
    """:class:`LightlyMAE` on the small ``TINY_VIT`` / ``TINY_DECODER`` with seed 0: a TARGET."""

    def __init__(self) -> None:
        def build(seed: int) -> LightlyMAE:
            return seeded(tiny_model, seed)

        super().__init__(build(0), build)


def ijepa_mask_collator_class() -> type:
    """``lightly.data.ijepa_collate.IJEPAMaskCollator``, imported on first use: importing
    ``lightly.data`` pulls in its image and video datasets, which the MAE pieces do not need."""
    try:
        from lightly.data.ijepa_collate import (  # type: ignore[import-untyped]
            IJEPAMaskCollator,
        )
    except (ImportError, RuntimeError, TypeError) as error:
        raise ImportError(_import_message("lightly.data (pip install lightly)", error)) from None
    cls: type = IJEPAMaskCollator
    return cls


class IJEPACollatorAdapter:
    """``JEPACollatorCapability`` of one ``IJEPAMaskCollator``: its own ``__call__`` on a batch
    of placeholder items; the generator is not used (the collator takes none)."""

    audited_packages = ("lightly",)
    #: One block size per call for the whole batch (ijepa_collate.py:150-157), as documented.
    per_batch_block_size = True

    def __init__(self, collator: Any) -> None:
        expected: Any = ijepa_mask_collator_class()
        if not isinstance(collator, expected):
            raise TypeError(f"IJEPACollatorAdapter wraps an IJEPAMaskCollator, got "
                            f"{type(collator).__name__}")
        self.collator: Any = collator
        self.jepa_grid: tuple[int, int] = (int(collator.height), int(collator.width))
        self.allow_overlap: bool = bool(collator.allow_overlap)

    def sample_jepa_masks(self, batch_size: int, generator: torch.Generator
                          ) -> tuple[list[list[int]], list[list[list[int]]]]:
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
        _, enc, pred = self.collator([torch.zeros(1)] * batch_size)
        contexts = [sorted({int(i) for m in enc for i in m[b].reshape(-1).tolist()})
                    for b in range(batch_size)]
        targets = [[[int(i) for i in m[b].reshape(-1).tolist()] for m in pred]
                   for b in range(batch_size)]
        return contexts, targets


class LightlyIJEPACollator(IJEPACollatorAdapter):
    """``IJEPAMaskCollator(input_size=(224, 224), patch_size=32)`` as in lightly's I-JEPA example
    (examples/pytorch/ijepa.py): a 7x7 grid, the other settings the defaults."""

    def __init__(self) -> None:
        super().__init__(ijepa_mask_collator_class()(input_size=(224, 224), patch_size=32))
