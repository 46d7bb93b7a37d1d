"""Lean function arguments of two binders, and Lean's propositional equality on patch values.

``spec.masking.fin_apply`` covers ``Fin n → α``. The objectives also take curried functions: an
edge loss ``Fin n → Fin n → Nat`` (a callable of two arguments or an ``n × n`` table) and losses
over arbitrary patch types (``Patch → Pred → Nat``). Over a finite patch type ``Fin p`` such a loss
is a nested table, which is how the theorem checks hand it to CrossHair; ``table_function2`` turns
that table into the callable the generic mirrors expect, checking every lookup.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeAlias, TypeVar

from maskproof.spec.errors import LeanContractError
from maskproof.spec.lean import float_eq, is_sequence, require_fin, require_length

T = TypeVar("T")

#: A Lean function ``Fin n → Fin n → α`` given as a callable of two arguments or a nested table.
FinFunction2: TypeAlias = Callable[[int, int], T] | Sequence[Sequence[T]]


def require_fin_function(f: Sequence[T] | Callable[[int], T], n: int, declaration: str,
                         binder: str) -> None:
    """Refuse a ``Fin n → α`` table whose length is not ``n`` (callables: checked when applied)."""
    if not callable(f):
        require_length(f, n, declaration, binder)


def fin_apply2(f: FinFunction2[T], n: int, a: int, b: int, declaration: str, binder: str) -> T:
    """Apply a ``Fin n → Fin n → α`` argument to two checked ``Fin n`` values."""
    require_fin(a, n, declaration, "a")
    require_fin(b, n, declaration, "b")
    if callable(f):
        return f(a, b)
    row = require_length(f, n, declaration, binder)[a]
    return require_length(row, n, declaration, binder)[b]


def table_function2(table: Sequence[Sequence[T]], declaration: str,
                    binder: str) -> Callable[[int, int], T]:
    """A function ``Fin p → Fin q → α`` read from a ``p × q`` table, every lookup checked.

    The rows may have any common length; a row index or column index outside the table is not a
    value of the finite type the table encodes and raises ``LeanContractError``, and so does a
    table that is not a sequence of rows (checked here, since an empty list never reads it).
    """
    if not is_sequence(table) or not all(is_sequence(row) for row in table):
        raise LeanContractError(declaration, binder, "a table (a sequence of row sequences)", table)

    def lookup(a: int, b: int) -> T:
        row = table[require_fin(a, len(table), declaration, binder)]
        return row[require_fin(b, len(row), declaration, binder)]
    return lookup


def lean_eq(x: object, y: object) -> bool:
    """Lean's propositional ``x = y`` on spec values: floats by bit pattern, sequences entrywise.

    Python's ``==`` says ``nan != nan`` and ``0.0 == -0.0``; a theorem's ``=`` means the opposite
    on both (LEAN_SEMANTICS.md, trap 4). Every other value compares with ``==``.
    """
    if isinstance(x, float) and isinstance(y, float):
        return float_eq(x, y)
    if isinstance(x, (tuple, list)) and isinstance(y, (tuple, list)):
        return len(x) == len(y) and all(lean_eq(a, b) for a, b in zip(x, y, strict=True))
    return x == y


def is_nat_matrix(table: Sequence[Sequence[int]]) -> bool:
    """Whether ``table`` is rectangular with natural entries (a ``Fin p → Fin q → Nat`` table)."""
    return (all(len(row) == len(table[0]) for row in table)
            and all(v >= 0 for row in table for v in row))


def columns(table: Sequence[Sequence[T]]) -> int:
    """The row length of a rectangular table (0 for a table without rows)."""
    return len(table[0]) if table else 0


def is_fin_table(values: Sequence[int], length: int, bound: int) -> bool:
    """Whether ``values`` is a ``Fin length → Fin bound`` table."""
    return len(values) == length and all(0 <= v < bound for v in values)
