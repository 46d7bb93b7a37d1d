"""Executable checks of the theorems of ``NN.MLTheory.SelfSupervised.VICReg``.

Every variable is a Lean ``Nat`` (or a ``List Nat``), so CrossHair explores all of them. Three
theorems quantify over nothing; their checks take no arguments and evaluate the closed statement.
The hypotheses ``hγ``, ``hμ`` and ``hv`` are tagged ``pre:`` lines, also tested by the checks.
"""

from __future__ import annotations

from maskproof.spec.lean import require_nat
from maskproof.spec.registry import require_hypothesis, theorem
from maskproof.spec.vicreg import (
    diagonal_redundancy_penalty,
    off_diagonal_redundancy_penalty,
    redundancy_reduction_objective,
    variance_floor_penalty,
    variance_term,
    vicreg_objective,
)


@theorem("varianceFloorPenalty_zero")
def varianceFloorPenalty_zero(gamma: int) -> bool:
    """``varianceFloorPenalty gamma 0 = gamma``.

    pre: gamma >= 0
    post: __return__
    """
    return variance_floor_penalty(gamma, 0) == gamma


@theorem("varianceTerm_nil")
def varianceTerm_nil(gamma: int) -> bool:
    """``varianceTerm gamma [] = 0``.

    pre: gamma >= 0
    post: __return__
    """
    return variance_term(gamma, []) == 0


@theorem("varianceTerm_cons")
def varianceTerm_cons(gamma: int, v: int, vs: list[int]) -> bool:
    """``varianceTerm gamma (v :: vs) = varianceFloorPenalty gamma v + varianceTerm gamma vs``.

    pre: gamma >= 0 and v >= 0
    pre: all(x >= 0 for x in vs)
    post: __return__
    """
    return (variance_term(gamma, [v, *vs])
            == variance_floor_penalty(gamma, v) + variance_term(gamma, vs))


@theorem("varianceTerm_append")
def varianceTerm_append(gamma: int, xs: list[int], ys: list[int]) -> bool:
    """``varianceTerm gamma (xs ++ ys) = varianceTerm gamma xs + varianceTerm gamma ys``.

    pre: gamma >= 0
    pre: all(x >= 0 for x in xs) and all(y >= 0 for y in ys)
    post: __return__
    """
    return variance_term(gamma, xs + ys) == variance_term(gamma, xs) + variance_term(gamma, ys)


@theorem("varianceTerm_replicate_zero")
def varianceTerm_replicate_zero(gamma: int, d: int) -> bool:
    """``varianceTerm gamma (List.replicate d 0) = d * gamma``.

    pre: gamma >= 0 and d >= 0
    post: __return__
    """
    return variance_term(gamma, [0] * d) == d * gamma


@theorem("varianceTerm_collapsed_positive")
def varianceTerm_collapsed_positive(gamma: int, d: int) -> bool:
    """``0 < gamma → 0 < varianceTerm gamma (List.replicate (d + 1) 0)``.

    pre: gamma >= 0 and d >= 0
    pre: gamma > 0  # hγ : 0 < gamma
    post: __return__
    """
    decl = "varianceTerm_collapsed_positive"
    require_nat(d, decl, "d")
    term = variance_term(gamma, [0] * (d + 1))  # checks gamma
    require_hypothesis(gamma > 0, decl, "hγ", "0 < gamma", gamma)
    return 0 < term


@theorem("vicregObjective_zero")
def vicregObjective_zero() -> bool:
    """``vicregObjective 0 0 0 0 0 0 = 0`` (closed statement).

    post: __return__
    """
    return vicreg_objective(0, 0, 0, 0, 0, 0) == 0


@theorem("vicregObjective_variance_positive")
def vicregObjective_variance_positive(mu: int, variance: int) -> bool:
    """``0 < μ → 0 < variance → 0 < vicregObjective 0 μ 0 0 variance 0``.

    pre: mu >= 0 and variance >= 0
    pre: mu > 0  # hμ : 0 < μ
    pre: variance > 0  # hv : 0 < variance
    post: __return__
    """
    decl = "vicregObjective_variance_positive"
    objective = vicreg_objective(0, mu, 0, 0, variance, 0)  # checks mu and variance
    require_hypothesis(mu > 0, decl, "hμ", "0 < μ", mu)
    require_hypothesis(variance > 0, decl, "hv", "0 < variance", variance)
    return 0 < objective


@theorem("diagonalRedundancyPenalty_one")
def diagonalRedundancyPenalty_one() -> bool:
    """``diagonalRedundancyPenalty 1 = 0`` (closed statement).

    post: __return__
    """
    return diagonal_redundancy_penalty(1) == 0


@theorem("offDiagonalRedundancyPenalty_zero")
def offDiagonalRedundancyPenalty_zero() -> bool:
    """``offDiagonalRedundancyPenalty 0 = 0`` (closed statement).

    post: __return__
    """
    return off_diagonal_redundancy_penalty(0) == 0


@theorem("redundancyReductionObjective_identity")
def redundancyReductionObjective_identity(lambda_: int, d: int, k: int) -> bool:
    """``redundancyReductionObjective lambda (replicate d 1) (replicate k 0) = 0``.

    pre: lambda_ >= 0 and d >= 0 and k >= 0
    post: __return__
    """
    return redundancy_reduction_objective(lambda_, [1] * d, [0] * k) == 0


@theorem("diagonalRedundancyPenalty_zero_positive")
def diagonalRedundancyPenalty_zero_positive() -> bool:
    """``0 < diagonalRedundancyPenalty 0`` (closed statement).

    post: __return__
    """
    return 0 < diagonal_redundancy_penalty(0)


@theorem("redundancyReductionObjective_collapsed_diag_positive")
def redundancyReductionObjective_collapsed_diag_positive(lambda_: int, d: int, k: int) -> bool:
    """``0 < redundancyReductionObjective lambda (0 :: replicate d 1) (replicate k 0)``.

    pre: lambda_ >= 0 and d >= 0 and k >= 0
    post: __return__
    """
    return 0 < redundancy_reduction_objective(lambda_, [0, *([1] * d)], [0] * k)
