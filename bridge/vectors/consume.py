"""A reference consumer of the conformance vectors: what a port writes to test itself.

Standard library only, and nothing from the rest of maskproof, on purpose: this file is the
template for a reader in another language (docs/vectors.md describes the format). It

1. reads ``manifest.json``, refuses another format or schema version, and checks every listed
   file's SHA-256 (a corrupted or hand-edited file is reported, not trusted);
2. decodes values: ``{"f64": "0x…"}`` to the float with those bits, ``{"rat": "p/q"}`` to a
   ``Fraction``, ``{"int": "…"}`` to an ``int``, arrays to lists, objects to dicts;
3. calls the port's implementation of each declaration with the case's arguments in Lean binder
   order, and compares with Lean's equality: floats by bit pattern (``0.0 ≠ -0.0``), any NaN
   equal to any NaN. A case with ``expect_error`` passes when the implementation raises.

Run ``python -m bridge.vectors.consume DIR`` to check a directory's integrity and list what it
holds; :func:`check` with a table of implementations tests a port (tests/bridge/test_vectors.py
runs the PyTorch runtime's masks through it).
"""

from __future__ import annotations

import hashlib
import json
import math
import struct
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

FORMAT = "maskproof-conformance-vectors"
SCHEMA_VERSION = 1

#: A port's implementation of one declaration: the decoded arguments in Lean binder order.
Implementation = Callable[..., object]


class VectorFileError(ValueError):
    """The directory is not an intact vector set this reader understands."""


@dataclass(frozen=True)
class Case:
    """One case of one declaration, its values still encoded."""

    lean_name: str
    case_id: str
    note: str
    binders: tuple[str, ...]
    args: Mapping[str, Any]
    expect: Any
    expect_error: bool


@dataclass(frozen=True)
class Failure:
    """A case the implementation gets wrong."""

    case_id: str
    note: str
    message: str

    def describe(self) -> str:
        return f"{self.case_id} ({self.note}): {self.message}"


def load(directory: Path) -> dict[str, Any]:
    """Every module document of ``directory`` after the manifest and hash checks."""
    try:
        manifest = json.loads((directory / "manifest.json").read_text("ascii"))
    except (OSError, ValueError) as error:
        raise VectorFileError(f"{directory}: no readable manifest.json ({error})") from None
    if manifest.get("format") != FORMAT:
        raise VectorFileError(f"{directory}/manifest.json: format {manifest.get('format')!r}, "
                              f"expected {FORMAT!r}")
    if manifest.get("schema_version") != SCHEMA_VERSION:
        raise VectorFileError(f"{directory}/manifest.json: schema_version "
                              f"{manifest.get('schema_version')!r}, this reader knows "
                              f"{SCHEMA_VERSION}")
    modules: dict[str, Any] = {}
    for entry in manifest["files"]:
        name = entry["path"]
        if name == "manifest.json":
            continue
        data = (directory / name).read_bytes()
        if hashlib.sha256(data).hexdigest() != entry["sha256"]:
            raise VectorFileError(f"{directory}/{name}: SHA-256 differs from the manifest")
        modules[name] = json.loads(data)
    return modules


def cases(modules: Mapping[str, Any]) -> Iterator[Case]:
    """Every case of every declaration, in file and declaration order."""
    for name in sorted(modules):
        for lean_name, entry in sorted(modules[name]["declarations"].items()):
            binders = tuple(b["name"] for b in entry.get("binders", []))
            for record in entry["cases"]:
                yield Case(lean_name, record["id"], record["note"], binders, record["args"],
                           record.get("expect"), "expect_error" in record)


def decode(value: Any) -> Any:
    """The value an encoded JSON value stands for."""
    if isinstance(value, list):
        return [decode(item) for item in value]
    if isinstance(value, dict):
        if "f64" in value:
            return struct.unpack("<d", int(value["f64"], 16).to_bytes(8, "little"))[0]
        if "rat" in value:
            numerator, denominator = value["rat"].split("/")
            return Fraction(int(numerator), int(denominator))
        if "int" in value:
            return int(value["int"])
        return {key: decode(item) for key, item in value.items()}
    if isinstance(value, float):
        raise VectorFileError(f"raw JSON number {value!r}: floats are written as f64 bits")
    return value


def same(expected: Any, actual: Any) -> bool:
    """Lean's ``=`` on decoded values: floats by bits, NaN = NaN, sequences elementwise."""
    if isinstance(expected, float) or isinstance(actual, float):
        if not (isinstance(expected, float) and isinstance(actual, float)):
            return False  # a Float is never equal to an integer or a rational
        if math.isnan(expected) and math.isnan(actual):
            return True
        return struct.pack("<d", expected) == struct.pack("<d", actual)
    if isinstance(expected, list) and isinstance(actual, Sequence) and not isinstance(actual,
                                                                                    str):
        return len(expected) == len(actual) and all(
            same(e, a) for e, a in zip(expected, actual, strict=True))
    if isinstance(expected, dict) and isinstance(actual, Mapping):
        return expected.keys() == actual.keys() and all(same(expected[k], actual[k])
                                                        for k in expected)
    if isinstance(expected, bool) or isinstance(actual, bool):
        return expected is actual
    return bool(expected == actual)  # Nat, Int, rationals, strings, None


def check(modules: Mapping[str, Any],
          implementations: Mapping[str, Implementation]) -> tuple[int, list[Failure]]:
    """Run every case of every implemented declaration: ``(cases run, failures)``."""
    run, failures = 0, []
    for case in cases(modules):
        implementation = implementations.get(case.lean_name)
        if implementation is None:
            continue
        run += 1
        args = [decode(case.args[name]) for name in case.binders]
        try:
            result = implementation(*args)
        except Exception as error:  # noqa: BLE001 - a port's refusal is any exception
            if not case.expect_error:
                failures.append(Failure(case.case_id, case.note, f"raised {error!r}"))
            continue
        if case.expect_error:
            failures.append(Failure(case.case_id, case.note,
                                    f"Lean rejects these arguments, got {result!r}"))
        elif not same(decode(case.expect), result):
            failures.append(Failure(case.case_id, case.note,
                                    f"expected {decode(case.expect)!r}, got {result!r}"))
    return run, failures


def main(argv: Sequence[str]) -> int:
    """Check a directory's integrity and print its declarations and case counts."""
    if len(argv) != 1:
        print("usage: python -m bridge.vectors.consume DIR", file=sys.stderr)
        return 2
    counts: dict[str, int] = {}
    try:
        modules = load(Path(argv[0]))
        for case in cases(modules):
            counts[case.lean_name] = counts.get(case.lean_name, 0) + 1
    except (VectorFileError, OSError, ValueError) as error:
        print(f"consume: {error}", file=sys.stderr)
        return 1
    except (KeyError, TypeError) as error:  # a manifest or document missing a required key
        print(f"consume: {argv[0]} does not follow the vector schema ({error!r})",
              file=sys.stderr)
        return 1
    for lean_name, count in counts.items():
        print(f"{lean_name}: {count} cases")
    print(f"{len(modules)} module files intact, {sum(counts.values())} cases")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
