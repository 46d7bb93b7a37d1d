"""Lean's Nat arithmetic and Float conversions as spec.lean implements them (traps 2, 3 and 6)."""

from __future__ import annotations

import math
import re
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from maskproof.spec.block_mask import require_coordinates, require_policies, require_rank
from maskproof.spec.errors import LeanContractError
from maskproof.spec.lean import (
    exact_of_float,
    fin_range,
    float_bits,
    is_sequence,
    nat_div,
    nat_mod,
    nat_sub,
    require_bool,
    require_exact,
    require_fin_list,
    require_float,
    require_function,
    require_length,
    require_nat,
)
from maskproof.spec.tensor import require_shape
from maskproof.spec.vicreg import require_nat_list

nats = st.integers(min_value=0, max_value=10**6)


@given(nats, nats)
def test_nat_sub_truncates_at_zero(a: int, b: int) -> None:
    assert nat_sub(a, b) == max(0, a - b)
    assert nat_sub(a, b) + min(a, b) == a  # Lean: (a - b) + min a b = a


@given(nats, nats)
def test_nat_div_and_mod_follow_lean_including_zero_divisor(a: int, b: int) -> None:
    if b == 0:
        assert (nat_div(a, 0), nat_mod(a, 0)) == (0, a)
    else:
        assert (nat_div(a, b), nat_mod(a, b)) == divmod(a, b)
    assert nat_div(a, b) * b + nat_mod(a, b) == a  # Lean's Nat.div_add_mod, b = 0 included


def test_edge_values() -> None:
    assert (nat_sub(3, 5), nat_sub(5, 3), nat_sub(0, 0)) == (0, 2, 0)
    assert (nat_div(7, 0), nat_mod(7, 0), nat_div(0, 0), nat_mod(0, 0)) == (0, 7, 0, 0)
    assert (nat_div(7, 2), nat_mod(7, 2), nat_mod(2, 7)) == (3, 1, 2)
    assert fin_range(0) == [] and fin_range(3) == [0, 1, 2]


def test_float_bits_is_the_binary64_pattern() -> None:
    assert float_bits(1.0) == 0x3FF0_0000_0000_0000
    assert float_bits(-2.0) == 0xC000_0000_0000_0000
    assert float_bits(5e-324) == 1
    assert float_bits(math.inf) == 0x7FF0_0000_0000_0000


def test_exact_of_float_is_exact_and_refuses_non_finite() -> None:
    assert exact_of_float(0.1) == Fraction(3602879701896397, 36028797018963968)
    assert exact_of_float(-0.0) == 0 and exact_of_float(5e-324) == Fraction(1, 2**1074)
    for bad in (math.nan, math.inf, -math.inf):
        with pytest.raises(LeanContractError) as raised:
            exact_of_float(bad)
        expected = f"exact_of_float: binder `x` expects a finite float, got {bad!r}"
        assert str(raised.value) == expected


@pytest.mark.parametrize(("call", "expected"), [
    (lambda: require_float(1, "d", "b"), "a Float"),
    (lambda: require_float(True, "d", "b"), "a Float"),
    (lambda: require_exact(0.5, "d", "b"), "an exact int or Fraction"),
    (lambda: require_exact(True, "d", "b"), "an exact int or Fraction"),
    (lambda: require_bool(0, "d", "b"), "a Bool"),
    (lambda: require_fin_list(b"\x00", 2, "d", "b"), "a List (Fin 2)"),
    (lambda: require_fin_list({0}, 2, "d", "b"), "a List (Fin 2)"),
    (lambda: require_fin_list([True], 2, "d", "b"), "a Fin 2"),
    (lambda: require_length(b"ab", 2, "d", "b"), "a table of length 2"),
    (lambda: require_length(iter([1, 2]), 2, "d", "b"), "a table of length 2"),
])
def test_primitive_guards_refuse_non_lean_values(call: object, expected: str) -> None:
    assert callable(call)
    with pytest.raises(LeanContractError, match=re.escape(f"d: binder `b` expects {expected}")):
        call()


def test_primitive_guards_pass_lean_values_through_unchanged() -> None:
    assert require_float(-0.0, "d", "b") is not None and math.copysign(1.0, require_float(
        -0.0, "d", "b")) == -1.0
    assert require_exact(Fraction(1, 3), "d", "b") == Fraction(1, 3)
    assert require_exact(-4, "d", "b") == -4  # the monoid ℤ is accepted, not only Nat
    assert require_bool(False, "d", "b") is False
    assert require_fin_list((1, 0, 1), 2, "d", "b") == [1, 0, 1]
    assert require_length((5, 6), 2, "d", "b") == (5, 6)
    assert require_function(len, "d", "b") is None


def test_is_sequence_means_list_or_tuple_but_not_text() -> None:
    assert is_sequence([]) and is_sequence((1, 2)) and is_sequence(range(3))
    assert not is_sequence("ab") and not is_sequence(b"ab") and not is_sequence(iter([1]))
    assert not is_sequence(None) and not is_sequence(3)


@pytest.mark.parametrize(("call", "message"), [
    (lambda: require_nat(-1, "d", "b"), "a Nat (an int >= 0), got -1"),
    (lambda: require_bool(0, "d", "b"), "a Bool, got 0"),
    (lambda: require_float(2, "d", "b"), "a Float (a Python float), got 2"),
    (lambda: require_exact(0.5, "d", "b"), "an exact int or Fraction, got 0.5"),
    (lambda: require_length([1], 2, "d", "b"), "a table of length 2, got [1]"),
    (lambda: require_function([1], "d", "b"), "a function (a callable), got [1]"),
    (lambda: require_fin_list("ab", 2, "d", "b"), "a List (Fin 2), got 'ab'"),
    (lambda: require_nat_list("ab", "d", "b"), "a List Nat, got 'ab'"),
    (lambda: require_nat_list([0, -3], "d", "b"), "a Nat (an int >= 0), got -3"),
    (lambda: require_coordinates(7, "d", "b"), "a List Nat, got 7"),
    (lambda: require_policies("x", "d", "b"), "a List (Option Nat), got 'x'"),
    (lambda: require_policies([None, -2], "d", "b"), "a Nat (an int >= 0), got -2"),
    (lambda: require_shape(3, "d", "b"), "a Shape (a sequence of Nats), got 3"),
    (lambda: require_rank((1,), 2, "d", "b"), "a tensor of shape [2] (the rank of shape), got [1]"),
])
def test_guard_messages_name_expectation_and_value(call: object, message: str) -> None:
    assert callable(call)
    with pytest.raises(LeanContractError) as raised:
        call()
    assert str(raised.value) == f"d: binder `b` expects {message}"
