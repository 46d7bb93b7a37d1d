"""Mirror of ``NN.MLTheory.SelfSupervised.PredictiveView``: the Nat-valued objective algebra.

A predictive-view contract bundles the selected target indices, a context, the raw targets, a
target encoder, a predictor and a distance; the objective is the predictive loss plus a Nat
geometry guard. MAE, JEPA, VICReg and Barlow guards are instances. The real-valued Euclidean part
of the same Lean file lives in ``spec.real_geometry``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from maskproof.spec.errors import LeanContractError
from maskproof.spec.finite_functions import FinFunction2, fin_apply2, require_fin_function
from maskproof.spec.lean import (
    Exact,
    fin_range,
    is_sequence,
    require_exact,
    require_fin,
    require_fin_list,
    require_nat,
)
from maskproof.spec.masking import FinFunction, fin_apply, masked_loss
from maskproof.spec.registry import mirrors, register_mirror
from maskproof.spec.vicreg import redundancy_reduction_objective, require_nat_list, vicreg_objective

Context = TypeVar("Context")
Target = TypeVar("Target")
TargetRep = TypeVar("TargetRep")
Prediction = TypeVar("Prediction")

#: Lean ``Unit``'s one value ``()`` is Python's ``None``: the context of an MAE contract.
UNIT: None = None


@mirrors("PredictiveViewContract")
@dataclass(frozen=True)
class PredictiveViewContract(Generic[Context, Target, TargetRep, Prediction]):
    """Lean ``PredictiveViewContract n Context Target TargetRep Prediction``.

    ``n`` (a type index in Lean) is stored so the functions on ``Fin n`` can be checked.
    ``target`` is a length-``n`` table or a callable; ``target_encoder``, ``predict`` and
    ``distance`` are callables with Lean's argument order. ``geometry_guard`` defaults to 0.
    """

    n: int
    target_idxs: Sequence[int]
    context: Context
    target: FinFunction[Target]
    target_encoder: Callable[[int, Target], TargetRep]
    predict: Callable[[Context, int], Prediction]
    distance: Callable[[TargetRep, Prediction], Exact]
    geometry_guard: int = 0

    def __post_init__(self) -> None:
        require_nat(self.n, "PredictiveViewContract", "n")
        idxs = require_fin_list(self.target_idxs, self.n, "PredictiveViewContract", "targetIdxs")
        # A frozen contract must not change under its holder: keep the indices as a tuple.
        object.__setattr__(self, "target_idxs", tuple(idxs))
        require_fin_function(self.target, self.n, "PredictiveViewContract", "target")
        for binder, f in (("targetEncoder", self.target_encoder), ("predict", self.predict),
                          ("distance", self.distance)):
            if not callable(f):
                raise LeanContractError("PredictiveViewContract", binder, "a function", f)
        require_nat(self.geometry_guard, "PredictiveViewContract", "geometryGuard")


def require_contract(contract: object, declaration: str) -> None:
    """Refuse anything that is not a ``PredictiveViewContract``."""
    if not isinstance(contract, PredictiveViewContract):
        raise LeanContractError(declaration, "contract", "a PredictiveViewContract", contract)


@mirrors("predictiveLoss")
def predictive_loss(contract: PredictiveViewContract[Context, Target, TargetRep, Prediction],
                    ) -> Exact:
    """Lean ``predictiveLoss contract``.

    ``maskedLoss targetIdxs (fun i => distance (targetEncoder i (target i)) (predict context i))``.
    """
    require_contract(contract, "predictiveLoss")
    c = contract

    def per_index(i: int) -> Exact:
        encoded = c.target_encoder(i, fin_apply(c.target, c.n, i, "predictiveLoss", "target"))
        loss = c.distance(encoded, c.predict(c.context, i))
        return require_exact(loss, "predictiveLoss", "distance")

    return masked_loss(c.n, c.target_idxs, per_index)


@mirrors("predictiveViewObjective")
def predictive_view_objective(
        contract: PredictiveViewContract[Context, Target, TargetRep, Prediction]) -> Exact:
    """Lean ``predictiveViewObjective contract := predictiveLoss contract + geometryGuard``."""
    require_contract(contract, "predictiveViewObjective")
    return predictive_loss(contract) + contract.geometry_guard


@mirrors("withGeometryGuard")
def with_geometry_guard(contract: PredictiveViewContract[Context, Target, TargetRep, Prediction],
                        guard: int) -> PredictiveViewContract[Context, Target, TargetRep,
                                                              Prediction]:
    """Lean ``withGeometryGuard contract guard``: the same contract with the guard replaced."""
    require_contract(contract, "withGeometryGuard")
    require_nat(guard, "withGeometryGuard", "guard")
    return dataclasses.replace(contract, geometry_guard=guard)


@mirrors("maeAsPredictiveViewContract")
def mae_as_predictive_view_contract(
        n: int, masked_idxs: Sequence[int], target: FinFunction[Target],
        pred: FinFunction[Prediction], patch_loss: Callable[[Target, Prediction], Exact],
) -> PredictiveViewContract[None, Target, Target, Prediction]:
    """Lean ``maeAsPredictiveViewContract``: unit context, identity target encoder, guard 0."""
    require_nat(n, "maeAsPredictiveViewContract", "n")
    require_fin_function(pred, n, "maeAsPredictiveViewContract", "pred")

    def identity_encoder(_i: int, patch: Target) -> Target:
        return patch

    def predict(_context: None, i: int) -> Prediction:
        return fin_apply(pred, n, i, "maeAsPredictiveViewContract", "pred")

    return PredictiveViewContract(n, masked_idxs, UNIT, target, identity_encoder, predict,
                                  patch_loss, 0)


@mirrors("jepaAsPredictiveViewContract")
def jepa_as_predictive_view_contract(
        n: int, target_idxs: Sequence[int], context: Context, target: FinFunction[Target],
        predict: Callable[[Context, int], Prediction],
        rep_loss: Callable[[Target, Prediction], Exact],
) -> PredictiveViewContract[Context, Target, Target, Prediction]:
    """Lean ``jepaAsPredictiveViewContract``: the targets are already representations."""
    require_nat(n, "jepaAsPredictiveViewContract", "n")

    def identity_encoder(_i: int, target_rep: Target) -> Target:
        return target_rep

    return PredictiveViewContract(n, target_idxs, context, target, identity_encoder, predict,
                                  rep_loss, 0)


@mirrors("encodedTargetPredictiveViewContract")
def encoded_target_predictive_view_contract(
        n: int, target_idxs: Sequence[int], context: Context, target: FinFunction[Target],
        target_encoder: Callable[[int, Target], TargetRep],
        predict: Callable[[Context, int], Prediction],
        rep_loss: Callable[[TargetRep, Prediction], Exact], geometry_guard: int = 0,
) -> PredictiveViewContract[Context, Target, TargetRep, Prediction]:
    """Lean ``encodedTargetPredictiveViewContract``: any target encoder and guard (default 0)."""
    require_nat(n, "encodedTargetPredictiveViewContract", "n")
    require_nat(geometry_guard, "encodedTargetPredictiveViewContract", "geometryGuard")
    return PredictiveViewContract(n, target_idxs, context, target, target_encoder, predict,
                                  rep_loss, geometry_guard)


@mirrors("VICRegGuard")
@dataclass(frozen=True)
class VICRegGuard:
    """Lean structure ``VICRegGuard``: weights and already-computed Nat summaries.

    Fields in Lean's order; ``lambda_`` is Lean's ``lambda`` (a Python keyword).
    """

    lambda_: int
    mu: int
    nu: int
    invariance: int
    variance: int
    covariance: int

    def __post_init__(self) -> None:
        for binder in ("lambda", "mu", "nu", "invariance", "variance", "covariance"):
            attribute = "lambda_" if binder == "lambda" else binder
            require_nat(getattr(self, attribute), "VICRegGuard", binder)

    def value(self) -> int:
        """Lean ``VICRegGuard.value``: ``vicregObjective`` of the guard's fields."""
        return vicreg_objective(self.lambda_, self.mu, self.nu, self.invariance, self.variance,
                                self.covariance)


register_mirror("VICRegGuard.value", VICRegGuard.value,
                f"{__name__}.VICRegGuard.value")


@mirrors("BarlowGuard")
@dataclass(frozen=True)
class BarlowGuard:
    """Lean structure ``BarlowGuard``: off-diagonal weight and diagonal/off-diagonal summaries.

    ``lambda_`` is Lean's ``lambda``, ``off_diag`` its ``offDiag``; the lists are kept as tuples.
    """

    lambda_: int
    diag: Sequence[int]
    off_diag: Sequence[int]

    def __post_init__(self) -> None:
        require_nat(self.lambda_, "BarlowGuard", "lambda")
        object.__setattr__(self, "diag", tuple(require_nat_list(self.diag, "BarlowGuard", "diag")))
        object.__setattr__(self, "off_diag",
                           tuple(require_nat_list(self.off_diag, "BarlowGuard", "offDiag")))

    def value(self) -> int:
        """Lean ``BarlowGuard.value``: ``redundancyReductionObjective`` of the guard's fields."""
        return redundancy_reduction_objective(self.lambda_, self.diag, self.off_diag)


register_mirror("BarlowGuard.value", BarlowGuard.value,
                f"{__name__}.BarlowGuard.value")


@mirrors("SSLViewGraph")
@dataclass(frozen=True)
class SSLViewGraph:
    """Lean structure ``SSLViewGraph n``: a list of positive edges ``(Fin n × Fin n)``.

    Edges are ordered pairs and may repeat; the energy counts each occurrence.
    """

    n: int
    positive_edges: Sequence[tuple[int, int]]

    def __post_init__(self) -> None:
        require_nat(self.n, "SSLViewGraph", "n")
        edges = self.positive_edges
        if not is_sequence(edges):
            raise LeanContractError("SSLViewGraph", "positiveEdges",
                                    f"a List (Fin {self.n} × Fin {self.n})", edges)
        checked = []
        for edge in edges:
            if not isinstance(edge, Sequence) or len(edge) != 2:
                raise LeanContractError("SSLViewGraph", "positiveEdges",
                                        f"pairs (Fin {self.n} × Fin {self.n})", edge)
            checked.append((require_fin(edge[0], self.n, "SSLViewGraph", "positiveEdges"),
                            require_fin(edge[1], self.n, "SSLViewGraph", "positiveEdges")))
        object.__setattr__(self, "positive_edges", tuple(checked))


def require_graph(graph: object, declaration: str) -> SSLViewGraph:
    """Refuse anything that is not an ``SSLViewGraph``."""
    if not isinstance(graph, SSLViewGraph):
        raise LeanContractError(declaration, "graph", "an SSLViewGraph", graph)
    return graph


def sum_over_edges(graph: SSLViewGraph, f: Callable[[int, int], Exact]) -> Exact:
    """Lean ``(graph.positiveEdges.map (fun e => f e.1 e.2)).sum``, folded by ``masked_loss``."""
    edges = graph.positive_edges
    return masked_loss(len(edges), fin_range(len(edges)), lambda k: f(*edges[k]))


@mirrors("viewGraphEnergy")
def view_graph_energy(graph: SSLViewGraph, edge_loss: FinFunction2[Exact]) -> Exact:
    """Lean ``viewGraphEnergy graph edgeLoss``: ``edgeLoss a b`` summed over the edges ``(a, b)``.

    ``edgeLoss : Fin n → Fin n → Nat`` is a callable of two arguments or an ``n × n`` table.
    """
    g = require_graph(graph, "viewGraphEnergy")

    def per_edge(a: int, b: int) -> Exact:
        loss = fin_apply2(edge_loss, g.n, a, b, "viewGraphEnergy", "edgeLoss")
        return require_exact(loss, "viewGraphEnergy", "edgeLoss")

    return sum_over_edges(g, per_edge)
