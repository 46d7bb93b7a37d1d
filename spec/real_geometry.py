"""The real-valued Euclidean part of ``NN.MLTheory.SelfSupervised.PredictiveView``.

Lean states these over ``ℝ``; the spec computes over ``fractions.Fraction`` (and ``int``), which
is exact on rational inputs, so every equation the Lean file proves holds here with ``==``.
Floats are refused (trap 5). ``EuclideanRep d := Fin d → ℝ`` is a length-``d`` table and a
representation ``Fin n → EuclideanRep d`` is an ``n × d`` table (or a callable returning rows).
Every finite sum (``Finset`` over ``Fin d`` or ``Fin n``, and list sums over edges) is folded by
``spec.masking.masked_loss``; over exact scalars the order does not matter.
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from typing import TypeAlias

from maskproof.spec.finite_functions import require_fin_function
from maskproof.spec.lean import (
    Exact,
    fin_range,
    require_exact,
    require_fin,
    require_length,
    require_nat,
)
from maskproof.spec.masking import FinFunction, fin_apply, fin_value, masked_loss
from maskproof.spec.predictive_view import SSLViewGraph, require_graph, sum_over_edges
from maskproof.spec.registry import mirrors, register_mirror

#: ``EuclideanRep d := Fin d → ℝ`` as a length-``d`` table of exact rationals.
EuclideanRep: TypeAlias = Sequence[Exact]
register_mirror("EuclideanRep", EuclideanRep, "maskproof.spec.real_geometry.EuclideanRep")


def require_rep_vector(z: Sequence[object], d: int, declaration: str,
                       binder: str) -> list[Exact]:
    """Return ``z`` if it is an ``EuclideanRep d``: ``d`` exact reals."""
    require_length(z, d, declaration, binder)
    return [require_exact(v, declaration, binder) for v in z]


def rep_row(rep: FinFunction[Sequence[Exact]], n: int, d: int, i: int, declaration: str,
            binder: str = "rep") -> list[Exact]:
    """Row ``rep i`` of a representation ``Fin n → EuclideanRep d``, checked."""
    return require_rep_vector(fin_apply(rep, n, i, declaration, binder), d, declaration, binder)


def fin_sum(n: int, f: FinFunction[Exact]) -> Exact:
    """``∑ i : Fin n, f i``, folded by ``masked_loss`` over ``finRange n``."""
    return masked_loss(n, fin_range(n), f)


@mirrors("sqDist")
def sq_dist(d: int, z: Sequence[Exact], w: Sequence[Exact]) -> Exact:
    """Lean ``sqDist z w := ∑ j : Fin d, (z j - w j) ^ 2``."""
    require_nat(d, "sqDist", "d")
    zs = require_rep_vector(z, d, "sqDist", "z")
    ws = require_rep_vector(w, d, "sqDist", "w")
    return fin_sum(d, lambda j: (zs[j] - ws[j]) ** 2)


@mirrors("graphAlignmentEnergy")
def graph_alignment_energy(graph: SSLViewGraph, d: int,
                           rep: FinFunction[Sequence[Exact]]) -> Exact:
    """Lean ``graphAlignmentEnergy graph rep``: ``sqDist (rep a) (rep b)`` summed over edges."""
    g = require_graph(graph, "graphAlignmentEnergy")
    require_nat(d, "graphAlignmentEnergy", "d")
    rows = [rep_row(rep, g.n, d, i, "graphAlignmentEnergy") for i in fin_range(g.n)]
    return sum_over_edges(g, lambda a, b: sq_dist(d, rows[a], rows[b]))


@mirrors("CollapsedRep")
def collapsed_rep(n: int, d: int, rep: FinFunction[Sequence[Exact]]) -> bool:
    """Lean ``CollapsedRep rep :⇔ ∃ z, ∀ i, rep i = z``, decided.

    With ``n = 0`` any ``z`` witnesses it (the empty representation is collapsed); otherwise the
    only candidate witness is ``rep 0``.
    """
    require_nat(n, "CollapsedRep", "n")
    require_nat(d, "CollapsedRep", "d")
    rows = [rep_row(rep, n, d, i, "CollapsedRep") for i in fin_range(n)]
    return all(row == rows[0] for row in rows)


@mirrors("coordinateSpread")
def coordinate_spread(n: int, d: int, rep: FinFunction[Sequence[Exact]], j: int) -> Exact:
    """Lean ``coordinateSpread rep j := ∑ i : Fin n, ∑ k : Fin n, (rep i j - rep k j) ^ 2``.

    A sum of pairwise squared differences (each unordered pair counted twice), not a variance.
    """
    require_nat(n, "coordinateSpread", "n")
    require_nat(d, "coordinateSpread", "d")
    require_fin(j, d, "coordinateSpread", "j")
    column = [rep_row(rep, n, d, i, "coordinateSpread")[j] for i in fin_range(n)]
    return fin_sum(n, lambda i: fin_sum(n, lambda k: (column[i] - column[k]) ** 2))


@mirrors("realVarianceFloorPenalty")
def real_variance_floor_penalty(gamma: Exact, spread: Exact) -> Exact:
    """Lean ``realVarianceFloorPenalty gamma spread := max 0 (gamma - spread)``."""
    g = require_exact(gamma, "realVarianceFloorPenalty", "gamma")
    s = require_exact(spread, "realVarianceFloorPenalty", "spread")
    return max(Fraction(0), Fraction(g - s))


@mirrors("realVarianceFloorGuard")
def real_variance_floor_guard(d: int, gamma: Exact, spread: FinFunction[Exact]) -> Exact:
    """Lean ``realVarianceFloorGuard gamma spread := ∑ j : Fin d, realVarianceFloorPenalty ...``."""
    require_nat(d, "realVarianceFloorGuard", "d")
    require_exact(gamma, "realVarianceFloorGuard", "gamma")
    require_fin_function(spread, d, "realVarianceFloorGuard", "spread")
    return fin_sum(d, lambda j: real_variance_floor_penalty(
        gamma, fin_value(spread, j)))


@mirrors("graphSSLObjective")
def graph_ssl_objective(graph: SSLViewGraph, d: int, rep: FinFunction[Sequence[Exact]],
                        gamma: Exact) -> Exact:
    """Lean ``graphSSLObjective graph rep gamma``.

    ``graphAlignmentEnergy graph rep + realVarianceFloorGuard gamma (coordinateSpread rep ·)``.
    """
    g = require_graph(graph, "graphSSLObjective")
    require_nat(d, "graphSSLObjective", "d")
    require_exact(gamma, "graphSSLObjective", "gamma")
    return (graph_alignment_energy(g, d, rep)
            + real_variance_floor_guard(d, gamma, lambda j: coordinate_spread(g.n, d, rep, j)))
