"""Contracts on the training loop as each rank runs it: data and masks apart, schedules that
finish, weight decay where documented.

Ranks are simulated in one process (``RankedTrainingCapability``): a contract starts the loop of
every rank of a drawn world size with the same seed, as one launch command starts them all, and
compares what each rank's steps trained on. Bugs of this family are silent: every rank trains,
the loss falls, and the run is worth less than it looks (``W`` ranks on the same masks and
crops; a schedule whose horizon counts the one-process steps, so a ``W``-rank run never reaches
its final learning rate or EMA momentum; LayerNorm weights and biases decayed).
"""

from __future__ import annotations

import itertools

import torch
from hypothesis import strategies as st

from maskproof.bridge.audit.contract import Clauses, Contract, Draws, require
from maskproof.bridge.audit.protocols import RankedTrainingCapability, RankLoop, RankStep

RANKS = "rank-unaware data, masks or schedules"
DECAY = "weight decay on the wrong parameters"

#: World sizes the contracts draw (a world of one is the one-process run compared against).
WORLD_SIZES = (2, 4)
#: The schedule contract runs every step of the loop; a loop longer than this is refused.
MAX_AUDITED_STEPS = 64


def _kind_and_seed(adapter: RankedTrainingCapability, draws: Draws) -> tuple[str, int]:
    kinds = adapter.rank_loop_kinds
    require(bool(kinds), "rank_loop_kinds is empty: expected at least one loop kind")
    return draws.draw("kind", st.sampled_from(kinds)), draws.seed()


def _steps(loop: RankLoop, count: int) -> list[RankStep]:
    return [loop.step() for _ in range(count)]


def check_ranks_draw_apart(adapter: RankedTrainingCapability, draws: Draws) -> None:
    """At each step no two ranks hold the same sample, the same masks or the same crops, and no
    sample comes twice (over all ranks) before the ranks together have seen the dataset once.
    Masks and crops are compared a rank's whole step at once: two ranks drawing the same batch
    of random masks by chance has probability far below 1e-9 on any grid of 16 cells or more."""
    world = draws.draw("world_size", st.sampled_from(WORLD_SIZES))
    kind, seed = _kind_and_seed(adapter, draws)
    loops = [adapter.rank_loop(kind, world, rank, seed) for rank in range(world)]
    count = draws.draw("steps", st.integers(1, 3))
    steps = [_steps(loop, count) for loop in loops]
    draws.size = sum(s.masks.numel() for rank in steps for s in rank)
    with Clauses() as clauses:
        for step in range(count):
            for a, b in itertools.combinations(range(world), 2):
                x, y = steps[a][step], steps[b][step]
                shared = sorted(set(x.sample_ids) & set(y.sample_ids))
                clauses.require(not shared, f"step {step}: ranks {a} and {b} of {world} both "
                                            f"train on samples {shared[:4]}")
                clauses.require(not _same(x.masks, y.masks),
                                f"step {step}: ranks {a} and {b} of {world} drew the same masks "
                                "(the mask generator does not depend on the rank)")
                if x.crops is not None and y.crops is not None:
                    clauses.require(not _same(x.crops, y.crops),
                                    f"step {step}: ranks {a} and {b} of {world} drew the same "
                                    "crops (the augmentation RNG does not depend on the rank)")
        per_step = sum(len(rank[0].sample_ids) for rank in steps)
        dataset = loops[0].dataset_size
        first_epoch = min(count, dataset // max(per_step, 1))
        seen = [i for step in range(first_epoch) for rank in steps
                for i in rank[step].sample_ids]
        repeated = sorted({i for i in seen if seen.count(i) > 1})
        clauses.require(not repeated,
                        f"the first {first_epoch} step(s) of {world} ranks ({len(seen)} of "
                        f"{dataset} samples) train on samples {repeated[:4]} more than once: "
                        "each rank reads the whole dataset instead of its shard")


def _same(x: torch.Tensor, y: torch.Tensor) -> bool:
    return x.shape == y.shape and torch.equal(x, y)


def _group_lrs(loop: RankLoop) -> list[float]:
    """Each optimizer group's learning rate divided by its ``lr_scale``."""
    return [float(g["lr"]) / float(g.get("lr_scale", 1.0)) for g in loop.optimizer.param_groups]


#: Offset added to every EMA-target parameter before a measured step, so that target and online
#: differ by about 1 and the momentum solved from the update is exact to float32 rounding.
EMA_PROBE_OFFSET = 1.0


def _measured_momentum(loop: RankLoop) -> tuple[RankStep, float]:
    """One step of ``loop`` with ``m`` solved from its EMA update ``after = m·before +
    (1-m)·online`` (the median over the parameters' entries); before the step every target
    parameter is moved by :data:`EMA_PROBE_OFFSET` (the law is linear, so this changes no
    schedule), so the solution is exact to float32 rounding, not swamped by it."""
    assert loop.ema_target is not None and loop.ema_online is not None
    with torch.no_grad():
        for p in loop.ema_target.parameters():
            p.add_(EMA_PROBE_OFFSET)
    before = _params(loop.ema_target)
    step = loop.step()
    online, after = _params(loop.ema_online), _params(loop.ema_target)
    ratios = [((after[n] - online[n]) / (old - online[n])).flatten()
              for n, old in before.items() if old.numel()]
    return step, float(torch.cat(ratios).median())


def _params(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {n: p.detach().double().clone() for n, p in module.named_parameters()}


def _ends_at(name: str, values: list[float], final: float, what: str, clauses: Clauses) -> None:
    """The last of ``values`` (one per step) is the documented ``final`` up to one step of the
    schedule: a horizon of ``T`` or ``T - 1`` steps ends there, one that counts another run's
    steps (``W`` times too many) stops far from it."""
    last = values[-1]
    step_change = abs(last - values[-2]) if len(values) > 1 else 0.0
    allowed = 2.0 * step_change + 1e-6 * max(1.0, abs(final))
    clauses.require(abs(last - final) <= allowed,
                    f"{what}: the last step ran at {name} {last:.6g}, not the documented final "
                    f"{final:.6g} (the step before: {values[-2] if len(values) > 1 else last:.6g}"
                    f"; the schedule's horizon is not the rank's step count)")


def check_schedule_completes(adapter: RankedTrainingCapability, draws: Draws) -> None:
    """Rank 0 of a drawn world size runs every step of its loop. Its last step runs at the
    documented final learning rate (and, with an EMA, the documented final momentum, measured
    from the target's update), up to one step of the schedule; and over the run the ranks
    together train on as many samples as the one-process run, within one global batch per pass
    over the data."""
    world = draws.draw("world_size", st.sampled_from((1, *WORLD_SIZES)))
    kind, seed = _kind_and_seed(adapter, draws)
    loop = adapter.rank_loop(kind, world, 0, seed)
    total = loop.total_steps
    require(1 <= total <= MAX_AUDITED_STEPS,
            f"total_steps {total!r}: expected 1..{MAX_AUDITED_STEPS} (the audit runs every step; "
            "configure a short run)")
    has_ema = loop.ema_target is not None and loop.ema_online is not None
    samples, lrs, momenta = 0, [], []
    for index in range(total):
        if has_ema and index >= total - 2:
            step, momentum = _measured_momentum(loop)
            momenta.append(momentum)
        else:
            step = loop.step()
        samples += len(step.sample_ids)
        lrs.append(_group_lrs(loop))
    draws.size = total
    what = f"{kind}, rank 0 of {world}, {total} steps"
    with Clauses() as clauses:
        for group in range(len(lrs[-1])):
            _ends_at("lr", [row[group] for row in lrs[-2:]], loop.final_lr,
                     f"{what}, optimizer group {group}", clauses)
        if momenta:
            _ends_at("EMA momentum", momenta, loop.ema_end, what, clauses)
        if world > 1:
            one = adapter.rank_loop(kind, 1, 0, seed)
            per_step = [len(one.step().sample_ids) for _ in range(one.total_steps)]
            one_samples = sum(per_step)
            passes = max(1, -(-one_samples // max(loop.dataset_size, 1)))
            slack = passes * max(len(step.sample_ids) * world, max(per_step))
            clauses.require(abs(samples * world - one_samples) <= slack,
                            f"{kind}: {world} ranks train on {samples * world} samples in all "
                            f"({total} steps each), the one-process run on {one_samples} "
                            f"({one.total_steps} steps): the step count does not follow the "
                            "world size")


def _decay_of(loop: RankLoop) -> dict[int, list[float]]:
    decay: dict[int, list[float]] = {}
    for group in loop.optimizer.param_groups:
        for p in group["params"]:
            decay.setdefault(id(p), []).append(float(group.get("weight_decay", 0.0)))
    return decay


def check_weight_decay_where_documented(adapter: RankedTrainingCapability, draws: Draws) -> None:
    """After each of the first steps, every trainable parameter of ``module`` is in exactly one
    optimizer group, with weight decay 0 exactly when it is a tensor of rank <= 1, its name ends
    in ``bias`` or contains a declared ``no_weight_decay_parts`` fragment."""
    kind, seed = _kind_and_seed(adapter, draws)
    loop = adapter.rank_loop(kind, 1, 0, seed)
    parts = loop.no_weight_decay_parts
    require(isinstance(parts, tuple) and all(isinstance(x, str) for x in parts),
            f"no_weight_decay_parts must be a tuple of strings, got {parts!r}")
    count = draws.draw("steps", st.integers(1, 2))
    trainable = [(n, p) for n, p in loop.module.named_parameters() if p.requires_grad]
    draws.size = len(trainable)
    with Clauses() as clauses:
        for step in range(count):
            loop.step()
            decay = _decay_of(loop)
            wrong_on, wrong_off, missing, twice = [], [], [], []
            for name, p in trainable:
                values = decay.get(id(p), [])
                if not values:
                    missing.append(name)
                    continue
                if len(values) > 1:
                    twice.append(name)
                exempt = p.ndim <= 1 or name.endswith("bias") or any(x in name for x in parts)
                if exempt and values[0] != 0.0:
                    wrong_on.append(name)
                elif not exempt and values[0] == 0.0:
                    wrong_off.append(name)
            after = f"{kind}, after step {step}:"
            clauses.require(not missing, f"{after} trainable parameters in no optimizer group: "
                                         f"{missing[:4]}")
            clauses.require(not twice, f"{after} parameters in two optimizer groups: {twice[:4]}")
            clauses.require(not wrong_on, f"{after} decayed, though documented as not decayed "
                                          f"(rank <= 1, a bias, or {list(parts)}): "
                                          f"{wrong_on[:4]}")
            clauses.require(not wrong_off, f"{after} not decayed, though documented as decayed: "
                                           f"{wrong_off[:4]}")
            if missing or twice or wrong_on or wrong_off:
                break


CONTRACTS = (
    Contract("train.ranks_draw_apart",
             "simulated ranks of one launch never share a step's samples, masks or crops, and "
             "no sample repeats before the ranks together have seen the data once",
             (RankedTrainingCapability,),
             "MAE / I-JEPA papers: DistributedSampler shards the data, each rank draws its own "
             "masks and crops", RANKS, check_ranks_draw_apart, weight=0.1),
    Contract("train.schedule_completes",
             "for world sizes 1, 2, 4 the last step runs at the documented final lr (and EMA "
             "momentum), and the ranks train on as many samples as one process does",
             (RankedTrainingCapability,),
             "MAE / I-JEPA code: cosine lr and linear EMA schedules over the run's own "
             "iterations", RANKS, check_schedule_completes, weight=0.1),
    Contract("train.weight_decay_where_documented",
             "weight decay > 0 exactly on trainable tensors of rank >= 2 that are no bias and "
             "no declared exemption, in one group each, after every step",
             (RankedTrainingCapability,),
             "MAE / I-JEPA code: no weight decay on biases and norm weights", DECAY,
             check_weight_decay_where_documented, weight=0.1),
)
