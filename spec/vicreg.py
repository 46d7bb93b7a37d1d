"""Mirror of ``NN.MLTheory.SelfSupervised.VICReg``: VICReg and Barlow-style collapse guards.

Everything here is Lean ``Nat``: every argument is checked to be a non-negative int and every
subtraction truncates at zero (LEAN_SEMANTICS.md, trap 2). List sums go through
``spec.masking.masked_loss`` over the list's positions, so they fold exactly as Lean's
``List.sum`` does.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from maskproof.spec.errors import LeanContractError
from maskproof.spec.lean import fin_range, is_sequence, nat_sub, require_nat
from maskproof.spec.masking import masked_loss
from maskproof.spec.registry import mirrors


def require_nat_list(values: Sequence[object], declaration: str, binder: str) -> list[int]:
    """Return ``values`` as a list if it is a Lean ``List Nat``."""
    if not is_sequence(values):
        raise LeanContractError(declaration, binder, "a List Nat", values)
    return [require_nat(v, declaration, binder) for v in values]


def sum_map(values: Sequence[int], f: Callable[[int], int]) -> int:
    """Lean ``(values.map f).sum`` over ``Nat``, folded by ``masked_loss`` over the positions."""
    total = masked_loss(len(values), fin_range(len(values)), lambda k: f(values[k]))
    # Every f here returns a Nat, so masked_loss's exact result is already an int (no Fraction).
    return int(total)


@mirrors("varianceFloorPenalty")
def variance_floor_penalty(gamma: int, variance: int) -> int:
    """Lean ``varianceFloorPenalty gamma variance := gamma - variance`` (truncated Nat)."""
    require_nat(gamma, "varianceFloorPenalty", "gamma")
    require_nat(variance, "varianceFloorPenalty", "variance")
    return nat_sub(gamma, variance)


@mirrors("varianceTerm")
def variance_term(gamma: int, variances: Sequence[int]) -> int:
    """Lean ``varianceTerm gamma variances := (variances.map (varianceFloorPenalty gamma)).sum``."""
    require_nat(gamma, "varianceTerm", "gamma")
    values = require_nat_list(variances, "varianceTerm", "variances")
    return sum_map(values, lambda v: variance_floor_penalty(gamma, v))


@mirrors("vicregObjective")
def vicreg_objective(lambda_: int, mu: int, nu: int, invariance: int, variance: int,
                     covariance: int) -> int:
    """Lean ``vicregObjective lambda mu nu invariance variance covariance``.

    ``lambda * invariance + mu * variance + nu * covariance`` over ``Nat``.
    """
    binders = {"lambda": lambda_, "mu": mu, "nu": nu, "invariance": invariance,
               "variance": variance, "covariance": covariance}
    for binder, value in binders.items():
        require_nat(value, "vicregObjective", binder)
    return lambda_ * invariance + mu * variance + nu * covariance


@mirrors("diagonalRedundancyPenalty")
def diagonal_redundancy_penalty(c: int) -> int:
    """Lean ``diagonalRedundancyPenalty c := (c - 1) + (1 - c)``: both truncated, so ``|c - 1|``."""
    require_nat(c, "diagonalRedundancyPenalty", "c")
    return nat_sub(c, 1) + nat_sub(1, c)


@mirrors("offDiagonalRedundancyPenalty")
def off_diagonal_redundancy_penalty(c: int) -> int:
    """Lean ``offDiagonalRedundancyPenalty c := c``."""
    return require_nat(c, "offDiagonalRedundancyPenalty", "c")


@mirrors("redundancyReductionObjective")
def redundancy_reduction_objective(lambda_: int, diag: Sequence[int],
                                   off_diag: Sequence[int]) -> int:
    """Lean ``redundancyReductionObjective lambda diag offDiag``.

    The diagonal penalties summed, plus ``lambda`` times the off-diagonal penalties summed.
    """
    require_nat(lambda_, "redundancyReductionObjective", "lambda")
    diagonal = require_nat_list(diag, "redundancyReductionObjective", "diag")
    off_diagonal = require_nat_list(off_diag, "redundancyReductionObjective", "offDiag")
    return (sum_map(diagonal, diagonal_redundancy_penalty)
            + lambda_ * sum_map(off_diagonal, off_diagonal_redundancy_penalty))
