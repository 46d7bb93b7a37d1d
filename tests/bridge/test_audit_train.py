"""The training-loop contracts across simulated ranks: they hold on the reference loops (the
CLI's own steps), catch the zoo card written for each, and the simulated ranks are the runtime's.

Runtime (2 cores): about 40 s.
"""

from __future__ import annotations

import pytest
import torch

from maskproof.bridge.audit import contracts_train as ct
from maskproof.bridge.audit.protocols import RankedTrainingCapability, RankLoop, capabilities_of
from maskproof.bridge.audit.reference import ReferenceAdapter
from maskproof.bridge.audit.reference_ranks import ReferenceRankLoop
from maskproof.bridge.audit.runner import FAILS, HOLDS, audit
from maskproof.bridge.zoo.cards import BY_NAME

EXAMPLES = 20
TRAIN_CONTRACTS = [c.id for c in ct.CONTRACTS]


def test_reference_has_the_capability_and_holds() -> None:
    adapter = ReferenceAdapter()
    assert "RankedTrainingCapability" in capabilities_of(adapter)
    assert isinstance(adapter.rank_loop("mae", 2, 1, 0), RankLoop)
    result = audit(adapter, "reference", EXAMPLES, 0, TRAIN_CONTRACTS)
    assert {r.contract.id: r.status for r in result.results} == dict.fromkeys(TRAIN_CONTRACTS,
                                                                              HOLDS)


@pytest.mark.parametrize(("card", "clause"), [
    ("rank_blind_masks", "drew the same masks"),
    ("one_process_horizon", "the schedule's horizon is not the rank's step count"),
    ("decay_everything", "decayed, though documented as not decayed"),
    ("wd_schedule_overwrites_exempt", "after step 0: decayed, though documented as not"),
])
def test_each_card_fails_its_contract_with_the_clause(card: str, clause: str) -> None:
    entry = BY_NAME[card]
    result = audit(entry.adapter(), card, EXAMPLES, 0, [entry.caught_by])
    (only,) = result.results
    assert only.status == FAILS
    assert clause in only.detail


@pytest.mark.parametrize("kind", ["mae", "jepa"])
def test_simulated_ranks_split_the_one_process_batch(kind: str) -> None:
    """What the contracts compare is the runtime's own sharding: the ranks' rows of a step are
    the one-process step's rows, the same samples with the same masks and crops."""
    one = ReferenceRankLoop(kind, 1, 0, seed=5).step()
    ranks = [ReferenceRankLoop(kind, 2, r, seed=5).step() for r in range(2)]
    assert [i for step in ranks for i in step.sample_ids] == one.sample_ids
    assert one.crops is not None and all(step.crops is not None for step in ranks)
    assert torch.equal(torch.cat([step.crops for step in ranks if step.crops is not None]),
                       one.crops)
    if kind == "mae":  # I-JEPA pads each rank's index lists to its own longest block
        assert torch.equal(torch.cat([step.masks for step in ranks]), one.masks)


def test_the_reference_loop_ends_at_min_lr() -> None:
    loop = ReferenceRankLoop("jepa", 2, 0, seed=1)
    for _ in range(loop.total_steps):
        loop.step()
    assert all(group["lr"] == loop.final_lr for group in loop.optimizer.param_groups)


def test_momentum_probe_recovers_the_momentum_exactly() -> None:
    loop = ReferenceRankLoop("jepa", 1, 0, seed=2)
    from maskproof.runtime.models.ijepa import ema_momentum

    loop.step()
    _, measured = ct._measured_momentum(loop)
    want = ema_momentum(1, loop.total_steps, start=loop._loop.setup.config.ema_start)
    assert abs(measured - want) < 1e-6


def test_a_loop_too_long_to_audit_is_refused_by_name() -> None:
    class Long(ReferenceAdapter):
        def rank_loop(self, kind: str, world_size: int, rank: int, seed: int
                      ) -> ReferenceRankLoop:
            loop = super().rank_loop(kind, world_size, rank, seed)
            loop.total_steps = ct.MAX_AUDITED_STEPS + 1
            return loop

    assert isinstance(Long(), RankedTrainingCapability)
    (result,) = audit(Long(), "long", 4, 0, ["train.schedule_completes"]).results
    assert result.status == FAILS and "total_steps 65: expected 1..64" in result.detail
