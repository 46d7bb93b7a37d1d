"""Cases for ``NN.API.ssl`` and ``NN.API.tensor``: the deterministic masks on float tensors.

Tensors are nested arrays of ``f64`` values whose shape is given by the case's size binders
(``batch``, ``dataDim``, ``c``/``h``/``w``, ``source``). Every mask case draws its scalars from
a pool rich in NaN (two payloads), ``±0.0``, ``±inf``, subnormals and extremes, because a hidden
scalar must become exactly ``+0.0`` and a visible one must keep its bits.

The row contracts take a per-coordinate loss ``Float → Float → Nat``; it is written as the finite
list of ``[target, prediction, loss]`` entries the contract is applied to (``float_lookup``).
"""

from __future__ import annotations

import random
from typing import Any, cast

from maskproof.bridge.vectors.building import (
    SPECIAL_FLOATS,
    case,
    flatten_nested,
    float_lookup,
    lookup_entries,
    random_tensor,
    spec_def,
)
from maskproof.bridge.vectors.defs_predictive import OBSERVED, observe_contract
from maskproof.bridge.vectors.schema import CaseInput, VectorDef
from maskproof.spec import ssl, tensor

HUGE_PERIOD = 2**64 + 3  # Lean's Nat has no int64 overflow; offset % period must be exact

#: (note, dataDim, period, offset): every degenerate corner of the residue-class mask.
VECTOR_PARAMETERS: tuple[tuple[str, int, int, int], ...] = (
    ("period 0 hides nothing", 5, 0, 3),
    ("offset >= period wraps", 7, 3, 8),
    ("period 1 hides everything", 4, 1, 0),
    ("period > dataDim", 4, 9, 2),
    ("offset % period >= dataDim hides nothing", 3, 6, 5),
    ("dataDim 0", 0, 2, 1),
    ("period beyond 2**64", 6, HUGE_PERIOD, HUGE_PERIOD + 2),
    ("every residue, period 2", 6, 2, 1),
    ("period 2**64 (a u64 port wraps it to 0)", 5, 2**64, 2**64 + 3),
    ("period 2**32, offset beyond 2**32 (a u32 port wraps both)", 5, 2**32, 2**32 + 2),
    ("offset beyond 2**64, period beyond 2**32", 6, 2**32 + 1, 2**64 + 5),
)

#: (note, h, w, patchH, patchW, period, offset) for the image-patch mask.
IMAGE_PARAMETERS: tuple[tuple[str, int, int, int, int, int, int], ...] = (
    ("patchH 0 hides nothing", 3, 4, 0, 2, 2, 0),
    ("patchW 0 hides nothing", 3, 4, 2, 0, 2, 0),
    ("period 0 hides nothing", 3, 4, 2, 2, 0, 1),
    ("width not divisible by patchW (ceiling patches per row)", 4, 5, 2, 2, 2, 1),
    ("height not divisible by patchH", 5, 3, 2, 3, 3, 2),
    ("offset >= period wraps", 4, 4, 2, 2, 3, 7),
    ("patch larger than the image", 3, 3, 4, 4, 2, 0),
    ("period beyond 2**64", 4, 4, 1, 2, HUGE_PERIOD, 1),
    ("1 x 1 patches", 3, 3, 1, 1, 4, 2),
    ("patchW 2**64 - 1: width + patchW - 1 overflows a u64", 3, 5, 1, 2**64 - 1, 2, 1),
    ("patchH 2**32 (a u32 port wraps it to 0)", 3, 3, 2**32, 1, 2, 1),
)

#: Images no tensor could hold, for the tensor-free pixel predicate: the patch index goes beyond
#: 2**32 and 2**64 (note, height, width, patchH, patchW, period, offset, row, col).
HUGE_IMAGE_PARAMETERS: tuple[tuple[str, int, int, int, int, int, int, int, int], ...] = (
    ("patch index 2**80 - 1 (beyond 2**64)", 2**40, 2**40, 1, 1, 2**64 + 7, 3,
     2**40 - 1, 2**40 - 1),
    ("patch index beyond 2**32", 2**20, 2**20, 1, 1, 2**32 + 3, 2**32 + 2, 2**19, 7),
    ("patch sizes beyond 2**32", 2**40, 2**40, 2**33, 2**34 + 1, 5, 2, 2**40 - 1, 2**35),
    ("row 2**64 + 1 in an image taller than 2**64", 2**65, 3, 2, 1, 3, 1, 2**64 + 1, 2),
)


def _vector_parameter_cases(rng: random.Random) -> list[CaseInput]:
    cases = [case(note, dataDim=d, period=p, offset=o) for note, d, p, o in VECTOR_PARAMETERS]
    for _ in range(3):
        cases.append(case("random", dataDim=rng.randint(0, 9), period=rng.randint(0, 5),
                          offset=rng.randint(0, 12)))
    return cases + [case("negative period is not a Nat", True, dataDim=3, period=-2, offset=0),
                    case("negative offset is not a Nat", True, dataDim=3, period=2, offset=-1)]


def _vector_mask_cases(rng: random.Random) -> list[CaseInput]:
    cases = []
    for note, d, p, o in VECTOR_PARAMETERS:
        batch = rng.randint(1, 3)
        cases.append(case(note, batch=batch, dataDim=d, period=p, offset=o,
                          x=random_tensor(rng, (batch, d))))
    specials = list(SPECIAL_FLOATS)
    cases += [
        case("every special float, period 2", batch=1, dataDim=len(specials), period=2, offset=0,
             x=[specials]),
        case("every special float, other residue", batch=1, dataDim=len(specials), period=2,
             offset=1, x=[specials]),
        case("batch 0", batch=0, dataDim=4, period=2, offset=0, x=[]),
    ]
    for _ in range(4):
        batch, d = rng.randint(1, 3), rng.randint(1, 8)
        cases.append(case("random", batch=batch, dataDim=d, period=rng.randint(0, 5),
                          offset=rng.randint(0, 9), x=random_tensor(rng, (batch, d))))
    return cases + [
        case("x row of the wrong length", True, batch=1, dataDim=3, period=2, offset=0,
             x=[[1.0, 2.0]]),
        case("an int is not a Float", True, batch=1, dataDim=2, period=2, offset=0, x=[[1.0, 2]]),
        case("negative period is not a Nat", True, batch=1, dataDim=1, period=-1, offset=0,
             x=[[1.0]]),
    ]


def _vector_sample_cases(rng: random.Random) -> list[CaseInput]:
    cases = _vector_mask_cases(rng)
    return [c for c in cases if c.note != "random"][:6] + cases[-2:]


def _row_cases(rng: random.Random, matrix_binder: str) -> list[CaseInput]:
    cases = []
    for _ in range(4):
        batch, n = rng.randint(1, 3), rng.randint(0, 5)
        cases.append(case("random", batch=batch, n=n,
                          **{matrix_binder: random_tensor(rng, (batch, n))},
                          bi=rng.randrange(batch)))
    return cases + [
        case("bi = batch is not a Fin batch", True, batch=2, n=1,
             **{matrix_binder: [[1.0], [2.0]]}, bi=2),
        case("batch 0 has no row", True, batch=0, n=3, **{matrix_binder: []}, bi=0),
    ]


def _vector_contract_cases(rng: random.Random) -> list[CaseInput]:
    cases = []
    params = [(note, d, p, o) for note, d, p, o in VECTOR_PARAMETERS[:6]]
    params += [("random", rng.randint(1, 6), rng.randint(0, 4), rng.randint(0, 6))
               for _ in range(2)]
    for note, d, p, o in params:
        batch = rng.randint(1, 3)
        x, yhat = random_tensor(rng, (batch, d)), random_tensor(rng, (batch, d))
        bi = rng.randrange(batch)
        assert isinstance(x, list) and isinstance(yhat, list)
        loss = lookup_entries(rng, list(zip(x[bi], yhat[bi], strict=True)))
        cases.append(case(note, batch=batch, dataDim=d, period=p, offset=o, x=x, yhat=yhat,
                          bi=bi, patchLoss=loss))
    return cases + [case("bi = batch is not a Fin batch", True, batch=1, dataDim=1, period=1,
                         offset=0, x=[[1.0]], yhat=[[2.0]], bi=1, patchLoss=[[1.0, 2.0, 3]])]


#: (note, source shape, takeDim) for the row-major prefix.
PREFIX_PARAMETERS: tuple[tuple[str, tuple[int, ...], int], ...] = (
    ("scalar samples (source [])", (), 1),
    ("takeDim 0", (2, 3), 0),
    ("takeDim = size", (2, 3), 6),
    ("rank 3 source, proper prefix", (2, 2, 3), 7),
    ("zero extent: size 0", (3, 0), 0),
    ("vector source", (5,), 3),
    ("rank 4 source (strides of four axes)", (2, 1, 2, 3), 9),
    ("rank 5 source", (1, 2, 2, 1, 2), 7),
)


def _prefix_cases(rng: random.Random, with_mask: bool) -> list[CaseInput]:
    cases = []
    for note, source, take in PREFIX_PARAMETERS:
        batch = rng.randint(0 if note == "takeDim 0" else 1, 3)
        mask = {"period": rng.randint(0, 3), "offset": rng.randint(0, 5)} if with_mask else {}
        size_binder = "dataDim" if with_mask else "takeDim"
        cases.append(case(note, batch=batch, **{size_binder: take}, source=list(source),
                          x=random_tensor(rng, (batch, *source)), **mask))
    bad_mask = {"period": 1, "offset": 0} if with_mask else {}
    size_binder = "dataDim" if with_mask else "takeDim"
    return cases + [
        case("takeDim > size of one sample", True, batch=1, **{size_binder: 5}, source=[2, 2],
             x=[[[1.0, 2.0], [3.0, 4.0]]], **bad_mask),
        case("x does not have the source shape", True, batch=1, **{size_binder: 1},
             source=[2], x=[[1.0]], **bad_mask),
    ]


def _image_hidden_cases(rng: random.Random) -> list[CaseInput]:
    cases = []
    for note, h, w, ph, pw, p, o in IMAGE_PARAMETERS:
        for _ in range(3):
            cases.append(case(note, height=h, width=w, patchH=ph, patchW=pw, period=p, offset=o,
                              row=rng.randrange(h), col=rng.randrange(w)))
    for note, h, w, ph, pw, p, o, row, col in HUGE_IMAGE_PARAMETERS:
        cases.append(case(note, height=h, width=w, patchH=ph, patchW=pw, period=p, offset=o,
                          row=row, col=col))
    return cases + [
        case("row = height is not a Fin height", True, height=2, width=2, patchH=1, patchW=1,
             period=2, offset=0, row=2, col=0),
        case("height 0: no pixel exists", True, height=0, width=2, patchH=1, patchW=1, period=2,
             offset=0, row=0, col=0),
    ]


def _image_pixel_cases(rng: random.Random) -> list[CaseInput]:
    cases = []
    for _ in range(4):
        batch, c, h, w = (rng.randint(1, 2) for _ in range(4))
        cases.append(case("random", batch=batch, c=c, height=h, width=w,
                          x=random_tensor(rng, (batch, c, h, w)), bi=rng.randrange(batch),
                          ch=rng.randrange(c), row=rng.randrange(h), col=rng.randrange(w)))
    return cases + [case("ch = c is not a Fin c", True, batch=1, c=1, height=1, width=1,
                         x=[[[[1.0]]]], bi=0, ch=1, row=0, col=0)]


def _image_mask_args(rng: random.Random, h: int, w: int, ph: int, pw: int, p: int,
                     o: int, batch: int = 1, c: int = 1) -> dict[str, object]:
    return {"batch": batch, "c": c, "h": h, "w": w, "patchH": ph, "patchW": pw, "period": p,
            "offset": o, "x": random_tensor(rng, (batch, c, h, w))}


def _image_mask_cases(rng: random.Random) -> list[CaseInput]:
    cases = [case(note, **_image_mask_args(rng, h, w, ph, pw, p, o, rng.randint(1, 2),
                                           rng.randint(1, 2)))
             for note, h, w, ph, pw, p, o in IMAGE_PARAMETERS]
    cases += [
        case("batch 0", batch=0, c=1, h=2, w=2, patchH=1, patchW=1, period=2, offset=0, x=[]),
        case("zero channels", batch=1, c=0, h=2, w=2, patchH=1, patchW=1, period=2, offset=0,
             x=[[]]),
        case("height 0", batch=1, c=1, h=0, w=3, patchH=1, patchW=1, period=2, offset=0,
             x=[[[]]]),
    ]
    for _ in range(3):
        h, w = rng.randint(1, 5), rng.randint(1, 5)
        cases.append(case("random", **_image_mask_args(rng, h, w, rng.randint(0, 3),
                                                       rng.randint(0, 3), rng.randint(0, 4),
                                                       rng.randint(0, 8), 2, 2)))
    return cases + [
        case("negative patchW is not a Nat", True, batch=1, c=1, h=1, w=1, patchH=1, patchW=-1,
             period=1, offset=0, x=[[[[1.0]]]]),
        case("x of the wrong shape", True, batch=1, c=1, h=1, w=2, patchH=1, patchW=1, period=1,
             offset=0, x=[[[[1.0]]]]),
    ]


def _image_sample_cases(rng: random.Random) -> list[CaseInput]:
    cases = []
    for note, h, w, ph, pw, p, o in IMAGE_PARAMETERS[3:7]:
        c = rng.randint(1, 2)
        args = _image_mask_args(rng, h, w, ph, pw, p, o, 2, c)
        cases.append(case(note, reconDim=rng.randint(0, c * h * w), **args))
    cases.append(case("reconDim = c*h*w", reconDim=8,
                      **_image_mask_args(rng, 2, 2, 1, 1, 2, 0, 1, 2)))
    return cases + [case("reconDim > c*h*w", True, batch=1, c=1, h=1, w=2, reconDim=3, patchH=1,
                         patchW=1, period=1, offset=0, x=[[[[1.0, 2.0]]]])]


def _image_contract_cases(rng: random.Random) -> list[CaseInput]:
    cases = []
    for note, h, w, ph, pw, p, o in IMAGE_PARAMETERS[2:7]:
        batch, c = rng.randint(1, 2), rng.randint(1, 2)
        args = _image_mask_args(rng, h, w, ph, pw, p, o, batch, c)
        recon = rng.randint(0, c * h * w)
        x = args["x"]
        assert isinstance(x, list)
        yhat = random_tensor(rng, (batch, recon))
        assert isinstance(yhat, list)
        bi = rng.randrange(batch)
        target_row = flatten_nested(x[bi])[:recon]
        loss = lookup_entries(rng, list(zip(target_row, yhat[bi], strict=True)))
        cases.append(case(note, **{**args, "reconDim": recon, "yhat": yhat, "bi": bi,
                                   "patchLoss": loss}))
    return cases + [case("reconDim > c*h*w", True, batch=1, c=1, h=1, w=1, reconDim=2, patchH=1,
                         patchW=1, period=1, offset=0, x=[[[[1.0]]]], yhat=[[1.0, 1.0]], bi=0,
                         patchLoss=[])]



def _recon_idx_cases(rng: random.Random) -> list[CaseInput]:
    return [case(f"reconDim {r}", reconDim=r) for r in (0, 1, 6)] + [
        case("negative reconDim is not a Nat", True, reconDim=-1)]


def _tensor_prefix_mae_sample(source: object, batch: object, data_dim: object, period: object,
                              offset: object, x: object) -> object:
    # Lean's implicit `{source}` comes first; the mirror takes it after the sizes.
    return ssl.tensor_prefix_mae_sample(cast(Any, batch), cast(Any, data_dim), cast(Any, source),
                                        cast(Any, period), cast(Any, offset), cast(Any, x))


def definitions() -> list[VectorDef]:
    """The vectors of every executable def in ``NN.API.ssl`` and ``NN.API.tensor``."""
    mat = "Tensor Float (Shape.Mat batch dataDim)"
    img = "Tensor Float (Shape.Images batch c h w)"
    mask = [("period", "Nat"), ("offset", "Nat")]
    vec = [("batch", "Nat"), ("dataDim", "Nat"), *mask, ("x", mat)]
    image = [("batch", "Nat"), ("c", "Nat"), ("h", "Nat"), ("w", "Nat")]
    patch = [("patchH", "Nat"), ("patchW", "Nat"), *mask]
    lookup = {"patchLoss": "[[target f64, prediction f64, Nat], ...] for the pairs used"}
    sample = "Supervised sample {input, target}"
    recon = {"hRecon": "reconDim ≤ Shape.size (Shape.Image c h w)"}
    return [
        spec_def("vectorMaeHiddenMask", ssl.vector_mae_hidden_mask,
                 [("dataDim", "Nat"), *mask], "Mask dataDim", _vector_parameter_cases),
        spec_def("vectorMaeMask", ssl.vector_mae_mask, vec, mat, _vector_mask_cases),
        spec_def("vectorMaeSample", ssl.vector_mae_sample, vec, sample, _vector_sample_cases),
        spec_def("vectorMaeSelectedIdxs", ssl.vector_mae_selected_idxs,
                 [("dataDim", "Nat"), *mask], "List (Fin dataDim)", _vector_parameter_cases),
        spec_def("matrixRowAsPatchBatch", ssl.matrix_row_as_patch_batch,
                 [("batch", "Nat"), ("n", "Nat"), ("x", "Tensor Float (Shape.Mat batch n)"),
                  ("bi", "Fin batch")], "PatchBatch n Float", lambda r: _row_cases(r, "x")),
        spec_def("matrixRowAsPrediction", ssl.matrix_row_as_prediction,
                 [("batch", "Nat"), ("n", "Nat"), ("yhat", "Tensor Float (Shape.Mat batch n)"),
                  ("bi", "Fin batch")], "Fin n → Float", lambda r: _row_cases(r, "yhat")),
        spec_def("vectorMaeRowPredictiveContract", ssl.vector_mae_row_predictive_contract,
                 [*vec, ("yhat", mat), ("bi", "Fin batch"),
                  ("patchLoss", "Float → Float → Nat")], OBSERVED, _vector_contract_cases,
                 output=observe_contract,
                 converters={"patchLoss": float_lookup("vectorMaeRowPredictiveContract",
                                                       "patchLoss")}, encoding=lookup),
        spec_def("tensorPrefixMaeSample", _tensor_prefix_mae_sample,
                 [("source", "Shape (implicit)"), ("batch", "Nat"), ("dataDim", "Nat"), *mask,
                  ("x", "Tensor Float (batch :: source)")], sample,
                 lambda r: _prefix_cases(r, True),
                 python_mirror="maskproof.spec.ssl.tensor_prefix_mae_sample",
                 hypotheses={"hData": "dataDim ≤ Shape.size source"},
                 error_binders={"hTake": "hData"}),
        spec_def("imagePatchHidden", ssl.image_patch_hidden,
                 [("height", "Nat"), ("width", "Nat"), *patch, ("row", "Fin height"),
                  ("col", "Fin width")], "Bool", _image_hidden_cases),
        spec_def("imagePixel", ssl.image_pixel,
                 [("batch", "Nat"), ("c", "Nat"), ("height", "Nat"), ("width", "Nat"),
                  ("x", img), ("bi", "Fin batch"), ("ch", "Fin c"), ("row", "Fin height"),
                  ("col", "Fin width")], "Float", _image_pixel_cases),
        spec_def("imagePatchMask", ssl.image_patch_mask, [*image, *patch, ("x", img)], img,
                 _image_mask_cases),
        spec_def("imagePatchMaeSample", ssl.image_patch_mae_sample,
                 [*image, ("reconDim", "Nat"), *patch, ("x", img)], sample,
                 _image_sample_cases, hypotheses=recon),
        spec_def("imageMaeReconstructionIdxs", ssl.image_mae_reconstruction_idxs,
                 [("reconDim", "Nat")], "List (Fin reconDim)", _recon_idx_cases),
        spec_def("imagePatchMaeRowPredictiveContract",
                 ssl.image_patch_mae_row_predictive_contract,
                 [*image, ("reconDim", "Nat"), *patch, ("x", img),
                  ("yhat", "Tensor Float (Shape.Mat batch reconDim)"), ("bi", "Fin batch"),
                  ("patchLoss", "Float → Float → Nat")], OBSERVED, _image_contract_cases,
                 output=observe_contract,
                 converters={"patchLoss": float_lookup("imagePatchMaeRowPredictiveContract",
                                                       "patchLoss")}, encoding=lookup,
                 hypotheses=recon),
        spec_def("flattenBatchPrefix", tensor.flatten_batch_prefix,
                 [("batch", "Nat"), ("takeDim", "Nat"), ("source", "Shape (implicit)"),
                  ("x", "Tensor Float (batch :: source)")], "Tensor Float (Mat batch takeDim)",
                 lambda r: _prefix_cases(r, False),
                 hypotheses={"hTake": "takeDim ≤ Shape.size source"}),
    ]
