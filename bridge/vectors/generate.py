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
from maskproof.bridge.vectors import defs_blocks, defs_objectives, defs_predictive, defs_tensors
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
    """Every executable Lean def with its cases, in a fixed order."""
    return [*defs_objectives.definitions(), *defs_predictive.definitions(),
            *defs_tensors.definitions(), *defs_blocks.definitions()]


def declaration_seed(seed: int, lean_name: str) -> int:
    """The seed of one declaration's draws: independent of every other declaration."""
    digest = hashlib.sha256(f"{seed}:{lean_name}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


def _check_coverage(definitions: Sequence[VectorDef]) -> None:
    lean_defs = {name for name, d in lean_declarations().items() if d.kind == "def"}
    covered = [d.lean_name for d in definitions] + list(TYPE_DECLARATIONS)
    duplicates = sorted({name for name in covered if covered.count(name) > 1})
    missing = sorted(lean_defs - set(covered))
    unknown = sorted(set(covered) - lean_defs)
    if duplicates or missing or unknown:
        raise GenerationError(f"vector coverage differs from lean_declarations.tsv: missing "
                              f"{missing}, not Lean defs {unknown}, listed twice {duplicates}")


def run_case(definition: VectorDef, case: CaseInput, case_id: str) -> dict[str, Json]:
    """Evaluate one case on the spec and record the expected result or the expected rejection."""
    record: dict[str, Json] = {"id": case_id, "note": case.note, "args": dict(case.args)}
    try:
        result = definition.evaluate(case.args)
    except LeanContractError as error:
        if not case.rejects:
            raise GenerationError(f"{case_id} ({case.note}): the spec rejects it: {error}") \
                from error
        record["expect_error"] = {"lean": error.declaration, "binder": error.binder}
        return record
    if case.rejects:
        raise GenerationError(f"{case_id} ({case.note}): meant to be rejected, the spec "
                              f"returned {result!r}")
    record["expect"] = result
    return record


def _declaration_document(definition: VectorDef, seed: int) -> dict[str, Json]:
    rng = random.Random(declaration_seed(seed, definition.lean_name))
    cases = [run_case(definition, case, f"{definition.lean_name}/{index:03d}")
             for index, case in enumerate(definition.cases(rng))]
    return {
        "kind": definition.kind,
        "python_mirror": spec.MIRRORS[definition.lean_name].python_name,
        "binders": [{"name": name, "type": lean_type} for name, lean_type in definition.binders],
        "result": definition.result,
        "encoding": dict(definition.encoding),
        "cases": list(cases),
    }


def module_file_name(module: str) -> str:
    """The vector file of one Lean module (``NN.API.ssl`` -> ``NN.API.ssl.json``)."""
    return f"{module}.json"


def generate(seed: int) -> dict[str, bytes]:
    """Every vector file's name and canonical bytes, the manifest included."""
    definitions = all_definitions()
    _check_coverage(definitions)
    declarations = lean_declarations()
    modules: dict[str, dict[str, Json]] = defaultdict(dict)
    for definition in definitions:
        module = declarations[definition.lean_name].module
        modules[module][definition.lean_name] = _declaration_document(definition, seed)
    for lean_name, description in TYPE_DECLARATIONS.items():
        modules[declarations[lean_name].module][lean_name] = {
            "kind": "type", "description": description, "cases": [],
            "python_mirror": spec.MIRRORS[lean_name].python_name}
    files = {module_file_name(module): dumps({
        "format": FORMAT_NAME, "schema_version": SCHEMA_VERSION, "module": module,
        "declarations": dict(entries)}) for module, entries in sorted(modules.items())}
    files[MANIFEST] = dumps(_manifest(seed, modules, files))
    return files


def _manifest(seed: int, modules: dict[str, dict[str, Json]],
              files: dict[str, bytes]) -> dict[str, Json]:
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
    }
