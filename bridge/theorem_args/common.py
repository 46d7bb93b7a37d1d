"""Building blocks shared by the theorem-argument strategies."""

from __future__ import annotations

from fractions import Fraction

from hypothesis import strategies as st

#: Sizes stay small so every example is cheap, and 0 is always reachable.
MAX_SIZE = 8

sizes = st.integers(min_value=0, max_value=MAX_SIZE)
naturals = st.integers(min_value=0, max_value=10**6)
small_naturals = st.integers(min_value=0, max_value=12)
#: Periods and offsets: 0 and offsets past the period must be reached (traps 2 and 3).
periods = st.integers(min_value=0, max_value=6)
offsets = st.integers(min_value=0, max_value=20)

#: Pixels: every special binary64 value the masks must copy or zero bit for bit.
special_floats = st.sampled_from([0.0, -0.0, float("nan"), float("inf"), float("-inf"),
                                  5e-324, -1.5, 1.0])
pixels = st.one_of(special_floats, st.floats(allow_nan=True, allow_infinity=True, width=64))

fractions = st.fractions(max_denominator=1000).map(Fraction)


def fin_lists(n: int, max_size: int = 2 * MAX_SIZE) -> st.SearchStrategy[list[int]]:
    """Lists of ``Fin n`` with duplicates allowed (empty when ``n = 0``)."""
    if n == 0:
        return st.just([])
    return st.lists(st.integers(min_value=0, max_value=n - 1), max_size=max_size)


def nat_tables(n: int) -> st.SearchStrategy[list[int]]:
    """A ``Fin n → Nat`` function as a table, zeros frequent."""
    return st.lists(st.one_of(st.just(0), small_naturals, naturals), min_size=n, max_size=n)
