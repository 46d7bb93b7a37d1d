"""Turn the case tables into vector files: one JSON document per Lean module plus a manifest.

Deterministic by construction: each declaration draws from its own ``random.Random`` seeded by
SHA-256 of the run seed and its Lean name (adding a declaration does not shift the others), keys
are sorted, and nothing depends on time, paths or dict order. The spec is the reference: a case
marked as rejecting must raise ``LeanContractError`` and every other case must not, else
generation stops, because the case table and the spec disagree about Lean's types.
"""

from __future__ import annotations

import hashlib
import random
from collections import defaultdict
from collections.abc import Sequence

from maskproof import spec
from maskproof.bridge.vectors import (
    defs_blocks,
    defs_models,
    defs_objectives,
    defs_predictive,
    defs_tensors,
)
from maskproof.bridge.vectors.encoding import Json, dumps
from maskproof.bridge.vectors.schema import (
    FORMAT_NAME,
    GENERATOR_VERSION,
    MANIFEST,
    SCHEMA_VERSION,
    TYPE_DECLARATIONS,
    CaseInput,
    VectorDef,
)
from maskproof.spec.errors import LeanContractError
from maskproof.spec.registry import lean_declarations


class GenerationError(RuntimeError):
    """The case tables and the spec disagree, or do not cover the Lean declarations."""


def all_definitions() -> list[VectorDef]:
    """Every executable Lean def of lean_declarations.tsv with its cases, in a fixed order.

    A case table may be written before its declaration's TSV row lands (``VICRegGuard``,
    ``BlockMask.Internal.apply``, …): it joins the vectors once the row is registered.
    """
    registered = lean_declarations()
    return [d for d in case_tables() if d.lean_name in registered]


def case_tables() -> list[VectorDef]:
    """Every case table, registered in lean_declarations.tsv or not yet."""
    return [*defs_objectives.definitions(), *defs_predictive.definitions(),
            *defs_tensors.definitions(), *defs_blocks.definitions(), *defs_models.definitions()]


def declaration_seed(seed: int, lean_name: str) -> int:
    """The seed of one declaration's draws: independent of every other declaration."""
    digest = hashlib.sha256(f"{seed}:{lean_name}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


def type_declarations() -> dict[str, str]:
    """The registered declarations listed without cases, with the reason."""
    registered = lean_declarations()
    return {name: why for name, why in TYPE_DECLARATIONS.items() if name in registered}


def uncovered(definitions: Sequence[VectorDef]) -> list[str]:
    """Registered Lean defs with neither cases nor a reason to have none (the manifest lists
    them, so a port sees the gap; tests/bridge/test_vectors_contract.py fails on it).

    A TSV row may land before its mirror and case table; the published set must still be
    writable then, so the gap is reported rather than fatal. A name listed twice, or a case
    table for a name the TSV calls a theorem, is a defect of the tables and stops generation.
    """
    declarations = lean_declarations()
    lean_defs = {name for name, d in declarations.items() if d.kind == "def"}
    covered = [d.lean_name for d in definitions] + list(type_declarations())
    duplicates = sorted({name for name in covered if covered.count(name) > 1})
    unknown = sorted(set(covered) - lean_defs)
    if duplicates or unknown:
        raise GenerationError(f"vector coverage differs from lean_declarations.tsv: not Lean "
                              f"defs {unknown}, listed twice {duplicates}")
    return sorted(lean_defs - set(covered))


def run_case(definition: VectorDef, case: CaseInput, case_id: str) -> dict[str, Json]:
    """Evaluate one case on the spec and record the expected result or the expected rejection."""
    record: dict[str, Json] = {"id": case_id, "note": case.note, "args": dict(case.args)}
    try:
        result = definition.evaluate(case.args)
    except LeanContractError as error:
        if not case.rejects:
            raise GenerationError(f"{case_id} ({case.note}): the spec rejects it: {error}") \
                from error
        record["expect_error"] = expected_error(definition, error, case_id)
        return record
    if case.rejects:
        raise GenerationError(f"{case_id} ({case.note}): meant to be rejected, the spec "
                              f"returned {result!r}")
    record["expect"] = result
    return record


def expected_error(definition: VectorDef, error: LeanContractError,
                   case_id: str) -> dict[str, Json]:
    """What a port must reject, named by the declaration's own Lean binder or hypothesis.

    The spec may raise from a helper (``vectorMaeHiddenMask`` inside ``vectorMaeMask``) or name
    a path into a tensor (``x[0][1]``); a port only knows the declaration it implements, so the
    record names that declaration and the binder (or dropped proof argument) at fault.
    """
    raw = error.binder.split("[", 1)[0]
    binder = definition.error_binders.get(raw, raw)
    if binder in definition.hypotheses:
        return {"lean": definition.lean_name, "binder": binder,
                "hypothesis": definition.hypotheses[binder]}
    if binder not in {name for name, _ in definition.binders}:
        raise GenerationError(f"{case_id}: the spec rejects binder `{error.binder}` of "
                              f"{error.declaration}, which is neither a binder nor a hypothesis "
                              f"of {definition.lean_name}")
    return {"lean": definition.lean_name, "binder": binder}


def python_mirror(definition: VectorDef) -> str:
    """The dotted name of the spec function a declaration's cases come from."""
    mirror = spec.MIRRORS.get(definition.lean_name)
    if mirror is not None:
        return mirror.python_name
    if definition.python_mirror is None:
        raise GenerationError(f"{definition.lean_name}: no registered mirror and no python_mirror")
    return definition.python_mirror


def _declaration_document(definition: VectorDef, seed: int) -> dict[str, Json]:
    rng = random.Random(declaration_seed(seed, definition.lean_name))
    cases = [run_case(definition, case, f"{definition.lean_name}/{index:03d}")
             for index, case in enumerate(definition.cases(rng))]
    return {
        "kind": definition.kind,
        "python_mirror": python_mirror(definition),
        "binders": [{"name": name, "type": lean_type} for name, lean_type in definition.binders],
        "hypotheses": [{"name": name, "statement": statement}
                       for name, statement in definition.hypotheses.items()],
        "result": definition.result,
        "encoding": dict(definition.encoding),
        "cases": list(cases),
    }


def module_file_name(module: str) -> str:
    """The vector file of one Lean module (``NN.API.SelfSupervised`` -> ``….json``)."""
    return f"{module}.json"


def generate(seed: int) -> dict[str, bytes]:
    """Every vector file's name and canonical bytes, the manifest included."""
    definitions = all_definitions()
    missing = uncovered(definitions)
    declarations = lean_declarations()
    modules: dict[str, dict[str, Json]] = defaultdict(dict)
    for definition in definitions:
        module = declarations[definition.lean_name].module
        modules[module][definition.lean_name] = _declaration_document(definition, seed)
    for lean_name, description in type_declarations().items():
        mirror = spec.MIRRORS.get(lean_name)
        modules[declarations[lean_name].module][lean_name] = {
            "kind": "type", "description": description, "cases": [],
            "python_mirror": None if mirror is None else mirror.python_name}
    files = {module_file_name(module): dumps({
        "format": FORMAT_NAME, "schema_version": SCHEMA_VERSION, "module": module,
        "declarations": dict(entries)}) for module, entries in sorted(modules.items())}
    files[MANIFEST] = dumps(_manifest(seed, modules, files, missing))
    return files


def _manifest(seed: int, modules: dict[str, dict[str, Json]], files: dict[str, bytes],
              missing: list[str]) -> dict[str, Json]:
    index: dict[str, Json] = {}
    for module, entries in modules.items():
        for lean_name, entry in entries.items():
            assert isinstance(entry, dict) and isinstance(entry["cases"], list)
            rejecting = sum(1 for c in entry["cases"] if isinstance(c, dict)
                            and "expect_error" in c)
            index[lean_name] = {"module": module, "file": module_file_name(module),
                                "kind": entry["kind"], "cases": len(entry["cases"]),
                                "rejecting_cases": rejecting}
    return {
        "format": FORMAT_NAME,
        "schema_version": SCHEMA_VERSION,
        "generator": "maskproof bridge.vectors",
        "generator_version": GENERATOR_VERSION,
        "seed": seed,
        "files": [{"path": name, "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
                  for name, data in sorted(files.items())],
        "declarations": index,
        "uncovered": list(missing),
    }
