"""The bug zoo: every card is caught by the contract it names; the table and exit codes.

Runtime (2 cores): about 290 s wall, 140 s CPU under the shared machine's load (the whole
catalogue on each of the 47 cards, 10 examples a contract).
"""

from __future__ import annotations

import io

import pytest

from maskproof.bridge.audit.catalogue import BY_ID
from maskproof.bridge.audit.reference import ReferenceAdapter
from maskproof.bridge.zoo.cards import CARDS, Card
from maskproof.bridge.zoo.run import run_card, run_zoo

EXAMPLES = 10


def test_at_least_fifteen_cards_with_complete_metadata() -> None:
    assert len(CARDS) >= 15
    assert len({card.name for card in CARDS}) == len(CARDS)
    assert len({card.family for card in CARDS}) >= 12
    for card in CARDS:
        assert card.expected <= set(BY_ID), card.name
        assert card.report and card.does_not_prove and card.summary, card.name
        assert issubclass(card.adapter, ReferenceAdapter) and card.adapter is not ReferenceAdapter


@pytest.mark.parametrize("card", CARDS, ids=[card.name for card in CARDS])
def test_card_fails_its_named_contract_and_only_listed_ones(card: Card) -> None:
    verdict = run_card(card, EXAMPLES, seed=0, full=True)
    assert verdict.caught, verdict.named.detail
    assert verdict.named.counterexample, "the report must carry the shrunk input"
    assert not verdict.unexpected, {r.contract.id: r.detail for r in verdict.results
                                    if r.contract.id in verdict.unexpected}


def test_zoo_prints_the_table_and_exits_0() -> None:
    out = io.StringIO()
    assert run_zoo(EXAMPLES, 0, full=False, names=["ratio_ignored"], out=out) == 0
    text = out.getvalue()
    assert "| ratio_ignored | mask ratio ignored or miscounted | `masking.keep_count` |" in text
    assert "all 1 cards caught" in text


def test_zoo_exits_1_when_a_card_is_not_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    # The reference itself, claimed to be caught by a contract it passes.
    honest = Card("not_a_bug", ReferenceAdapter, "none", "none", "lean.vector_mae_mask",
                  "nothing")
    monkeypatch.setattr("maskproof.bridge.zoo.run.CARDS", (honest,))
    out = io.StringIO()
    assert run_zoo(EXAMPLES, 0, full=False, out=out) == 1
    assert "NOT CAUGHT by `lean.vector_mae_mask`" in out.getvalue()


def test_unknown_card_is_a_user_error() -> None:
    with pytest.raises(ValueError, match="unknown zoo card"):
        run_zoo(EXAMPLES, 0, full=False, names=["no_such_card"], out=io.StringIO())
