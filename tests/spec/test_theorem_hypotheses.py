"""A theorem check decides ``hypotheses → conclusion`` itself.

On Lean values that break one of the theorem's hypotheses (its ``Prop`` binders, ``h : …``) a
check raises ``HypothesisNotMet`` naming the theorem and the hypothesis's Lean binder; it never
returns ``False``, which is kept for a genuine counterexample (see ``spec.registry.TheoremCheck``).

``VIOLATIONS`` holds, per theorem with hypotheses, inputs that are Lean values of every binder's
type but break one hypothesis; ``NO_HYPOTHESES`` lists the theorems that have none (they need no
case). Each case is checked against the check and against the docstring's ``pre:`` lines, which
are what CrossHair reads: the tagged line of the broken hypothesis is false there and every other
``pre:`` line true, so the check and CrossHair agree on which hypothesis fails.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

from maskproof.bridge.check import run_theorem
from maskproof.bridge.theorem_args import Arguments, load_all
from maskproof.spec.errors import LeanContractError
from maskproof.spec.registry import (
    THEOREMS,
    HypothesisNotMet,
    TheoremCheck,
    hypothesis_lines,
    require_hypothesis,
)

F0, F1 = Fraction(0), Fraction(1)
#: ``batch = 1, dataDim = 2``; ``period 2, offset 1`` hides ``j = 1`` only.
X = ((1.0, 2.0),)
#: One 1 × 2 × 2 image; with 1 × 1 patches, ``period 2, offset 0`` hides ``(0, 0)`` and ``(1, 0)``,
#: so ``(row 0, col 0)`` is hidden and ``(row 0, col 1)`` visible.
IMG = ((((1.0, 2.0), (3.0, 4.0)),),)
IMAGE = (1, 1, 2, 2)              # batch c h w: c·h·w = 4
PATCHES = (1, 1, 2, 0)            # patchH patchW period offset
#: A valid ``PredictiveViewContract`` (as in test_theorem_preconditions.VALID), guard last.
CONTRACT = (2, [0, 1], 0, [0, 1], [[0, 1], [1, 0]], [[0, 1]], [[0, 1], [2, 3]])


def zero_loss(_a: float, _b: float) -> int:
    return 0


#: Lean name → [(hypothesis binder, positional arguments)]; every binder of the theorem appears.
VIOLATIONS: dict[str, list[tuple[str, tuple[Any, ...]]]] = {
    # --- Masking, MAE, JEPA ---------------------------------------------------------------------
    "maskedLoss_eq_zero_of_all_zero": [("h", (2, [0, 1], [0, 3])), ("h", (2, [1, 1], [0, 1]))],
    "maeLoss_eq_zero_of_patch_losses_zero": [("h", (2, [1], [0, 1], [0, 0], [[0], [5]]))],
    "jepaLoss_target_ext": [
        # The two losses even agree here (repLoss is 0): the theorem still says nothing.
        ("h", (2, [0], 0, [0, 1], [1, 1], [[0, 0]], [[0], [0]])),
        ("h", (2, [0], 0, [0, 1], [1, 1], [[0, 0]], [[0], [7]])),
    ],
    # --- VICReg ---------------------------------------------------------------------------------
    "varianceTerm_collapsed_positive": [("hγ", (0, 3))],
    "vicregObjective_variance_positive": [("hμ", (0, 2)), ("hv", (3, 0))],
    # --- PredictiveView -------------------------------------------------------------------------
    "predictiveViewObjective_zero_geometry": [("h", (*CONTRACT, 1))],
    "vicreg_guard_variance_only_positive": [("hμ", (0, 1)), ("hv", (1, 0))],
    "graphAlignmentEnergy_eq_zero_of_collapsed": [
        ("hcollapsed", (2, 1, [(0, 1)], [[F0], [F1]])),
        ("hcollapsed", (2, 1, [], [[F0], [F1]])),  # no edge: the energy is 0 all the same
    ],
    "coordinateSpread_eq_zero_of_collapsed": [("hcollapsed", (2, 2, [[F0, F1], [F0, F0]], 0))],
    "realVarianceFloorGuard_zero_spread": [("hgamma", (2, Fraction(-1, 2)))],
    "realVarianceFloorGuard_zero_spread_positive": [("hd", (0, F1)), ("hgamma", (2, F0))],
    "graphSSLObjective_eq_guard_of_collapsed": [("hcollapsed", (2, 1, [(0, 1)], [[F0], [F1]], F1))],
    "graphSSLObjective_collapsed_positive": [
        ("hcollapsed", (2, 1, [(0, 1)], [[F0], [F1]], F1)),
        ("hd", (2, 0, [(0, 1)], [[], []], F1)),
        ("hgamma", (2, 1, [(0, 1)], [[F1], [F1]], F0)),
    ],
    # --- NN.API.ssl -----------------------------------------------------------------------------
    "vectorMaeMask_hidden_get_eq_zero": [("h", (1, 2, 2, 1, X, 0, 0)),
                                         ("h", (1, 2, 0, 0, X, 0, 1))],  # period 0 hides nothing
    "vectorMaeMask_visible_get_eq_input": [("h", (1, 2, 2, 1, X, 0, 1))],
    "vectorMaeSample_input_hidden_get_eq_zero": [("h", (1, 2, 2, 1, X, 0, 0))],
    "imagePatchMask_hidden_pixel_eq_zero": [("hHidden", (*IMAGE, *PATCHES, IMG, 0, 0, 0, 1))],
    "imagePatchMask_visible_pixel_eq_input": [("hVisible", (*IMAGE, *PATCHES, IMG, 0, 0, 0, 0))],
    "imagePatchMaeSample_input_eq_imagePatchMask": [("hRecon", (*IMAGE, 5, *PATCHES, IMG))],
    "imagePatchMaeSample_input_hidden_pixel_eq_zero": [
        ("hRecon", (*IMAGE, 5, *PATCHES, IMG, 0, 0, 0, 0)),
        ("hHidden", (*IMAGE, 4, *PATCHES, IMG, 0, 0, 0, 1)),
    ],
    "imagePatchMaeSample_input_visible_pixel_eq_source": [
        ("hRecon", (*IMAGE, 5, *PATCHES, IMG, 0, 0, 0, 1)),
        ("hVisible", (*IMAGE, 4, *PATCHES, IMG, 0, 0, 0, 0)),
    ],
    "imagePatchMaeSample_target_eq_flattenBatchPrefix": [("hRecon", (*IMAGE, 5, *PATCHES, IMG))],
    "imagePatchMaeSample_target_row_eq_flattened_source_row": [
        ("hRecon", (*IMAGE, 5, *PATCHES, IMG, 0))],
    "imagePatchMaeRow_predictive_objective_eq_maeLoss": [
        ("hRecon", (*IMAGE, 5, *PATCHES, IMG, ((0.0,) * 5,), 0, zero_loss))],
    # --- BlockMask / BlockMAE: shape [2], blocks [some 1], period 2, offset 0 hides [0] ---------
    "BlockMask.hidden_scalar_eq_zero": [
        ("hValue", ([2], [1], 2, 0, [1.0, 2.0], [0], 5.0)),     # x[0] = 1.0, not 5.0
        ("hValue", ([2], [1], 2, 0, [0.0, 2.0], [0], -0.0)),    # -0.0 is not the bits of 0.0
        ("hValue", ([2], [1], 2, 0, [1.0, 2.0], [0], 2.0)),     # the value of another coordinate
        ("hHidden", ([2], [1], 2, 0, [1.0, 2.0], [1], 2.0)),
        ("hHidden", ([2], [None], 2, 0, [1.0, 2.0], [0], 1.0)),  # no blocked axis: never hidden
    ],
    "BlockMask.visible_scalar_eq_input": [
        ("hValue", ([2], [1], 2, 0, [1.0, 2.0], [1], 3.0)),
        ("hValue", ([2], [1], 2, 0, [1.0, float("nan")], [1], 2.0)),
        ("hVisible", ([2], [1], 2, 0, [1.0, 2.0], [0], 1.0)),
    ],
    "BlockMAE.Proof.row_predictive_objective_eq_mae_loss": [
        ("hReconstruction", ([2], 1, 3, [1], 2, 0, ((1.0, 2.0),), ((0.0, 0.0, 0.0),), 0,
                             zero_loss))],
}

#: The theorems without hypotheses: every binder is a variable, so no case is needed.
NO_HYPOTHESES = frozenset({
    # Masking, MAE, JEPA
    "allMask_selected", "emptyMask_not_selected", "complement_selected_iff", "maskedLoss_nil",
    "maskedLoss_cons", "maskedLoss_append", "maskedLoss_reverse", "maeLoss_nil", "maeLoss_append",
    "maeLoss_reverse", "exactReconstruction_identity", "jepaLoss_nil", "jepaLoss_append",
    "jepaLoss_reverse",
    # VICReg
    "varianceFloorPenalty_zero", "varianceTerm_nil", "varianceTerm_cons", "varianceTerm_append",
    "varianceTerm_replicate_zero", "vicregObjective_zero", "diagonalRedundancyPenalty_one",
    "offDiagonalRedundancyPenalty_zero", "redundancyReductionObjective_identity",
    "diagonalRedundancyPenalty_zero_positive",
    "redundancyReductionObjective_collapsed_diag_positive",
    # PredictiveView
    "predictiveViewObjective_decomposes", "predictiveLoss_withGeometryGuard",
    "predictiveViewObjective_withGeometryGuard", "mae_is_predictive_view_loss",
    "mae_is_predictive_view_objective", "jepa_is_predictive_view_loss",
    "jepa_is_predictive_view_objective", "encodedTargetPredictiveViewContract_loss_eq_maskedLoss",
    "predictiveViewObjective_with_vicreg_guard", "predictiveViewObjective_with_barlow_guard",
    "barlow_guard_identity_value_zero", "barlow_guard_collapsed_diag_positive", "sqDist_nonneg",
    "sqDist_self", "graphAlignmentEnergy_nonneg", "predictiveLoss_eq_viewGraphEnergy_from_anchor",
    # NN.API.ssl
    "vectorMaeHiddenMask_selected_iff", "vectorMaeMask_get_eq_if_selected_hidden",
    "vectorMaeSample_input_eq_mask", "vectorMaeSample_target_eq_source",
    "vectorMaeSample_target_row_eq_source_row", "vectorMaeRow_predictive_objective_eq_maeLoss",
    "imagePatchMask_pixel_eq_if_hidden",
    # BlockMask
    "BlockMask.Internal.apply_scalar_at", "BlockMask.apply_scalar_at",
})

CASES = [(name, binder, args) for name, cases in sorted(VIOLATIONS.items())
         for binder, args in cases]
CASE_IDS = [f"{name}-{binder}-{k}" for k, (name, binder, _) in enumerate(CASES)]

PRE = re.compile(r"^\s*pre:\s*(?P<expr>[^#]*?)\s*(?:#.*)?$")


def pre_lines(check: Callable[..., bool]) -> list[str]:
    """Every ``pre:`` condition of the check's docstring, tagged or not, in order."""
    return [m["expr"] for line in (check.__doc__ or "").splitlines() if (m := PRE.match(line))]


def evaluate(check: Callable[..., bool], expr: str, args: tuple[Any, ...]) -> bool:
    """A ``pre:`` condition on ``args``, evaluated as CrossHair does (in the check's module)."""
    bound = inspect.signature(check).bind(*args).arguments
    # One namespace, so that the generator expressions of a condition see the arguments.
    return bool(eval(expr, {**check.__globals__, **bound}))


# --- completeness ---------------------------------------------------------------------------------

def test_every_theorem_is_in_exactly_one_table() -> None:
    assert not set(VIOLATIONS) & NO_HYPOTHESES
    assert set(VIOLATIONS) | NO_HYPOTHESES == set(THEOREMS)


def test_theorems_listed_without_hypotheses_have_none() -> None:
    assert {n for n in NO_HYPOTHESES if THEOREMS[n].hypotheses} == set()


@pytest.mark.parametrize("lean_name", sorted(VIOLATIONS))
def test_every_hypothesis_has_a_violating_case(lean_name: str) -> None:
    covered = {binder for binder, _ in VIOLATIONS[lean_name]}
    assert covered == set(THEOREMS[lean_name].hypotheses), lean_name


def test_hypothesis_counts() -> None:
    # 27 theorems have hypotheses, 36 hypotheses in all; update with the Lean contract.
    assert len(VIOLATIONS) == 27
    assert sum(len(THEOREMS[n].hypotheses) for n in VIOLATIONS) == 36


# --- the verdict ----------------------------------------------------------------------------------

@pytest.mark.parametrize(("lean_name", "binder", "args"), CASES, ids=CASE_IDS)
def test_violated_hypothesis_is_reported_not_false(lean_name: str, binder: str,
                                                   args: tuple[Any, ...]) -> None:
    entry = THEOREMS[lean_name]
    with pytest.raises(HypothesisNotMet) as raised:
        entry.check(*args)
    error = raised.value
    assert (error.declaration, error.binder) == (lean_name, binder)
    assert error.statement == entry.hypotheses[binder][1]
    assert isinstance(error, LeanContractError)
    assert f"binder `{binder}`" in str(error) and "hypothesis not met" in str(error)


@pytest.mark.parametrize(("lean_name", "binder", "args"), CASES, ids=CASE_IDS)
def test_case_breaks_exactly_its_pre_line(lean_name: str, binder: str,
                                          args: tuple[Any, ...]) -> None:
    check = THEOREMS[lean_name].check
    broken = THEOREMS[lean_name].hypotheses[binder][0]
    verdicts = {expr: evaluate(check, expr, args) for expr in pre_lines(check)}
    assert verdicts.pop(broken) is False, f"{lean_name}: `{broken}` holds on the case"
    assert all(verdicts.values()), f"{lean_name}: the case breaks more than {binder}: {verdicts}"


@pytest.mark.parametrize("lean_name", sorted(VIOLATIONS))
def test_pre_lines_hold_where_the_check_holds(lean_name: str) -> None:
    """On the strategy's inputs (which meet the hypotheses) every ``pre:`` line holds too."""
    entry = THEOREMS[lean_name]

    @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
    @given(load_all()[lean_name])
    def run(arguments: Arguments) -> None:
        bound = inspect.signature(entry.check).bind(**arguments).arguments
        args = tuple(bound.values())
        for expr in pre_lines(entry.check):
            assert evaluate(entry.check, expr, args), f"{lean_name}: `{expr}` on {arguments!r}"
        assert entry.check(**arguments) is True

    run()


def test_block_mask_checks_read_value() -> None:
    # The regression that motivated the verdict: `value` was never read, so a wrong value passed.
    hidden = THEOREMS["BlockMask.hidden_scalar_eq_zero"].check
    visible = THEOREMS["BlockMask.visible_scalar_eq_input"].check
    assert hidden([2], [1], 2, 0, [1.0, 2.0], [0], 1.0) is True
    assert visible([2], [1], 2, 0, [1.0, 2.0], [1], 2.0) is True
    for check, coordinate in ((hidden, [0]), (visible, [1])):
        with pytest.raises(HypothesisNotMet, match="hValue"):
            check([2], [1], 2, 0, [1.0, 2.0], coordinate, 9.0)


def test_type_errors_stay_plain_contract_errors() -> None:
    # A non-Lean value is refused before any hypothesis is read, naming its binder.
    with pytest.raises(LeanContractError) as raised:
        THEOREMS["maskedLoss_eq_zero_of_all_zero"].check(2, [2], [0, 0])
    assert not isinstance(raised.value, HypothesisNotMet)
    with pytest.raises(LeanContractError) as raised:
        THEOREMS["BlockMask.hidden_scalar_eq_zero"].check([2], [1], 2, 0, [1.0, 2.0], [0], 1)
    assert not isinstance(raised.value, HypothesisNotMet)
    assert raised.value.binder == "value"


# --- the machinery --------------------------------------------------------------------------------

def test_require_hypothesis_raises_only_when_false() -> None:
    require_hypothesis(True, "someTheorem", "h", "P")
    with pytest.raises(HypothesisNotMet) as raised:
        require_hypothesis(False, "someTheorem", "h", "0 < d", 0)
    assert str(raised.value) == ("someTheorem: binder `h` expects a proof of `0 < d` "
                                 "(hypothesis not met), got 0")


def test_hypothesis_lines_reads_both_tag_forms() -> None:
    doc = """Statement.

    pre: n >= 0
    pre: d > 0  # hd : 0 < d
    pre: all(f[i] == 0 for i in idxs)
        # h : ∀ i ∈ idxs, f i = 0
    pre: n < 5
    post: __return__
    """
    assert hypothesis_lines(doc) == {"hd": ("d > 0", "0 < d"),
                                     "h": ("all(f[i] == 0 for i in idxs)", "∀ i ∈ idxs, f i = 0")}
    with pytest.raises(KeyError, match="stated twice"):
        hypothesis_lines("pre: a  # h : A\npre: b  # h : B")


def test_maskproof_check_reports_an_unmet_hypothesis_as_a_failure() -> None:
    # A strategy that drew an input outside the hypotheses is a failure of `maskproof check`, and
    # its report names the hypothesis.
    original = THEOREMS["varianceTerm_collapsed_positive"]

    def refuses(gamma: int, d: int) -> bool:
        raise HypothesisNotMet("varianceTerm_collapsed_positive", "hγ", "0 < gamma", gamma)

    entry = TheoremCheck(original.declaration, refuses, "refuses", None)
    result = run_theorem(entry, examples=3, seed_value=0)
    assert result.status == "fails"
    assert result.failure is not None and "hγ" in result.failure
