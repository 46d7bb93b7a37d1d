"""The theorem strategies reach the degenerate inputs the issue names, and the profiles are sized.

For each degenerate case (``period = 0``, ``patchH = 0``, ``offset ≥ period``, a width not divisible
by the patch, empty and duplicated index lists, ``n = 0``, NaN / +0.0 / -0.0 pixels, Lean's
``some 0`` block policy, out-of-range coordinates and rank mismatches), Hypothesis's ``find``
a search draws from the registered strategy of a theorem until it meets an input of that kind (the
generate phase only: no shrinking, which would cost seconds per case for nothing); the theorem check
must hold on what it finds. A strategy narrowed by mistake fails here instead of silently skipping
the corner.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings

from maskproof import spec
from maskproof.bridge.theorem_args import Arguments, load_all

ARGUMENTS = load_all()
SEARCH = settings(max_examples=3000, database=None, derandomize=True, phases=[Phase.generate],
                  deadline=None, suppress_health_check=list(HealthCheck))


class Found(Exception):
    """Stops the search at the first matching draw."""


def first_match(theorem: str, predicate: Callable[[Arguments], bool]) -> Arguments:
    """The first draw of ``theorem``'s strategy meeting ``predicate`` (fixed seed)."""
    found: list[Arguments] = []

    @SEARCH
    @given(ARGUMENTS[theorem])
    def search(arguments: Arguments) -> None:
        if predicate(arguments):
            found.append(arguments)
            raise Found

    try:
        search()
    except Found:
        return found[0]
    raise AssertionError(f"the strategy of {theorem} never reached the case in "
                         f"{SEARCH.max_examples} draws")


def scalars(x: Any) -> Iterator[float]:
    """Every float in a nested tuple tensor."""
    if isinstance(x, float):
        yield x
    elif isinstance(x, (tuple, list)):
        for item in x:
            yield from scalars(item)


def has_bits(x: Any, wanted: float) -> bool:
    if math.isnan(wanted):
        return any(math.isnan(v) for v in scalars(x))
    return any(v == wanted and math.copysign(1.0, v) == math.copysign(1.0, wanted)
               for v in scalars(x))


def duplicated(idxs: list[int]) -> bool:
    return len(set(idxs)) < len(idxs)


#: (case id, theorem whose strategy must reach it, predicate on the drawn arguments).
REACH: list[tuple[str, str, Callable[[Arguments], bool]]] = [
    ("period=0 image", "imagePatchMask_pixel_eq_if_hidden", lambda a: a["period"] == 0),
    ("period=0 vector", "vectorMaeMask_get_eq_if_selected_hidden", lambda a: a["period"] == 0),
    ("period=0 block", "BlockMask.apply_scalar_at", lambda a: a["period"] == 0),
    ("patchH=0", "imagePatchMask_pixel_eq_if_hidden", lambda a: a["patch_h"] == 0),
    ("patchW=0", "imagePatchMaeSample_input_eq_imagePatchMask", lambda a: a["patch_w"] == 0),
    ("patchH=0 visible", "imagePatchMask_visible_pixel_eq_input", lambda a: a["patch_h"] == 0),
    ("offset>=period image hidden", "imagePatchMask_hidden_pixel_eq_zero",
     lambda a: a["offset"] >= a["period"] > 0),
    ("offset>=period vector visible", "vectorMaeMask_visible_get_eq_input",
     lambda a: a["offset"] >= a["period"] > 0),
    ("offset>=period block", "BlockMask.hidden_scalar_eq_zero",
     lambda a: a["offset"] >= a["period"] > 0),
    ("width not divisible", "imagePatchMask_pixel_eq_if_hidden",
     lambda a: 0 < a["patch_w"] and a["w"] % a["patch_w"] != 0),
    ("height not divisible", "imagePatchMask_hidden_pixel_eq_zero",
     lambda a: 0 < a["patch_h"] and a["h"] % a["patch_h"] != 0),
    ("patch wider than image", "imagePatchMask_pixel_eq_if_hidden",
     lambda a: a["patch_w"] > a["w"]),
    ("dataDim not divisible by period", "vectorMaeMask_get_eq_if_selected_hidden",
     lambda a: a["period"] > 0 and a["data_dim"] % a["period"] != 0),
    ("empty idxs", "maskedLoss_reverse", lambda a: a["idxs"] == []),
    ("empty idxs, n>0", "maeLoss_reverse", lambda a: a["idxs"] == [] and a["n"] > 0),
    ("duplicated idxs", "maskedLoss_reverse", lambda a: duplicated(a["idxs"])),
    ("duplicated idxs jepa", "jepaLoss_target_ext", lambda a: duplicated(a["idxs"])),
    ("duplicated across append", "maskedLoss_append", lambda a: bool(set(a["xs"]) & set(a["ys"]))),
    ("n=0", "maskedLoss_append", lambda a: a["n"] == 0),
    ("n=0 contract", "predictiveViewObjective_decomposes", lambda a: a["n"] == 0),
    ("empty variance list", "varianceTerm_append", lambda a: a["xs"] == [] or a["ys"] == []),
    ("d=0 replicate", "varianceTerm_replicate_zero", lambda a: a["d"] == 0),
    ("nan pixel visible", "vectorMaeMask_visible_get_eq_input",
     lambda a: math.isnan(a["x"][a["bi"]][a["j"]])),
    ("-0.0 pixel visible", "imagePatchMask_visible_pixel_eq_input",
     lambda a: has_bits(a["x"][a["bi"]][a["ch"]][a["row"]][a["col"]], -0.0)),
    ("+0.0 pixel", "imagePatchMask_pixel_eq_if_hidden", lambda a: has_bits(a["x"], 0.0)),
    ("nan pixel hidden", "imagePatchMask_hidden_pixel_eq_zero",
     lambda a: math.isnan(a["x"][a["bi"]][a["ch"]][a["row"]][a["col"]])),
    ("-0.0 pixel hidden", "vectorMaeMask_hidden_get_eq_zero",
     lambda a: has_bits(a["x"][a["bi"]][a["j"]], -0.0)),
    ("infinite pixel", "BlockMask.apply_scalar_at", lambda a: has_bits(a["x"], math.inf)),
    ("nan block row objective", "BlockMAE.Proof.row_predictive_objective_eq_mae_loss",
     lambda a: has_bits(a["x"], math.nan) and a["reconstruction_width"] > 0),
    ("some 0 policy", "BlockMask.apply_scalar_at", lambda a: 0 in a["blocks"]),
    ("no blocked axis", "BlockMask.visible_scalar_eq_input",
     lambda a: len(a["shape"]) > 0 and all(p is None for p in a["blocks"])),
    ("out-of-range coordinate", "BlockMask.apply_scalar_at",
     lambda a: any(c >= e for c, e in zip(a["coordinate"], a["shape"], strict=True))),
    ("rank mismatch", "BlockMask.Internal.apply_scalar_at",
     lambda a: len(a["blocks"]) != len(a["shape"])),
    ("zero extent", "BlockMask.apply_scalar_at", lambda a: 0 in a["shape"]),
    ("batch=0", "vectorMaeSample_input_eq_mask", lambda a: a["batch"] == 0),
    ("c=0", "imagePatchMaeSample_target_eq_flattenBatchPrefix", lambda a: a["c"] == 0),
    ("reconDim=0", "imagePatchMaeRow_predictive_objective_eq_maeLoss",
     lambda a: a["recon_dim"] == 0),
    ("reconDim=c*h*w>0", "imagePatchMaeSample_target_eq_flattenBatchPrefix",
     lambda a: a["recon_dim"] == a["c"] * a["h"] * a["w"] > 0),
    ("width=size block", "BlockMAE.Proof.row_predictive_objective_eq_mae_loss",
     lambda a: a["reconstruction_width"] > 0 and a["prediction"] and a["reconstruction_width"]
     == math.prod(a["data_shape"])),
    ("zero patch loss", "maeLoss_eq_zero_of_patch_losses_zero", lambda a: len(a["idxs"]) > 2),
]


@pytest.mark.parametrize(("theorem", "predicate"), [case[1:] for case in REACH],
                         ids=[case[0] for case in REACH])
def test_strategy_reaches_the_degenerate_case(theorem: str,
                                              predicate: Callable[[Arguments], bool]) -> None:
    example = first_match(theorem, predicate)
    assert predicate(example)
    assert spec.THEOREMS[theorem].check(**example) is True


def test_ci_and_thorough_profiles_are_sized_as_the_issue_asks() -> None:
    assert settings.get_profile("ci").max_examples >= 300
    assert settings.get_profile("thorough").max_examples >= 5000
