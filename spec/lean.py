"""Lean's primitive arithmetic and the boundary checks that keep Python values Lean values.

Lean's ``Nat`` differs from Python's ``int`` in three ways that matter here (LEAN_SEMANTICS.md,
traps 1-3): subtraction truncates at zero, ``a / 0 = 0`` and ``a % 0 = a``. ``Fin n`` is a bounded
natural, not a Python index, so ``-1`` must be rejected rather than wrapped. Floats compare by bit
pattern when a theorem states equality (trap 4).
"""

from __future__ import annotations

import math
import struct
from collections.abc import Sequence
from fractions import Fraction
from typing import TypeGuard, TypeVar

from maskproof.spec.errors import LeanContractError

T = TypeVar("T")

#: Exact scalars the spec's sums accept: ``int`` (Nat, or the monoid ℤ) and ``Fraction``.
Exact = int | Fraction


def is_sequence(value: object) -> TypeGuard[Sequence[object]]:
    """Whether ``value`` can stand for a Lean list or table: a sequence, but not text."""
    return isinstance(value, Sequence) and not isinstance(value, (str, bytes))


def require_nat(value: object, declaration: str, binder: str) -> int:
    """Return ``value`` if it is a Lean ``Nat`` (a non-negative ``int``, not a ``bool``)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise LeanContractError(declaration, binder, "a Nat (an int >= 0)", value)
    return value


def require_fin(value: object, n: int, declaration: str, binder: str) -> int:
    """Return ``value`` if it is a ``Fin n``: an ``int`` with ``0 <= value < n``."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < n:
        raise LeanContractError(declaration, binder, f"a Fin {n} (an int in [0, {n}))", value)
    return value


def require_fin_list(values: Sequence[object], n: int, declaration: str, binder: str) -> list[int]:
    """Return ``values`` as a list if every element is a ``Fin n`` (a ``List (Fin n)``)."""
    if not is_sequence(values):
        raise LeanContractError(declaration, binder, f"a List (Fin {n})", values)
    return [require_fin(v, n, declaration, binder) for v in values]


def require_bool(value: object, declaration: str, binder: str) -> bool:
    """Return ``value`` if it is a Lean ``Bool``."""
    if not isinstance(value, bool):
        raise LeanContractError(declaration, binder, "a Bool", value)
    return value


def require_exact(value: object, declaration: str, binder: str) -> Exact:
    """Return ``value`` if it lies in an exact commutative monoid the spec sums over.

    ``float`` is refused: IEEE addition is not associative, so sums over it do not satisfy
    ``maskedLoss_append`` or ``maskedLoss_reverse`` (trap 5).
    """
    if isinstance(value, bool) or not isinstance(value, (int, Fraction)):
        raise LeanContractError(declaration, binder, "an exact int or Fraction", value)
    return value


def require_float(value: object, declaration: str, binder: str) -> float:
    """Return ``value`` if it is a Lean ``Float`` (an IEEE binary64 Python ``float``)."""
    if not isinstance(value, float):
        raise LeanContractError(declaration, binder, "a Float (a Python float)", value)
    return value


def require_length(values: Sequence[T], n: int, declaration: str, binder: str) -> Sequence[T]:
    """Return ``values`` if it is a table of exactly ``n`` entries (a ``Fin n → α`` function)."""
    if not is_sequence(values) or len(values) != n:
        raise LeanContractError(declaration, binder, f"a table of length {n}", values)
    return values


def require_function(f: object, declaration: str, binder: str) -> None:
    """Refuse a function argument (``patchLoss``, ``predict``, ...) that is not callable.

    Checked on entry, not on first use: over an empty index list the function is never applied,
    and a non-function must not be accepted there either.
    """
    if not callable(f):
        raise LeanContractError(declaration, binder, "a function (a callable)", f)


def nat_sub(a: int, b: int) -> int:
    """Lean ``a - b`` on ``Nat``: truncated at zero."""
    return a - b if a >= b else 0


def nat_div(a: int, b: int) -> int:
    """Lean ``a / b`` on ``Nat``: floor division with ``a / 0 = 0``."""
    return a // b if b != 0 else 0


def nat_mod(a: int, b: int) -> int:
    """Lean ``a % b`` on ``Nat``: ``a % 0 = a``."""
    return a % b if b != 0 else a


def fin_range(n: int) -> list[int]:
    """Lean ``List.finRange n``: ``[0, 1, …, n - 1]``."""
    return list(range(n))


def float_bits(x: float) -> int:
    """The IEEE binary64 bit pattern of ``x`` (Lean ``Float.toBits``)."""
    return int.from_bytes(struct.pack("<d", x), "little")


def float_eq(x: float, y: float) -> bool:
    """Propositional equality of two Lean ``Float`` values, as a theorem's ``=`` means it.

    Bit patterns are compared, so ``0.0`` and ``-0.0`` differ. Any two NaNs are treated as equal:
    Lean's ``Float`` has one NaN up to the payloads that hardware may propagate, and no theorem here
    is about NaN payloads. IEEE ``==`` would instead say ``NaN != NaN`` and ``0.0 == -0.0``.
    """
    if math.isnan(x) and math.isnan(y):
        return True
    return float_bits(x) == float_bits(y)


def exact_of_float(x: float) -> Fraction:
    """The exact rational value of a finite binary64 ``x`` (trap 6: float32 widens exactly)."""
    if not math.isfinite(x):
        raise LeanContractError("exact_of_float", "x", "a finite float", x)
    return Fraction(x)
