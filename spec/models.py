"""Mirror of ``NN.API.Models.SelfSupervised``: the compact SSL model constructors' shapes.

The Lean file (namespace ``NN.API.nn.models``) has three parts:

* config-based aliases of the vector MAE samples (``vectorMaeHiddenMask cfg …`` is
  ``NN.API.ssl.vectorMaeHiddenMask cfg.dataDim …``), mirrored here on top of ``spec.ssl``;
* ``VitMaeConfig`` with ``toVitConfig``, ``seqLen``, ``flatDim`` and the abbrevs ``vitMaeInShape`` /
  ``vitMaeOutShape``, mirrored exactly (Nat arithmetic, ``x / 0 = 0``, truncated subtraction);
* the constructors ``vitMaskedAutoencoder`` and ``vectorMaskedAutoencoder``, which build an
  ``nn.Sequential`` of layers with initialised weights. Weights and forward passes have no
  standard-library meaning; what is mirrored is the layer list each constructor produces, with the
  Lean arguments of every layer and the activation shape between layers (:class:`SequentialShape`).

``VitConfig`` (``NN.API.Models.Vit``) and ``VectorGenerativeConfig`` (``NN.API.Models.Generative``)
are dependencies outside the pinned SSL surface; they are transcribed below as unregistered helpers
(proofs_notes/not_mirrored.md lists them).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from itertools import pairwise
from typing import Any

from maskproof.spec.errors import LeanContractError
from maskproof.spec.lean import nat_div, nat_sub, require_nat
from maskproof.spec.masking import Mask
from maskproof.spec.registry import mirrors, register_mirror
from maskproof.spec.ssl import (
    tensor_prefix_mae_sample,
    vector_mae_hidden_mask,
    vector_mae_mask,
    vector_mae_sample,
)
from maskproof.spec.tensor import Matrix, Shape, SupervisedSample, TensorLike

#: Lean field name of each Python field, where the two differ.
LEAN_FIELD = {"in_c": "inC", "in_h": "inH", "in_w": "inW", "patch_h": "patchH",
              "patch_w": "patchW", "d_model": "dModel", "recon_dim": "reconDim",
              "out_dim": "outDim", "num_heads": "numHeads", "head_dim": "headDim",
              "ffn_hidden": "ffnHidden", "data_dim": "dataDim", "hidden_dim": "hiddenDim",
              "latent_dim": "latentDim"}


def _require_nat_fields(config: Any, declaration: str) -> None:
    for item in fields(config):
        require_nat(getattr(config, item.name), declaration, LEAN_FIELD.get(item.name, item.name))


@dataclass(frozen=True)
class VectorGenerativeConfig:
    """``NN.API.nn.models.VectorGenerativeConfig`` (Generative.lean): vector model dimensions."""

    batch: int
    data_dim: int
    hidden_dim: int
    latent_dim: int

    def __post_init__(self) -> None:
        _require_nat_fields(self, "VectorGenerativeConfig")


@dataclass(frozen=True, kw_only=True)
class VitConfig:
    """``nn.models.VitConfig`` (Vit.lean) with its ``outH``, ``outW``, ``seqLen``, ``flatDim``."""

    batch: int
    in_c: int
    in_h: int
    in_w: int
    patch_h: int
    patch_w: int
    stride: int
    padding: int = 0
    d_model: int
    out_dim: int
    num_heads: int
    head_dim: int
    ffn_hidden: int

    def __post_init__(self) -> None:
        _require_nat_fields(self, "VitConfig")

    def out_h(self) -> int:
        """``VitConfig.outH := (inH + 2 * padding - patchH) / stride + 1`` over Nat."""
        return nat_div(nat_sub(self.in_h + 2 * self.padding, self.patch_h), self.stride) + 1

    def out_w(self) -> int:
        """``VitConfig.outW := (inW + 2 * padding - patchW) / stride + 1`` over Nat."""
        return nat_div(nat_sub(self.in_w + 2 * self.padding, self.patch_w), self.stride) + 1

    def seq_len(self) -> int:
        """``VitConfig.seqLen := outH * outW``: the number of patch tokens."""
        return self.out_h() * self.out_w()

    def flat_dim(self) -> int:
        """``VitConfig.flatDim := Shape.size (Mat seqLen dModel)`` = ``seqLen * dModel``."""
        return self.seq_len() * self.d_model


@mirrors("nn.models.VitMaeConfig")
@dataclass(frozen=True, kw_only=True)
class VitMaeConfig:
    """Lean structure ``nn.models.VitMaeConfig``: a compact ViT-MAE image reconstructor's sizes.

    Keyword-only fields in Lean's order (``padding`` defaults to 0, as in Lean); every field is a
    Nat. Input ``N×C×H×W`` = ``batch×inC×inH×inW``, output ``batch×reconDim``.
    """

    batch: int
    in_c: int
    in_h: int
    in_w: int
    patch_h: int
    patch_w: int
    stride: int
    padding: int = 0
    d_model: int
    recon_dim: int
    num_heads: int
    head_dim: int
    ffn_hidden: int

    def __post_init__(self) -> None:
        _require_nat_fields(self, "VitMaeConfig")

    def to_vit_config(self) -> VitConfig:
        """Lean ``VitMaeConfig.toVitConfig``: the same fields, ``reconDim`` as ``outDim``."""
        return VitConfig(batch=self.batch, in_c=self.in_c, in_h=self.in_h, in_w=self.in_w,
                         patch_h=self.patch_h, patch_w=self.patch_w, stride=self.stride,
                         padding=self.padding, d_model=self.d_model, out_dim=self.recon_dim,
                         num_heads=self.num_heads, head_dim=self.head_dim,
                         ffn_hidden=self.ffn_hidden)

    def seq_len(self) -> int:
        """Lean ``VitMaeConfig.seqLen := cfg.toVitConfig.seqLen`` (patch tokens)."""
        return self.to_vit_config().seq_len()

    def flat_dim(self) -> int:
        """Lean ``VitMaeConfig.flatDim := cfg.toVitConfig.flatDim`` (``seqLen * dModel``)."""
        return self.to_vit_config().flat_dim()


register_mirror("nn.models.VitMaeConfig.toVitConfig", VitMaeConfig.to_vit_config,
                f"{__name__}.VitMaeConfig.to_vit_config")
register_mirror("nn.models.VitMaeConfig.seqLen", VitMaeConfig.seq_len,
                f"{__name__}.VitMaeConfig.seq_len")
register_mirror("nn.models.VitMaeConfig.flatDim", VitMaeConfig.flat_dim,
                f"{__name__}.VitMaeConfig.flat_dim")


def _require_config(cfg: object, kind: type, declaration: str) -> None:
    if not isinstance(cfg, kind):
        raise LeanContractError(declaration, "cfg", f"a {kind.__name__}", cfg)


@mirrors("nn.models.vitMaeInShape")
def vit_mae_in_shape(cfg: VitMaeConfig) -> Shape:
    """Lean abbrev ``vitMaeInShape cfg := Shape.Images batch inC inH inW``."""
    _require_config(cfg, VitMaeConfig, "vitMaeInShape")
    return (cfg.batch, cfg.in_c, cfg.in_h, cfg.in_w)


@mirrors("nn.models.vitMaeOutShape")
def vit_mae_out_shape(cfg: VitMaeConfig) -> Shape:
    """Lean abbrev ``vitMaeOutShape cfg := Shape.Mat batch reconDim``."""
    _require_config(cfg, VitMaeConfig, "vitMaeOutShape")
    return (cfg.batch, cfg.recon_dim)


@dataclass(frozen=True)
class Layer:
    """One entry of an ``nn.sequential!`` list: the Lean constructor, its arguments, its shapes."""

    constructor: str  # e.g. "nn.conv", "nn.linear", "nn.relu"
    arguments: tuple[tuple[str, int | str], ...]  # Lean argument name -> value, in Lean's order
    input_shape: Shape
    output_shape: Shape

    def argument(self, name: str) -> int | str:
        """The value of the Lean argument ``name``."""
        for key, value in self.arguments:
            if key == name:
                return value
        raise KeyError(f"{self.constructor} has no argument {name!r}; it has "
                       f"{[key for key, _ in self.arguments]}")


@dataclass(frozen=True)
class SequentialShape:
    """What an ``nn.M (nn.Sequential input output)`` constructor builds, weights left out."""

    input_shape: Shape
    output_shape: Shape
    layers: tuple[Layer, ...]

    def of(self, constructor: str) -> list[Layer]:
        """The layers built by ``constructor`` (e.g. ``"nn.linear"``), in order."""
        return [layer for layer in self.layers if layer.constructor == constructor]


def _chain(input_shape: Shape, layers: Sequence[Layer]) -> SequentialShape:
    # nn.Sequential composes only when each layer's output type is the next one's input type.
    for first, second in pairwise(layers):
        assert first.output_shape == second.input_shape, (first, second)
    return SequentialShape(input_shape, layers[-1].output_shape, tuple(layers))


@mirrors("nn.models.vitMaskedAutoencoder")
def vit_masked_autoencoder(cfg: VitMaeConfig) -> SequentialShape:
    """Lean ``nn.models.vitMaskedAutoencoder cfg h_inC h_patchH h_patchW h_seqLen h_dModel``.

    ``nn.sequential![conv, lift nchwToTokens, transformerEncoderBlock, flattenBatch, linear]``:
    a strided-convolution patch embedding ``inC → dModel`` (kernel ``patchH×patchW``), the
    ``N×dModel×outH×outW → N×seqLen×dModel`` tokenisation, one encoder block over *every* patch
    token (nothing is removed), ``flattenBatch`` to ``N×flatDim`` and one linear
    ``flatDim → reconDim``. The proof arguments (``cfg.inC ≠ 0`` …, ``by decide`` in Lean) are
    checked: a config breaking one is not a Lean call and raises ``LeanContractError``
    (``h_seqLen`` holds for every config).
    """
    decl = "vitMaskedAutoencoder"
    _require_config(cfg, VitMaeConfig, decl)
    # h_seqLen (`cfg.seqLen ≠ 0`) is not checked: outH and outW are `… / stride + 1 ≥ 1`, so every
    # config has a proof of it and a check could never fire (proofs_notes/models.md).
    for binder, value, statement in (("h_inC", cfg.in_c, "cfg.inC ≠ 0"),
                                     ("h_patchH", cfg.patch_h, "cfg.patchH ≠ 0"),
                                     ("h_patchW", cfg.patch_w, "cfg.patchW ≠ 0"),
                                     ("h_dModel", cfg.d_model, "cfg.dModel ≠ 0")):
        if value == 0:
            raise LeanContractError(decl, binder, f"a proof of `{statement}`", value)
    vit = cfg.to_vit_config()
    images = vit_mae_in_shape(cfg)
    conv_out = (cfg.batch, cfg.d_model, vit.out_h(), vit.out_w())  # vitConvOutShape
    tokens = (cfg.batch, vit.seq_len(), cfg.d_model)  # vitTokensShape
    flat = (cfg.batch, cfg.flat_dim())
    return _chain(images, [
        Layer("nn.conv", (("outC", cfg.d_model), ("kH", cfg.patch_h), ("kW", cfg.patch_w),
                          ("stride", cfg.stride), ("padding", cfg.padding)), images, conv_out),
        Layer("nn.lift (nchwToTokens)", (), conv_out, tokens),
        Layer("nn.transformerEncoderBlock", (("numHeads", cfg.num_heads),
                                             ("headDim", cfg.head_dim),
                                             ("ffnHidden", cfg.ffn_hidden),
                                             ("activation", "gelu")), tokens, tokens),
        Layer("nn.flattenBatch", (), tokens, flat),
        Layer("nn.linear", (("inDim", cfg.flat_dim()), ("outDim", cfg.recon_dim)), flat,
              vit_mae_out_shape(cfg)),
    ])


@mirrors("nn.models.vectorMaskedAutoencoder")
def vector_masked_autoencoder(cfg: VectorGenerativeConfig) -> SequentialShape:
    """Lean ``nn.models.vectorMaskedAutoencoder cfg := vectorAutoencoder cfg``.

    ``x → hidden → latent → hidden → reconstruction``: four linears (``dataDim → hiddenDim →
    latentDim → hiddenDim → dataDim``) with ReLU between them and a final sigmoid, over
    ``vectorDataShape cfg = Mat batch dataDim`` in and out. The masking lives in the sample
    (``vectorMaeSample``), not in the model.
    """
    _require_config(cfg, VectorGenerativeConfig, "vectorMaskedAutoencoder")
    widths = (cfg.data_dim, cfg.hidden_dim, cfg.latent_dim, cfg.hidden_dim, cfg.data_dim)
    layers: list[Layer] = []
    for index, (inner, outer) in enumerate(pairwise(widths)):
        layers.append(Layer("nn.linear", (("inDim", inner), ("outDim", outer)),
                            (cfg.batch, inner), (cfg.batch, outer)))
        activation = "nn.sigmoid" if index == len(widths) - 2 else "nn.relu"
        layers.append(Layer(activation, (), (cfg.batch, outer), (cfg.batch, outer)))
    return _chain((cfg.batch, cfg.data_dim), layers)


@mirrors("nn.models.vectorMaeHiddenMask")
def config_vector_mae_hidden_mask(cfg: VectorGenerativeConfig, period: int, offset: int) -> Mask:
    """Lean ``nn.models.vectorMaeHiddenMask cfg period offset`` (alias of ``ssl.vectorMaeHiddenMask
    cfg.dataDim period offset``)."""
    _require_config(cfg, VectorGenerativeConfig, "nn.models.vectorMaeHiddenMask")
    return vector_mae_hidden_mask(cfg.data_dim, period, offset)


@mirrors("nn.models.vectorMaeMask")
def config_vector_mae_mask(cfg: VectorGenerativeConfig, period: int, offset: int,
                           x: TensorLike) -> Matrix:
    """Lean ``nn.models.vectorMaeMask cfg period offset x`` (alias of ``ssl.vectorMaeMask
    cfg.batch cfg.dataDim period offset x``)."""
    _require_config(cfg, VectorGenerativeConfig, "nn.models.vectorMaeMask")
    return vector_mae_mask(cfg.batch, cfg.data_dim, period, offset, x)


@mirrors("nn.models.vectorMaeSample")
def config_vector_mae_sample(cfg: VectorGenerativeConfig, period: int, offset: int,
                             x: TensorLike) -> SupervisedSample[Matrix, Matrix]:
    """Lean ``nn.models.vectorMaeSample cfg period offset x`` (alias of ``ssl.vectorMaeSample
    cfg.batch cfg.dataDim period offset x``)."""
    _require_config(cfg, VectorGenerativeConfig, "nn.models.vectorMaeSample")
    return vector_mae_sample(cfg.batch, cfg.data_dim, period, offset, x)


@mirrors("nn.models.tensorPrefixMaeSample")
def config_tensor_prefix_mae_sample(cfg: VectorGenerativeConfig, source: Sequence[int],
                                    period: int, offset: int,
                                    x: TensorLike) -> SupervisedSample[Matrix, Matrix]:
    """Lean ``nn.models.tensorPrefixMaeSample cfg hData period offset x`` (alias of
    ``ssl.tensorPrefixMaeSample cfg.batch cfg.dataDim hData period offset x``; ``hData :
    cfg.dataDim ≤ Shape.size source`` is checked there)."""
    _require_config(cfg, VectorGenerativeConfig, "nn.models.tensorPrefixMaeSample")
    return tensor_prefix_mae_sample(cfg.batch, cfg.data_dim, source, period, offset, x)
