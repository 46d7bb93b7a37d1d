"""What a vector directory holds, as Python records (the JSON layout is in docs/vectors.md).

A ``VectorDef`` describes one executable Lean ``def``: its binders with their Lean types, the
cases to run, and ``evaluate``, which runs the spec on a case's encoded arguments and returns the
encoded result. Generation and the spec's own round-trip check share ``evaluate``, so the file
format and the spec cannot drift apart.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from maskproof.bridge.vectors.encoding import Json

#: Bumped whenever a reader of version N could misread a file (new value tags, renamed keys).
SCHEMA_VERSION = 1
#: Bumped whenever the cases change (new defs, new cases, different random draws).
GENERATOR_VERSION = "1.1.0"
#: The seed every case draw is derived from unless ``--seed`` says otherwise.
DEFAULT_SEED = 20240601
MANIFEST = "manifest.json"
#: Marks a directory as ours, so ``--out`` may replace it (see ``bridge.vectors.store``).
FORMAT_NAME = "maskproof-conformance-vectors"

Args = dict[str, Json]
#: The spec (or another implementation) applied to a case's encoded arguments.
Evaluate = Callable[[Mapping[str, Json]], Json]


@dataclass(frozen=True)
class CaseInput:
    """One case before evaluation: why it is here, its encoded arguments, whether it must fail."""

    note: str
    args: Args
    rejects: bool = False


@dataclass(frozen=True)
class VectorDef:
    """The vectors of one Lean ``def`` (``kind`` ``"def"``, or ``"prop"`` for a decided ``Prop``).

    ``binders`` pairs every argument's Lean binder name with its Lean type, in Lean's order;
    ``encoding`` documents how the non-obvious ones (functions, structures) are written.
    ``hypotheses`` are the Lean proof arguments (dropped from ``binders``: a port checks them
    instead) with their statements; ``error_binders`` renames a binder a spec helper reports to
    this declaration's binder (``hTake`` of ``flattenBatchPrefix`` is ``hData`` here).
    """

    lean_name: str
    binders: tuple[tuple[str, str], ...]
    result: str
    cases: Callable[[random.Random], list[CaseInput]]
    evaluate: Evaluate
    kind: str = "def"
    encoding: Mapping[str, str] = field(default_factory=dict)
    hypotheses: Mapping[str, str] = field(default_factory=dict)
    error_binders: Mapping[str, str] = field(default_factory=dict)
    python_mirror: str | None = None  # when the spec's registry does not name the mirror


#: Lean declarations that are types, structures or type aliases: listed, never run.
TYPE_DECLARATIONS: Mapping[str, str] = {
    "Mask": "Fin n → Bool; written as a list of n Bools wherever a case takes one",
    "PatchBatch": "Fin n → Patch; written as a list of n patches wherever a case takes one",
    "PredictiveViewContract": "structure; written as a contract object (docs/vectors.md)",
    "SSLViewGraph": "structure; written as {'n': Nat, 'positiveEdges': [[a, b], ...]}",
    "EuclideanRep": "Fin d → ℝ; written as a list of d rats",
}
