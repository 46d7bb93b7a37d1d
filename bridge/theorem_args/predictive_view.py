"""Argument strategies for ``spec.theorems.predictive_view``.

Contracts are tables over ``Context = Fin c`` (``c ≥ 1``), ``Target = Fin t``,
``TargetRep = Fin r`` and ``Prediction = Fin q``, with the guard 0 often. The real-valued
theorems draw ``Fraction`` entries, negative and zero included, ``n ≤ 5`` views of dimension
``d ≤ 4`` (``d = 0`` and ``n = 0`` reachable), and edge lists with self-loops and repeats.
"""

from __future__ import annotations

from fractions import Fraction

from hypothesis import strategies as st

from maskproof.bridge.theorem_args import Arguments, ArgumentStrategy, arguments_for
from maskproof.bridge.theorem_args.common import (
    fin_lists,
    fractions,
    naturals,
    sizes,
    small_naturals,
)
from maskproof.bridge.theorem_args.jepa import jepa_arguments
from maskproof.bridge.theorem_args.mae import (
    MAX_TYPE,
    fin_tables,
    mae_arguments,
    nat_matrices,
    type_sizes,
)
from maskproof.bridge.theorem_args.vicreg import nat_lists, nats, positive_nats

guards = st.one_of(st.just(0), small_naturals, naturals)
#: Rationals with 0 and small signed values frequent.
reals = st.one_of(st.sampled_from([Fraction(0), Fraction(1), Fraction(-1), Fraction(1, 3)]),
                  fractions)
nonnegative_reals = reals.map(abs)
positive_reals = nonnegative_reals.filter(lambda x: x > 0)
view_counts = st.integers(0, 5)
dimensions = st.integers(0, 4)


@st.composite
def contract_arguments(draw: st.DrawFn) -> Arguments:
    """The tables of a finite ``PredictiveViewContract`` (see ``spec.theorems.predictive_view``)."""
    n = draw(sizes)
    c = draw(st.integers(1, MAX_TYPE))
    t, r, q = draw(type_sizes(n)), draw(type_sizes(n)), draw(type_sizes(n))
    return {
        "n": n, "idxs": draw(fin_lists(n)), "context": draw(st.integers(0, c - 1)),
        "target": draw(fin_tables(n, t)),
        "encoder": draw(st.lists(fin_tables(t, r), min_size=n, max_size=n)) if n else [],
        "predict": draw(st.lists(fin_tables(n, q), min_size=c, max_size=c)),
        "distance": draw(nat_matrices(r, q)), "geometry_guard": draw(guards),
    }


def with_extra(**extra: st.SearchStrategy[object]) -> ArgumentStrategy:
    """Contract tables plus further independently drawn arguments."""
    return st.tuples(contract_arguments(), st.fixed_dictionaries(extra)).map(
        lambda pair: {**pair[0], **pair[1]})


@arguments_for("predictiveViewObjective_decomposes")
def _decomposes() -> ArgumentStrategy:
    return contract_arguments()


@arguments_for("predictiveViewObjective_zero_geometry")
def _zero_geometry() -> ArgumentStrategy:
    return contract_arguments().map(lambda a: {**a, "geometry_guard": 0})


@arguments_for("predictiveLoss_withGeometryGuard")
def _loss_with_guard() -> ArgumentStrategy:
    return with_extra(guard=guards)


@arguments_for("predictiveViewObjective_withGeometryGuard")
def _objective_with_guard() -> ArgumentStrategy:
    return with_extra(guard=guards)


@arguments_for("mae_is_predictive_view_loss")
def _mae_loss() -> ArgumentStrategy:
    return mae_arguments()


@arguments_for("mae_is_predictive_view_objective")
def _mae_objective() -> ArgumentStrategy:
    return mae_arguments()


@arguments_for("jepa_is_predictive_view_loss")
def _jepa_loss() -> ArgumentStrategy:
    return jepa_arguments()


@arguments_for("jepa_is_predictive_view_objective")
def _jepa_objective() -> ArgumentStrategy:
    return jepa_arguments()


@arguments_for("encodedTargetPredictiveViewContract_loss_eq_maskedLoss")
def _encoded() -> ArgumentStrategy:
    return contract_arguments()


@arguments_for("predictiveViewObjective_with_vicreg_guard")
def _with_vicreg() -> ArgumentStrategy:
    return with_extra(lambda_=nats, mu=nats, nu=nats, invariance=nats, variance=nats,
                      covariance=nats)


@arguments_for("predictiveViewObjective_with_barlow_guard")
def _with_barlow() -> ArgumentStrategy:
    return with_extra(lambda_=nats, diag=nat_lists, off_diag=nat_lists)


@arguments_for("vicreg_guard_variance_only_positive")
def _vicreg_positive() -> ArgumentStrategy:
    return st.fixed_dictionaries({"mu": positive_nats, "variance": positive_nats})


@arguments_for("barlow_guard_identity_value_zero")
def _barlow_identity() -> ArgumentStrategy:
    return st.fixed_dictionaries({"lambda_": nats, "d": st.integers(0, 24),
                                  "k": st.integers(0, 24)})


@arguments_for("barlow_guard_collapsed_diag_positive")
def _barlow_collapsed() -> ArgumentStrategy:
    return st.fixed_dictionaries({"lambda_": nats, "d": st.integers(0, 24),
                                  "k": st.integers(0, 24)})


def vectors(d: int) -> st.SearchStrategy[list[Fraction]]:
    """An ``EuclideanRep d``."""
    return st.lists(reals, min_size=d, max_size=d)


def edge_lists(n: int) -> st.SearchStrategy[list[tuple[int, int]]]:
    """Positive edges over ``Fin n``: self-loops and repeats allowed, empty when ``n = 0``."""
    if n == 0:
        return st.just([])
    view = st.integers(0, n - 1)
    return st.lists(st.tuples(view, view), max_size=10)


@st.composite
def representations(draw: st.DrawFn, collapsed: bool, positive_d: bool = False) -> Arguments:
    """``n``, ``d``, ``edges`` and an ``n × d`` representation, all rows equal if ``collapsed``."""
    n = draw(view_counts)
    d = draw(st.integers(1, 4) if positive_d else dimensions)
    if collapsed:
        z = draw(vectors(d))
        rep = [list(z) for _ in range(n)]
    else:
        rep = draw(st.lists(vectors(d), min_size=n, max_size=n))
    return {"n": n, "d": d, "edges": draw(edge_lists(n)), "rep": rep}


@arguments_for("sqDist_nonneg")
def _sq_dist_nonneg() -> ArgumentStrategy:
    return dimensions.flatmap(lambda d: st.fixed_dictionaries(
        {"d": st.just(d), "z": vectors(d), "w": vectors(d)}))


@arguments_for("sqDist_self")
def _sq_dist_self() -> ArgumentStrategy:
    return dimensions.flatmap(lambda d: st.fixed_dictionaries({"d": st.just(d), "z": vectors(d)}))


@arguments_for("graphAlignmentEnergy_nonneg")
def _alignment_nonneg() -> ArgumentStrategy:
    return representations(collapsed=False)


@arguments_for("graphAlignmentEnergy_eq_zero_of_collapsed")
def _alignment_collapsed() -> ArgumentStrategy:
    return representations(collapsed=True)


@arguments_for("coordinateSpread_eq_zero_of_collapsed")
def _spread_collapsed() -> ArgumentStrategy:
    @st.composite
    def build(draw: st.DrawFn) -> Arguments:
        args = draw(representations(collapsed=True, positive_d=True))
        del args["edges"]
        return {**args, "j": draw(st.integers(0, args["d"] - 1))}
    return build()


@arguments_for("realVarianceFloorGuard_zero_spread")
def _guard_zero_spread() -> ArgumentStrategy:
    return st.fixed_dictionaries({"d": dimensions, "gamma": nonnegative_reals})


@arguments_for("realVarianceFloorGuard_zero_spread_positive")
def _guard_zero_spread_positive() -> ArgumentStrategy:
    return st.fixed_dictionaries({"d": st.integers(1, 4), "gamma": positive_reals})


@arguments_for("graphSSLObjective_eq_guard_of_collapsed")
def _ssl_collapsed() -> ArgumentStrategy:
    return st.tuples(representations(collapsed=True), reals).map(
        lambda pair: {**pair[0], "gamma": pair[1]})


@arguments_for("graphSSLObjective_collapsed_positive")
def _ssl_collapsed_positive() -> ArgumentStrategy:
    return st.tuples(representations(collapsed=True, positive_d=True), positive_reals).map(
        lambda pair: {**pair[0], "gamma": pair[1]})


@arguments_for("predictiveLoss_eq_viewGraphEnergy_from_anchor")
def _from_anchor() -> ArgumentStrategy:
    @st.composite
    def build(draw: st.DrawFn) -> Arguments:
        args = draw(contract_arguments().filter(lambda a: a["n"] > 0))
        return {**args, "anchor": draw(st.integers(0, args["n"] - 1))}
    return build()
