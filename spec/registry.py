"""Traceability from Lean names to their Python mirrors and theorem checks.

``lean_declarations.tsv`` is the list of names the spec must cover: one row per declaration of the
TorchLean SSL files pinned in ``lean_pin.tsv``, with its Lean module, namespace, kind (``def``
for anything with executable meaning — defs, abbrevs, structures — or ``theorem``), name relative
to the namespace, ``path:LINE`` at the pinned commit, and the documents that named it
(``spec.lean_surface`` recomputes module and location from a local copy of the Lean files).

``@mirrors`` tags a definition with the Lean ``def`` it transcribes; ``@theorem`` tags an
executable check with the Lean ``theorem`` it tests. Both refuse names the TSV does not list,
so a typo fails at import time, and the completeness test compares the two registries with the TSV.
"""

from __future__ import annotations

import csv
import importlib.resources
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from typing import Any, TypeVar

from maskproof.spec.errors import LeanContractError

F = TypeVar("F", bound=Callable[..., Any])
ObjT = TypeVar("ObjT")


@dataclass(frozen=True)
class LeanDeclaration:
    """One row of ``lean_declarations.tsv``."""

    module: str  # the Lean module, e.g. NN.MLTheory.SelfSupervised.MAE
    kind: str  # "def" or "theorem"
    lean_name: str  # relative to ``namespace``; unique across the table
    source: str  # the documents that named the declaration
    namespace: str  # e.g. NN.API.ssl
    location: str  # path/File.lean:LINE at the pinned commit

    @property
    def full_name(self) -> str:
        """The fully qualified Lean name, ``namespace.lean_name``."""
        return f"{self.namespace}.{self.lean_name}"


@dataclass(frozen=True)
class Mirror:
    """A Python object that transcribes one Lean ``def``."""

    declaration: LeanDeclaration
    obj: object
    python_name: str


class HypothesisNotMet(LeanContractError):
    """A theorem check was called on values that break one of the theorem's hypotheses.

    A Lean hypothesis is a binder whose type is a proposition (``h : ∀ i ∈ idxs, f i = 0``); on
    such values no proof exists to pass, so the theorem says nothing about them. The check refuses
    them with this error, naming the theorem (``declaration``), the hypothesis's Lean binder
    (``binder``, e.g. ``h`` or ``hHidden``) and its statement (``statement``), instead of returning
    a ``False`` that would read as a counterexample.
    """

    def __init__(self, theorem: str, hypothesis: str, statement: str, value: object) -> None:
        self.statement = statement
        super().__init__(theorem, hypothesis, f"a proof of `{statement}` (hypothesis not met)",
                         value)


def require_hypothesis(holds: bool, theorem: str, hypothesis: str, statement: str,
                       value: object = None) -> None:
    """Raise ``HypothesisNotMet`` unless ``holds``; ``value`` shows the values it was tested on."""
    if not holds:
        raise HypothesisNotMet(theorem, hypothesis, statement, value)


#: A ``pre:`` line of a check's docstring, with an optional tag ``# <binder> : <statement>``.
PRE_LINE = re.compile(r"^\s*pre:\s*(?P<expr>[^#]*?)\s*(?:#\s*(?P<binder>\w+)\s*:\s*"
                      r"(?P<statement>.*?))?\s*$")
#: A tag on the line after an untagged ``pre:`` line (for conditions too long to share a line).
TAG_LINE = re.compile(r"^\s*#\s*(?P<binder>\w+)\s*:\s*(?P<statement>.*?)\s*$")


def hypothesis_lines(doc: str | None) -> dict[str, tuple[str, str]]:
    """The tagged ``pre:`` lines of a docstring: Lean binder → (Python condition, statement).

    A hypothesis is written ``pre: <condition>  # <binder> : <Lean statement>``, or with the tag
    alone on the next line; CrossHair reads the tag as a comment.
    """
    found: dict[str, tuple[str, str]] = {}
    pending: str | None = None  # the condition of the previous, untagged pre: line
    for line in (doc or "").splitlines():
        pre, tag = PRE_LINE.match(line), TAG_LINE.match(line)
        if pre and pre["binder"]:
            binder, expr, statement = pre["binder"], pre["expr"], pre["statement"]
        elif tag and pending is not None:
            binder, expr, statement = tag["binder"], pending, tag["statement"]
        else:
            pending = pre["expr"] if pre else None
            continue
        pending = None
        if binder in found:
            raise KeyError(f"hypothesis {binder!r} is stated twice")
        found[binder] = (expr, statement)
    return found


@dataclass(frozen=True)
class TheoremCheck:
    """An executable check of one Lean ``theorem``: it decides ``hypotheses → conclusion``.

    ``check`` takes the theorem's universally quantified variables (functions given as finite
    tables where possible). It has three outcomes:

    * it raises ``LeanContractError`` when an argument is not a Lean value of its binder's type
      (a negative ``Nat``, an out-of-range ``Fin``, a ragged tensor), naming that binder;
    * it raises ``HypothesisNotMet`` (a ``LeanContractError``) when the arguments are Lean values
      but break one of the theorem's hypotheses (its ``Prop`` binders, the premises of ``→``),
      naming the hypothesis as the Lean source does (``h``, ``hHidden``, ``hRecon``, …); the
      theorem claims nothing there, so this is never a counterexample;
    * otherwise it returns whether the conclusion holds: ``False`` is a genuine counterexample.

    Callers that treat anything but ``True`` as a failure (``maskproof check``, the Hypothesis
    tests) stay correct: their strategies only draw inputs meeting the hypotheses, so a
    ``HypothesisNotMet`` there is a strategy bug, reported as a failure with its message.

    Each hypothesis is stated once more as a ``pre:`` line tagged with its Lean binder,
    ``pre: <condition>  # <binder> : <Lean statement>``; ``hypotheses`` holds those lines
    (binder → (condition, statement)), in docstring order. CrossHair reads the same
    lines as preconditions (the tag is a Python comment), so it never calls a check outside its
    hypotheses; ``tests/spec/test_theorem_hypotheses.py`` checks that each tagged condition is what
    the check tests. Untagged ``pre:`` lines state the binders' types for CrossHair. ``crosshair``
    is ``None`` when CrossHair explores the check, else the reason it cannot.
    """

    declaration: LeanDeclaration
    check: Callable[..., bool]
    python_name: str
    crosshair: str | None
    hypotheses: dict[str, tuple[str, str]] = field(default_factory=dict, hash=False)


@cache
def lean_declarations() -> dict[str, LeanDeclaration]:
    """Every row of the TSV, keyed by Lean name (names are unique across modules)."""
    tsv = importlib.resources.files("maskproof.spec").joinpath("lean_declarations.tsv")
    text = tsv.read_text("utf-8")
    rows = csv.DictReader(text.splitlines(), delimiter="\t")
    table = {r["lean_name"]: LeanDeclaration(r["module"], r["kind"], r["lean_name"], r["source"],
                                             r["namespace"], r["location"]) for r in rows}
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
                                           _python_name(check), crosshair,
                                           hypothesis_lines(check.__doc__))
        return check
    return tag
