"""The JSON value encoding of the conformance vectors (schema version 1, see docs/vectors.md).

JSON numbers are decimal and most parsers read them into binary64, which loses large integers and
cannot write ``-0.0``, NaN or infinities at all. So every value whose type is not a small integer
is a tagged object:

* ``Float`` (binary64): ``{"f64": "0x8000000000000000", "repr": "-0.0"}``; the hex bit pattern is
  the value, ``repr`` is for people only.
* ``ℝ``/``ℚ`` (exact rationals): ``{"rat": "-3/4"}`` in lowest terms, denominator ≥ 1.
* an integer whose magnitude exceeds ``2**53``: ``{"int": "18446744073709551619"}``.

Everything else is plain JSON: small integers (``Nat``, ``Fin n``) are numbers, ``Bool`` is
``true``/``false``, ``none``/``()`` is ``null``, lists/tensors/tables are arrays, structures are
objects keyed by their Lean field names.
"""

from __future__ import annotations

import json
import math
import struct
from collections.abc import Mapping, Sequence
from fractions import Fraction
from typing import TypeAlias

from maskproof.spec.block_mae import ExceptError, ExceptOk
from maskproof.spec.tensor import SupervisedSample

#: A JSON value as ``json.loads`` returns it (the vectors never contain JSON floats).
Json: TypeAlias = "None | bool | int | float | str | list[Json] | dict[str, Json]"

#: Largest magnitude an IEEE binary64 JSON reader keeps exact; larger integers become strings.
MAX_PLAIN_INT = 2**53


class VectorFormatError(ValueError):
    """A vector file that does not follow the schema (a port's or a tamperer's mistake)."""


def float_to_bits(x: float) -> int:
    """The IEEE binary64 bit pattern of ``x``."""
    return int.from_bytes(struct.pack("<d", x), "little")


def bits_to_float(bits: int) -> float:
    """The binary64 value with bit pattern ``bits`` (NaN payloads survive on CPython)."""
    return float(struct.unpack("<d", bits.to_bytes(8, "little"))[0])


def encode_int(value: int) -> Json:
    """A Lean ``Nat``/``Int``/``Fin``: a JSON number, or ``{"int": "…"}`` beyond ``2**53``."""
    return value if abs(value) <= MAX_PLAIN_INT else {"int": str(value)}


def encode_f64(x: float) -> Json:
    """A Lean ``Float``: its exact bit pattern plus a human-readable ``repr``."""
    return {"f64": f"0x{float_to_bits(x):016x}", "repr": repr(x)}


def encode_rat(q: int | Fraction) -> Json:
    """An exact real (``ℝ`` over rational inputs): ``{"rat": "p/q"}`` in lowest terms."""
    value = Fraction(q)
    return {"rat": f"{value.numerator}/{value.denominator}"}


def encode(value: object) -> Json:
    """Encode a spec value by its Python type (``Fraction`` as ``rat``; use ``encode_rat`` for an
    ``ℝ``-typed result that happens to be an ``int``)."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return encode_int(value)
    if isinstance(value, float):
        return encode_f64(value)
    if isinstance(value, Fraction):
        return encode_rat(value)
    if isinstance(value, ExceptOk):
        return {"ok": encode(value.value)}
    if isinstance(value, ExceptError):
        return {"error": value.message}
    if isinstance(value, SupervisedSample):
        return {"input": encode(value.input), "target": encode(value.target)}
    if isinstance(value, Mapping):
        return {str(key): encode(item) for key, item in value.items()}
    if isinstance(value, Sequence):
        return [encode(item) for item in value]
    raise TypeError(f"no vector encoding for {type(value).__name__} value {value!r}")


def decode(value: Json) -> object:
    """The Python value of an encoded JSON value (floats exact to the bit, lists stay lists)."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        raise VectorFormatError(f"raw JSON number {value!r}: floats must be {{'f64': bits}}")
    if isinstance(value, list):
        return [decode(item) for item in value]
    if "f64" in value:
        return bits_to_float(_parse_bits(value["f64"]))
    if "rat" in value:
        return _parse_rat(value["rat"])
    if "int" in value:
        return _parse_int(value["int"])
    return {key: decode(item) for key, item in value.items()}


def _parse_bits(text: Json) -> int:
    if not isinstance(text, str) or len(text) != 18 or not text.startswith("0x"):
        raise VectorFormatError(f"f64 bits must be '0x' and 16 hex digits, got {text!r}")
    try:
        return int(text, 16)
    except ValueError:
        raise VectorFormatError(f"f64 bits must be hexadecimal, got {text!r}") from None


def _parse_rat(text: Json) -> Fraction:
    if not isinstance(text, str) or text.count("/") != 1:
        raise VectorFormatError(f"rat must be a 'p/q' string, got {text!r}")
    numerator, denominator = text.split("/")
    try:
        return Fraction(int(numerator), int(denominator))
    except (ValueError, ZeroDivisionError):
        raise VectorFormatError(f"rat must be 'p/q' with q >= 1, got {text!r}") from None


def _parse_int(text: Json) -> int:
    if not isinstance(text, str):
        raise VectorFormatError(f"int must be a decimal string, got {text!r}")
    try:
        return int(text, 10)
    except ValueError:
        raise VectorFormatError(f"int must be a decimal string, got {text!r}") from None


def json_equal(expected: Json, actual: Json) -> bool:
    """Whether an implementation's encoded result equals the expected one, as a Lean ``=``.

    Floats compare by bit pattern (``0.0`` differs from ``-0.0``) except that any two NaNs are
    equal (spec.lean.float_eq); ``repr`` is ignored. Integers compare by value whichever of the
    two integer encodings carries them.
    """
    if isinstance(expected, dict) and isinstance(actual, dict):
        if "f64" in expected and "f64" in actual:
            return _f64_equal(expected["f64"], actual["f64"])
        if expected.keys() != actual.keys():
            return False
        return all(json_equal(expected[key], actual[key]) for key in expected)
    if isinstance(expected, list) and isinstance(actual, list):
        return len(expected) == len(actual) and all(
            json_equal(e, a) for e, a in zip(expected, actual, strict=True))
    if isinstance(expected, bool) or isinstance(actual, bool):
        return expected is actual
    return expected == actual


def _f64_equal(expected: Json, actual: Json) -> bool:
    left, right = bits_to_float(_parse_bits(expected)), bits_to_float(_parse_bits(actual))
    if math.isnan(left) and math.isnan(right):
        return True
    return _parse_bits(expected) == _parse_bits(actual)


def dumps(document: Json) -> bytes:
    """Canonical bytes of a vector document: sorted keys, ASCII, fixed indent, final newline."""
    text = json.dumps(document, sort_keys=True, indent=1, ensure_ascii=True, allow_nan=False)
    return (text + "\n").encode("ascii")
