"""A theorem check called outside its hypotheses names the declaration and the binder at fault.

Hypothesis and CrossHair only call the checks inside their hypotheses, so the guards in them never
fire there. A port that calls a check with its own values relies on them: a check must refuse a
non-Lean value with ``LeanContractError`` naming where the value went (the Lean declaration that
reads it, or the theorem itself), never with an ``IndexError`` or a wrong verdict.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from maskproof.spec.errors import LeanContractError
from maskproof.spec.registry import THEOREMS
from maskproof.spec.theorems.jepa import predictor_function, rep_loss_function
from maskproof.spec.theorems.mae import patch_loss_function
from maskproof.spec.theorems.predictive_view import finite_contract, table

#: (case id, call, declaration named, binder named)
CASES: list[tuple[str, Callable[[], object], str, str]] = []


def case(case_id: str, declaration: str, binder: str) -> Callable[[Callable[[], object]], None]:
    def register(call: Callable[[], object]) -> None:
        CASES.append((case_id, call, declaration, binder))
    return register


def check(lean_name: str) -> Callable[..., bool]:
    return THEOREMS[lean_name].check


# --- table-encoded Lean functions: a table that is not a sequence of rows -------------------------
case("predictor_function", "jepaLoss", "predict")(lambda: predictor_function(None))
case("rep_loss_function", "jepaLoss", "repLoss")(lambda: rep_loss_function(None))
case("patch_loss_function", "maeLoss", "patchLoss")(lambda: patch_loss_function(None))
case("table", "someDecl", "someBinder")(lambda: table(None, "someDecl", "someBinder"))
case("table-lookup", "someDecl", "someBinder")(lambda: table([[1]], "someDecl", "someBinder")(0, 1))

# A valid finite contract's tables (see test_theorem_preconditions.VALID), one replaced by None.
N, IDXS, CTX, TARGET = 2, [0, 1], 0, [0, 1]
ENC, PRED, DIST = [[0, 1], [1, 0]], [[0, 1]], [[0, 1], [2, 3]]
for binder, args in (("targetEncoder", (None, PRED, DIST)), ("predict", (ENC, None, DIST)),
                     ("distance", (ENC, PRED, None))):
    case(f"finite_contract-{binder}", "PredictiveViewContract", binder)(
        lambda args=args: finite_contract(N, IDXS, CTX, TARGET, *args, 0))
for binder, args in (("targetEncoder", (None, PRED, DIST)), ("predict", (ENC, None, DIST)),
                     ("repLoss", (ENC, PRED, None))):
    case(f"encodedTarget-{binder}", "encodedTargetPredictiveViewContract", binder)(
        lambda args=args: check("encodedTargetPredictiveViewContract_loss_eq_maskedLoss")(
            N, IDXS, CTX, TARGET, *args, 0))
for name in ("mae_is_predictive_view_loss", "mae_is_predictive_view_objective"):
    case(f"{name}-patchLoss", "maeLoss", "patchLoss")(
        lambda name=name: check(name)(1, [0], [0], [0], None))
for name in ("jepa_is_predictive_view_loss", "jepa_is_predictive_view_objective"):
    case(f"{name}-predict", "jepaLoss", "predict")(
        lambda name=name: check(name)(1, [0], 0, [0], None, [[0]]))
    case(f"{name}-repLoss", "jepaLoss", "repLoss")(
        lambda name=name: check(name)(1, [0], 0, [0], [[0]], None))

# --- block masks: the check reads its own shape and tensor first ----------------------------------
case("Internal.apply_scalar_at-remainingShape", "BlockMask.Internal.apply_scalar_at",
     "remainingShape")(lambda: check("BlockMask.Internal.apply_scalar_at")(
         [2], [1], 2, 0, [], [-1], [1.0], [0]))
case("Internal.apply_scalar_at-x", "BlockMask.Internal.apply_scalar_at", "x")(
    lambda: check("BlockMask.Internal.apply_scalar_at")([2], [1], 2, 0, [], [2], [1.0], [0]))
case("apply_scalar_at-shape", "BlockMask.apply_scalar_at", "shape")(
    lambda: check("BlockMask.apply_scalar_at")([-2], [1], 2, 0, [1.0, 2.0], [0]))
case("apply_scalar_at-x", "BlockMask.apply_scalar_at", "x")(
    lambda: check("BlockMask.apply_scalar_at")([2], [1], 2, 0, [1.0], [0]))
for name in ("BlockMask.hidden_scalar_eq_zero", "BlockMask.visible_scalar_eq_input"):
    case(f"{name}-shape", name, "shape")(
        lambda name=name: check(name)(None, [1], 2, 0, [1.0, 2.0], [0], 1.0))

# --- vector MAE entries: a row or column that is not a Fin ----------------------------------------
X = [[1.0, 2.0]]  # batch 1, dataDim 2; period 2, offset 1 hides j = 1
for name, j in (("vectorMaeMask_get_eq_if_selected_hidden", 1),
                ("vectorMaeMask_get_eq_if_selected_hidden", 0),
                ("vectorMaeMask_hidden_get_eq_zero", 1),
                ("vectorMaeMask_visible_get_eq_input", 0),
                ("vectorMaeSample_input_hidden_get_eq_zero", 1)):
    case(f"{name}-bi-j{j}", name, "bi")(lambda name=name, j=j: check(name)(1, 2, 2, 1, X, 1, j))
case("vectorMaeMask_visible_get_eq_input-j", "vectorMaeMask_visible_get_eq_input", "j")(
    lambda: check("vectorMaeMask_visible_get_eq_input")(1, 2, 2, 1, X, 0, 2))
case("vectorMaeMask_hidden_get_eq_zero-j", "vectorMaeMask_hidden_get_eq_zero", "j")(
    lambda: check("vectorMaeMask_hidden_get_eq_zero")(1, 2, 2, 1, X, 0, -1))

for name in ("vectorMaeMask_get_eq_if_selected_hidden", "vectorMaeMask_visible_get_eq_input"):
    for k, binder in ((0, "batch"), (1, "dataDim")):
        case(f"{name}-{binder}", name, binder)(lambda name=name, k=k: check(name)(
            *[-1 if i == k else 2 for i in range(4)], X, 0, 0))
    case(f"{name}-x", name, "x")(lambda name=name: check(name)(1, 3, 2, 1, X, 0, 0))
case("vectorMaeSample_target_eq_source-x", "vectorMaeSample_target_eq_source", "x")(
    lambda: check("vectorMaeSample_target_eq_source")(2, 2, 2, 1, X))
case("vectorMaeSample_target_eq_source-batch", "vectorMaeSample_target_eq_source", "batch")(
    lambda: check("vectorMaeSample_target_eq_source")(-1, 2, 2, 1, X))

# --- block MAE row contract: batch, width, prediction and row, read before the mirrors ------------
ROW_THEOREM = "BlockMAE.Proof.row_predictive_objective_eq_mae_loss"


def _row_check(batch: int = 1, width: int = 2, prediction: object = ((0.0, 0.0),),
               row: int = 0) -> object:
    return check(ROW_THEOREM)([2], batch, width, [1], 2, 0, [[1.0, 2.0]], prediction, row,
                              lambda a, b: 0)


case("row-batch", ROW_THEOREM, "batch")(lambda: _row_check(batch=-1))
case("row-width", ROW_THEOREM, "reconstructionWidth")(lambda: _row_check(width=-1))
case("row-prediction", ROW_THEOREM, "prediction")(lambda: _row_check(prediction=((0.0,),)))
case("row-row", ROW_THEOREM, "row")(lambda: _row_check(row=1))


def test_row_check_holds_on_the_valid_call() -> None:
    assert _row_check() is True


@pytest.mark.parametrize(("call", "declaration", "binder"), [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_check_outside_its_hypotheses_names_declaration_and_binder(
        call: Callable[[], object], declaration: str, binder: str) -> None:
    with pytest.raises(LeanContractError) as raised:
        call()
    assert (raised.value.declaration, raised.value.binder.split("[")[0]) == (declaration, binder)


def test_case_ids_are_unique() -> None:
    ids = [c[0] for c in CASES]
    assert len(ids) == len(set(ids))
