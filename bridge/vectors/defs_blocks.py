"""Cases for ``TorchLean.ssl.BlockMask`` and ``TorchLean.ssl.BlockMAE`` (arbitrary rank).

A policy list ``blocks : List (Option Nat)`` is a JSON array of ``null`` (Lean ``none``, the axis
is not blocked) and Nats (``some k``). Tensors of shape ``[]`` are a bare ``f64`` value.
``BlockMAE.sample`` and ``hiddenReconstructionIndices`` return Lean's ``Except String``, written
``{"ok": value}`` or ``{"error": message}``: a too-wide reconstruction is a result, not a
rejection. ``reconstructionWeights`` takes Lean's scalar type ``α`` as ``"Float"`` or ``"Rat"``.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from fractions import Fraction
from math import prod
from typing import Any

from maskproof.bridge.vectors.building import (
    Converter,
    case,
    flatten_nested,
    float_lookup,
    lookup_entries,
    random_tensor,
    spec_def,
)
from maskproof.bridge.vectors.defs_predictive import OBSERVED, observe_contract
from maskproof.bridge.vectors.encoding import VectorFormatError
from maskproof.bridge.vectors.schema import CaseInput, VectorDef
from maskproof.spec import block_mae, block_mask

HUGE_PERIOD = 2**64 + 3
Policies = list[int | None]

#: (note, shape, blocks, period, offset): every way the block mask can degenerate.
BLOCK_PARAMETERS: tuple[tuple[str, tuple[int, ...], Policies, int, int], ...] = (
    ("rank 0: no axis to block hides nothing", (), [], 2, 0),
    ("no blocked axis hides nothing", (2, 3), [None, None], 2, 0),
    ("some 0 hides nothing", (2, 3), [0, 1], 2, 0),
    ("period 0 hides nothing", (2, 3), [1, 1], 0, 0),
    ("extents not divisible by the block widths", (3, 5), [2, 2], 2, 1),
    ("offset >= period wraps", (4, 4), [2, 2], 3, 5),
    ("one blocked axis of three", (2, 3, 2), [None, 2, None], 2, 0),
    ("zero extent", (0, 3), [1, 1], 2, 0),
    ("block wider than the axis", (3,), [5], 2, 0),
    ("period beyond 2**64", (2, 4), [1, 2], HUGE_PERIOD, HUGE_PERIOD + 1),
    ("rank 3, all blocked", (2, 2, 3), [1, 2, 2], 3, 1),
    # Fixed-width traps: a u32 block width 2**32 wraps to 0 ("hides nothing"), a u64 period
    # 2**64 wraps to 0, and a block width beyond 2**64 must still give one block per axis.
    ("block width 2**32 (a u32 port wraps it to 0)", (2, 3), [1, 2**32], 2, 1),
    ("period 2**64 (a u64 port wraps it to 0)", (2, 4), [1, 2], 2**64, 2**64 + 1),
    ("block width beyond 2**64", (3, 2), [2**64 + 1, 1], 2, 1),
    ("rank 4", (2, 1, 2, 3), [1, None, 2, 2], 3, 1),
    ("rank 5", (1, 2, 1, 2, 2), [None, 1, 1, 2, 1], 2, 0),
)

#: Shapes no tensor could have, for the tensor-free index functions: the flat block index goes
#: beyond 2**32 and 2**64 (an unsigned port wraps), block widths beyond 2**32 (note, shape,
#: blocks, period, offset, coordinate).
HUGE_INDEX_PARAMETERS: tuple[tuple[str, tuple[int, ...], Policies, int, int, list[int]], ...] = (
    ("flat index 2**80 - 1 (beyond 2**64)", (2**40, 2**40), [1, 1], 2**64 + 7, 5,
     [2**40 - 1, 2**40 - 1]),
    ("flat index beyond 2**32", (2**20, 2**20), [1, 1], 2**32 + 1, 3, [2**20 - 1, 2**19]),
    ("block width beyond 2**32", (2**40,), [2**33], 3, 1, [2**40 - 1]),
    ("unblocked huge axis, blocked axis beyond 2**64", (2**70, 5), [None, 1], 4, 2,
     [2**69, 3]),
    ("coordinate = extent on an unblocked axis gives none", (2, 3), [None, 1], 2, 0, [2, 1]),
    ("coordinate beyond an unblocked axis gives none", (2, 3), [None, 1], 2, 0, [7, 0]),
    ("rank 5 coordinate", (2, 3, 1, 2, 3), [1, None, 1, 2, 2], 2, 1, [1, 2, 0, 1, 2]),
)


def _coordinates(rng: random.Random, shape: Sequence[int]) -> list[int]:
    return [rng.randrange(extent) if extent else 0 for extent in shape]


def _index_cases(rng: random.Random, internal: bool, with_mask: bool) -> list[CaseInput]:
    policy_binder = "policies" if internal and not with_mask else "blocks"
    coordinate_binder = "coordinates" if internal and not with_mask else "coordinate"
    cases = []
    for note, shape, blocks, period, offset in BLOCK_PARAMETERS:
        for _ in range(2):
            args: dict[str, object] = {"shape": list(shape), policy_binder: blocks,
                                       coordinate_binder: _coordinates(rng, shape)}
            if with_mask:
                args |= {"period": period, "offset": offset}
            if internal and not with_mask:
                args |= {"flatIndex": 0, "used": False}
            cases.append(case(note, **args))
    mask: dict[str, object] = {"period": 2, "offset": 0} if with_mask else {}
    start: dict[str, object] = ({"flatIndex": 0, "used": False}
                                if internal and not with_mask else {})
    for note, shape, blocks, period, offset, coordinate in HUGE_INDEX_PARAMETERS:
        args = {"shape": list(shape), policy_binder: blocks, coordinate_binder: coordinate}
        if with_mask:
            args |= {"period": period, "offset": offset}
        cases.append(case(note, **args, **start))
    out_of_range = {"shape": [2, 2], policy_binder: [1, 1], coordinate_binder: [2, 0]}
    cases.append(case("coordinate >= extent gives none", **out_of_range, **mask, **start))
    mismatch = {"shape": [2, 2], policy_binder: [1], coordinate_binder: [0, 0]}
    if internal:
        cases.append(case("rank mismatch gives none", **mismatch, **mask, **start))
        if not with_mask:
            cases.append(case("continuing an index: flatIndex 5, used", shape=[3], policies=[1],
                              coordinates=[2], flatIndex=5, used=True))
            cases.append(case("no blocked axis but used: the running index", shape=[2],
                              policies=[None], coordinates=[1], flatIndex=4, used=True))
            cases.append(case("flatIndex beyond 2**64 continues exactly", shape=[3, 4],
                              policies=[2, None], coordinates=[2, 3], flatIndex=2**64 + 1,
                              used=False))
    else:
        cases.append(case("blocks shorter than the rank is not a Lean value", True, **mismatch,
                          **mask))
    negative = {"shape": [2], policy_binder: [-1], coordinate_binder: [0]}
    return cases + [case("negative block width is not a Nat", True, **negative, **mask, **start)]


def _apply_cases(rng: random.Random) -> list[CaseInput]:
    cases = [case(note, shape=list(shape), x=random_tensor(rng, shape), blocks=blocks,
                  period=period, offset=offset)
             for note, shape, blocks, period, offset in BLOCK_PARAMETERS]
    for _ in range(3):
        shape = [rng.randint(1, 4) for _ in range(rng.randint(1, 3))]
        blocks = [rng.choice([None, 1, 2, 3]) for _ in shape]
        cases.append(case("random", shape=shape, x=random_tensor(rng, shape), blocks=blocks,
                          period=rng.randint(0, 4), offset=rng.randint(0, 6)))
    return cases + [
        case("blocks longer than the rank is not a Lean value", True, shape=[2],
             x=[1.0, 2.0], blocks=[1, 1], period=2, offset=0),
        case("x of the wrong shape", True, shape=[2], x=[1.0], blocks=[1], period=2, offset=0),
    ]


def _mae_parameters() -> list[tuple[str, tuple[int, ...], Policies, int, int]]:
    return [p for p in BLOCK_PARAMETERS if p[0] != "period beyond 2**64"][:9]


def _sample_cases(rng: random.Random) -> list[CaseInput]:
    cases = []
    batch_shapes: tuple[list[int], ...] = ([], [2], [2, 1], [0])
    for k, (note, shape, blocks, period, offset) in enumerate(_mae_parameters()):
        batch_shape = batch_shapes[k % len(batch_shapes)]
        size = prod(shape)
        cases.append(case(note, batchShape=batch_shape, dataShape=list(shape),
                          reconstructionWidth=rng.randint(0, size), blocks=blocks,
                          period=period, offset=offset,
                          x=random_tensor(rng, (*batch_shape, *shape))))
    return cases + [
        case("width = size", batchShape=[1], dataShape=[2, 2], reconstructionWidth=4,
             blocks=[1, 1], period=2, offset=1, x=random_tensor(rng, (1, 2, 2))),
        case("width > size is Lean's error result", batchShape=[1], dataShape=[2],
             reconstructionWidth=3, blocks=[1], period=2, offset=0, x=[[1.0, 2.0]]),
        case("blocks of the wrong rank is not a Lean value", True, batchShape=[1],
             dataShape=[2], reconstructionWidth=1, blocks=[1, 1], period=2, offset=0,
             x=[[1.0, 2.0]]),
    ]


def _width_cases(rng: random.Random) -> list[CaseInput]:
    cases = [case(note, dataShape=list(shape), reconstructionWidth=rng.randint(0, prod(shape)),
                  blocks=blocks, period=period, offset=offset)
             for note, shape, blocks, period, offset in BLOCK_PARAMETERS]
    return cases + [
        case("width = size", dataShape=[3, 3], reconstructionWidth=9, blocks=[1, 1], period=2,
             offset=0),
        case("width > size is Lean's error result", dataShape=[2, 2], reconstructionWidth=5,
             blocks=[1, 1], period=2, offset=0),
    ]


def _mask_cases(rng: random.Random, with_alpha: bool) -> list[CaseInput]:
    cases = []
    for note, shape, blocks, period, offset in BLOCK_PARAMETERS:
        alphas = ("Float", "Rat") if with_alpha else (None,)
        for alpha in alphas:
            extra = {"alpha": alpha} if alpha else {}
            cases.append(case(note, dataShape=list(shape), blocks=blocks, period=period,
                              offset=offset, **extra))
    extra = {"alpha": "Float"} if with_alpha else {}
    return cases + [case("blocks of the wrong rank is not a Lean value", True, dataShape=[2, 2],
                         blocks=[1], period=2, offset=0, **extra)]


def _contract_cases(rng: random.Random) -> list[CaseInput]:
    cases = []
    for note, shape, blocks, period, offset in _mae_parameters()[1:7]:
        batch, size = rng.randint(1, 2), prod(shape)
        width = rng.randint(0, size)
        x = random_tensor(rng, (batch, *shape))
        prediction = random_tensor(rng, (batch, width))
        assert isinstance(x, list) and isinstance(prediction, list)
        row = rng.randrange(batch)
        target = flatten_nested(x[row])[:width]
        loss = lookup_entries(rng, list(zip(target, prediction[row], strict=True)))
        cases.append(case(note, dataShape=list(shape), batch=batch, reconstructionWidth=width,
                          blocks=blocks, period=period, offset=offset, x=x,
                          prediction=prediction, row=row, loss=loss))
    return cases + [case("width > size is not a Lean value (hReconstruction)", True,
                         dataShape=[1], batch=1, reconstructionWidth=2, blocks=[1], period=1,
                         offset=0, x=[[1.0]], prediction=[[1.0, 1.0]], row=0, loss=[])]



def _scalar_type(value: object) -> Callable[[int], object]:
    scalars: dict[object, Callable[[int], object]] = {"Float": float, "Rat": Fraction}
    if value not in scalars:
        raise VectorFormatError(f"alpha must be 'Float' or 'Rat', got {value!r}")
    return scalars[value]


def _reconstruction_weights(scalar: Callable[[int], Any], data_shape: Any, blocks: Any,
                            period: Any, offset: Any) -> object:
    # Lean's implicit `{α}` comes first; the mirror takes the scalar type last.
    return block_mae.reconstruction_weights(data_shape, blocks, period, offset, scalar)


def _internal_apply_cases(rng: random.Random) -> list[CaseInput]:
    # The mask's shape and the tensor's remainingShape are independent, and coordinatePrefix may
    # lie outside the mask's shape: an out-of-range coordinate on an unblocked axis hides nothing.
    cases = [case(note, shape=list(shape), blocks=blocks, period=period, offset=offset,
                  coordinatePrefix=[], remainingShape=list(shape), tensor=random_tensor(rng, shape))
             for note, shape, blocks, period, offset in BLOCK_PARAMETERS[3:8]]
    return cases + [
        case("prefix [1]: the tensor is the rest of the mask's shape", shape=[2, 3],
             blocks=[1, 1], period=2, offset=1, coordinatePrefix=[1], remainingShape=[3],
             tensor=random_tensor(rng, (3,))),
        case("prefix outside an unblocked axis hides nothing", shape=[2, 3], blocks=[None, 1],
             period=1, offset=0, coordinatePrefix=[5], remainingShape=[3],
             tensor=random_tensor(rng, (3,))),
        case("prefix too long for the shape: rank mismatch hides nothing", shape=[2],
             blocks=[1], period=1, offset=0, coordinatePrefix=[0, 0], remainingShape=[2],
             tensor=random_tensor(rng, (2,))),
        case("scalar remainingShape at a full coordinate", shape=[2, 2], blocks=[1, 1],
             period=3, offset=2, coordinatePrefix=[1, 0], remainingShape=[], tensor=-0.0),
        case("rank-4 remainingShape", shape=[1, 2, 2, 2], blocks=[None, 1, 2, 1], period=2,
             offset=0, coordinatePrefix=[], remainingShape=[1, 2, 2, 2],
             tensor=random_tensor(rng, (1, 2, 2, 2))),
        case("tensor of the wrong shape", True, shape=[2], blocks=[1], period=2, offset=0,
             coordinatePrefix=[], remainingShape=[2], tensor=[1.0]),
        case("negative coordinatePrefix entry is not a Nat", True, shape=[2], blocks=[1],
             period=2, offset=0, coordinatePrefix=[-1], remainingShape=[], tensor=1.0),
    ]


def _internal_sample_cases(rng: random.Random) -> list[CaseInput]:
    cases = [c for c in _sample_cases(rng) if "Lean" not in c.note]
    cases.append(case("batch rank 2 x data rank 3 (a rank-5 tensor)", batchShape=[2, 1],
                      dataShape=[1, 2, 3], reconstructionWidth=4, blocks=[None, 1, 2],
                      period=2, offset=1, x=random_tensor(rng, (2, 1, 1, 2, 3))))
    return cases + [
        case("width > size has no proof of hReconstruction", True, batchShape=[1],
             dataShape=[2], reconstructionWidth=3, blocks=[1], period=2, offset=0,
             x=[[1.0, 2.0]]),
        case("blocks of the wrong rank is not a Lean value", True, batchShape=[1],
             dataShape=[2], reconstructionWidth=1, blocks=[1, 1], period=2, offset=0,
             x=[[1.0, 2.0]]),
    ]


def _internal_width_cases(rng: random.Random) -> list[CaseInput]:
    cases = [c for c in _width_cases(rng) if "Lean" not in c.note]
    return cases + [case("width > size has no proof of hReconstruction", True,
                         dataShape=[2, 2], reconstructionWidth=5, blocks=[1, 1], period=2,
                         offset=0)]


def definitions() -> list[VectorDef]:
    """The vectors of every executable def in BlockMask and BlockMAE."""
    policies = ("blocks", "List (Option Nat) of length shape.rank")
    mask = [("period", "Nat"), ("offset", "Nat")]
    data = [("dataShape", "Shape (implicit)")]
    option = {"blocks": "null = none, k = some k", "policies": "null = none, k = some k"}
    scalar: dict[str, Converter] = {"alpha": _scalar_type}
    width_proof = {"hReconstruction": "reconstructionWidth ≤ dataShape.size"}
    return [
        spec_def("BlockMask.Internal.blockIndex", block_mask.block_index,
                 [("shape", "List Nat"), ("policies", "List (Option Nat)"),
                  ("coordinates", "List Nat"), ("flatIndex", "Nat"), ("used", "Bool")],
                 "Option Nat (null = none)", lambda r: _index_cases(r, True, False),
                 encoding=option),
        spec_def("BlockMask.Internal.blockHidden", block_mask.block_hidden,
                 [("shape", "List Nat"), ("blocks", "List (Option Nat)"), *mask,
                  ("coordinate", "List Nat")], "Bool", lambda r: _index_cases(r, True, True),
                 encoding=option),
        spec_def("BlockMask.index", block_mask.index,
                 [("shape", "Shape (implicit)"), policies,
                  ("coordinate", "List Nat of length shape.rank")], "Option Nat (null = none)",
                 lambda r: _index_cases(r, False, False), encoding=option),
        spec_def("BlockMask.hidden", block_mask.hidden,
                 [("shape", "Shape (implicit)"), policies, *mask,
                  ("coordinate", "List Nat of length shape.rank")], "Bool",
                 lambda r: _index_cases(r, False, True), encoding=option),
        spec_def("BlockMask.apply", block_mask.apply,
                 [("shape", "Shape (implicit)"), ("x", "Tensor Float shape"), policies, *mask],
                 "Tensor Float shape", _apply_cases, encoding=option),
        spec_def("BlockMAE.sample", block_mae.sample,
                 [("batchShape", "Shape"), *data, ("reconstructionWidth", "Nat"), policies,
                  *mask, ("x", "Tensor Float (batchShape ++ dataShape)")],
                 "Except String {input, target}", _sample_cases, encoding=option),
        spec_def("BlockMAE.hiddenReconstructionIndices",
                 block_mae.hidden_reconstruction_indices,
                 [*data, ("reconstructionWidth", "Nat"), policies, *mask],
                 "Except String (List (Fin reconstructionWidth))", _width_cases,
                 encoding=option),
        spec_def("BlockMAE.hiddenMask", block_mae.hidden_mask, [*data, policies, *mask],
                 "List Bool (row-major)", lambda r: _mask_cases(r, False), encoding=option),
        spec_def("BlockMAE.reconstructionWeights", _reconstruction_weights,
                 [("alpha", "Type (implicit α: Float or Rat)"), *data, policies, *mask],
                 "List α (row-major)", lambda r: _mask_cases(r, True), converters=scalar,
                 python_mirror="maskproof.spec.block_mae.reconstruction_weights",
                 encoding={**option, "alpha": "'Float': f64 results; 'Rat': rat results"}),
        spec_def("BlockMAE.hiddenIndices", block_mae.hidden_indices, [*data, policies, *mask],
                 "List Nat", lambda r: _mask_cases(r, False), encoding=option),
        spec_def("BlockMAE.Proof.rowPredictiveContract", block_mae.row_predictive_contract,
                 [*data, ("batch", "Nat"), ("reconstructionWidth", "Nat"), policies, *mask,
                  ("x", "Tensor Float (batch :: dataShape)"),
                  ("prediction", "Tensor Float (Shape.Mat batch reconstructionWidth)"),
                  ("row", "Fin batch"), ("loss", "Float → Float → Nat")], OBSERVED,
                 _contract_cases, output=observe_contract,
                 converters={"loss": float_lookup("BlockMAE.Proof.rowPredictiveContract",
                                                  "loss")},
                 encoding={**option,
                           "loss": "[[target f64, prediction f64, Nat], ...] for the pairs used"},
                 hypotheses=width_proof),
        spec_def("BlockMask.Internal.apply", block_mask.internal_apply,
                 [("shape", "Shape"), ("blocks", "List (Option Nat)"), *mask,
                  ("coordinatePrefix", "List Nat"), ("remainingShape", "Shape"),
                  ("tensor", "Tensor Float remainingShape")], "Tensor Float remainingShape",
                 _internal_apply_cases,
                 python_mirror="maskproof.spec.block_mask.internal_apply",
                 encoding={**option, "tensor": "the unnamed `Tensor Float remainingShape` "
                                               "argument (named `tensor` by apply's match)"}),
        spec_def("BlockMAE.Internal.sample", block_mae.internal_sample,
                 [("batchShape", "Shape"), *data, ("reconstructionWidth", "Nat"), policies,
                  *mask, ("x", "Tensor Float (batchShape ++ dataShape)")], "{input, target}",
                 _internal_sample_cases,
                 python_mirror="maskproof.spec.block_mae.internal_sample", encoding=option,
                 hypotheses=width_proof),
        spec_def("BlockMAE.Internal.hiddenReconstructionIndices",
                 block_mae.internal_hidden_reconstruction_indices,
                 [*data, ("reconstructionWidth", "Nat"), policies, *mask],
                 "Array (Fin reconstructionWidth)", _internal_width_cases,
                 python_mirror="maskproof.spec.block_mae.internal_hidden_reconstruction_indices",
                 encoding=option, hypotheses=width_proof),
    ]
