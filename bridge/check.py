"""``maskproof check``: run every registered Lean theorem check and write a traceability table.

The checks are driven by the same Hypothesis strategies as the test suite
(``bridge.theorem_args``) under a fixed seed, so two runs on one machine see the same inputs.
The table maps every row of ``lean_declarations.tsv`` to its Python mirror or check, the tests
that exercise it and its status; a Lean name without a mirror is reported, not skipped. Each row
also carries the declaration's full Lean name, its ``path:LINE`` at the pinned TorchLean commit
(``spec/lean_pin.tsv``, recorded in the table as ``lean_pin``) and whether Lean declares it
``private``.
"""

from __future__ import annotations

import inspect
import json
import re
import sys
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, seed, settings
from tqdm import tqdm

from maskproof import spec
from maskproof.bridge import test_index
from maskproof.bridge.theorem_args import Arguments, load_all
from maskproof.runtime.atomic import blocking_file, write_json_atomic
from maskproof.spec.lean_surface import lean_pin, lean_surface
from maskproof.spec.registry import LeanDeclaration, TheoremCheck, lean_declarations

THEOREM_TEST = "tests/spec/test_theorems.py::test_theorem_holds[{name}]"
CROSSHAIR_TEST = "tests/spec/test_crosshair.py::test_crosshair_finds_no_counterexample[{module}]"


@dataclass
class TheoremResult:
    """Outcome of running one theorem check over its strategy."""

    lean_name: str
    examples: int
    failure: str | None

    @property
    def status(self) -> str:
        return "holds" if self.failure is None else "fails"


def run_theorem(entry: TheoremCheck, examples: int, seed_value: int) -> TheoremResult:
    """Run ``entry`` on ``examples`` Hypothesis-drawn inputs; capture the first failure."""
    strategy = load_all()[entry.declaration.lean_name]
    count = 0

    @seed(seed_value)
    @settings(max_examples=examples, deadline=None, database=None, print_blob=False,
              suppress_health_check=list(HealthCheck))
    @given(strategy)
    def run(arguments: Arguments) -> None:
        nonlocal count
        count += 1
        if entry.check(**arguments) is not True:
            raise AssertionError(f"{entry.declaration.lean_name} is false on {arguments!r}")

    try:
        run()
    except Exception as error:  # noqa: BLE001 - any exception is a failed check, reported as such
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else repr(error)
        return TheoremResult(entry.declaration.lean_name, count, first_line)
    return TheoremResult(entry.declaration.lean_name, count, None)


def traceability(results: dict[str, TheoremResult]) -> list[dict[str, Any]]:
    """One row per TSV declaration: Lean name → Python object → tests → status.

    The tests of each mirror come from the table recorded at build time (``test_index``), so an
    installed maskproof reports the same rows as the checkout.
    """
    mirror_names = {n: m.python_name.rsplit(".", 1)[-1] for n, m in spec.MIRRORS.items()}
    mentions = test_index.recorded()
    check_sources = {n: inspect.getsource(t.check) for n, t in spec.THEOREMS.items()}
    private = {d.full_name for d in lean_surface() if d.private}
    rows: list[dict[str, Any]] = []
    for lean_name, declaration in lean_declarations().items():
        row = _row(lean_name, declaration, results, mirror_names, mentions, check_sources)
        rows.append({**row, "full_name": declaration.full_name,
                     "location": declaration.location,
                     "private": declaration.full_name in private})
    return rows


def _row(lean_name: str, declaration: LeanDeclaration, results: dict[str, TheoremResult],
         mirror_names: dict[str, str], mentions: dict[str, list[str]],
         check_sources: dict[str, str]) -> dict[str, Any]:
    row: dict[str, Any] = {"lean_name": lean_name, "module": declaration.module,
                           "kind": declaration.kind}
    if declaration.kind == "theorem":
        entry = spec.THEOREMS.get(lean_name)
        result = results.get(lean_name)
        row["python"] = entry.python_name if entry else None
        tests = [THEOREM_TEST.format(name=lean_name)] if entry else []
        if entry and entry.crosshair is None:
            tests.append(CROSSHAIR_TEST.format(module=entry.check.__module__))
        row["tests"] = tests
        row["crosshair"] = "explored" if entry and entry.crosshair is None else (
            entry.crosshair if entry else None)
        row["examples"] = result.examples if result else 0
        row["status"] = "missing" if entry is None else (result.status if result else "not run")
        if result and result.failure:
            row["failure"] = result.failure
        return row
    mirror = spec.MIRRORS.get(lean_name)
    row["python"] = mirror.python_name if mirror else None
    short = mirror_names.get(lean_name, "")
    used_by = sorted(n for n, src in check_sources.items() if short and
                     re.search(rf"\b{re.escape(short)}\b", src))
    row["theorem_checks"] = used_by
    row["tests"] = mentions.get(short, [])
    row["status"] = "missing" if mirror is None else (
        "exercised" if used_by or row["tests"] else "unexercised")
    return row


def check_out(out: Path) -> None:
    """Refuse an ``--out`` that is a folder, or a file this command did not write."""
    if out.is_dir():
        raise ValueError(f"--out {out} is a directory; expected a file path for the table")
    blocking = blocking_file(out)
    if blocking is not None:
        raise ValueError(f"--out {out}: {blocking} is a file, expected a directory there")
    if not out.exists():
        return
    try:
        document = json.loads(out.read_text("utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        document = None
    if not (isinstance(document, dict) and {"totals", "declarations"} <= document.keys()):
        raise ValueError(f"--out {out} exists and is not a traceability table of maskproof "
                         "check; expected a new path or an earlier table (nothing written)")


def run_check(examples: int, seed_value: int, out: Path, progress: bool) -> int:
    """Run every theorem check, print a line per Lean module, write the table; 0 iff all hold."""
    if examples < 1:
        raise ValueError(f"--examples must be a positive integer, got {examples}")
    check_out(out)  # before the checks run: a refused path costs nothing
    entries = sorted(spec.THEOREMS.values(),
                     key=lambda e: (e.declaration.module, e.declaration.lean_name))
    results: dict[str, TheoremResult] = {}
    for entry in tqdm(entries, desc="theorems", unit="thm", disable=not progress, file=sys.stderr):
        results[entry.declaration.lean_name] = run_theorem(entry, examples, seed_value)

    by_module: dict[str, list[TheoremResult]] = defaultdict(list)
    for entry in entries:
        by_module[entry.declaration.module].append(results[entry.declaration.lean_name])
    for module, module_results in by_module.items():
        held = sum(r.failure is None for r in module_results)
        total_examples = sum(r.examples for r in module_results)
        print(f"{module}: {held}/{len(module_results)} theorems hold "
              f"({total_examples} examples)")
    failures = [r for r in results.values() if r.failure is not None]
    for failure in failures:
        print(f"FAIL {failure.lean_name}: {failure.failure}")

    rows = traceability(results)
    missing = [r["lean_name"] for r in rows if r["status"] == "missing"]
    totals = _totals(rows)
    out.parent.mkdir(parents=True, exist_ok=True)
    pin = lean_pin()
    write_json_atomic(out, {"seed": seed_value, "examples_per_theorem": examples,
                            "lean_pin": {"repository": pin["repository"], "commit": pin["commit"],
                                         "toolchain": pin["toolchain"]},
                            "totals": totals, "declarations": rows}, sort_keys=False)
    print(f"traceability: {totals['theorems_holding']}/{totals['theorems']} theorems hold, "
          f"{totals['defs_mirrored']}/{totals['defs']} defs mirrored, "
          f"{totals['missing']} missing -> {out}")
    for name in missing:
        print(f"MISSING {name}: no Python mirror or check")
    return 0 if not failures and not missing else 1


def _totals(rows: list[dict[str, Any]]) -> dict[str, int]:
    theorems = [r for r in rows if r["kind"] == "theorem"]
    defs = [r for r in rows if r["kind"] == "def"]
    return {
        "declarations": len(rows),
        "theorems": len(theorems),
        "theorems_holding": sum(r["status"] == "holds" for r in theorems),
        "theorems_crosshair_explored": sum(r.get("crosshair") == "explored" for r in theorems),
        "examples": sum(int(r.get("examples", 0)) for r in theorems),
        "defs": len(defs),
        "defs_mirrored": sum(r["status"] != "missing" for r in defs),
        "defs_exercised": sum(r["status"] == "exercised" for r in defs),
        "missing": sum(r["status"] == "missing" for r in rows),
    }
