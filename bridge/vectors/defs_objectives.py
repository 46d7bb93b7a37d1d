"""Cases for the Nat-valued objective modules: Masking, MAE, JEPA and VICReg.

Function arguments over finite types are tables: ``Fin n → α`` is a list of ``n`` values, and
``A → B → α`` over ``A = Fin a``, ``B = Fin b`` is an ``a × b`` table (``building.table2``). The
patch, prediction, context and representation types are such finite types, so every function a
case needs is written out completely.
"""

from __future__ import annotations

import random

from maskproof.bridge.vectors.building import (
    case,
    fin_table,
    nat_table,
    random_fin_list,
    random_float,
    spec_def,
    table2,
)
from maskproof.bridge.vectors.encoding import bits_to_float
from maskproof.bridge.vectors.schema import CaseInput, VectorDef
from maskproof.spec import jepa, mae, masking, vicreg

BIG = 2**60 + 7  # beyond 2**53: exercises the {"int": …} encoding and unbounded Nat arithmetic

TABLE_NOTE = {"perPatchLoss": "Fin n → Nat as a list of n Nats"}
FIN_TYPES_NOTE = ("Patch = Fin p and Pred = Fin q: target/pred are lists of n Fins, "
                  "patchLoss is a p × q table of Nats")


def _selected_cases(rng: random.Random) -> list[CaseInput]:
    cases = []
    for _ in range(6):
        n = rng.randint(1, 6)
        cases.append(case("random", n=n, m=[rng.random() < 0.5 for _ in range(n)],
                          i=rng.randrange(n)))
    return cases + [
        case("Fin 0 is empty: no index exists", True, n=0, m=[], i=0),
        case("i = n is not a Fin n", True, n=3, m=[True, False, True], i=3),
        case("-1 is not a Fin n (no Python wrap-around)", True, n=3, m=[True, True, True], i=-1),
        case("mask table of the wrong length", True, n=3, m=[True, False], i=0),
        case("1 is not a Bool", True, n=2, m=[1, True], i=0),
    ]


def _size_cases(rng: random.Random) -> list[CaseInput]:
    return [case(f"n = {n}", n=n) for n in (0, 1, 5)] + [
        case("a negative size is not a Nat", True, n=-1)]


def _complement_cases(rng: random.Random) -> list[CaseInput]:
    cases = [case("n = 0", n=0, m=[])]
    for _ in range(4):
        n = rng.randint(1, 6)
        cases.append(case("random", n=n, m=[rng.random() < 0.5 for _ in range(n)]))
    return cases + [case("mask table of the wrong length", True, n=2, m=[True, False, True])]


def _masked_loss_cases(rng: random.Random) -> list[CaseInput]:
    cases = [
        case("n = 0, empty list", n=0, idxs=[], perPatchLoss=[]),
        case("empty list sums to 0", n=3, idxs=[], perPatchLoss=[4, 5, 6]),
        case("duplicates count once per occurrence", n=3, idxs=[1, 1, 1], perPatchLoss=[4, 5, 6]),
        case("all per-patch losses zero", n=4, idxs=[3, 0, 3], perPatchLoss=[0, 0, 0, 0]),
        case("sum beyond 2**53", n=2, idxs=[0, 1, 0], perPatchLoss=[BIG, BIG + 1]),
        case("sum beyond 2**64 (a u64 accumulator wraps)", n=2, idxs=[0, 1, 1],
             perPatchLoss=[2**63, 2**63 + 5]),
    ]
    for _ in range(8):
        n = rng.randint(1, 8)
        cases.append(case("random", n=n, idxs=random_fin_list(rng, n, rng.randint(0, 10)),
                          perPatchLoss=[rng.randint(0, 20) for _ in range(n)]))
    return cases + [
        case("index n is not a Fin n", True, n=2, idxs=[0, 2], perPatchLoss=[1, 2]),
        case("index -1 is not a Fin n", True, n=2, idxs=[-1], perPatchLoss=[1, 2]),
        case("loss table of the wrong length", True, n=3, idxs=[0], perPatchLoss=[1, 2]),
    ]


def _reconstruct_cases(rng: random.Random) -> list[CaseInput]:
    cases = [case("n = 0", n=0, decode=[], pred=[])]
    for _ in range(5):
        n, p, q = rng.randint(1, 5), rng.randint(1, 4), rng.randint(1, 4)
        cases.append(case("random", n=n, decode=fin_table(rng, n, q, p),
                          pred=random_fin_list(rng, q, n)))
    return cases + [
        case("pred table of the wrong length", True, n=2, decode=[[0], [0]], pred=[0]),
        case("prediction outside decode's domain Fin q", True, n=1, decode=[[0, 1]], pred=[2]),
    ]


def _exact_reconstruction_cases(rng: random.Random) -> list[CaseInput]:
    nan = float("nan")
    same = [random_float(rng) for _ in range(4)]
    return [
        case("n = 0: vacuously exact", n=0, x=[], y=[]),
        case("identical floats", n=4, x=same, y=list(same)),
        case("0.0 and -0.0 differ as Lean values", n=2, x=[1.0, 0.0], y=[1.0, -0.0]),
        case("NaN equals itself propositionally", n=2, x=[nan, 2.0], y=[nan, 2.0]),
        case("NaNs with other payloads and signs are equal too", n=2,
             x=[nan, bits_to_float(0x7FF8000000000ABC)],
             y=[bits_to_float(0xFFF8000000000000), bits_to_float(0x7FF0000000000001)]),
        case("infinities", n=2, x=[float("inf"), float("-inf")],
             y=[float("inf"), float("-inf")]),
        case("last entry differs", n=3, x=[1.0, 2.0, 3.0], y=[1.0, 2.0, 3.5]),
        case("y of the wrong length", True, n=2, x=[1.0, 2.0], y=[1.0]),
    ]


def _mae_loss_cases(rng: random.Random) -> list[CaseInput]:
    cases = [case("n = 0", n=0, maskedIdxs=[], target=[], pred=[], patchLoss=[[0]])]
    for _ in range(6):
        n, p, q = rng.randint(1, 6), rng.randint(1, 3), rng.randint(1, 3)
        cases.append(case("random", n=n, maskedIdxs=random_fin_list(rng, n, rng.randint(0, 8)),
                          target=random_fin_list(rng, p, n), pred=random_fin_list(rng, q, n),
                          patchLoss=nat_table(rng, p, q)))
    return cases + [
        case("masked index n is not a Fin n", True, n=2, maskedIdxs=[2], target=[0, 0],
             pred=[0, 0], patchLoss=[[1]]),
        case("target table of the wrong length", True, n=2, maskedIdxs=[0], target=[0],
             pred=[0, 0], patchLoss=[[1]]),
    ]


def _jepa_loss_cases(rng: random.Random) -> list[CaseInput]:
    cases = [case("n = 0", n=0, targetIdxs=[], context=0, target=[], predict=[[]],
                  repLoss=[[0]])]
    for _ in range(6):
        n, c, t, q = (rng.randint(1, 5), rng.randint(1, 3), rng.randint(1, 3), rng.randint(1, 3))
        cases.append(case("random", n=n, targetIdxs=random_fin_list(rng, n, rng.randint(0, 7)),
                          context=rng.randrange(c), target=random_fin_list(rng, t, n),
                          predict=fin_table(rng, c, n, q), repLoss=nat_table(rng, t, q)))
    return cases + [
        case("target index n is not a Fin n", True, n=1, targetIdxs=[1], context=0, target=[0],
             predict=[[0]], repLoss=[[3]]),
        case("context outside predict's domain", True, n=1, targetIdxs=[0], context=1,
             target=[0], predict=[[0]], repLoss=[[3]]),
    ]


def _variance_floor_cases(rng: random.Random) -> list[CaseInput]:
    return [
        case("gamma below variance truncates to 0", gamma=3, variance=5),
        case("gamma above variance", gamma=5, variance=3),
        case("both zero", gamma=0, variance=0),
        case("beyond 2**53", gamma=BIG, variance=1),
        case("negative gamma is not a Nat", True, gamma=-1, variance=0),
        case("negative variance is not a Nat", True, gamma=1, variance=-1),
    ]


def _variance_term_cases(rng: random.Random) -> list[CaseInput]:
    cases = [
        case("empty list", gamma=4, variances=[]),
        case("d zeros pay d * gamma", gamma=4, variances=[0, 0, 0]),
        case("above the floor pays nothing", gamma=2, variances=[5, 9]),
    ]
    for _ in range(4):
        cases.append(case("random", gamma=rng.randint(0, 10),
                          variances=[rng.randint(0, 12) for _ in range(rng.randint(0, 6))]))
    return cases + [case("a negative variance is not a Nat", True, gamma=1, variances=[0, -2])]


def _vicreg_cases(rng: random.Random) -> list[CaseInput]:
    names = ("lambda", "mu", "nu", "invariance", "variance", "covariance")
    cases = [case("all zero", **dict.fromkeys(names, 0)),
             case("beyond 2**53", **dict.fromkeys(names, BIG))]
    for _ in range(4):
        cases.append(case("random", **{name: rng.randint(0, 30) for name in names}))
    return cases + [case("negative weight is not a Nat", True,
                         **{**dict.fromkeys(names, 1), "mu": -1})]


def _diagonal_cases(rng: random.Random) -> list[CaseInput]:
    return [case(f"c = {c}", c=c) for c in (0, 1, 2, 7, BIG)] + [
        case("negative c is not a Nat", True, c=-1)]


def _redundancy_cases(rng: random.Random) -> list[CaseInput]:
    cases = [
        case("identity correlation costs 0", **{"lambda": 5, "diag": [1, 1, 1],
                                                  "offDiag": [0, 0, 0, 0, 0, 0]}),
        case("collapsed diagonal pays per entry", **{"lambda": 2, "diag": [0, 0],
                                                       "offDiag": [0, 0]}),
        case("empty lists", **{"lambda": 3, "diag": [], "offDiag": []}),
    ]
    for _ in range(4):
        cases.append(case("random", **{
            "lambda": rng.randint(0, 5), "diag": [rng.randint(0, 4) for _ in range(3)],
            "offDiag": [rng.randint(0, 4) for _ in range(rng.randint(0, 6))]}))
    return cases + [case("negative entry is not a Nat", True,
                         **{"lambda": 1, "diag": [1], "offDiag": [-1]})]


def definitions() -> list[VectorDef]:
    """The vectors of every executable def in Masking, MAE, JEPA and VICReg."""
    fin_to_nat = "List (Fin n)"
    return [
        spec_def("selected", masking.selected,
                 [("n", "Nat"), ("m", "Mask n"), ("i", "Fin n")], "Prop (decided: Bool)",
                 _selected_cases, kind="prop"),
        spec_def("allMask", masking.all_mask, [("n", "Nat")], "Mask n", _size_cases),
        spec_def("emptyMask", masking.empty_mask, [("n", "Nat")], "Mask n", _size_cases),
        spec_def("complement", masking.complement, [("n", "Nat"), ("m", "Mask n")], "Mask n",
                 _complement_cases),
        spec_def("maskedLoss", masking.masked_loss,
                 [("n", "Nat"), ("idxs", fin_to_nat), ("perPatchLoss", "Fin n → Nat")], "Nat",
                 _masked_loss_cases, encoding=TABLE_NOTE),
        spec_def("reconstruct", mae.reconstruct,
                 [("n", "Nat"), ("decode", "Fin n → Pred → Patch"), ("pred", "Fin n → Pred")],
                 "PatchBatch n Patch", _reconstruct_cases,
                 converters={"decode": table2("reconstruct", "decode")},
                 encoding={"decode": "Pred = Fin q, Patch = Fin p: an n × q table of Fin p",
                           "pred": "a list of n Fin q"}),
        spec_def("ExactReconstruction", mae.exact_reconstruction,
                 [("n", "Nat"), ("x", "PatchBatch n Float"), ("y", "PatchBatch n Float")],
                 "Prop (decided: Bool)", _exact_reconstruction_cases, kind="prop",
                 encoding={"x": "Patch = Float; equality by bit pattern, NaN = NaN"}),
        spec_def("maeLoss", mae.mae_loss,
                 [("n", "Nat"), ("maskedIdxs", fin_to_nat), ("target", "PatchBatch n Patch"),
                  ("pred", "Fin n → Pred"), ("patchLoss", "Patch → Pred → Nat")], "Nat",
                 _mae_loss_cases, converters={"patchLoss": table2("maeLoss", "patchLoss")},
                 encoding={"patchLoss": FIN_TYPES_NOTE}),
        spec_def("jepaLoss", jepa.jepa_loss,
                 [("n", "Nat"), ("targetIdxs", fin_to_nat), ("context", "Context"),
                  ("target", "Fin n → Target"), ("predict", "Context → Fin n → Pred"),
                  ("repLoss", "Target → Pred → Nat")], "Nat", _jepa_loss_cases,
                 converters={"predict": table2("jepaLoss", "predict"),
                             "repLoss": table2("jepaLoss", "repLoss")},
                 encoding={"predict": "Context = Fin c, Pred = Fin q: a c × n table of Fin q",
                           "repLoss": "Target = Fin t: a t × q table of Nats"}),
        spec_def("varianceFloorPenalty", vicreg.variance_floor_penalty,
                 [("gamma", "Nat"), ("variance", "Nat")], "Nat", _variance_floor_cases),
        spec_def("varianceTerm", vicreg.variance_term,
                 [("gamma", "Nat"), ("variances", "List Nat")], "Nat", _variance_term_cases),
        spec_def("vicregObjective", vicreg.vicreg_objective,
                 [(name, "Nat") for name in ("lambda", "mu", "nu", "invariance", "variance",
                                             "covariance")], "Nat", _vicreg_cases),
        spec_def("diagonalRedundancyPenalty", vicreg.diagonal_redundancy_penalty,
                 [("c", "Nat")], "Nat", _diagonal_cases),
        spec_def("offDiagonalRedundancyPenalty", vicreg.off_diagonal_redundancy_penalty,
                 [("c", "Nat")], "Nat", _diagonal_cases),
        spec_def("redundancyReductionObjective", vicreg.redundancy_reduction_objective,
                 [("lambda", "Nat"), ("diag", "List Nat"), ("offDiag", "List Nat")], "Nat",
                 _redundancy_cases),
    ]
