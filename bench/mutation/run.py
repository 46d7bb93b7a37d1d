"""Mutation campaign over ``spec/``: can the spec's tests tell a mutated spec from the real one?

Runs mutmut 3 (``pip install -e ".[mutation]"``; configured in ``[tool.mutmut]`` of
pyproject.toml) on a snapshot of the checkout,
then prints the score (killed / total) and every mutant that was not killed, with its diff.

    .venv/bin/python bench/mutation/run.py                 # full campaign (hours on 2 cores)
    .venv/bin/python bench/mutation/run.py --only 'maskproof/spec/masking.py' --workdir /tmp/m
    .venv/bin/python bench/mutation/run.py --report-only --workdir /tmp/m   # score what ran

``--only`` globs name files as mutmut sees them in the snapshot, ``maskproof/spec/<module>.py``;
an old-style ``spec/<module>.py`` is read as ``maskproof/spec/<module>.py``.

Three adaptations to this layout, all applied before mutmut starts:

* The tests import ``maskproof.spec.<module>``, and mutmut names a mutated module after its file's
  path (``maskproof/spec/mae.py`` -> ``maskproof.spec.mae``; its trampolines only switch when the
  two names agree). In the checkout ``maskproof/spec`` is a symlink to ``spec/``, so the snapshot
  lays the namespace out as real folders instead: ``maskproof/__init__.py``, ``maskproof/spec/``
  (mutated) and ``maskproof/bridge/`` (the tests' argument strategies), beside ``tests/`` and
  pyproject.toml; mutmut copies them into ``mutants/`` and puts that first on ``sys.path``.

* Every mirror and theorem check in ``spec/`` carries a registry decorator (``@mirrors`` or
  ``@theorem``), and mutmut skips decorated functions by default because a decorator may have
  side effects when the function is copied. Ours only record the function in a dict, so they are
  allowed: the trampoline keeps the decorator (and so registers itself once), and the original
  and mutated copies lose it (so the registry never sees a duplicate name).
* The campaign runs in that scratch copy, so the checkout never gets a ``mutants/`` tree and
  edits made during a run do not leak into it. ``tests/spec`` needs nothing of ``runtime/``
  (the spec and its strategies are torch-free), so the snapshot leaves it out.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import libcst as cst

ROOT = Path(__file__).resolve().parents[2]
#: Snapshot path -> checkout path. ``maskproof/spec`` and ``maskproof/bridge`` are symlinks in
#: the checkout; the snapshot gets real copies, so mutmut's module names are ``maskproof.spec.*``.
SNAPSHOT = {
    "maskproof/__init__.py": "maskproof/__init__.py",
    "maskproof/spec": "spec",
    "maskproof/bridge": "bridge",
    "tests": "tests",
    # tests/spec/test_lean_surface.py reads the list of declarations left unmirrored there.
    "proofs_notes": "proofs_notes",
    "pyproject.toml": "pyproject.toml",
}
#: Where the mutated package sits in the snapshot (and in ``mutants/``): ``[tool.mutmut]``'s
#: ``source_paths``.
SPEC_IN_SNAPSHOT = "maskproof/spec"
#: Decorators that only record the function in spec.registry; safe to keep on the trampoline.
REGISTRY_DECORATORS = frozenset({"mirrors", "theorem"})
#: Exit statuses that count as the tests detecting the mutant. A timeout is not counted: it is
#: listed with the survivors and explained (or killed) like them.
KILLED = frozenset({"killed"})
#: Mutants a stopped or partial run never reached; reported, left out of the score.
NOT_RUN = frozenset({"not checked"})


@dataclass(frozen=True)
class MutantOutcome:
    name: str
    status: str
    diff: str


def _is_registry_decorated(node: cst.CSTNode) -> bool:
    if not isinstance(node, cst.FunctionDef) or not node.decorators:
        return False
    for decorator in node.decorators:
        call = decorator.decorator
        if not (isinstance(call, cst.Call) and isinstance(call.func, cst.Name)
                and call.func.value in REGISTRY_DECORATORS):
            return False
    return True


def allow_registry_decorators() -> None:
    """Let mutmut mutate functions whose only decorators are ``@mirrors``/``@theorem``."""
    from mutmut.mutation import file_mutation as fm

    skip_original = fm.MutationVisitor._skip_node_and_children
    arrange_original = fm.function_trampoline_arrangement

    def skip(self: fm.MutationVisitor, node: cst.CSTNode) -> bool:
        skipped = skip_original(self, node)
        if skipped and _is_registry_decorated(node):
            assert isinstance(node, cst.FunctionDef)
            # Still honour `# pragma: no mutate` and mutmut's never-mutate names.
            return (node.name.value in self.ignored_functions
                    or node.name.value in fm.NEVER_MUTATE_FUNCTION_NAMES)
        return skipped

    def arrange(function: cst.FunctionDef, mutants: Iterable[fm.Mutation],
                class_name: str | None) -> tuple[Sequence[fm.MODULE_STATEMENT],
                                                 Sequence[fm.MODULE_STATEMENT],
                                                 Sequence[fm.MODULE_STATEMENT], Sequence[str]]:
        declared, methods, assigned, names = arrange_original(function, mutants, class_name)
        if _is_registry_decorated(function):
            # Index 0 is the trampoline (registers once); the copies must not register again.
            methods = [methods[0], *(m.with_changes(decorators=[]) for m in methods[1:]
                                     if isinstance(m, cst.FunctionDef))]
        return declared, methods, assigned, names

    fm.MutationVisitor._skip_node_and_children = skip  # type: ignore[method-assign]
    fm.function_trampoline_arrangement = arrange


def snapshot(workdir: Path) -> None:
    """Copy the parts of the checkout the campaign needs into ``workdir`` (symlinks resolved)."""
    ignore = shutil.ignore_patterns("__pycache__", ".hypothesis", ".pytest_cache", "mutants")
    for name, origin in SNAPSHOT.items():
        source, target = ROOT / origin, workdir / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, target, ignore=ignore, dirs_exist_ok=True)
        else:
            shutil.copy2(source, target)


def only_patterns(patterns: Iterable[str]) -> list[str]:
    """``--only`` globs as mutmut matches them: ``spec/x.py`` becomes ``maskproof/spec/x.py``."""
    return [f"maskproof/{p}" if p.startswith("spec/") else p for p in patterns]


def unmatched_patterns(workdir: Path, patterns: Iterable[str]) -> list[str]:
    """The globs that name no Python file of the snapshot's ``maskproof/spec`` (a typo, or a
    path outside it): mutmut would silently mutate nothing for them."""
    files = [p.relative_to(workdir).as_posix()
             for p in (workdir / SPEC_IN_SNAPSHOT).rglob("*.py")]
    return [p for p in patterns if not any(fnmatch.fnmatch(f, p) for f in files)]


def run_mutmut(workdir: Path, max_children: int, only: list[str], tests: list[str],
               mutant_names: list[str]) -> None:
    from mutmut import __main__ as mutmut_main
    from mutmut.configuration import config

    os.chdir(workdir)
    os.environ["MASKPROOF_PROFILE"] = "mutation"
    cfg = config()
    if only:
        cfg.only_mutate = only
    if tests:
        cfg.pytest_add_cli_args_test_selection = tests
    try:
        mutmut_main._run(mutant_names, max_children)
    except SystemExit as stop:
        if stop.code not in (0, None):
            raise


def collect_outcomes(workdir: Path) -> list[MutantOutcome]:
    from mutmut.mutation.diff_apply import get_diff_for_mutant
    from mutmut.stats import status_by_exit_code

    outcomes = []
    for meta in sorted((workdir / "mutants").rglob("*.py.meta")):
        source = meta.relative_to(workdir / "mutants").with_suffix("")
        codes = json.loads(meta.read_text("utf-8"))["exit_code_by_key"]
        for name, code in sorted(codes.items()):
            status = status_by_exit_code[code]
            skip = status in KILLED or status in NOT_RUN
            diff = "" if skip else get_diff_for_mutant(name, path=source)
            outcomes.append(MutantOutcome(name, status, diff))
    return outcomes


def module_of(mutant: str) -> str:
    """``maskproof.spec.ssl`` of ``maskproof.spec.ssl.x_f__mutmut_3``, and
    ``maskproof.spec.errors`` of ``maskproof.spec.errors.xǁClsǁm__mutmut_1``."""
    return re.split(r"\.x[_ǁ]", mutant, maxsplit=1)[0]


def report(outcomes: list[MutantOutcome], seconds: float, summary: Path | None) -> float:
    """Print the score over the mutants that ran (``not checked`` ones are listed, not scored)."""
    counts = Counter(o.status for o in outcomes)
    checked = [o for o in outcomes if o.status not in NOT_RUN]
    total = len(checked)
    killed = sum(counts[s] for s in KILLED)
    score = killed / total if total else 0.0
    print(f"\nmutants: {len(outcomes)}  "
          + "  ".join(f"{s}: {n}" for s, n in sorted(counts.items())))
    by_file: dict[str, Counter[str]] = {}
    for outcome in checked:
        by_file.setdefault(module_of(outcome.name), Counter())[outcome.status] += 1
    for module, module_counts in sorted(by_file.items()):
        ran = sum(module_counts.values())
        print(f"  {module}: {module_counts['killed']}/{ran} killed  "
              + "  ".join(f"{s}: {n}" for s, n in sorted(module_counts.items()) if s != "killed"))
    print(f"score: {killed}/{total} killed = {100 * score:.2f}%  (wall time {seconds:.0f} s)")
    for outcome in checked:
        if outcome.status not in KILLED:
            print(f"\n# {outcome.name}: {outcome.status}\n{outcome.diff}")
    if summary is not None:
        summary.write_text(json.dumps({
            "total": total, "killed": killed, "score": score, "counts": dict(counts),
            "by_module": {m: dict(c) for m, c in sorted(by_file.items())},
            "wall_seconds": round(seconds), "not_killed": [o.__dict__ for o in checked
                                                          if o.status not in KILLED],
        }, indent=2) + "\n", "utf-8")
    return score


def recheck(workdir: Path, names: list[str], tests: list[str]) -> dict[str, str]:
    """Re-run mutants that a finished campaign did not kill, against the checkout's current tests.

    The mutated sources in ``workdir/mutants`` are reused (no regeneration, no stats phase): a
    copy of them gets today's ``tests/`` and ``bridge/`` (as ``maskproof/bridge``, a real folder
    like the campaign's), and each mutant is selected through mutmut's ``MUTANT_UNDER_TEST``
    switch. Only valid while ``spec/`` itself is unchanged since the campaign, for the modules
    being rechecked.
    """
    scratch = workdir / f"recheck-{os.getpid()}"
    shutil.rmtree(scratch, ignore_errors=True)
    ignore = shutil.ignore_patterns("__pycache__", ".hypothesis", ".pytest_cache")
    shutil.copytree(workdir / "mutants", scratch, ignore=ignore)
    for name in ("tests", "maskproof/bridge"):
        shutil.rmtree(scratch / name, ignore_errors=True)
        shutil.copytree(ROOT / SNAPSHOT[name], scratch / name, ignore=ignore)
    shutil.copy2(ROOT / "maskproof/__init__.py", scratch / "maskproof/__init__.py")
    verdicts = {}
    for name in names:
        env = {**os.environ, "MUTANT_UNDER_TEST": name, "MASKPROOF_PROFILE": "mutation"}
        result = subprocess.run([sys.executable, "-m", "pytest", "-x", "-q", "-p",
                                 "no:cacheprovider", *tests], cwd=scratch, env=env,
                                capture_output=True, text=True, check=False, timeout=600)
        verdicts[name] = "killed" if result.returncode == 1 else (
            "survived" if result.returncode == 0 else f"exit {result.returncode}")
        print(f"{verdicts[name]:>9}  {name}", flush=True)
    return verdicts


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0] if __doc__ else None)
    parser.add_argument("--max-children", type=int, default=2, help="parallel mutant workers")
    parser.add_argument("--workdir", type=Path, help="scratch directory (reused if it exists)")
    parser.add_argument("--only", action="append", default=[],
                        help="glob of spec files to mutate, e.g. 'maskproof/spec/masking.py' "
                        "(repeatable; 'spec/...' is read as 'maskproof/spec/...')")
    parser.add_argument("--tests", type=shlex.split, default=[],
                        help="pytest selection instead of tests/spec, as one shell-quoted string "
                        "(for quick slices while the spec is incomplete)")
    parser.add_argument("--mutant", action="append", default=[],
                        help="re-run only this mutant (repeatable; needs --workdir)")
    parser.add_argument("--summary", type=Path, help="write a JSON summary here")
    parser.add_argument("--min-score", type=float, default=0.95,
                        help="exit non-zero below this killed fraction")
    parser.add_argument("--no-nice", action="store_true", help="do not lower the priority")
    parser.add_argument("--recheck", nargs="+", metavar="TEST", default=None,
                        help="re-run the campaign's non-killed mutants in --workdir against these "
                        "current test files (no regeneration); writes --summary")
    parser.add_argument("--recheck-only", default="",
                        help="with --recheck: only mutants whose name contains this text")
    parser.add_argument("--recheck-names", type=Path,
                        help="with --recheck: a file of mutant names (one a line) to re-run")
    parser.add_argument("--report-only", action="store_true",
                        help="only report the results already in --workdir (e.g. of a run "
                        "stopped by a time limit): mutants it never reached are not scored")
    args = parser.parse_args(argv)

    if args.recheck is not None:
        if args.workdir is None:
            parser.error("--recheck needs --workdir")
        summary_path = args.summary.resolve() if args.summary else None
        os.chdir(args.workdir)  # mutmut reads its mutants/ relative to the working directory
        outcomes = collect_outcomes(args.workdir.resolve())
        wanted = (set(args.recheck_names.read_text("utf-8").split()) if args.recheck_names
                  else None)
        # A names file may also pick mutants a stopped campaign never reached.
        left = [o.name for o in outcomes
                if o.status not in KILLED and args.recheck_only in o.name
                and (o.name in wanted if wanted is not None else o.status not in NOT_RUN)]
        verdicts = recheck(args.workdir.resolve(), left, args.recheck)
        if summary_path:
            summary_path.write_text(json.dumps(verdicts, indent=2) + "\n", "utf-8")
        still = [name for name, verdict in verdicts.items() if verdict != "killed"]
        print(f"rechecked {len(verdicts)}: {len(verdicts) - len(still)} now killed, "
              f"{len(still)} not killed")
        return 0
    if args.report_only:
        if args.workdir is None:
            parser.error("--report-only needs --workdir")
        os.chdir(args.workdir)
        score = report(collect_outcomes(args.workdir.resolve()), 0.0,
                       args.summary.resolve() if args.summary else None)
        return 0 if score >= args.min_score else 1
    if not args.no_nice:
        os.nice(10)  # the machine is shared: mutants yield to interactive work
    workdir = (args.workdir or Path(tempfile.mkdtemp(prefix="maskproof-mutation-"))).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    summary = args.summary.resolve() if args.summary else None
    snapshot(workdir)
    print(f"workdir: {workdir}", flush=True)
    only = only_patterns(args.only)
    missing = unmatched_patterns(workdir, only)
    if missing:
        parser.error(f"--only matches no file under {SPEC_IN_SNAPSHOT}/: {', '.join(missing)}")

    allow_registry_decorators()
    start = time.monotonic()
    run_mutmut(workdir, args.max_children, only, args.tests, args.mutant)
    seconds = time.monotonic() - start
    score = report(collect_outcomes(workdir), seconds, summary)
    return 0 if score >= args.min_score else 1


if __name__ == "__main__":
    sys.exit(main())
