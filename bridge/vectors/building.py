"""Shared pieces of the per-module case tables: value draws, finite-table functions, evaluators."""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from maskproof.bridge.vectors.encoding import (
    Json,
    VectorFormatError,
    bits_to_float,
    decode,
    encode,
    encode_f64,
)
from maskproof.bridge.vectors.schema import CaseInput, VectorDef
from maskproof.spec.finite_functions import table_function2
from maskproof.spec.lean import float_bits

#: Turns one decoded argument into what the mirror takes (a table into a callable, say).
Converter = Callable[[object], object]

#: Every binary64 value a mask must copy or zero bit for bit, NaN with a payload included.
SPECIAL_FLOATS: tuple[float, ...] = (
    0.0, -0.0, float("inf"), float("-inf"), float("nan"), bits_to_float(0x7FF8000000000ABC),
    bits_to_float(0xFFF8000000000000), 5e-324, -2.2250738585072014e-308,
    1.7976931348623157e308, 1.0, -1.5, 0.1,
)


def random_float(rng: random.Random) -> float:
    """A binary64 value: a special one 40% of the time, else a uniform draw in [-8, 8)."""
    if rng.random() < 0.4:
        return rng.choice(SPECIAL_FLOATS)
    return rng.uniform(-8.0, 8.0)


def random_tensor(rng: random.Random, shape: Sequence[int]) -> object:
    """A nested list of floats of ``shape`` (a bare float for the scalar shape ``[]``)."""
    if not shape:
        return random_float(rng)
    return [random_tensor(rng, shape[1:]) for _ in range(shape[0])]


def random_fin_list(rng: random.Random, n: int, length: int) -> list[int]:
    """``length`` draws from ``Fin n`` with duplicates (empty when ``n = 0``)."""
    return [rng.randrange(n) for _ in range(length)] if n > 0 else []


def nat_table(rng: random.Random, rows: int, cols: int, high: int = 9) -> list[list[int]]:
    """A ``Fin rows → Fin cols → Nat`` function as a table, values in ``[0, high]``."""
    return [[rng.randint(0, high) for _ in range(cols)] for _ in range(rows)]


def fin_table(rng: random.Random, rows: int, cols: int, card: int) -> list[list[int]]:
    """A ``Fin rows → Fin cols → Fin card`` function as a table."""
    return [random_fin_list(rng, card, cols) for _ in range(rows)]


def case(note: str, rejects: bool = False, /, **args: object) -> CaseInput:
    """A case whose arguments are given as Python values and encoded here."""
    return CaseInput(note, {name: encode(value) for name, value in args.items()}, rejects)


def table2(declaration: str, binder: str) -> Converter:
    """A nested JSON table read as a curried function of two finite arguments, lookups checked."""
    def convert(table: object) -> object:
        if not isinstance(table, list) or not all(isinstance(row, list) for row in table):
            raise VectorFormatError(f"{declaration}: `{binder}` must be a table of rows")
        return table_function2(table, declaration, binder)
    return convert


def float_lookup(declaration: str, binder: str) -> Converter:
    """A function ``Float → Float → Nat`` written as ``[[a, b, value], …]`` entries.

    Functions on binary64 cannot be tabulated, so a case lists exactly the argument pairs the
    declaration applies the function to; the pairs are matched by bit pattern.
    """
    def convert(entries: object) -> object:
        table: dict[tuple[int, int], object] = {}
        for entry in entries if isinstance(entries, list) else [entries]:
            if not (isinstance(entry, list) and len(entry) == 3
                    and isinstance(entry[0], float) and isinstance(entry[1], float)):
                raise VectorFormatError(f"{declaration}: `{binder}` entries are [a, b, value]")
            table[(float_bits(entry[0]), float_bits(entry[1]))] = entry[2]

        def lookup(a: float, b: float) -> Any:
            key = (float_bits(a), float_bits(b))
            if key not in table:
                raise VectorFormatError(f"{declaration}: `{binder}` has no entry for {a!r}, {b!r}")
            return table[key]
        return lookup
    return convert


def lookup_entries(rng: random.Random, pairs: Sequence[tuple[float, float]]) -> list[list[object]]:
    """``float_lookup`` entries giving each distinct pair (by bits) a random Nat loss."""
    seen: dict[tuple[int, int], list[object]] = {}
    for a, b in pairs:
        seen.setdefault((float_bits(a), float_bits(b)), [a, b, rng.randint(0, 9)])
    return [seen[key] for key in sorted(seen)]


def spec_def(lean_name: str, mirror: Callable[..., object],
             binders: Sequence[tuple[str, str]], result: str,
             cases: Callable[[random.Random], list[CaseInput]], *,
             converters: Mapping[str, Converter] | None = None,
             output: Callable[[object], Json] = encode, kind: str = "def",
             encoding: Mapping[str, str] | None = None,
             hypotheses: Mapping[str, str] | None = None,
             error_binders: Mapping[str, str] | None = None,
             python_mirror: str | None = None) -> VectorDef:
    """A ``VectorDef`` whose ``evaluate`` calls ``mirror`` with the binders in Lean order."""
    names = [name for name, _ in binders]
    convert = dict(converters or {})

    def evaluate(args: Mapping[str, Json]) -> Json:
        missing = [name for name in names if name not in args]
        if missing:
            raise VectorFormatError(f"{lean_name}: case lacks binder(s) {missing}")
        values = [decode(args[name]) for name in names]
        values = [convert[name](v) if name in convert else v for name, v in zip(names, values,
                                                                                strict=True)]
        return output(mirror(*values))

    return VectorDef(lean_name, tuple(binders), result, cases, evaluate, kind,
                     dict(encoding or {}), dict(hypotheses or {}), dict(error_binders or {}),
                     python_mirror)


def f64_list(values: Sequence[float]) -> list[Json]:
    """Encode a list of floats (used where a result mixes float rows with other values)."""
    return [encode_f64(v) for v in values]


def flatten_nested(value: object) -> list[float]:
    """The row-major scalars of a nested list of floats (a bare float is a scalar tensor)."""
    if isinstance(value, float):
        return [value]
    if not isinstance(value, list):
        raise TypeError(f"expected a nested list of floats, got {value!r}")
    return [v for item in value for v in flatten_nested(item)]
