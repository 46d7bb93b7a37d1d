"""``maskproof audit TARGET [--out DIR]``: run the contracts on an adapter, write the report.

Exit 0 when no contract fails, 1 when one does, 2 (one line on stderr, via ``bridge.cli``) when
``TARGET`` does not name an adapter or an argument is wrong. PyTorch is imported only when the
command runs. Hypothesis's storage goes to ``--hypothesis-db DIR`` (also the example database)
or to a temporary folder, never to ``.hypothesis/`` in the current directory.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``audit`` on the ``maskproof`` command line."""
    parser = subparsers.add_parser(
        "audit", help="check an MAE / I-JEPA implementation through an adapter; write a report",
        description="Load the adapter TARGET (module:object; a class is instantiated), run every "
                    "contract whose capabilities it exposes with Hypothesis (fixed seed, "
                    "failures shrunk), print one line per contract and write audit.md and "
                    "audit.json to DIR. Exit 1 when a contract fails. The adapter protocol is "
                    "documented in the docstring of maskproof.bridge.audit and the README.")
    parser.add_argument("target", metavar="TARGET", help="the adapter, as module:object")
    parser.add_argument("--out", default=".", metavar="DIR",
                        help="where to write audit.md and audit.json (default: .)")
    parser.add_argument("--examples", type=int, default=40,
                        help="Hypothesis examples per contract, before each contract's weight "
                             "(default 40)")
    parser.add_argument("--seed", type=int, default=0, help="Hypothesis seed (default 0)")
    parser.add_argument("--contract", action="append", metavar="ID",
                        help="run only this contract (repeatable)")
    parser.add_argument("--timeout", type=float, default=300.0, metavar="SECONDS",
                        help="limit for loading the adapter and for each contract, shrinking "
                             "included; past it the contract is reported 'did not terminate' "
                             "with the line it was running (default 300; 0: no limit)")
    output = parser.add_mutually_exclusive_group()
    output.add_argument("--quiet", action="store_true",
                        help="print only the summary line (the reports are written as usual)")
    output.add_argument("--json", action="store_true",
                        help="print audit.json's content on stdout instead of the lines")
    add_hypothesis_db_argument(parser)
    parser.set_defaults(func=run)


def add_hypothesis_db_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--hypothesis-db", metavar="DIR",
                        help="Hypothesis's storage folder and example database: failing examples "
                             "are saved there and replayed first next time; default: a "
                             "temporary folder, removed afterwards, so nothing is left in the "
                             "current directory")


def hypothesis_db(args: argparse.Namespace) -> Path | None:
    return None if args.hypothesis_db is None else Path(args.hypothesis_db)


def check_common(examples: int, seed: int) -> None:
    if examples < 1:
        raise ValueError(f"--examples must be a positive integer, got {examples}")
    if seed < 0:
        raise ValueError(f"--seed must be a non-negative integer, got {seed}")


def check_timeout(seconds: float) -> float | None:
    """``--timeout`` as the runner takes it (``None``: no limit)."""
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"--timeout must be a non-negative number of seconds, got {seconds}")
    return None if seconds == 0 else seconds


def run(args: argparse.Namespace) -> int:
    from maskproof.bridge.audit.catalogue import BY_ID
    from maskproof.bridge.audit.report import check_writable, to_json, write_report
    from maskproof.bridge.audit.runner import ContractResult, audit, load_target
    from maskproof.bridge.hypothesis_storage import (
        check_storage_folder,
        example_database,
        hypothesis_storage,
    )

    check_common(args.examples, args.seed)
    timeout = check_timeout(args.timeout)
    out = Path(args.out)
    check_writable(out)  # before anything runs: a refused --out costs no audit
    only: list[str] | None = args.contract
    unknown = sorted(set(only or ()) - set(BY_ID))
    if unknown:
        raise ValueError(f"unknown contract id(s) {unknown}; known: {sorted(BY_ID)}")
    storage = hypothesis_db(args)
    if storage is not None:
        check_storage_folder(storage)  # also before the adapter's code runs
    adapter = load_target(args.target, timeout)
    stream = not (args.quiet or args.json)

    def show(r: ContractResult) -> None:
        if stream:
            detail = f"  {r.detail}" if r.status in ("fails", "did not terminate") else ""
            print(f"{r.status:>17}  {r.contract.id}{detail}", flush=True)

    with hypothesis_storage(storage):
        result = audit(adapter, args.target, args.examples, args.seed, only,
                       database=example_database(storage), timeout=timeout, on_result=show)
    md_path, json_path = write_report(result, out)
    if args.json:
        print(json.dumps(to_json(result), indent=2))
        return 1 if result.failed else 0
    counts = result.counts()
    print(f"{counts['holds']} hold, {counts['fails']} fail, {counts['did not terminate']} did "
          f"not terminate, {counts['not applicable']} not applicable; wrote {md_path} and "
          f"{json_path}")
    return 1 if result.failed else 0
