"""Argument strategies for ``spec.theorems.vicreg``: naturals with 0 and 1 frequent."""

from __future__ import annotations

from hypothesis import strategies as st

from maskproof.bridge.theorem_args import ArgumentStrategy, arguments_for
from maskproof.bridge.theorem_args.common import MAX_SIZE, naturals, small_naturals

#: Naturals that hit the truncation edges of ``gamma - v`` and ``|c - 1|`` often.
nats = st.one_of(st.sampled_from([0, 1, 2]), small_naturals, naturals)
positive_nats = st.one_of(st.just(1), st.integers(1, 12), st.integers(1, 10**6))
lengths = st.integers(0, 3 * MAX_SIZE)
nat_lists = st.lists(nats, max_size=MAX_SIZE)


@arguments_for("varianceFloorPenalty_zero")
def _penalty_zero() -> ArgumentStrategy:
    return st.fixed_dictionaries({"gamma": nats})


@arguments_for("varianceTerm_nil")
def _term_nil() -> ArgumentStrategy:
    return st.fixed_dictionaries({"gamma": nats})


@arguments_for("varianceTerm_cons")
def _term_cons() -> ArgumentStrategy:
    return st.fixed_dictionaries({"gamma": nats, "v": nats, "vs": nat_lists})


@arguments_for("varianceTerm_append")
def _term_append() -> ArgumentStrategy:
    return st.fixed_dictionaries({"gamma": nats, "xs": nat_lists, "ys": nat_lists})


@arguments_for("varianceTerm_replicate_zero")
def _replicate_zero() -> ArgumentStrategy:
    return st.fixed_dictionaries({"gamma": nats, "d": lengths})


@arguments_for("varianceTerm_collapsed_positive")
def _collapsed_positive() -> ArgumentStrategy:
    return st.fixed_dictionaries({"gamma": positive_nats, "d": lengths})


@arguments_for("vicregObjective_zero")
def _objective_zero() -> ArgumentStrategy:
    return st.just({})


@arguments_for("vicregObjective_variance_positive")
def _variance_positive() -> ArgumentStrategy:
    return st.fixed_dictionaries({"mu": positive_nats, "variance": positive_nats})


@arguments_for("diagonalRedundancyPenalty_one")
def _diagonal_one() -> ArgumentStrategy:
    return st.just({})


@arguments_for("offDiagonalRedundancyPenalty_zero")
def _off_diagonal_zero() -> ArgumentStrategy:
    return st.just({})


@arguments_for("redundancyReductionObjective_identity")
def _identity() -> ArgumentStrategy:
    return st.fixed_dictionaries({"lambda_": nats, "d": lengths, "k": lengths})


@arguments_for("diagonalRedundancyPenalty_zero_positive")
def _diagonal_zero_positive() -> ArgumentStrategy:
    return st.just({})


@arguments_for("redundancyReductionObjective_collapsed_diag_positive")
def _collapsed_diag_positive() -> ArgumentStrategy:
    return st.fixed_dictionaries({"lambda_": nats, "d": lengths, "k": lengths})
