"""The ``maskproof`` command line: one entry point, one subcommand per job.

Subcommands that need PyTorch import it only when they run, so ``maskproof check`` (the spec's
self-check) works on a machine where only the standard library and Hypothesis are usable.
Every user error ends in one line on stderr and exit code 2, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from maskproof.runtime.errors import os_error_message, usage_message

if TYPE_CHECKING:
    from maskproof.runtime.train import StepCheck

Handler = Callable[[argparse.Namespace], int]


def _check(args: argparse.Namespace) -> int:
    from maskproof.bridge.check import run_check
    from maskproof.bridge.hypothesis_storage import hypothesis_storage

    storage = None if args.hypothesis_db is None else Path(args.hypothesis_db)
    with hypothesis_storage(storage):
        return run_check(args.examples, args.seed, Path(args.out), progress=not args.quiet)


def _add_check_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "check", help="run every Lean theorem check on a fixed seed; write a traceability table",
        description="Run every registered Lean theorem check over Hypothesis-drawn inputs with a "
                    "fixed seed, print one line per Lean module, and write a JSON table "
                    "(Lean name -> Python mirror -> tests -> status). Exit 1 on any failure.")
    parser.add_argument("--examples", type=int, default=300,
                        help="examples per theorem (default 300)")
    parser.add_argument("--seed", type=int, default=0, help="Hypothesis seed (default 0)")
    parser.add_argument("--out", default="traceability.json",
                        help="where to write the table (default traceability.json)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument("--hypothesis-db", metavar="DIR",
                        help="Hypothesis's storage folder (its caches); default: a temporary "
                             "folder, removed afterwards, so nothing is left in the current "
                             "directory")
    parser.set_defaults(func=_check)


def _add_runtime_parsers(
        subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    try:
        from maskproof.runtime import cli as runtime_cli
    except ImportError as error:  # torch missing: the spec commands still work
        message = f"needs PyTorch ({error}); install it with: pip install torch"
        for name in ("train", "probe", "export"):
            stub = subparsers.add_parser(name, help=f"unavailable: {message}")
            stub.set_defaults(func=lambda _args, m=message: _unavailable(m))
        return
    runtime_cli.add_train_parser(subparsers, step_checks=_live_spec_check)
    runtime_cli.add_probe_parser(subparsers)
    runtime_cli.add_export_parser(subparsers)


def _live_spec_check(every: int) -> StepCheck:
    # Imported when `train --check-every` runs, so plain training never loads the spec checks.
    from maskproof.bridge.live_check import make_step_check

    return make_step_check(every)


def _unavailable(message: str) -> int:
    print(f"maskproof: {message}", file=sys.stderr)
    return 2


class _OneLineErrorParser(argparse.ArgumentParser):
    """Usage errors (an unknown flag, a missing command) as one line, exit status 2.

    Prefix abbreviations are off by default (``allow_abbrev=False``): ``--epoch 1`` is an
    unknown flag, not a silent ``--epochs 1``. Subparsers are made with this class too (the
    ``parser_class`` of every ``add_subparsers``), so every subcommand inherits both rules.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {usage_message(self, message)}\n")


def _version() -> str:
    from maskproof import __version__

    return __version__


def build_parser() -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = _OneLineErrorParser(
        prog="maskproof", allow_abbrev=False,
        description="Check masked self-supervised learning code against the TorchLean Lean "
                    "semantics, and train MAE / I-JEPA models that meet them.")
    parser.add_argument("--version", action="version", version=f"maskproof {_version()}")
    # parser_class defaults to type(parser): every subcommand is a _OneLineErrorParser too.
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_check_parser(subparsers)
    _add_runtime_parsers(subparsers)
    _add_vectors_parser(subparsers)
    _add_audit_parsers(subparsers)
    return parser


def _add_audit_parsers(
        subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from maskproof.bridge.audit import command as audit_command  # imports PyTorch only when run
    from maskproof.bridge.zoo import command as zoo_command

    audit_command.add_parser(subparsers)
    zoo_command.add_parser(subparsers)


def _add_vectors_parser(
        subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from maskproof.bridge.vectors.command import (
        add_parser,  # stdlib + spec only; generates when run
    )

    add_parser(subparsers)


def _user_errors() -> tuple[type[BaseException], ...]:
    errors: list[type[BaseException]] = [ValueError, OSError]
    try:
        from maskproof.runtime.errors import UserError
    except ImportError:
        pass
    else:
        errors.append(UserError)
    return tuple(errors)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Handler = args.func
    try:
        return handler(args)
    except OSError as error:
        print(f"maskproof {args.command}: {os_error_message(error)}", file=sys.stderr)
        return 2
    except _user_errors() as error:
        print(f"maskproof {args.command}: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"maskproof {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
