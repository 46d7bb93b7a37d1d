"""Run the audit on every zoo card and print the table (card, caught by, counterexample size)."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TextIO

from hypothesis.database import ExampleDatabase

from maskproof.bridge.audit.runner import FAILS, ContractResult, audit
from maskproof.bridge.zoo.cards import CARDS, Card


@dataclass(frozen=True)
class CardVerdict:
    card: Card
    #: Results of the contracts that ran (all of them, or only the named one).
    results: tuple[ContractResult, ...]
    full: bool

    @property
    def failing(self) -> frozenset[str]:
        return frozenset(r.contract.id for r in self.results if r.status == FAILS)

    @property
    def named(self) -> ContractResult:
        return next(r for r in self.results if r.contract.id == self.card.caught_by)

    @property
    def caught(self) -> bool:
        return self.named.status == FAILS

    @property
    def unexpected(self) -> frozenset[str]:
        """Contracts that failed although the card does not list them (false alarms)."""
        return self.failing - self.card.expected

    @property
    def as_expected(self) -> bool:
        """Caught by its named contract, and failing nowhere the card does not list."""
        return self.caught and not self.unexpected


def run_card(card: Card, examples: int, seed: int, full: bool, *,
             database: ExampleDatabase | None = None) -> CardVerdict:
    only = None if full else [card.caught_by]
    result = audit(card.adapter(), f"zoo:{card.name}", examples, seed, only, database=database)
    return CardVerdict(card, tuple(result.results), full)


def table(verdicts: Sequence[CardVerdict]) -> str:
    lines = ["| card | bug family | caught by | counterexample size | also failed | report |",
             "| --- | --- | --- | --- | --- | --- |"]
    for v in verdicts:
        caught = f"`{v.card.caught_by}`" if v.caught else f"NOT CAUGHT by `{v.card.caught_by}`"
        others = sorted(v.failing - {v.card.caught_by})
        also = ", ".join(f"`{c}`" for c in others) or "—"
        if v.unexpected:
            also += f" (NOT listed on the card: {', '.join(sorted(v.unexpected))})"
        lines.append(f"| {v.card.name} | {v.card.family} | {caught} | {v.named.size} | {also} "
                     f"| {v.card.report} |")
    return "\n".join(lines)


def run_zoo(examples: int, seed: int, full: bool, names: Sequence[str] | None = None,
            out: TextIO = sys.stdout, *, database: ExampleDatabase | None = None) -> int:
    """Print the table; 1 if a card is not caught as its card says, else 0.

    ``database``: where the audit saves failing examples and replays them from (``None``: nowhere).
    """
    cards = [c for c in CARDS if names is None or c.name in names]
    unknown = sorted(set(names or ()) - {c.name for c in CARDS})
    if unknown:
        raise ValueError(f"unknown zoo card(s) {unknown}; known: {[c.name for c in CARDS]}")
    verdicts = [run_card(card, examples, seed, full, database=database) for card in cards]
    print(table(verdicts), file=out)
    missed = [v.card.name for v in verdicts if not v.as_expected]
    if missed:
        print(f"\n{len(missed)} card(s) not caught as expected: {', '.join(missed)}", file=out)
        return 1
    print(f"\nall {len(verdicts)} cards caught by the contract they name", file=out)
    return 0
