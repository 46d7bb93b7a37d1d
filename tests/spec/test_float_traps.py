"""Traps 4 and 5 of LEAN_SEMANTICS.md, shown to matter on concrete inputs.

Trap 4: a theorem's ``=`` on ``Float`` is equality of values, which the spec decides by bit
pattern (``spec.lean.float_eq``). IEEE ``==`` gives the wrong verdict both ways: it calls a correct
mask wrong when a visible pixel is NaN, and it calls a wrong mask right when a hidden pixel comes
out as ``-0.0`` (the ``x * 0`` masking bug). The tests swap the comparison inside the registered
checks and watch the verdict flip.

Trap 5: ``maskedLoss_reverse`` holds over Nat and any exact commutative monoid, but a float sum in
reversed order can differ in its last bits. A concrete counterexample is pinned, Hypothesis finds
others, and the exact mirror has none on the same numbers.
"""

from __future__ import annotations

import math
import struct
from fractions import Fraction
from functools import reduce

import pytest
from hypothesis import HealthCheck, find, given, settings
from hypothesis import strategies as st

import maskproof.spec.theorems.block_mask as block_mask_checks
import maskproof.spec.theorems.ssl as ssl_checks
from maskproof.spec import ssl
from maskproof.spec.errors import LeanContractError
from maskproof.spec.finite_functions import lean_eq
from maskproof.spec.lean import float_bits, float_eq
from maskproof.spec.masking import masked_loss
from maskproof.spec.registry import HypothesisNotMet
from maskproof.spec.tensor import option_float_eq, tensor_eq
from maskproof.spec.theorems.masking import maskedLoss_reverse

NAN = float("nan")


def ieee_eq(x: float, y: float) -> bool:
    """What a naive port writes: IEEE comparison."""
    return x == y


# --- trap 4 ----------------------------------------------------------------------------------


def test_bit_equality_differs_from_ieee_on_nan_and_signed_zero() -> None:
    assert float_eq(NAN, NAN) and not ieee_eq(NAN, NAN)
    assert not float_eq(0.0, -0.0) and ieee_eq(0.0, -0.0)
    assert float_bits(-0.0) == 1 << 63 and float_bits(0.0) == 0
    assert float_eq(1.5, 1.5) and not float_eq(1.5, 1.5000000000000002)
    # A NaN with another payload is still NaN = NaN (no theorem is about payloads).
    other_nan = struct_nan(0x7FF8_0000_0000_0001)
    assert math.isnan(other_nan) and float_eq(NAN, other_nan)
    assert not float_eq(NAN, 0.0) and not float_eq(math.inf, -math.inf)


def struct_nan(bits: int) -> float:
    """The binary64 value with the given bit pattern."""
    value: float = struct.unpack("<d", bits.to_bytes(8, "little"))[0]
    return value


def test_structural_equalities_use_bits_too() -> None:
    assert lean_eq((NAN, 1.0), [NAN, 1.0]) and not lean_eq((0.0,), (-0.0,))
    assert tensor_eq(((NAN,),), ((NAN,),)) and not tensor_eq(((0.0,),), ((-0.0,),))
    assert option_float_eq(NAN, NAN) and not option_float_eq(-0.0, 0.0)
    assert option_float_eq(None, None) and not option_float_eq(None, 0.0)


VISIBLE_NAN = {"batch": 1, "data_dim": 3, "period": 2, "offset": 0, "x": ((1.0, NAN, 2.0),),
               "bi": 0, "j": 1}
HIDDEN_NEGATIVE = {"batch": 1, "data_dim": 3, "period": 2, "offset": 0, "x": ((-3.0, 1.0, 2.0),),
                   "bi": 0, "j": 0}


def test_ieee_equality_rejects_a_correct_mask_on_a_nan_pixel(
        monkeypatch: pytest.MonkeyPatch) -> None:
    check = ssl_checks.vectorMaeMask_visible_get_eq_input
    assert check(**VISIBLE_NAN) is True  # the mask copies the NaN: the theorem holds
    monkeypatch.setattr(ssl_checks, "float_eq", ieee_eq)
    assert check(**VISIBLE_NAN) is False  # IEEE == would report a false counterexample


def test_ieee_equality_accepts_a_mask_that_writes_negative_zero(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # The classic bug: mask by multiplying, `x * 0.0`, which is -0.0 for negative x (NaN for NaN).
    check = ssl_checks.vectorMaeMask_hidden_get_eq_zero
    assert check(**HIDDEN_NEGATIVE) is True
    monkeypatch.setattr(ssl, "HIDDEN_VALUE", -0.0)
    assert check(**HIDDEN_NEGATIVE) is False  # bit comparison catches the bug
    monkeypatch.setattr(ssl_checks, "float_eq", ieee_eq)
    assert check(**HIDDEN_NEGATIVE) is True  # IEEE == would certify the buggy mask


def test_block_mask_theorem_verdict_depends_on_bit_equality(
        monkeypatch: pytest.MonkeyPatch) -> None:
    args = {"shape": (2,), "blocks": [1], "period": 2, "offset": 0, "x": (NAN, 5.0),
            "coordinate": [1], "value": 5.0}
    hidden_args = {**args, "coordinate": [0], "value": NAN}
    assert block_mask_checks.BlockMask_apply_scalar_at(**{k: v for k, v in hidden_args.items()
                                                          if k != "value"}) is True
    nan_visible = {**args, "x": (1.0, NAN), "value": NAN}
    assert block_mask_checks.BlockMask_visible_scalar_eq_input(**nan_visible) is True
    monkeypatch.setattr(block_mask_checks, "option_float_eq",
                        lambda x, y: x == y)  # IEEE on the Option's payload
    # NaN ≠ NaN under IEEE: the valid input would look outside `hValue : getSpec x c = some value`.
    with pytest.raises(HypothesisNotMet, match="hValue"):
        block_mask_checks.BlockMask_visible_scalar_eq_input(**nan_visible)


# --- trap 5 ----------------------------------------------------------------------------------


def float_masked_loss(idxs: list[int], losses: list[float]) -> float:
    """``maskedLoss`` computed the way a float port would: Lean's right fold, in binary64."""
    return reduce(lambda acc, i: losses[i] + acc, reversed(idxs), 0.0)


#: 0.1 + (0.2 + 0.3) = 0.6, but 0.3 + (0.2 + 0.1) = 0.6000000000000001.
COUNTEREXAMPLE_LOSSES = [0.1, 0.2, 0.3]
COUNTEREXAMPLE_IDXS = [0, 1, 2]


def test_float_masked_loss_reverse_has_a_counterexample() -> None:
    forward = float_masked_loss(COUNTEREXAMPLE_IDXS, COUNTEREXAMPLE_LOSSES)
    backward = float_masked_loss(COUNTEREXAMPLE_IDXS[::-1], COUNTEREXAMPLE_LOSSES)
    assert (forward, backward) == (0.6, 0.6000000000000001)
    assert not float_eq(forward, backward)


def test_exact_mirror_has_no_counterexample_on_the_same_numbers() -> None:
    exact = [Fraction(v) for v in COUNTEREXAMPLE_LOSSES]  # the binary64 values, exactly
    assert maskedLoss_reverse(3, COUNTEREXAMPLE_IDXS, exact) is True
    assert masked_loss(3, COUNTEREXAMPLE_IDXS, exact) == sum(exact)


def test_exact_mirror_refuses_float_losses() -> None:
    with pytest.raises(LeanContractError, match="perPatchLoss"):
        masked_loss(3, COUNTEREXAMPLE_IDXS, COUNTEREXAMPLE_LOSSES)


finite_losses = st.lists(st.floats(min_value=-1e6, max_value=1e6, allow_nan=False), min_size=1,
                         max_size=6)


def test_hypothesis_finds_float_counterexamples_to_reverse() -> None:
    def reverse_fails(losses: list[float]) -> bool:
        idxs = list(range(len(losses)))
        return not float_eq(float_masked_loss(idxs, losses), float_masked_loss(idxs[::-1], losses))

    found = find(finite_losses, reverse_fails,
                 settings=settings(max_examples=5000, database=None, derandomize=True,
                                   suppress_health_check=list(HealthCheck)))
    idxs = list(range(len(found)))
    assert float_masked_loss(idxs, found) != float_masked_loss(idxs[::-1], found)
    exact = [Fraction(v) for v in found]
    assert maskedLoss_reverse(len(found), idxs, exact) is True


@given(finite_losses, st.data())
def test_exact_reverse_holds_on_every_float_input(losses: list[float], data: st.DataObject) -> None:
    n = len(losses)
    idxs = data.draw(st.lists(st.integers(0, n - 1), max_size=10))
    assert maskedLoss_reverse(n, idxs, [Fraction(v) for v in losses]) is True
