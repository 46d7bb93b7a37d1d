"""Contract on fixed tensors (sin-cos position tables, zero tokens) after construction.

The documented sin-cos table is recomputed here in float64 with ``math`` (independently of the
runtime's torch code). A float32 table built from float64 values is within one float32 rounding
of the exact value, ``2^-24·|v|``; the float64 evaluation of ``sin``/``cos`` at angles below
``2^7`` adds less than ``2^-40`` absolute. That sum is the allowed difference.
"""

from __future__ import annotations

import math

import torch

from maskproof.bridge.audit.contract import Contract, Draws, Violation, require
from maskproof.bridge.audit.protocols import FixedTensor, FixedTensorsCapability, SinCos2D


def sincos_2d_table(doc: SinCos2D) -> torch.Tensor:
    """The documented table in float64: column half first, then row half; sin, then cos."""
    quarter = doc.dim // 4
    omega = [1.0 / 10000.0 ** (k / quarter) for k in range(quarter)]
    rows = [[0.0] * doc.dim] if doc.cls_token else []
    for token in range(doc.grid_h * doc.grid_w):
        row, col = divmod(token, doc.grid_w)
        values = []
        for pos in (col, row):
            values += [math.sin(pos * w) for w in omega] + [math.cos(pos * w) for w in omega]
        rows.append(values)
    return torch.tensor(rows, dtype=torch.float64)


def _documented(fixed: FixedTensor) -> torch.Tensor:
    doc = fixed.documented
    if isinstance(doc, SinCos2D):
        return sincos_2d_table(doc)
    return torch.full(tuple(fixed.value.shape), float(doc.value), dtype=torch.float64)


def _check_one(fixed: FixedTensor) -> None:
    require(not fixed.value.requires_grad,
            f"{fixed.name} is trainable (requires_grad) though its value is fixed")
    want = _documented(fixed)
    got = fixed.value.detach().double()
    require(got.numel() == want.numel(),
            f"{fixed.name} has shape {list(fixed.value.shape)}, the documented "
            f"{fixed.documented} has {want.numel()} entries")
    got = got.reshape(want.shape)
    bound = 2.0**-24 * want.abs() + 2.0**-40
    bad = ((got - want).abs() > bound).nonzero()
    if bad.numel():
        where = tuple(bad[0].tolist())
        raise Violation(f"{fixed.name}{list(where)} = {float(got[where])!r}, documented "
                        f"{float(want[where])!r} ({fixed.documented})")


def check_fixed(adapter: FixedTensorsCapability, draws: Draws) -> None:
    seed = draws.seed()
    tensors = list(adapter.fixed_tensors(seed))
    require(len(tensors) > 0, "fixed_tensors returned nothing")
    draws.size = sum(t.value.numel() for t in tensors)
    for fixed in tensors:
        _check_one(fixed)


CONTRACTS = (
    Contract("fixed.documented_values",
             "after construction (any seed) each fixed tensor equals its documented value and "
             "does not train",
             (FixedTensorsCapability,),
             "MAE / I-JEPA papers: fixed 2-D sin-cos position embeddings (zero CLS row)",
             "fixed tensors overwritten by initialisation", check_fixed, weight=0.1),
)
