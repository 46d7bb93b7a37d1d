"""``maskproof zoo``: audit every bug-zoo card and print the table; exit 1 if one is missed."""

from __future__ import annotations

import argparse

from maskproof.bridge.audit.command import add_hypothesis_db_argument


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``zoo`` on the ``maskproof`` command line."""
    parser = subparsers.add_parser(
        "zoo", help="run the audit on every bug-zoo card and print which contract catches it",
        description="Each card is maskproof's reference adapter with one published bug put "
                    "back. Run the audit on every card and print the table (card, caught by, "
                    "counterexample size). Exit 1 if a card is not caught by the contract it "
                    "names or, on a full run, fails contracts other than those it lists.")
    parser.add_argument("--examples", type=int, default=40,
                        help="Hypothesis examples per contract (default 40)")
    parser.add_argument("--seed", type=int, default=0, help="Hypothesis seed (default 0)")
    parser.add_argument("--quick", action="store_true",
                        help="run only each card's named contract, not the whole catalogue")
    parser.add_argument("--card", action="append", metavar="NAME",
                        help="run only this card (repeatable)")
    add_hypothesis_db_argument(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from maskproof.bridge.audit.command import check_common, hypothesis_db
    from maskproof.bridge.hypothesis_storage import example_database, hypothesis_storage
    from maskproof.bridge.zoo.run import run_zoo

    check_common(args.examples, args.seed)
    storage = hypothesis_db(args)
    with hypothesis_storage(storage):
        return run_zoo(args.examples, args.seed, full=not args.quick, names=args.card,
                       database=example_database(storage))
