"""Forward rounding-error bounds for the runtime losses.

Derivation: proofs_notes/rounding_bound.md.

Every bound here is an exact ``Fraction`` computed from an operation count and the magnitudes of
the exact values, never a hand-picked tolerance. The model of one floating-point operation is the
standard one, ``fl(a op b) = (a op b)(1 + δ) + η`` with ``|δ| ≤ u`` and ``|η| ≤ η_min`` (the
absolute term only matters when the result underflows). A chain of ``k`` relative roundings is
bounded by ``γ_k = k·u / (1 − k·u)`` (Higham, *Accuracy and Stability of Numerical Algorithms*,
Lemma 3.1), and a sum of ``n`` terms in **any** order (sequential, pairwise, blocked, several
accumulators) by ``γ_{n−1}`` times the sum of the absolute values of its terms (Higham §4.2), so
no assumption about PyTorch's reduction order is needed.

Two precisions are tracked. ``storage`` is the tensor dtype (every result is rounded to it);
``compute`` is the precision PyTorch accumulates and evaluates elementwise ops in (its
``opmath``/``acc`` type: float32 for bfloat16 and float16 tensors). A reduction of ``n`` terms
costs ``n − 1`` compute roundings plus one storage rounding; an elementwise op costs one storage
rounding, and one more compute rounding when the two precisions differ.

The operations are modelled at the precision of the loss's **inputs** (the dtype PyTorch's type
promotion gives the operands); a loss returned in another dtype adds one final rounding
(:func:`result_rounding`), so a bf16 loss of float32 inputs is bounded by the float32 chain plus
one bf16 rounding, not by a bf16 chain.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from functools import cache
from math import isqrt, lcm

import torch


class VacuousBoundError(ValueError):
    """The derived bound says nothing about these inputs: ``k·u ≥ 1`` (for instance a bf16 sum
    of ≥ 256 terms), or a norm-pix variance whose rounding error can reach ``var + eps``.

    This is a verdict of its own, "not checkable", never "fails": a correct implementation may
    return any of a range of values too wide to bound (rounding_bound.md, section 3.4). Callers
    that sample inputs skip such a draw (``hypothesis.reject``); they never count it as a fail.
    """


@dataclass(frozen=True)
class Precision:
    """Unit roundoffs of one runtime dtype and the absolute underflow error of its results."""

    name: str
    #: ``u`` of the stored dtype (2^-24 float32, 2^-8 bfloat16, 2^-11 float16, 2^-53 float64).
    storage_u: Fraction
    #: ``u`` of the precision PyTorch computes and accumulates in for this dtype.
    compute_u: Fraction
    #: Half the smallest subnormal of the stored dtype: the absolute error of an underflow.
    underflow: Fraction

    @property
    def mixed(self) -> bool:
        return self.compute_u != self.storage_u


_PRECISIONS: dict[torch.dtype, Precision] = {
    torch.float32: Precision("float32", Fraction(1, 2**24), Fraction(1, 2**24),
                             Fraction(1, 2**150)),
    torch.bfloat16: Precision("bfloat16", Fraction(1, 2**8), Fraction(1, 2**24),
                              Fraction(1, 2**134)),
    torch.float16: Precision("float16", Fraction(1, 2**11), Fraction(1, 2**24),
                             Fraction(1, 2**25)),
    torch.float64: Precision("float64", Fraction(1, 2**53), Fraction(1, 2**53),
                             Fraction(1, 2**1075)),
}


def precision_of(dtype: torch.dtype) -> Precision:
    """The rounding model of a floating dtype PyTorch computes a loss in."""
    if dtype not in _PRECISIONS:
        raise ValueError(f"no rounding model for dtype {dtype}; expected one of "
                         f"{', '.join(p.name for p in _PRECISIONS.values())}")
    return _PRECISIONS[dtype]


def gamma(k: int, u: Fraction) -> Fraction:
    """``γ_k = k·u / (1 − k·u)``: the bound on ``|θ|`` for ``k`` roundings ``∏(1 + δ_i)^{±1}``."""
    if k < 0:
        raise ValueError(f"gamma: k must be a non-negative int, got {k}")
    if k * u >= 1:
        raise VacuousBoundError(f"gamma: k*u = {k}*{u} >= 1, the bound is vacuous")
    return k * u / (1 - k * u)


@dataclass(frozen=True)
class Chain:
    """The roundings on the longest path from exact inputs to one result, all relative.

    ``elementwise`` counts elementwise operations on the path (a value that is squared counts
    twice: ``(x(1+δ))² = x²(1+δ)²``); ``reductions`` lists the number of terms of every sum on it.
    """

    elementwise: int
    reductions: tuple[int, ...] = ()

    def relative(self, precision: Precision) -> Fraction:
        """``ρ`` with ``|computed − exact| ≤ ρ·exact`` for a result of non-negative terms."""
        return _relative(self, precision)


@cache  # norm-pix asks for the same few chains once per patch; both keys are frozen dataclasses
def _relative(chain: Chain, precision: Precision) -> Fraction:
    compute_k = sum(max(n - 1, 0) for n in chain.reductions)
    storage_k = chain.elementwise + len(chain.reductions)
    if precision.mixed:
        compute_k += chain.elementwise
    grow = (1 + gamma(compute_k, precision.compute_u)) * (
        1 + gamma(storage_k, precision.storage_u))
    return grow - 1


def is_exact_widening(inputs: Precision, result: Precision) -> bool:
    """Whether every value of ``inputs``'s dtype is exactly representable in ``result``'s
    (finer or equal unit roundoff and underflow unit: float32 -> float64, bf16 -> float32)."""
    return result.storage_u <= inputs.storage_u and result.underflow <= inputs.underflow


def result_rounding(bound: Fraction, exact: Fraction, inputs: Precision,
                    result: Precision) -> Fraction:
    """``bound`` on a value computed at the precision of its ``inputs``, widened by one final
    rounding to ``result``'s dtype (code that computes at its inputs' precision and returns, for
    instance, a bf16 loss): ``|fl_r(x̂) − x̂| ≤ u_r·|x̂| + η_r`` with ``|x̂| ≤ |exact| + bound``.
    A widening conversion is exact and adds nothing (rounding_bound.md, section 1, "The inputs'
    precision and the result's dtype")."""
    if is_exact_widening(inputs, result):
        return bound
    return bound + result.storage_u * (abs(exact) + bound) + result.underflow


def nonnegative_loss_bound(exact: Fraction, chain: Chain, precision: Precision,
                           underflowing_ops: int) -> Fraction:
    """Bound on ``|runtime − exact|`` for a loss whose every summand is ``≥ 0``.

    Each summand's computed value is ``exact_i·(1 + θ_i)`` with ``|θ_i| ≤ ρ``, so the whole is
    within ``ρ·exact``; each of the ``underflowing_ops`` elementwise results may also lose up to
    the underflow unit, and later divisions by counts ``≥ 1`` only shrink that (factor 2 covers the
    relative growth ``1 + ρ < 2`` of those absolute errors downstream).
    """
    rho = chain.relative(precision)
    return rho * abs(exact) + 2 * underflowing_ops * precision.underflow


def smooth_l1_sum_bound(exact_sum: Fraction, abs_diff_sum: Fraction, terms: int,
                        divisor_ops: int, precision: Precision,
                        underflow_terms: int | None = None) -> Fraction:
    """Bound on ``|runtime − exact_sum / C|·C`` for ``Σ smoothL1(p − t)`` then ``/ C``.

    Per value: the difference rounds once, ``d̂ = d(1 + δ)``, and smooth-L1 (β = 1) is
    1-Lipschitz, so ``|h(d̂) − h(d)| ≤ ρ_op·|d|``; evaluating ``h`` at ``d̂`` costs two more
    relative roundings (``z·z`` and the half, or ``z − ½``). The ``terms``-long sum and the
    ``divisor_ops`` roundings of the division are relative on non-negative values. Returned value
    is the bound on the *sum* scale; the caller divides by the exact count ``C``. ``terms`` counts
    the summands that may be non-zero; ``underflow_terms`` (default ``terms``) every value whose
    evaluation may underflow, exact zeros of padding included.
    """
    op = Chain(1).relative(precision)
    branch = Chain(2).relative(precision)
    per_value = op * abs_diff_sum + branch * (exact_sum + op * abs_diff_sum)
    tail = Chain(divisor_ops, (terms,)).relative(precision)
    computed_high = (exact_sum + per_value) * (1 + tail)
    underflowing = terms if underflow_terms is None else underflow_terms
    return computed_high - exact_sum + 4 * underflowing * precision.underflow


# --- exact enclosures of square roots (norm-pix divides by sqrt(var + eps)) -------------------

#: Bits of the rational enclosures of square roots: their width is ~2^-SQRT_BITS relative.
SQRT_BITS = 96


def sqrt_enclosure(q: Fraction, bits: int = SQRT_BITS) -> tuple[Fraction, Fraction]:
    """Rationals ``lo ≤ √q ≤ hi`` with ``hi − lo ≤ 2^-bits`` (``q ≥ 0``)."""
    if q < 0:
        raise ValueError(f"sqrt_enclosure: q must be >= 0, got {q}")
    scale = 1 << bits
    root = isqrt(q.numerator * scale * scale // q.denominator)
    lo = Fraction(root, scale)
    return lo, lo + Fraction(1, scale)


def interval_mul(a: tuple[Fraction, Fraction],
                 b: tuple[Fraction, Fraction]) -> tuple[Fraction, Fraction]:
    """The product of two closed intervals."""
    products = [x * y for x in a for y in b]
    return min(products), max(products)


def interval_mul_positive(a: tuple[Fraction, Fraction],
                          b: tuple[Fraction, Fraction]) -> tuple[Fraction, Fraction]:
    """``interval_mul(a, b)`` for ``b`` of positive numbers: each end of ``a`` meets the end of
    ``b`` its sign picks, two products instead of four (the norm-pix hot loop)."""
    low, high = a
    b_low, b_high = b
    if b_low <= 0:
        raise ValueError(f"interval_mul_positive: b = [{b_low}, {b_high}] is not positive")
    return (low * (b_low if low >= 0 else b_high), high * (b_high if high >= 0 else b_low))


@dataclass(frozen=True)
class NormPixBounds:
    """For one patch: an enclosure of each exact normalised value and the interval the runtime's
    float result must lie in, both as ``(lo, hi)`` Fractions."""

    exact: tuple[tuple[Fraction, Fraction], ...]
    runtime: tuple[tuple[Fraction, Fraction], ...]

    def error_bound(self, j: int) -> Fraction:
        """``e_j ≥ |runtime_j − exact_j|`` whenever runtime_j lies in its interval."""
        (exact_lo, exact_hi), (run_lo, run_hi) = self.exact[j], self.runtime[j]
        return max(exact_hi - run_lo, run_hi - exact_lo)


def norm_pix_bounds(patch: Sequence[Fraction], eps: Fraction,
                    precision: Precision) -> NormPixBounds:
    """Bounds for ``(t − mean) / sqrt(var_unbiased + eps)`` evaluated two-pass in ``precision``.

    Derivation in proofs_notes/rounding_bound.md, section "norm-pix": the computed mean is within
    ``E_m`` of the exact one (a sum and a division), each centred value within ``a_j``, the
    computed variance within ``E_v`` (square, sum, division, plus the propagated ``a_j``), the
    stored ``eps`` within ``u·eps``; the square root and the division add one relative rounding
    each. Interval arithmetic over Fractions then gives the runtime interval.
    """
    n = len(patch)
    if n < 2:
        raise ValueError(f"norm_pix_bounds: a patch needs >= 2 values, got {n}")
    op = Chain(1).relative(precision)
    # The exact sums on the patch's common grid 1/d as integers (one Fraction each, not n adds).
    d = lcm(*(t.denominator for t in patch))
    units = [t.numerator * (d // t.denominator) for t in patch]
    total = sum(units)
    centred_units = [n * t - total for t in units]  # c_j = centred_units[j] / (n·d)
    centred = [Fraction(c, n * d) for c in centred_units]
    variance = Fraction(sum(c * c for c in centred_units), n * n * d * d * (n - 1))
    mean_error = (Chain(2, (n,)).relative(precision) * Fraction(sum(abs(t) for t in units), d)
                  / n + 4 * precision.underflow)
    centred_error = [mean_error + op * (abs(c) + mean_error) for c in centred]
    var_rel = Chain(3, (n,)).relative(precision)
    var_error = (sum((a * (2 * abs(c) + a) for c, a in zip(centred, centred_error, strict=True)),
                     Fraction(0))
                 + var_rel * sum(((abs(c) + a) ** 2 for c, a in zip(centred, centred_error,
                                                                    strict=True)), Fraction(0))
                 ) / (n - 1) + 4 * n * precision.underflow
    radicand = variance + eps
    eps_error = precision.storage_u * eps
    radicand_error = var_error + eps_error + op * (radicand + var_error + eps_error)
    low_radicand = radicand - radicand_error
    if low_radicand <= 0:
        raise VacuousBoundError("norm_pix_bounds: the variance error reaches var + eps")
    exact_root = sqrt_enclosure(radicand)
    root_low = sqrt_enclosure(low_radicand)[0] * (1 - op)
    root_high = sqrt_enclosure(radicand + radicand_error)[1] * (1 + op)
    inverse_root = (1 / root_high, 1 / root_low)
    exact_inverse = (1 / exact_root[1], 1 / exact_root[0])
    # The division's rounding folded into the divisor's interval once per patch: interval
    # products are exact set ranges, so (x·y)·z and x·(y·z) are the same interval.
    runtime_inverse = interval_mul_positive(inverse_root, (1 - op, 1 + op))
    exact: list[tuple[Fraction, Fraction]] = []
    runtime: list[tuple[Fraction, Fraction]] = []
    for c, a in zip(centred, centred_error, strict=True):
        exact.append(interval_mul_positive((c, c), exact_inverse))
        low, high = interval_mul_positive((c - a, c + a), runtime_inverse)
        runtime.append((low - 2 * precision.underflow, high + 2 * precision.underflow))
    return NormPixBounds(tuple(exact), tuple(runtime))


# --- outward rounding of exact sums to a dyadic grid (the norm-pix enclosure's running totals) --

#: Bits the grid lies below the dtype's underflow unit ``η_min``: the grid's widening of the bound
#: (at most 3 grid units per masked patch, divided by ``P·M``) stays far below the underflow term
#: ``2·K·η_min`` the bound already holds, so rounding outward costs the check no sensitivity.
GRID_BITS_BELOW_UNDERFLOW = 16
#: Coarsest grid used whatever the dtype (float16's ``η_min`` is only 2^-25).
MIN_GRID_BITS = 128


def grid_bits(precision: Precision) -> int:
    """``b`` of the grid ``2^-b`` that sums of enclosure ends are rounded outward to."""
    underflow_bits = precision.underflow.denominator.bit_length() - 1
    return max(MIN_GRID_BITS, underflow_bits + GRID_BITS_BELOW_UNDERFLOW)


def floor_on_grid(q: Fraction, bits: int) -> int:
    """The largest ``k`` with ``k·2^-bits ≤ q`` (a lower end rounded down)."""
    return (q.numerator << bits) // q.denominator


def ceil_on_grid(q: Fraction, bits: int) -> int:
    """The smallest ``k`` with ``k·2^-bits ≥ q`` (an upper end rounded up)."""
    return -((-q.numerator << bits) // q.denominator)
