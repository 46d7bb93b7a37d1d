"""Executable checks of the theorems of ``NN.MLTheory.SelfSupervised.PredictiveView``.

A contract is passed as finite tables so that CrossHair can explore it: ``Context = Fin c``,
``Target = Fin t``, ``TargetRep = Fin r``, ``Prediction = Fin q``;

* ``target``: length-``n`` table of ``Fin t``;
* ``encoder``: ``n × t`` table of ``Fin r`` (``targetEncoder i x = encoder[i][x]``);
* ``predict``: ``c × n`` table of ``Fin q`` (``predict ctx i = predict[ctx][i]``);
* ``distance``: ``r × q`` table of naturals; ``geometry_guard``: a natural.

Every check builds the contract through the mirrors and computes both sides of the equation
through them. A hypothesis is a ``pre:`` line tagged with its Lean binder (``# h : …``) and is
also tested by the check, which raises ``HypothesisNotMet`` when it fails. The real-valued
theorems (over ``ℝ``, mirrored by ``Fraction``) are outside what CrossHair explores: it does not
search ``Fraction`` values symbolically (a deliberately false ``Fraction`` property produced no
counterexample), so those checks are Hypothesis-only.
"""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction

# columns, is_fin_table, is_nat_matrix: read by the docstrings' pre: conditions (CrossHair).
from maskproof.spec.finite_functions import (  # noqa: F401
    columns,
    is_fin_table,
    is_nat_matrix,
    table_function2,
)
from maskproof.spec.jepa import jepa_loss
from maskproof.spec.lean import Exact
from maskproof.spec.mae import mae_loss
from maskproof.spec.masking import fin_value, masked_loss
from maskproof.spec.predictive_view import (
    BarlowGuard,
    PredictiveViewContract,
    SSLViewGraph,
    VICRegGuard,
    encoded_target_predictive_view_contract,
    jepa_as_predictive_view_contract,
    mae_as_predictive_view_contract,
    predictive_loss,
    predictive_view_objective,
    view_graph_energy,
    with_geometry_guard,
)
from maskproof.spec.real_geometry import (  # noqa: F401  (collapsed_rep: read by pre: conditions)
    collapsed_rep,
    coordinate_spread,
    graph_alignment_energy,
    graph_ssl_objective,
    real_variance_floor_guard,
    sq_dist,
)
from maskproof.spec.registry import require_hypothesis, theorem

FRACTION_REASON = "real-valued (ℝ as Fraction): CrossHair does not search Fraction values"

FiniteContract = PredictiveViewContract[int, int, int, int]


def is_finite_contract(n: int, idxs: list[int], context: int, target: list[int],
                       encoder: list[list[int]], predict: list[list[int]],
                       distance: list[list[int]], geometry_guard: int) -> bool:
    """Whether the tables encode a ``PredictiveViewContract n (Fin c) (Fin t) (Fin r) (Fin q)``."""
    return (n >= 0 and geometry_guard >= 0 and all(0 <= i < n for i in idxs)
            and is_nat_matrix(distance)
            and len(encoder) == n and is_nat_matrix(encoder)
            and all(v < len(distance) for row in encoder for v in row)
            and is_fin_table(target, n, columns(encoder))
            and 0 <= context < len(predict)
            and all(is_fin_table(row, n, columns(distance)) for row in predict))


def finite_contract(n: int, idxs: list[int], context: int, target: list[int],
                    encoder: list[list[int]], predict: list[list[int]],
                    distance: list[list[int]], geometry_guard: int) -> FiniteContract:
    """The contract the tables encode, built by the mirror's constructor."""
    name = "PredictiveViewContract"
    return PredictiveViewContract(n, idxs, context, target,
                                  table_function2(encoder, name, "targetEncoder"),
                                  table_function2(predict, name, "predict"),
                                  table_function2(distance, name, "distance"), geometry_guard)


def table(values: list[list[int]], declaration: str, binder: str) -> Callable[[int, int], int]:
    """A two-argument Lean function read from its table."""
    return table_function2(values, declaration, binder)


@theorem("predictiveViewObjective_decomposes")
def predictiveViewObjective_decomposes(n: int, idxs: list[int], context: int, target: list[int],
                                       encoder: list[list[int]], predict: list[list[int]],
                                       distance: list[list[int]], geometry_guard: int) -> bool:
    """``predictiveViewObjective c = predictiveLoss c + c.geometryGuard``.

    pre: is_finite_contract(n, idxs, context, target, encoder, predict, distance, geometry_guard)
    post: __return__
    """
    c = finite_contract(n, idxs, context, target, encoder, predict, distance, geometry_guard)
    return predictive_view_objective(c) == predictive_loss(c) + c.geometry_guard


@theorem("predictiveViewObjective_zero_geometry")
def predictiveViewObjective_zero_geometry(n: int, idxs: list[int], context: int,
                                          target: list[int], encoder: list[list[int]],
                                          predict: list[list[int]], distance: list[list[int]],
                                          geometry_guard: int) -> bool:
    """``c.geometryGuard = 0 → predictiveViewObjective c = predictiveLoss c``.

    pre: is_finite_contract(n, idxs, context, target, encoder, predict, distance, geometry_guard)
    pre: geometry_guard == 0  # h : contract.geometryGuard = 0
    post: __return__
    """
    c = finite_contract(n, idxs, context, target, encoder, predict, distance, geometry_guard)
    objective, loss = predictive_view_objective(c), predictive_loss(c)  # checks the contract
    require_hypothesis(c.geometry_guard == 0, "predictiveViewObjective_zero_geometry", "h",
                       "contract.geometryGuard = 0", c.geometry_guard)
    return objective == loss


@theorem("predictiveLoss_withGeometryGuard")
def predictiveLoss_withGeometryGuard(n: int, idxs: list[int], context: int, target: list[int],
                                     encoder: list[list[int]], predict: list[list[int]],
                                     distance: list[list[int]], geometry_guard: int,
                                     guard: int) -> bool:
    """``predictiveLoss (withGeometryGuard c guard) = predictiveLoss c``.

    pre: is_finite_contract(n, idxs, context, target, encoder, predict, distance, geometry_guard)
    pre: guard >= 0
    post: __return__
    """
    c = finite_contract(n, idxs, context, target, encoder, predict, distance, geometry_guard)
    return predictive_loss(with_geometry_guard(c, guard)) == predictive_loss(c)


@theorem("predictiveViewObjective_withGeometryGuard")
def predictiveViewObjective_withGeometryGuard(n: int, idxs: list[int], context: int,
                                              target: list[int], encoder: list[list[int]],
                                              predict: list[list[int]],
                                              distance: list[list[int]], geometry_guard: int,
                                              guard: int) -> bool:
    """``predictiveViewObjective (withGeometryGuard c guard) = predictiveLoss c + guard``.

    pre: is_finite_contract(n, idxs, context, target, encoder, predict, distance, geometry_guard)
    pre: guard >= 0
    post: __return__
    """
    c = finite_contract(n, idxs, context, target, encoder, predict, distance, geometry_guard)
    return predictive_view_objective(with_geometry_guard(c, guard)) == predictive_loss(c) + guard


@theorem("mae_is_predictive_view_loss")
def mae_is_predictive_view_loss(n: int, idxs: list[int], target: list[int], pred: list[int],
                                patch_loss: list[list[int]]) -> bool:
    """``predictiveLoss (maeAsPredictiveViewContract idxs target pred patchLoss) = maeLoss …``.

    pre: n >= 0
    pre: all(0 <= i < n for i in idxs)
    pre: is_nat_matrix(patch_loss)
    pre: is_fin_table(target, n, len(patch_loss))
    pre: is_fin_table(pred, n, columns(patch_loss))
    post: __return__
    """
    f = table(patch_loss, "maeLoss", "patchLoss")
    contract = mae_as_predictive_view_contract(n, idxs, target, pred, f)
    return predictive_loss(contract) == mae_loss(n, idxs, target, pred, f)


@theorem("mae_is_predictive_view_objective")
def mae_is_predictive_view_objective(n: int, idxs: list[int], target: list[int],
                                     pred: list[int], patch_loss: list[list[int]]) -> bool:
    """``predictiveViewObjective (maeAsPredictiveViewContract …) = maeLoss …``.

    pre: n >= 0
    pre: all(0 <= i < n for i in idxs)
    pre: is_nat_matrix(patch_loss)
    pre: is_fin_table(target, n, len(patch_loss))
    pre: is_fin_table(pred, n, columns(patch_loss))
    post: __return__
    """
    f = table(patch_loss, "maeLoss", "patchLoss")
    contract = mae_as_predictive_view_contract(n, idxs, target, pred, f)
    return predictive_view_objective(contract) == mae_loss(n, idxs, target, pred, f)


@theorem("jepa_is_predictive_view_loss")
def jepa_is_predictive_view_loss(n: int, idxs: list[int], context: int, target: list[int],
                                 predict: list[list[int]], rep_loss: list[list[int]]) -> bool:
    """``predictiveLoss (jepaAsPredictiveViewContract …) = jepaLoss …``.

    pre: n >= 0
    pre: all(0 <= i < n for i in idxs)
    pre: is_nat_matrix(rep_loss)
    pre: is_fin_table(target, n, len(rep_loss))
    pre: 0 <= context < len(predict)
    pre: all(is_fin_table(row, n, columns(rep_loss)) for row in predict)
    post: __return__
    """
    p, r = table(predict, "jepaLoss", "predict"), table(rep_loss, "jepaLoss", "repLoss")
    contract = jepa_as_predictive_view_contract(n, idxs, context, target, p, r)
    return predictive_loss(contract) == jepa_loss(n, idxs, context, target, p, r)


@theorem("jepa_is_predictive_view_objective")
def jepa_is_predictive_view_objective(n: int, idxs: list[int], context: int, target: list[int],
                                      predict: list[list[int]],
                                      rep_loss: list[list[int]]) -> bool:
    """``predictiveViewObjective (jepaAsPredictiveViewContract …) = jepaLoss …``.

    pre: n >= 0
    pre: all(0 <= i < n for i in idxs)
    pre: is_nat_matrix(rep_loss)
    pre: is_fin_table(target, n, len(rep_loss))
    pre: 0 <= context < len(predict)
    pre: all(is_fin_table(row, n, columns(rep_loss)) for row in predict)
    post: __return__
    """
    p, r = table(predict, "jepaLoss", "predict"), table(rep_loss, "jepaLoss", "repLoss")
    contract = jepa_as_predictive_view_contract(n, idxs, context, target, p, r)
    return predictive_view_objective(contract) == jepa_loss(n, idxs, context, target, p, r)


@theorem("encodedTargetPredictiveViewContract_loss_eq_maskedLoss")
def encodedTargetPredictiveViewContract_loss_eq_maskedLoss(
        n: int, idxs: list[int], context: int, target: list[int], encoder: list[list[int]],
        predict: list[list[int]], distance: list[list[int]], geometry_guard: int) -> bool:
    """``predictiveLoss (encodedTarget… idxs ctx target enc predict repLoss guard)
    = maskedLoss idxs (fun i => repLoss (enc i (target i)) (predict ctx i))``.

    The right side is read straight from the tables, without any contract.

    pre: is_finite_contract(n, idxs, context, target, encoder, predict, distance, geometry_guard)
    post: __return__
    """
    name = "encodedTargetPredictiveViewContract"
    contract = encoded_target_predictive_view_contract(
        n, idxs, context, target, table(encoder, name, "targetEncoder"),
        table(predict, name, "predict"), table(distance, name, "repLoss"), geometry_guard)
    direct = masked_loss(n, idxs,
                         lambda i: distance[encoder[i][target[i]]][predict[context][i]])
    return predictive_loss(contract) == direct


@theorem("predictiveViewObjective_with_vicreg_guard")
def predictiveViewObjective_with_vicreg_guard(
        n: int, idxs: list[int], context: int, target: list[int], encoder: list[list[int]],
        predict: list[list[int]], distance: list[list[int]], geometry_guard: int, lambda_: int,
        mu: int, nu: int, invariance: int, variance: int, covariance: int) -> bool:
    """``predictiveViewObjective (withGeometryGuard c g.value) = predictiveLoss c + g.value``.

    pre: is_finite_contract(n, idxs, context, target, encoder, predict, distance, geometry_guard)
    pre: lambda_ >= 0 and mu >= 0 and nu >= 0
    pre: invariance >= 0 and variance >= 0 and covariance >= 0
    post: __return__
    """
    c = finite_contract(n, idxs, context, target, encoder, predict, distance, geometry_guard)
    value = VICRegGuard(lambda_, mu, nu, invariance, variance, covariance).value()
    return predictive_view_objective(with_geometry_guard(c, value)) == predictive_loss(c) + value


@theorem("predictiveViewObjective_with_barlow_guard")
def predictiveViewObjective_with_barlow_guard(
        n: int, idxs: list[int], context: int, target: list[int], encoder: list[list[int]],
        predict: list[list[int]], distance: list[list[int]], geometry_guard: int, lambda_: int,
        diag: list[int], off_diag: list[int]) -> bool:
    """``predictiveViewObjective (withGeometryGuard c g.value) = predictiveLoss c + g.value``.

    pre: is_finite_contract(n, idxs, context, target, encoder, predict, distance, geometry_guard)
    pre: lambda_ >= 0
    pre: all(v >= 0 for v in diag) and all(v >= 0 for v in off_diag)
    post: __return__
    """
    c = finite_contract(n, idxs, context, target, encoder, predict, distance, geometry_guard)
    value = BarlowGuard(lambda_, diag, off_diag).value()
    return predictive_view_objective(with_geometry_guard(c, value)) == predictive_loss(c) + value


@theorem("vicreg_guard_variance_only_positive")
def vicreg_guard_variance_only_positive(mu: int, variance: int) -> bool:
    """``0 < mu → 0 < variance → 0 < VICRegGuard.value {λ:=0, μ:=mu, ν:=0, …, variance, …}``.

    pre: mu >= 0 and variance >= 0
    pre: mu > 0  # hμ : 0 < mu
    pre: variance > 0  # hv : 0 < variance
    post: __return__
    """
    decl = "vicreg_guard_variance_only_positive"
    value = VICRegGuard(0, mu, 0, 0, variance, 0).value()  # checks mu and variance
    require_hypothesis(mu > 0, decl, "hμ", "0 < mu", mu)
    require_hypothesis(variance > 0, decl, "hv", "0 < variance", variance)
    return 0 < value


@theorem("barlow_guard_identity_value_zero")
def barlow_guard_identity_value_zero(lambda_: int, d: int, k: int) -> bool:
    """``BarlowGuard.value {lambda, diag := replicate d 1, offDiag := replicate k 0} = 0``.

    pre: lambda_ >= 0 and d >= 0 and k >= 0
    post: __return__
    """
    return BarlowGuard(lambda_, [1] * d, [0] * k).value() == 0


@theorem("barlow_guard_collapsed_diag_positive")
def barlow_guard_collapsed_diag_positive(lambda_: int, d: int, k: int) -> bool:
    """``0 < BarlowGuard.value {lambda, diag := 0 :: replicate d 1, offDiag := replicate k 0}``.

    pre: lambda_ >= 0 and d >= 0 and k >= 0
    post: __return__
    """
    return 0 < BarlowGuard(lambda_, [0, *([1] * d)], [0] * k).value()


@theorem("sqDist_nonneg", crosshair=FRACTION_REASON)
def sqDist_nonneg(d: int, z: list[Fraction], w: list[Fraction]) -> bool:
    """``0 ≤ sqDist z w``.

    pre: d >= 0 and len(z) == d and len(w) == d
    post: __return__
    """
    # crosshair: off
    return 0 <= sq_dist(d, z, w)


@theorem("sqDist_self", crosshair=FRACTION_REASON)
def sqDist_self(d: int, z: list[Fraction]) -> bool:
    """``sqDist z z = 0``.

    pre: d >= 0 and len(z) == d
    post: __return__
    """
    # crosshair: off
    return sq_dist(d, z, z) == 0


@theorem("graphAlignmentEnergy_nonneg", crosshair=FRACTION_REASON)
def graphAlignmentEnergy_nonneg(n: int, d: int, edges: list[tuple[int, int]],
                                rep: list[list[Fraction]]) -> bool:
    """``0 ≤ graphAlignmentEnergy graph rep``.

    pre: n >= 0 and d >= 0
    pre: all(0 <= a < n and 0 <= b < n for a, b in edges)
    pre: len(rep) == n and all(len(row) == d for row in rep)
    post: __return__
    """
    # crosshair: off
    return 0 <= graph_alignment_energy(SSLViewGraph(n, edges), d, rep)


@theorem("graphAlignmentEnergy_eq_zero_of_collapsed", crosshair=FRACTION_REASON)
def graphAlignmentEnergy_eq_zero_of_collapsed(n: int, d: int, edges: list[tuple[int, int]],
                                              rep: list[list[Fraction]]) -> bool:
    """``CollapsedRep rep → graphAlignmentEnergy graph rep = 0``.

    pre: n >= 0 and d >= 0
    pre: all(0 <= a < n and 0 <= b < n for a, b in edges)
    pre: len(rep) == n and all(len(row) == d for row in rep)
    pre: collapsed_rep(n, d, rep)  # hcollapsed : CollapsedRep rep
    post: __return__
    """
    # crosshair: off
    energy = graph_alignment_energy(SSLViewGraph(n, edges), d, rep)
    require_hypothesis(collapsed_rep(n, d, rep), "graphAlignmentEnergy_eq_zero_of_collapsed",
                       "hcollapsed", "CollapsedRep rep", rep)
    return energy == 0


@theorem("coordinateSpread_eq_zero_of_collapsed", crosshair=FRACTION_REASON)
def coordinateSpread_eq_zero_of_collapsed(n: int, d: int, rep: list[list[Fraction]],
                                          j: int) -> bool:
    """``CollapsedRep rep → coordinateSpread rep j = 0``.

    pre: n >= 0 and 0 <= j < d
    pre: len(rep) == n and all(len(row) == d for row in rep)
    pre: collapsed_rep(n, d, rep)  # hcollapsed : CollapsedRep rep
    post: __return__
    """
    # crosshair: off
    spread = coordinate_spread(n, d, rep, j)
    require_hypothesis(collapsed_rep(n, d, rep), "coordinateSpread_eq_zero_of_collapsed",
                       "hcollapsed", "CollapsedRep rep", rep)
    return spread == 0


@theorem("realVarianceFloorGuard_zero_spread", crosshair=FRACTION_REASON)
def realVarianceFloorGuard_zero_spread(d: int, gamma: Fraction) -> bool:
    """``0 ≤ gamma → realVarianceFloorGuard gamma (fun _ => 0) = d * gamma``.

    pre: d >= 0
    pre: gamma >= 0  # hgamma : 0 ≤ gamma
    post: __return__
    """
    # crosshair: off
    guard = real_variance_floor_guard(d, gamma, [Fraction(0)] * d)  # checks d and gamma
    require_hypothesis(gamma >= 0, "realVarianceFloorGuard_zero_spread", "hgamma", "0 ≤ gamma",
                       gamma)
    return guard == d * gamma


@theorem("realVarianceFloorGuard_zero_spread_positive", crosshair=FRACTION_REASON)
def realVarianceFloorGuard_zero_spread_positive(d: int, gamma: Fraction) -> bool:
    """``0 < d → 0 < gamma → 0 < realVarianceFloorGuard gamma (fun _ => 0)``.

    pre: d >= 0
    pre: d > 0  # hd : 0 < d
    pre: gamma > 0  # hgamma : 0 < gamma
    post: __return__
    """
    # crosshair: off
    decl = "realVarianceFloorGuard_zero_spread_positive"
    guard = real_variance_floor_guard(d, gamma, [Fraction(0)] * d)  # checks d and gamma
    require_hypothesis(d > 0, decl, "hd", "0 < d", d)
    require_hypothesis(gamma > 0, decl, "hgamma", "0 < gamma", gamma)
    return 0 < guard


@theorem("graphSSLObjective_eq_guard_of_collapsed", crosshair=FRACTION_REASON)
def graphSSLObjective_eq_guard_of_collapsed(n: int, d: int, edges: list[tuple[int, int]],
                                            rep: list[list[Fraction]], gamma: Fraction) -> bool:
    """``CollapsedRep rep → graphSSLObjective graph rep gamma
    = realVarianceFloorGuard gamma (fun _ => 0)``  (no sign condition on ``gamma``).

    pre: n >= 0 and d >= 0
    pre: all(0 <= a < n and 0 <= b < n for a, b in edges)
    pre: len(rep) == n and all(len(row) == d for row in rep)
    pre: collapsed_rep(n, d, rep)  # hcollapsed : CollapsedRep rep
    post: __return__
    """
    # crosshair: off
    objective = graph_ssl_objective(SSLViewGraph(n, edges), d, rep, gamma)
    require_hypothesis(collapsed_rep(n, d, rep), "graphSSLObjective_eq_guard_of_collapsed",
                       "hcollapsed", "CollapsedRep rep", rep)
    return objective == real_variance_floor_guard(d, gamma, [Fraction(0)] * d)


@theorem("graphSSLObjective_collapsed_positive", crosshair=FRACTION_REASON)
def graphSSLObjective_collapsed_positive(n: int, d: int, edges: list[tuple[int, int]],
                                         rep: list[list[Fraction]], gamma: Fraction) -> bool:
    """``CollapsedRep rep → 0 < d → 0 < gamma → 0 < graphSSLObjective graph rep gamma``.

    pre: n >= 0 and d >= 0
    pre: all(0 <= a < n and 0 <= b < n for a, b in edges)
    pre: len(rep) == n and all(len(row) == d for row in rep)
    pre: collapsed_rep(n, d, rep)  # hcollapsed : CollapsedRep rep
    pre: d > 0  # hd : 0 < d
    pre: gamma > 0  # hgamma : 0 < gamma
    post: __return__
    """
    # crosshair: off
    decl = "graphSSLObjective_collapsed_positive"
    objective = graph_ssl_objective(SSLViewGraph(n, edges), d, rep, gamma)  # checks the values
    require_hypothesis(collapsed_rep(n, d, rep), decl, "hcollapsed", "CollapsedRep rep", rep)
    require_hypothesis(d > 0, decl, "hd", "0 < d", d)
    require_hypothesis(gamma > 0, decl, "hgamma", "0 < gamma", gamma)
    return 0 < objective


@theorem("predictiveLoss_eq_viewGraphEnergy_from_anchor")
def predictiveLoss_eq_viewGraphEnergy_from_anchor(
        n: int, idxs: list[int], context: int, target: list[int], encoder: list[list[int]],
        predict: list[list[int]], distance: list[list[int]], geometry_guard: int,
        anchor: int) -> bool:
    """``predictiveLoss c = viewGraphEnergy ⟨c.targetIdxs.map (anchor, ·)⟩ (fun _ i => …)``.

    The edge loss ignores its first endpoint (the anchor), as in Lean.

    pre: is_finite_contract(n, idxs, context, target, encoder, predict, distance, geometry_guard)
    pre: 0 <= anchor < n
    post: __return__
    """
    c = finite_contract(n, idxs, context, target, encoder, predict, distance, geometry_guard)
    graph = SSLViewGraph(n, [(anchor, i) for i in c.target_idxs])

    def edge_loss(_a: int, i: int) -> Exact:
        encoded = c.target_encoder(i, fin_value(c.target, i))  # both checked by the contract
        return c.distance(encoded, c.predict(c.context, i))

    return predictive_loss(c) == view_graph_energy(graph, edge_loss)
