"""Cases for ``NN.MLTheory.SelfSupervised.PredictiveView``: contracts, guards, graphs, geometry.

A contract argument is an object with Lean's field names. Its types are finite, so its functions
are tables: ``Context = Fin c``, ``Target = Fin t``, ``TargetRep = Fin r``, ``Prediction = Fin q``;
``target`` is a list of ``n`` Fin t, ``targetEncoder`` an ``n × t`` table of Fin r, ``predict`` a
``c × n`` table of Fin q and ``distance`` an ``r × q`` table of Nats.

A contract *result* holds functions, so it is compared through what Lean computes from it: its
``n``, ``targetIdxs``, ``context`` and ``geometryGuard``, and for every ``i : Fin n`` the raw
target, ``targetEncoder i (target i)`` and ``predict context i``, plus ``predictiveLoss`` and
``predictiveViewObjective`` (see ``observe_contract``).
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from fractions import Fraction
from typing import Any, cast

from maskproof.bridge.vectors.building import (
    Converter,
    case,
    fin_table,
    nat_table,
    random_fin_list,
    spec_def,
    table2,
)
from maskproof.bridge.vectors.encoding import Json, VectorFormatError, encode, encode_rat
from maskproof.bridge.vectors.schema import CaseInput, VectorDef
from maskproof.spec import predictive_view as pv
from maskproof.spec import real_geometry as geo
from maskproof.spec.errors import LeanContractError
from maskproof.spec.lean import fin_range

CONTRACT_TYPE = "PredictiveViewContract n Context Target TargetRep Prediction"
CONTRACT_NOTE = ("contract object {n, targetIdxs, context, target, targetEncoder, predict, "
                 "distance, geometryGuard} over finite types (module docstring)")
OBSERVED = ("observed contract {n, targetIdxs, context, geometryGuard, target, encodedTarget, "
            "prediction, predictiveLoss, predictiveViewObjective}")


def _require_object(value: object, declaration: str, binder: str) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise VectorFormatError(f"{declaration}: `{binder}` must be an object")
    return value


def as_binder(declaration: str, binder: str, build: Converter) -> Converter:
    """``build``, with a structure's field errors reported as errors of ``binder``.

    A structure argument (a contract, a guard, a graph) is built before the declaration runs, so
    the spec names the structure (``PredictiveViewContract: targetIdxs``); the declaration's
    binder is the argument the port got wrong.
    """
    def convert(value: object) -> object:
        try:
            return build(value)
        except LeanContractError as error:
            raise LeanContractError(declaration, binder, f"a {error.declaration} whose "
                                    f"`{error.binder}` is {error.expected}",
                                    error.value) from error
    return convert


def contract_converter(declaration: str) -> Converter:
    """Build a ``PredictiveViewContract`` from its tabulated JSON form."""
    return as_binder(declaration, "contract", _contract(declaration))


def _contract(declaration: str) -> Converter:
    def convert(value: object) -> object:
        fields = _require_object(value, declaration, "contract")
        return pv.PredictiveViewContract(
            fields["n"], fields["targetIdxs"], fields["context"], fields["target"],
            cast(Any, table2(declaration, "targetEncoder")(fields["targetEncoder"])),
            cast(Any, table2(declaration, "predict")(fields["predict"])),
            cast(Any, table2(declaration, "distance")(fields["distance"])), fields["geometryGuard"])
    return convert


def observe_contract(value: object) -> Json:
    """A contract result, as the values Lean's definitions read from it."""
    if not isinstance(value, pv.PredictiveViewContract):
        raise TypeError(f"expected a PredictiveViewContract, got {value!r}")
    c: pv.PredictiveViewContract[Any, Any, Any, Any] = value
    targets = [c.target(i) if callable(c.target) else c.target[i] for i in fin_range(c.n)]
    return {
        "n": c.n, "targetIdxs": encode(list(c.target_idxs)), "context": encode(c.context),
        "geometryGuard": encode(c.geometry_guard), "target": encode(targets),
        "encodedTarget": encode([c.target_encoder(i, targets[i]) for i in fin_range(c.n)]),
        "prediction": encode([c.predict(c.context, i) for i in fin_range(c.n)]),
        "predictiveLoss": encode(pv.predictive_loss(c)),
        "predictiveViewObjective": encode(pv.predictive_view_objective(c)),
    }


def random_contract(rng: random.Random, n: int | None = None) -> dict[str, object]:
    """A contract over small finite types, duplicates in ``targetIdxs`` allowed."""
    n = rng.randint(1, 5) if n is None else n
    c, t, r, q = (rng.randint(1, 3) for _ in range(4))
    return {"n": n, "targetIdxs": random_fin_list(rng, n, rng.randint(0, 7)),
            "context": rng.randrange(c), "target": random_fin_list(rng, t, n),
            "targetEncoder": fin_table(rng, n, t, r), "predict": fin_table(rng, c, n, q),
            "distance": nat_table(rng, r, q), "geometryGuard": rng.randint(0, 9)}


def _contract_cases(rng: random.Random) -> list[CaseInput]:
    cases = [case("n = 0", contract=random_contract(rng, 0))]
    cases += [case("random", contract=random_contract(rng)) for _ in range(6)]
    return cases + [
        case("target index n is not a Fin n", True,
             contract={**random_contract(rng, 2), "targetIdxs": [2]}),
        case("negative geometry guard is not a Nat", True,
             contract={**random_contract(rng, 2), "geometryGuard": -1}),
    ]


def _with_guard_cases(rng: random.Random) -> list[CaseInput]:
    cases = [case("replace the guard", contract=random_contract(rng), guard=rng.randint(0, 20))
             for _ in range(4)]
    return cases + [case("guard 0", contract=random_contract(rng), guard=0),
                    case("negative guard is not a Nat", True, contract=random_contract(rng),
                         guard=-3)]


def _mae_contract_cases(rng: random.Random) -> list[CaseInput]:
    cases = [case("n = 0", n=0, maskedIdxs=[], target=[], pred=[], patchLoss=[[0]])]
    for _ in range(5):
        n, p, q = rng.randint(1, 5), rng.randint(1, 3), rng.randint(1, 3)
        cases.append(case("random", n=n, maskedIdxs=random_fin_list(rng, n, rng.randint(0, 6)),
                          target=random_fin_list(rng, p, n), pred=random_fin_list(rng, q, n),
                          patchLoss=nat_table(rng, p, q)))
    return cases + [case("masked index n is not a Fin n", True, n=1, maskedIdxs=[1], target=[0],
                         pred=[0], patchLoss=[[1]])]


def _jepa_contract_cases(rng: random.Random, with_encoder: bool) -> list[CaseInput]:
    cases = []
    for note, n in (("n = 0", 0), *(("random", rng.randint(1, 5)) for _ in range(5))):
        c, t, r, q = (rng.randint(1, 3) for _ in range(4))
        rep = r if with_encoder else t
        args: dict[str, object] = {
            "n": n, "targetIdxs": random_fin_list(rng, n, rng.randint(0, 6)),
            "context": rng.randrange(c), "target": random_fin_list(rng, t, n),
            "predict": fin_table(rng, c, n, q), "repLoss": nat_table(rng, rep, q)}
        if with_encoder:
            args |= {"targetEncoder": fin_table(rng, n, t, r), "geometryGuard": rng.randint(0, 5)}
        cases.append(case(note, **args))
    bad: dict[str, object] = {"n": 1, "targetIdxs": [-1], "context": 0, "target": [0],
                              "predict": [[0]], "repLoss": [[1]]}
    if with_encoder:
        bad |= {"targetEncoder": [[0]], "geometryGuard": 0}
    return cases + [case("target index -1 is not a Fin n", True, **bad)]


def _guard_cases(rng: random.Random) -> list[CaseInput]:
    names = ("lambda", "mu", "nu", "invariance", "variance", "covariance")
    cases = [case("all zero", guard=dict.fromkeys(names, 0)),
             case("only the variance term is positive",
                  guard={**dict.fromkeys(names, 0), "mu": 3, "variance": 2})]
    cases += [case("random", guard={name: rng.randint(0, 9) for name in names})
              for _ in range(3)]
    return cases + [case("negative weight is not a Nat", True,
                         guard={**dict.fromkeys(names, 1), "nu": -1})]


def _barlow_cases(rng: random.Random) -> list[CaseInput]:
    cases = [case("identity correlation", guard={"lambda": 4, "diag": [1, 1], "offDiag": [0, 0]}),
             case("collapsed diagonal", guard={"lambda": 1, "diag": [0, 0, 0], "offDiag": []})]
    cases += [case("random", guard={"lambda": rng.randint(0, 4),
                                    "diag": [rng.randint(0, 3) for _ in range(3)],
                                    "offDiag": [rng.randint(0, 3) for _ in range(4)]})
              for _ in range(3)]
    return cases + [case("negative diagonal entry", True,
                         guard={"lambda": 1, "diag": [-1], "offDiag": []})]


def _random_graph(rng: random.Random, n: int) -> dict[str, object]:
    edges = [[rng.randrange(n), rng.randrange(n)] for _ in range(rng.randint(0, 6))] if n else []
    return {"n": n, "positiveEdges": edges}


def _energy_cases(rng: random.Random) -> list[CaseInput]:
    cases = [case("empty graph", graph={"n": 0, "positiveEdges": []}, edgeLoss=[]),
             case("repeated edge counts twice", graph={"n": 2, "positiveEdges": [[0, 1], [0, 1]]},
                  edgeLoss=[[0, 5], [7, 0]])]
    for _ in range(4):
        n = rng.randint(1, 4)
        cases.append(case("random", graph=_random_graph(rng, n), edgeLoss=nat_table(rng, n, n)))
    return cases + [case("edge endpoint n is not a Fin n", True,
                         graph={"n": 2, "positiveEdges": [[0, 2]]}, edgeLoss=[[0, 0], [0, 0]])]


def _rat(rng: random.Random) -> Fraction:
    return Fraction(rng.randint(-9, 9), rng.randint(1, 4))


def _rep(rng: random.Random, n: int, d: int) -> list[list[Fraction]]:
    return [[_rat(rng) for _ in range(d)] for _ in range(n)]


def _sq_dist_cases(rng: random.Random) -> list[CaseInput]:
    cases = [case("d = 0", d=0, z=[], w=[])]
    for _ in range(4):
        d = rng.randint(1, 4)
        cases.append(case("random", d=d, z=_rep(rng, 1, d)[0], w=_rep(rng, 1, d)[0]))
    return cases + [case("w of the wrong length", True, d=2, z=[Fraction(1), Fraction(0)],
                         w=[Fraction(1)]),
                    case("a Float is not an exact real", True, d=1, z=[0.5], w=[Fraction(1)])]


def _graph_rep_cases(rng: random.Random, with_gamma: bool) -> list[CaseInput]:
    extra: dict[str, object] = {"gamma": Fraction(3, 2)} if with_gamma else {}
    collapsed = [[Fraction(1, 3), Fraction(-2)]] * 3
    cases = [case("empty graph, n = 0", graph={"n": 0, "positiveEdges": []}, d=2, rep=[],
                  **extra),
             case("collapsed representation", graph={"n": 3, "positiveEdges": [[0, 1], [2, 0]]},
                  d=2, rep=collapsed, **extra)]
    for _ in range(4):
        n, d = rng.randint(1, 4), rng.randint(0, 3)
        more = {"gamma": _rat(rng)} if with_gamma else {}
        cases.append(case("random", graph=_random_graph(rng, n), d=d, rep=_rep(rng, n, d),
                          **more))
    return cases + [case("a representation row of the wrong length", True,
                         graph={"n": 1, "positiveEdges": []}, d=2, rep=[[Fraction(1)]], **extra)]


def _spread_cases(rng: random.Random) -> list[CaseInput]:
    cases = [case("collapsed column", n=3, d=1, rep=[[Fraction(2)]] * 3, j=0)]
    for _ in range(4):
        n, d = rng.randint(0, 4), rng.randint(1, 3)
        cases.append(case("random", n=n, d=d, rep=_rep(rng, n, d), j=rng.randrange(d)))
    return cases + [case("j = d is not a Fin d", True, n=1, d=1, rep=[[Fraction(0)]], j=1)]


def _floor_penalty_cases(rng: random.Random) -> list[CaseInput]:
    return [case("spread above the floor", gamma=Fraction(1), spread=Fraction(5, 2)),
            case("spread below the floor", gamma=Fraction(3), spread=Fraction(1, 2)),
            case("negative reals are reals", gamma=Fraction(-1, 2), spread=Fraction(-3)),
            case("a Float is not an exact real", True, gamma=1.0, spread=Fraction(0))]


def _floor_guard_cases(rng: random.Random) -> list[CaseInput]:
    cases = [case("d = 0", d=0, gamma=Fraction(2), spread=[]),
             case("zero spread pays gamma per coordinate", d=3, gamma=Fraction(2),
                  spread=[Fraction(0)] * 3)]
    for _ in range(3):
        d = rng.randint(1, 4)
        cases.append(case("random", d=d, gamma=_rat(rng), spread=[_rat(rng) for _ in range(d)]))
    return cases + [case("spread table of the wrong length", True, d=2, gamma=Fraction(1),
                         spread=[Fraction(0)])]


def _from_mapping(cls: type[Any], declaration: str, renames: Mapping[str, str]) -> Converter:
    def convert(value: object) -> object:
        fields = _require_object(value, declaration, "guard")
        return cls(**{renames.get(key, key): item for key, item in fields.items()})
    return as_binder(declaration, "guard", convert)


def _graph(declaration: str) -> Converter:
    def convert(value: object) -> object:
        fields = _require_object(value, declaration, "graph")
        return pv.SSLViewGraph(fields["n"], fields["positiveEdges"])
    return as_binder(declaration, "graph", convert)


GUARD_FIELDS = ("lambda", "mu", "nu", "invariance", "variance", "covariance")


def _vicreg_guard(*fields: object) -> object:
    # The anonymous constructor `VICRegGuard.mk`: the structure's fields in Lean's order.
    return pv.VICRegGuard(*cast(Any, fields))


def _barlow_guard(lambda_: object, diag: object, off_diag: object) -> object:
    return pv.BarlowGuard(cast(Any, lambda_), cast(Any, diag), cast(Any, off_diag))


def _guard_fields(guard: object) -> Json:
    """A guard structure as an object keyed by its Lean field names."""
    if isinstance(guard, pv.VICRegGuard):
        return encode(dict(zip(GUARD_FIELDS, (guard.lambda_, guard.mu, guard.nu,
                                              guard.invariance, guard.variance,
                                              guard.covariance), strict=True)))
    if isinstance(guard, pv.BarlowGuard):
        return encode({"lambda": guard.lambda_, "diag": list(guard.diag),
                       "offDiag": list(guard.off_diag)})
    raise TypeError(f"expected a VICRegGuard or BarlowGuard, got {guard!r}")


def _vicreg_mk_cases(rng: random.Random) -> list[CaseInput]:
    big = 2**64 + 1  # a u64 field would wrap; Lean's Nat does not
    cases = [case("all zero", **dict.fromkeys(GUARD_FIELDS, 0)),
             case("fields beyond 2**64", **dict.fromkeys(GUARD_FIELDS, big))]
    cases += [case("random", **{name: rng.randint(0, 9) for name in GUARD_FIELDS})
              for _ in range(2)]
    return cases + [case(f"negative {name} is not a Nat", True,
                         **{**dict.fromkeys(GUARD_FIELDS, 1), name: -1})
                    for name in ("lambda", "covariance")]


def _barlow_mk_cases(rng: random.Random) -> list[CaseInput]:
    cases = [case("empty summaries", **{"lambda": 0, "diag": [], "offDiag": []}),
             case("entries beyond 2**64", **{"lambda": 2**64, "diag": [2**64 + 1],
                                            "offDiag": [2**33]}),
             case("random", **{"lambda": rng.randint(0, 4),
                               "diag": [rng.randint(0, 3) for _ in range(3)],
                               "offDiag": [rng.randint(0, 3) for _ in range(2)]})]
    return cases + [
        case("negative offDiag entry is not a Nat", True,
             **{"lambda": 1, "diag": [1], "offDiag": [0, -1]}),
        case("diag must be a list", True, **{"lambda": 1, "diag": 3, "offDiag": []}),
    ]


def _collapsed_cases(rng: random.Random) -> list[CaseInput]:
    same = [Fraction(1, 3), Fraction(-2)]
    cases = [case("n = 0: any z witnesses it", n=0, d=2, rep=[]),
             case("d = 0: every row is the empty vector", n=3, d=0, rep=[[], [], []]),
             case("every row equal", n=3, d=2, rep=[same] * 3),
             case("last row differs", n=3, d=2, rep=[same, same, [Fraction(1, 3), Fraction(2)]]),
             case("rationals compare by value", n=2, d=1,
                  rep=[[Fraction(2, 4)], [Fraction(1, 2)]])]
    cases += [case("random", n=2, d=2, rep=_rep(rng, 2, 2)) for _ in range(2)]
    return cases + [case("a representation row of the wrong length", True, n=2, d=2,
                         rep=[same, [Fraction(1)]]),
                    case("a Float is not an exact real", True, n=1, d=1, rep=[[0.5]])]


def _real(value: object) -> Json:
    if not isinstance(value, (int, Fraction)):
        raise TypeError(f"expected an exact real, got {value!r}")
    return encode_rat(value)


def definitions() -> list[VectorDef]:
    """The vectors of every executable def in PredictiveView (Nat and real-valued parts)."""
    contract = [("contract", CONTRACT_TYPE)]
    note = {"contract": CONTRACT_NOTE}
    guard_renames = {"lambda": "lambda_", "offDiag": "off_diag"}
    graph = ("graph", "SSLViewGraph n")
    rep = ("rep", "Fin n → EuclideanRep d")
    rep_note = {"rep": "an n × d table of rats", "graph": "{n, positiveEdges}"}
    mae_binders = [("n", "Nat"), ("maskedIdxs", "List (Fin n)"), ("target", "Fin n → Target"),
                   ("pred", "Fin n → Prediction"), ("patchLoss", "Target → Prediction → Nat")]
    jepa_binders = [("n", "Nat"), ("targetIdxs", "List (Fin n)"), ("context", "Context"),
                    ("target", "Fin n → Target"), ("predict", "Context → Fin n → Prediction"),
                    ("repLoss", "Target → Prediction → Nat")]
    encoded_binders = [*jepa_binders[:4], ("targetEncoder", "Fin n → Target → TargetRep"),
                       jepa_binders[4], ("repLoss", "TargetRep → Prediction → Nat"),
                       ("geometryGuard", "Nat")]

    def tables(decl: str, *binders: str) -> dict[str, Converter]:
        return {binder: table2(decl, binder) for binder in binders}

    return [
        spec_def("predictiveLoss", pv.predictive_loss, contract, "Nat", _contract_cases,
                 converters={"contract": contract_converter("predictiveLoss")}, encoding=note),
        spec_def("predictiveViewObjective", pv.predictive_view_objective, contract, "Nat",
                 _contract_cases,
                 converters={"contract": contract_converter("predictiveViewObjective")},
                 encoding=note),
        spec_def("withGeometryGuard", pv.with_geometry_guard, [*contract, ("guard", "Nat")],
                 OBSERVED, _with_guard_cases, output=observe_contract,
                 converters={"contract": contract_converter("withGeometryGuard")}, encoding=note),
        spec_def("maeAsPredictiveViewContract", pv.mae_as_predictive_view_contract, mae_binders,
                 OBSERVED, _mae_contract_cases, output=observe_contract,
                 converters=tables("maeAsPredictiveViewContract", "patchLoss"),
                 error_binders={"targetIdxs": "maskedIdxs"},
                 encoding={"patchLoss": "Target = Fin p, Prediction = Fin q: a p × q table"}),
        spec_def("jepaAsPredictiveViewContract", pv.jepa_as_predictive_view_contract,
                 jepa_binders, OBSERVED, lambda rng: _jepa_contract_cases(rng, False),
                 output=observe_contract,
                 converters=tables("jepaAsPredictiveViewContract", "predict", "repLoss"),
                 encoding={"predict": "Context = Fin c: a c × n table of Fin q",
                           "repLoss": "a t × q table of Nats"}),
        spec_def("encodedTargetPredictiveViewContract",
                 pv.encoded_target_predictive_view_contract, encoded_binders, OBSERVED,
                 lambda rng: _jepa_contract_cases(rng, True), output=observe_contract,
                 converters=tables("encodedTargetPredictiveViewContract", "targetEncoder",
                                   "predict", "repLoss"),
                 encoding={"targetEncoder": "an n × t table of Fin r",
                           "repLoss": "an r × q table of Nats"}),
        spec_def("VICRegGuard.value", pv.VICRegGuard.value, [("guard", "VICRegGuard")], "Nat",
                 _guard_cases,
                 converters={"guard": _from_mapping(pv.VICRegGuard, "VICRegGuard.value",
                                                    guard_renames)},
                 encoding={"guard": "{lambda, mu, nu, invariance, variance, covariance}"}),
        spec_def("BarlowGuard.value", pv.BarlowGuard.value, [("guard", "BarlowGuard")], "Nat",
                 _barlow_cases,
                 converters={"guard": _from_mapping(pv.BarlowGuard, "BarlowGuard.value",
                                                    guard_renames)},
                 encoding={"guard": "{lambda, diag, offDiag}"}),
        spec_def("VICRegGuard", _vicreg_guard, [(name, "Nat") for name in GUARD_FIELDS],
                 "VICRegGuard {lambda, mu, nu, invariance, variance, covariance}",
                 _vicreg_mk_cases, output=_guard_fields,
                 python_mirror="maskproof.spec.predictive_view.VICRegGuard",
                 encoding={"lambda": "the anonymous constructor VICRegGuard.mk: the fields in "
                                     "Lean's order; the result is the structure"}),
        spec_def("BarlowGuard", _barlow_guard,
                 [("lambda", "Nat"), ("diag", "List Nat"), ("offDiag", "List Nat")],
                 "BarlowGuard {lambda, diag, offDiag}", _barlow_mk_cases, output=_guard_fields,
                 python_mirror="maskproof.spec.predictive_view.BarlowGuard",
                 encoding={"lambda": "the anonymous constructor BarlowGuard.mk: the fields in "
                                     "Lean's order; the result is the structure"}),
        spec_def("CollapsedRep", geo.collapsed_rep, [("n", "Nat"), ("d", "Nat"), rep],
                 "Prop (decided: Bool)", _collapsed_cases, kind="prop",
                 encoding={"rep": rep_note["rep"]}),
        spec_def("viewGraphEnergy", pv.view_graph_energy,
                 [graph, ("edgeLoss", "Fin n → Fin n → Nat")], "Nat", _energy_cases,
                 converters={"graph": _graph("viewGraphEnergy")},
                 encoding={"edgeLoss": "an n × n table of Nats", **rep_note}),
        spec_def("sqDist", geo.sq_dist, [("d", "Nat"), ("z", "EuclideanRep d"),
                                         ("w", "EuclideanRep d")], "ℝ", _sq_dist_cases,
                 output=_real),
        spec_def("graphAlignmentEnergy", geo.graph_alignment_energy, [graph, ("d", "Nat"), rep],
                 "ℝ", lambda rng: _graph_rep_cases(rng, False), output=_real,
                 converters={"graph": _graph("graphAlignmentEnergy")}, encoding=rep_note),
        spec_def("coordinateSpread", geo.coordinate_spread,
                 [("n", "Nat"), ("d", "Nat"), rep, ("j", "Fin d")], "ℝ", _spread_cases,
                 output=_real, encoding=rep_note),
        spec_def("realVarianceFloorPenalty", geo.real_variance_floor_penalty,
                 [("gamma", "ℝ"), ("spread", "ℝ")], "ℝ", _floor_penalty_cases, output=_real),
        spec_def("realVarianceFloorGuard", geo.real_variance_floor_guard,
                 [("d", "Nat"), ("gamma", "ℝ"), ("spread", "Fin d → ℝ")], "ℝ",
                 _floor_guard_cases, output=_real, encoding={"spread": "a list of d rats"}),
        spec_def("graphSSLObjective", geo.graph_ssl_objective,
                 [graph, ("d", "Nat"), rep, ("gamma", "ℝ")], "ℝ",
                 lambda rng: _graph_rep_cases(rng, True), output=_real,
                 converters={"graph": _graph("graphSSLObjective")}, encoding=rep_note),
    ]
