"""Cases for ``NN.API.Models.SelfSupervised`` (namespace ``nn.models``): configs and shapes.

A config argument ``cfg`` is an object keyed by Lean field names: ``VectorGenerativeConfig``
``{batch, dataDim, hiddenDim, latentDim}``, ``VitMaeConfig`` ``{batch, inC, inH, inW, patchH,
patchW, stride, padding, dModel, reconDim, numHeads, headDim, ffnHidden}``. The model
constructors' results carry no weights: they are written as the layer list Lean builds,
``{inputShape, outputShape, layers: [{constructor, arguments: [[name, value], …], inputShape,
outputShape}, …]}`` (``spec.models.SequentialShape``).
"""

from __future__ import annotations

import dataclasses
import random
from typing import Any, cast

from maskproof.bridge.vectors.building import Converter, case, random_tensor, spec_def
from maskproof.bridge.vectors.defs_predictive import as_binder
from maskproof.bridge.vectors.encoding import Json, VectorFormatError, encode
from maskproof.bridge.vectors.schema import CaseInput, VectorDef
from maskproof.spec import models

#: Lean field name -> Python field name of the spec's config classes.
PYTHON_FIELD = {lean: python for python, lean in models.LEAN_FIELD.items()}
VIT_FIELDS = ("batch", "inC", "inH", "inW", "patchH", "patchW", "stride", "padding", "dModel",
              "reconDim", "numHeads", "headDim", "ffnHidden")


def _config(cls: type[Any], declaration: str) -> Converter:
    def build(value: object) -> object:
        if not isinstance(value, dict):
            raise VectorFormatError(f"{declaration}: `cfg` must be an object")
        return cls(**{PYTHON_FIELD.get(str(key), str(key)): item for key, item in value.items()})
    return as_binder(declaration, "cfg", build)


def _fields(config: object) -> Json:
    """A config structure as an object keyed by its Lean field names."""
    assert dataclasses.is_dataclass(config)
    return encode({models.LEAN_FIELD.get(f.name, f.name): getattr(config, f.name)
                   for f in dataclasses.fields(config)})


def _sequential(built: object) -> Json:
    if not isinstance(built, models.SequentialShape):
        raise TypeError(f"expected a SequentialShape, got {built!r}")
    return {"inputShape": encode(list(built.input_shape)),
            "outputShape": encode(list(built.output_shape)),
            "layers": [{"constructor": layer.constructor,
                        "arguments": [[name, encode(value)] for name, value in layer.arguments],
                        "inputShape": encode(list(layer.input_shape)),
                        "outputShape": encode(list(layer.output_shape))}
                       for layer in built.layers]}


def _shape(value: object) -> Json:
    return encode(list(cast(tuple[int, ...], value)))


def _vector_config(batch: int, data_dim: int, hidden: int = 3, latent: int = 2) -> dict[str, int]:
    return {"batch": batch, "dataDim": data_dim, "hiddenDim": hidden, "latentDim": latent}


def _vit_config(**changes: int) -> dict[str, int]:
    base = {"batch": 2, "inC": 3, "inH": 8, "inW": 6, "patchH": 2, "patchW": 3, "stride": 2,
            "padding": 0, "dModel": 4, "reconDim": 10, "numHeads": 2, "headDim": 2,
            "ffnHidden": 8}
    return {**base, **changes}


#: (note, VitMaeConfig changes): the Nat arithmetic of outH/outW (truncated subtraction,
#: x / 0 = 0) and sizes beyond 2**64 that a u64 port wraps.
VIT_CONFIGS: tuple[tuple[str, dict[str, int]], ...] = (
    ("a small ViT-MAE", {}),
    ("padding 1", {"padding": 1}),
    ("stride 0: Nat division by 0 gives outH = outW = 1", {"stride": 0}),
    ("patch taller than the padded image: truncated subtraction", {"patchH": 20}),
    ("sequence length beyond 2**64", {"inH": 2**40, "inW": 2**40, "patchH": 1, "patchW": 1,
                                      "stride": 1}),
    ("flatDim beyond 2**64", {"inH": 2**33, "inW": 2**33, "stride": 1, "dModel": 2**20}),
)


def _alias_cases(rng: random.Random, with_x: bool) -> list[CaseInput]:
    cases = []
    for note, d, p, o in (("period 0 hides nothing", 4, 0, 1), ("offset >= period wraps", 5, 2, 7),
                          ("period 2**64 (a u64 port wraps it to 0)", 3, 2**64, 2**64 + 1),
                          ("dataDim 0", 0, 2, 0)):
        batch = rng.randint(1, 2)
        args: dict[str, object] = {"cfg": _vector_config(batch, d), "period": p, "offset": o}
        if with_x:
            args["x"] = random_tensor(rng, (batch, d))
        cases.append(case(note, **args))
    bad: dict[str, object] = {"cfg": {**_vector_config(1, 2), "dataDim": -1}, "period": 1,
                              "offset": 0}
    if with_x:
        bad["x"] = [[1.0, 2.0]]
        cases.append(case("x of the wrong width", True, cfg=_vector_config(1, 3), period=1,
                          offset=0, x=[[1.0, 2.0]]))
    return cases + [case("a negative config size is not a Nat", True, **bad)]


def _prefix_cases(rng: random.Random) -> list[CaseInput]:
    cases = []
    for note, source, take in (("rank 3 source", (2, 1, 3), 5), ("dataDim = size", (2, 2), 4),
                               ("rank 4 source", (1, 2, 2, 2), 7)):
        cases.append(case(note, source=list(source), cfg=_vector_config(2, take), period=3,
                          offset=1, x=random_tensor(rng, (2, *source))))
    return cases + [case("dataDim > size has no proof of hData", True, source=[2],
                         cfg=_vector_config(1, 3), period=1, offset=0, x=[[1.0, 2.0]])]


def _vit_cases(rng: random.Random) -> list[CaseInput]:
    cases = [case(note, cfg=_vit_config(**changes)) for note, changes in VIT_CONFIGS]
    return cases + [case("a negative field is not a Nat", True, cfg=_vit_config(stride=-1))]


def _vit_mk_cases(rng: random.Random) -> list[CaseInput]:
    cases = [case(note, **_vit_config(**changes)) for note, changes in VIT_CONFIGS[:3]]
    return cases + [case("a negative field is not a Nat", True, **_vit_config(dModel=-2))]


def _vit_model_cases(rng: random.Random) -> list[CaseInput]:
    cases = [case(note, cfg=_vit_config(**changes)) for note, changes in VIT_CONFIGS]
    return cases + [case("inC = 0 has no proof of h_inC", True, cfg=_vit_config(inC=0)),
                    case("dModel = 0 has no proof of h_dModel", True, cfg=_vit_config(dModel=0))]


def _vector_model_cases(rng: random.Random) -> list[CaseInput]:
    return [case("a small autoencoder", cfg=_vector_config(2, 6, 4, 2)),
            case("sizes beyond 2**64", cfg=_vector_config(1, 2**64 + 1, 2**65, 3)),
            case("a negative size is not a Nat", True,
                 cfg={**_vector_config(1, 2), "latentDim": -1})]


def _vit_mk(*fields: object) -> object:
    # The anonymous constructor `VitMaeConfig.mk`: the fields in Lean's order.
    named: dict[str, Any] = {PYTHON_FIELD.get(lean, lean): value
                             for lean, value in zip(VIT_FIELDS, fields, strict=True)}
    return models.VitMaeConfig(**named)


def _tensor_prefix(source: object, cfg: object, period: object, offset: object,
                   x: object) -> object:
    # Lean's implicit `{source}` comes first; the mirror takes it after `cfg`.
    return models.config_tensor_prefix_mae_sample(cast(Any, cfg), cast(Any, source),
                                                  cast(Any, period), cast(Any, offset),
                                                  cast(Any, x))


def definitions() -> list[VectorDef]:
    """The vectors of every executable def in ``NN.API.Models.SelfSupervised``."""
    vector_cfg = ("cfg", "VectorGenerativeConfig")
    vit_cfg = ("cfg", "VitMaeConfig")
    vector_note = {"cfg": "{batch, dataDim, hiddenDim, latentDim}"}
    vit_note = {"cfg": "{" + ", ".join(VIT_FIELDS) + "}"}
    mask = [("period", "Nat"), ("offset", "Nat")]
    data = "Tensor Float (vectorDataShape cfg) = Mat cfg.batch cfg.dataDim"
    sample = "Supervised sample {input, target}"
    layers = ("layer list {inputShape, outputShape, layers: [{constructor, arguments, "
              "inputShape, outputShape}]} (no weights)")

    def vector(decl: str) -> dict[str, Converter]:
        return {"cfg": _config(models.VectorGenerativeConfig, decl)}

    def vit(decl: str) -> dict[str, Converter]:
        return {"cfg": _config(models.VitMaeConfig, decl)}

    proofs = {f"h_{name}": f"cfg.{name} ≠ 0"
              for name in ("inC", "patchH", "patchW", "seqLen", "dModel")}
    return [
        spec_def("nn.models.vectorMaeHiddenMask", models.config_vector_mae_hidden_mask,
                 [vector_cfg, *mask], "Mask cfg.dataDim", lambda r: _alias_cases(r, False),
                 converters=vector("nn.models.vectorMaeHiddenMask"), encoding=vector_note),
        spec_def("nn.models.vectorMaeMask", models.config_vector_mae_mask,
                 [vector_cfg, *mask, ("x", data)], data, lambda r: _alias_cases(r, True),
                 converters=vector("nn.models.vectorMaeMask"), encoding=vector_note),
        spec_def("nn.models.vectorMaeSample", models.config_vector_mae_sample,
                 [vector_cfg, *mask, ("x", data)], sample, lambda r: _alias_cases(r, True),
                 converters=vector("nn.models.vectorMaeSample"), encoding=vector_note),
        spec_def("nn.models.tensorPrefixMaeSample", _tensor_prefix,
                 [("source", "Shape (implicit)"), vector_cfg, *mask,
                  ("x", "Tensor Float (cfg.batch :: source)")], sample, _prefix_cases,
                 converters=vector("nn.models.tensorPrefixMaeSample"), encoding=vector_note,
                 python_mirror="maskproof.spec.models.config_tensor_prefix_mae_sample",
                 hypotheses={"hData": "cfg.dataDim ≤ Shape.size source"},
                 error_binders={"hTake": "hData"}),
        spec_def("nn.models.VitMaeConfig", _vit_mk, [(name, "Nat") for name in VIT_FIELDS],
                 "VitMaeConfig (the structure, by Lean field names)", _vit_mk_cases,
                 output=_fields, python_mirror="maskproof.spec.models.VitMaeConfig",
                 encoding={"batch": "the anonymous constructor VitMaeConfig.mk: the fields in "
                                    "Lean's order (padding has Lean default 0)"}),
        spec_def("nn.models.VitMaeConfig.toVitConfig", models.VitMaeConfig.to_vit_config,
                 [vit_cfg], "VitConfig (by Lean field names)", _vit_cases, output=_fields,
                 converters=vit("nn.models.VitMaeConfig.toVitConfig"), encoding=vit_note),
        spec_def("nn.models.vitMaeInShape", models.vit_mae_in_shape, [vit_cfg], "Shape",
                 _vit_cases, output=_shape, converters=vit("nn.models.vitMaeInShape"),
                 encoding=vit_note),
        spec_def("nn.models.vitMaeOutShape", models.vit_mae_out_shape, [vit_cfg], "Shape",
                 _vit_cases, output=_shape, converters=vit("nn.models.vitMaeOutShape"),
                 encoding=vit_note),
        spec_def("nn.models.VitMaeConfig.seqLen", models.VitMaeConfig.seq_len, [vit_cfg], "Nat",
                 _vit_cases, converters=vit("nn.models.VitMaeConfig.seqLen"),
                 encoding=vit_note),
        spec_def("nn.models.VitMaeConfig.flatDim", models.VitMaeConfig.flat_dim, [vit_cfg],
                 "Nat", _vit_cases, converters=vit("nn.models.VitMaeConfig.flatDim"),
                 encoding=vit_note),
        spec_def("nn.models.vitMaskedAutoencoder", models.vit_masked_autoencoder, [vit_cfg],
                 layers, _vit_model_cases, output=_sequential,
                 converters=vit("nn.models.vitMaskedAutoencoder"), encoding=vit_note,
                 hypotheses=proofs),
        spec_def("nn.models.vectorMaskedAutoencoder", models.vector_masked_autoencoder,
                 [vector_cfg], layers, _vector_model_cases, output=_sequential,
                 converters=vector("nn.models.vectorMaskedAutoencoder"), encoding=vector_note),
    ]
