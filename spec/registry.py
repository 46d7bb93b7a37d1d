"""Traceability from Lean names to their Python mirrors and theorem checks.

``lean_declarations.tsv`` (copied from the project's Lean contract) is the list of names the spec
must cover. ``@mirrors`` tags a definition with the Lean ``def`` it transcribes; ``@theorem`` tags
an executable check with the Lean ``theorem`` it tests. Both refuse names the TSV does not list,
so a typo fails at import time, and the completeness test compares the two registries with the TSV.
"""

from __future__ import annotations

import csv
import importlib.resources
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])
ObjT = TypeVar("ObjT")


@dataclass(frozen=True)
class LeanDeclaration:
    """One row of ``lean_declarations.tsv``."""

    module: str
    kind: str  # "def" or "theorem"
    lean_name: str
    source: str


@dataclass(frozen=True)
class Mirror:
    """A Python object that transcribes one Lean ``def``."""

    declaration: LeanDeclaration
    obj: object
    python_name: str


@dataclass(frozen=True)
class TheoremCheck:
    """An executable check of one Lean ``theorem``.

    ``check`` takes the theorem's universally quantified variables (functions given as finite
    tables where possible) and returns whether the statement holds; its hypotheses are
    preconditions, stated in the docstring's ``pre:`` lines for CrossHair. ``crosshair`` is
    ``None`` when CrossHair explores the check, else the reason it cannot.
    """

    declaration: LeanDeclaration
    check: Callable[..., bool]
    python_name: str
    crosshair: str | None


@cache
def lean_declarations() -> dict[str, LeanDeclaration]:
    """Every row of the TSV, keyed by Lean name (names are unique across modules)."""
    tsv = importlib.resources.files("maskproof.spec").joinpath("lean_declarations.tsv")
    text = tsv.read_text("utf-8")
    rows = csv.DictReader(text.splitlines(), delimiter="\t")
    table = {r["lean_name"]: LeanDeclaration(r["module"], r["kind"], r["lean_name"], r["source"])
             for r in rows}
    return table


MIRRORS: dict[str, Mirror] = {}
THEOREMS: dict[str, TheoremCheck] = {}


def _declaration(lean_name: str, kind: str) -> LeanDeclaration:
    declaration = lean_declarations().get(lean_name)
    if declaration is None or declaration.kind != kind:
        raise KeyError(f"{lean_name!r} is not a Lean {kind} in lean_declarations.tsv")
    return declaration


def _python_name(obj: object) -> str:
    module = getattr(obj, "__module__", "?")
    qualname = getattr(obj, "__qualname__", getattr(obj, "__name__", repr(obj)))
    return f"{module}.{qualname}"


def register_mirror(lean_name: str, obj: ObjT, python_name: str | None = None) -> ObjT:
    """Record ``obj`` as the mirror of the Lean ``def`` ``lean_name`` (for aliases and types)."""
    if lean_name in MIRRORS:
        raise KeyError(f"{lean_name!r} is mirrored twice")
    MIRRORS[lean_name] = Mirror(_declaration(lean_name, "def"), obj,
                                python_name or _python_name(obj))
    return obj


def mirrors(lean_name: str) -> Callable[[ObjT], ObjT]:
    """Decorator: the function or class transcribes the Lean ``def`` ``lean_name``."""
    def tag(obj: ObjT) -> ObjT:
        return register_mirror(lean_name, obj)
    return tag


def theorem(lean_name: str, *, crosshair: str | None = None) -> Callable[[F], F]:
    """Decorator: the function checks the Lean ``theorem`` ``lean_name``.

    Pass ``crosshair="why not"`` when the check's inputs (floats, callables) are outside what
    CrossHair can explore symbolically.
    """
    def tag(check: F) -> F:
        if lean_name in THEOREMS:
            raise KeyError(f"{lean_name!r} is checked twice")
        THEOREMS[lean_name] = TheoremCheck(_declaration(lean_name, "theorem"), check,
                                           _python_name(check), crosshair)
        return check
    return tag
