"""Contract on fixed tensors (sin-cos position tables, zero tokens) after construction.

The documented sin-cos table is recomputed here in float64 with ``math`` (independently of the
runtime's torch code). The allowed difference per entry is derived from the table's own dtype and
the operations that build it (:func:`sincos_tolerance`), never a constant: an implementation may
evaluate the table in its own dtype (a float32 port of ``get_2d_sincos_pos_embed``) or in float64
and store it rounded (the official numpy code), and both are within the bound.
"""

from __future__ import annotations

import math

import torch

from maskproof.bridge.audit.contract import Clauses, Contract, Draws, Violation, require
from maskproof.bridge.audit.protocols import FixedTensor, FixedTensorsCapability, SinCos2D
from maskproof.bridge.rounding import precision_of

#: Unit roundoff of the float64 reference evaluation below.
U64 = 2.0**-53
LN_BASE = math.log(10000.0)


def _angles(doc: SinCos2D) -> tuple[list[list[float]], list[list[float]]]:
    """Per entry of the table (CLS row included): the angle ``pos·ω_k`` (0 on the CLS row) and
    the exponent ``k / (dim/4)`` of ``ω_k = 10000^(-k/(dim/4))``."""
    quarter = doc.dim // 4
    omega = [1.0 / 10000.0 ** (k / quarter) for k in range(quarter)]
    exponents = [k / quarter for k in range(quarter)] * 4
    angles = [[0.0] * doc.dim] if doc.cls_token else []
    for token in range(doc.grid_h * doc.grid_w):
        row, col = divmod(token, doc.grid_w)
        values: list[float] = []
        for pos in (col, row):
            values += [pos * w for w in omega] * 2  # the sin half, then the cos half
        angles.append(values)
    return angles, [exponents] * len(angles)


def sincos_2d_table(doc: SinCos2D) -> torch.Tensor:
    """The documented table in float64: column half first, then row half; sin, then cos."""
    quarter = doc.dim // 4
    angles, _ = _angles(doc)
    rows = [[0.0] * doc.dim] if doc.cls_token else []
    for values in angles[len(rows):]:
        out: list[float] = []
        for half in (values[: 2 * quarter], values[2 * quarter:]):
            out += [math.sin(a) for a in half[:quarter]] + [math.cos(a) for a in half[quarter:]]
        rows.append(out)
    return torch.tensor(rows, dtype=torch.float64)


def _evaluation_error(u: float, angle: torch.Tensor, exponent: torch.Tensor,
                      value: torch.Tensor) -> torch.Tensor:
    """Bound on ``|computed − exact|`` for ``sin``/``cos(pos·ω_k)`` evaluated with unit roundoff
    ``u`` (first-order terms; every coefficient below rounds its count up by one ``u``).

    * ``ω_k = 10000^(-x)``, ``x = k/q``, in any of the usual ways: ``1 / 10000**x`` (``x`` and the
      power rounded: ``ln(10^4)·x·u + 2u``; the reciprocal ``u``; 10000 itself stored: ``x·u``)
      or ``exp(-x·ln 10^4)`` (the exponent's three roundings give ``3·ln(10^4)·x·u``, ``exp``
      ``2u``). Both are below ``ε_ω = (3·ln(10^4)·x + 4)·u`` relative.
    * ``θ = pos·ω_k`` rounds once more: ``|θ̂ − θ| ≤ (ε_ω + 2u)·θ`` (the second ``u`` covers the
      product ``ε_ω·u``).
    * ``sin``/``cos`` are 1-Lipschitz, so the angle error passes through unchanged, and their
      evaluation (libm, SLEEF: < 1 ulp) plus the storage rounding add ``2u`` relative to the
      result, ``2u·(|v| + |θ̂ − θ|)``.

    For a float32 table that is about ``(28·x + 6)·2^-24·θ + 2^-23·|v|``: a few ulps of the
    dtype at the magnitude of the values and angles involved.
    """
    eps_omega = (3 * LN_BASE * exponent + 4) * u
    angle_error = (eps_omega + 2 * u) * angle.abs()
    return angle_error + 2 * u * (value.abs() + angle_error)


def sincos_tolerance(doc: SinCos2D, dtype: torch.dtype, want: torch.Tensor) -> torch.Tensor:
    """The allowed ``|table − want|`` per entry for a table stored in ``dtype``: the table's own
    evaluation error at ``dtype``'s unit roundoff, the float64 reference's at ``2^-53``, and the
    dtype's underflow unit (an entry that rounds to a subnormal). The CLS row is exact zeros."""
    precision = precision_of(dtype)
    angles, exponents = _angles(doc)
    angle = torch.tensor(angles, dtype=torch.float64)
    exponent = torch.tensor(exponents, dtype=torch.float64)
    u = float(precision.storage_u)
    return (_evaluation_error(u, angle, exponent, want)
            + _evaluation_error(U64, angle, exponent, want) + float(precision.underflow))


def _documented(fixed: FixedTensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The documented values in float64 and the allowed difference per entry."""
    doc = fixed.documented
    if isinstance(doc, SinCos2D):
        require(fixed.value.is_floating_point(),
                f"{fixed.name} has dtype {fixed.value.dtype}: a sin-cos table must be floating")
        want = sincos_2d_table(doc)
        return want, sincos_tolerance(doc, fixed.value.dtype, want)
    # A constant is stored with one rounding to the tensor's dtype: u·|v| (plus underflow); in
    # an integer (or bool) tensor it is exact.
    want = torch.full(tuple(fixed.value.shape), float(doc.value), dtype=torch.float64)
    if not fixed.value.is_floating_point():
        return want, torch.zeros_like(want)
    precision = precision_of(fixed.value.dtype)
    return want, float(precision.storage_u) * want.abs() + float(precision.underflow)


def _check_one(fixed: FixedTensor) -> None:
    require(not fixed.value.requires_grad,
            f"{fixed.name} is trainable (requires_grad) though its value is fixed")
    want, bound = _documented(fixed)
    got = fixed.value.detach().double()
    require(got.numel() == want.numel(),
            f"{fixed.name} has shape {list(fixed.value.shape)}, the documented "
            f"{fixed.documented} has {want.numel()} entries")
    got = got.reshape(want.shape)
    bad = ((got - want).abs() > bound).nonzero()
    if bad.numel():
        where = tuple(bad[0].tolist())
        raise Violation(f"{fixed.name}{list(where)} = {float(got[where])!r}, documented "
                        f"{float(want[where])!r} ({fixed.documented}; allowed difference "
                        f"{float(bound[where]):.3e})")


def check_fixed(adapter: FixedTensorsCapability, draws: Draws) -> None:
    seed = draws.seed()
    tensors = list(adapter.fixed_tensors(seed))
    require(len(tensors) > 0, "fixed_tensors returned nothing")
    draws.size = sum(t.value.numel() for t in tensors)
    with Clauses() as clauses:  # every tensor that is off, not just the first
        for fixed in tensors:
            with clauses.clause():
                _check_one(fixed)


CONTRACTS = (
    Contract("fixed.documented_values",
             "after construction (any seed) each fixed tensor equals its documented value and "
             "does not train",
             (FixedTensorsCapability,),
             "MAE / I-JEPA papers: fixed 2-D sin-cos position embeddings (zero CLS row)",
             "fixed tensors overwritten by initialisation", check_fixed, weight=0.1),
)
