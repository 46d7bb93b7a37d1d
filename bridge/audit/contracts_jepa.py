"""Contracts on I-JEPA: the mask collator, the target branch, the EMA law and the optimizer."""

from __future__ import annotations

import math

import torch
from hypothesis import note, reject
from hypothesis import strategies as st

from maskproof.bridge import exact_loss
from maskproof.bridge.audit.contract import Contract, Draws, Violation, generator, randn, require
from maskproof.bridge.audit.protocols import (
    JEPACollatorCapability,
    JEPATrainer,
    JEPATrainingCapability,
)
from maskproof.bridge.rounding import VacuousBoundError

OVERLAP = "context/target overlap and empty sets"

#: Float32 unit roundoff: the EMA update is evaluated in float32.
U32 = 2.0**-24


def check_disjoint_nonempty(adapter: JEPACollatorCapability, draws: Draws) -> None:
    batch = draws.draw("batch", st.integers(1, 8))
    seed = draws.seed()
    contexts, targets = adapter.sample_jepa_masks(batch, generator(seed))
    grid_h, grid_w = adapter.jepa_grid
    cells = grid_h * grid_w
    draws.size = cells * batch
    require(len(contexts) == batch and len(targets) == batch,
            f"asked for {batch} samples, got {len(contexts)} contexts and {len(targets)} targets")
    for b, (context, blocks) in enumerate(zip(contexts, targets, strict=True)):
        require(len(context) > 0, f"sample {b} has an empty context")
        require(len(blocks) > 0, f"sample {b} has no target block")
        for m, block in enumerate(blocks):
            require(len(block) > 0, f"sample {b} target block {m} is empty")
        every = [*context, *(i for block in blocks for i in block)]
        outside = [i for i in every if not 0 <= i < cells]
        require(not outside, f"sample {b} holds indices {outside} outside the "
                             f"{grid_h}x{grid_w} grid")
        require(len(set(context)) == len(context), f"sample {b}'s context repeats an index")
        if not adapter.allow_overlap:
            shared = sorted(set(context) & {i for block in blocks for i in block})
            require(not shared, f"sample {b}: context and targets share cells {shared}")


def check_reachable(adapter: JEPACollatorCapability, draws: Draws) -> None:
    seed = draws.seed()
    rng = generator(seed)
    grid_h, grid_w = adapter.jepa_grid
    as_target: set[int] = set()
    as_context: set[int] = set()
    for _ in range(8):
        contexts, targets = adapter.sample_jepa_masks(32, rng)
        for context, blocks in zip(contexts, targets, strict=True):
            as_context.update(context)
            as_target.update(i for block in blocks for i in block)
    draws.size = grid_h * grid_w
    every = set(range(grid_h * grid_w))

    def cells(missing: set[int]) -> list[tuple[int, int]]:
        return [divmod(i, grid_w) for i in sorted(missing)]

    require(as_target >= every, f"over 256 samples, grid cells (row, col) "
                                f"{cells(every - as_target)} were never a target")
    require(as_context >= every, f"over 256 samples, grid cells (row, col) "
                                 f"{cells(every - as_context)} were never context")


def draw_masks(trainer: JEPATrainer, draws: Draws, seed: int, truncates: bool = False
               ) -> tuple[list[list[int]], list[list[list[int]]]]:
    """Per sample ``M`` target rectangles and the context = every other cell. Block ``m`` has the
    same shape in every sample: a 1x1 block first, then drawn blocks up to 2 columns wide, so the
    target batch is padded (as real multi-block batches are) whenever the grid allows it.

    ``truncates`` (a trainer that declares ``truncates_to_batch_min``): every block takes one
    drawn shape, as the official collator's blocks do, and the contexts are cut to the batch's
    shortest, so the lists handed over are the ones such a forward uses, not ones it would cut
    to a single cell."""
    grid_h, grid_w = trainer.grid_size
    batch = draws.draw("batch", st.integers(1, 3))
    drawn = draws.draw("block_shapes", st.lists(
        st.tuples(st.integers(1, min(2, grid_h)), st.just(min(2, grid_w))),
        min_size=1, max_size=2))
    shapes = [drawn[0]] * (1 + len(drawn)) if truncates else [(1, 1), *drawn]
    corners = torch.rand((batch, len(shapes), 2), generator=generator(seed)).tolist()
    contexts, targets = [], []
    for b in range(batch):
        sample = []
        for (u, v), (height, width) in zip(corners[b], shapes, strict=True):
            top = int(u * (grid_h - height + 1))
            left = int(v * (grid_w - width + 1))
            sample.append([r * grid_w + c for r in range(top, top + height)
                           for c in range(left, left + width)])
        covered = {i for block in sample for i in block}
        contexts.append([i for i in range(grid_h * grid_w) if i not in covered])
        targets.append(sample)
    if truncates:
        keep = min(len(c) for c in contexts)
        contexts = [c[:keep] for c in contexts]
    return contexts, targets


def declares_truncation(trainer: JEPATrainer, adapter: object) -> bool:
    """``truncates_to_batch_min``, declared on the trainer or else the adapter (default False)."""
    value = getattr(trainer, "truncates_to_batch_min",
                    getattr(adapter, "truncates_to_batch_min", False))
    require(isinstance(value, bool), f"truncates_to_batch_min must be a bool, got {value!r}")
    return value


def padded_targets(targets: list[list[list[int]]]) -> tuple[torch.Tensor, torch.Tensor]:
    """``(indices [B, M, L], valid [B, M, L])``: the target lists padded with index 0."""
    length = max(len(block) for sample in targets for block in sample)
    shape = (len(targets), len(targets[0]), length)
    index = torch.zeros(shape, dtype=torch.long)
    valid = torch.zeros(shape, dtype=torch.bool)
    for b, sample in enumerate(targets):
        for m, block in enumerate(sample):
            index[b, m, : len(block)] = torch.tensor(block)
            valid[b, m, : len(block)] = True
    return index, valid


def _valid_rows(x: torch.Tensor, valid: torch.Tensor, what: str) -> torch.Tensor:
    require(tuple(x.shape[:3]) == tuple(valid.shape),
            f"{what} has shape {list(x.shape)}, expected [B, M, L, D] = {list(valid.shape)} + [D]")
    return x.detach()[valid]


def _trainer(adapter: JEPATrainingCapability, draws: Draws
             ) -> tuple[JEPATrainer, torch.Tensor, list[list[int]], list[list[list[int]]], int]:
    seed = draws.seed()
    trainer = adapter.jepa_trainer(seed)
    contexts, targets = draw_masks(trainer, draws, seed, declares_truncation(trainer, adapter))
    images = randn((len(contexts), *trainer.image_shape), seed + 1)
    draws.size = images.numel()
    return trainer, images, contexts, targets, seed


def check_no_target_gradient(adapter: JEPATrainingCapability, draws: Draws) -> None:
    trainer, images, contexts, targets, _ = _trainer(adapter, draws)
    out = trainer.forward(images, contexts, targets)
    require(not out.target.requires_grad, "the targets require grad (no stop-gradient)")
    torch.autograd.backward(out.loss)
    leaked = [name for name, p in trainer.target_encoder.named_parameters()
              if p.grad is not None and bool((p.grad != 0).any())]
    require(not leaked, f"after backward() the target encoder has gradients in {leaked[:3]}")
    _, valid = padded_targets(targets)
    again = trainer.forward(images, contexts, targets).target
    require(torch.equal(_valid_rows(out.target, valid, "target"),
                        _valid_rows(again, valid, "target")),
            "two target computations on the same input disagree (dropout or state in the "
            "target branch)")


def ema_momentum(trainer: JEPATrainer, step: int) -> float:
    """The documented linear schedule, clamped at the horizon."""
    progress = min(step, trainer.ema_horizon) / trainer.ema_horizon
    return trainer.ema_start + (trainer.ema_end - trainer.ema_start) * progress


def _params(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {name: p.detach().clone().double() for name, p in module.named_parameters()}


def check_ema_law(adapter: JEPATrainingCapability, draws: Draws) -> None:
    """Steps ``0 … ema_horizon`` only: the documented schedule ends at the horizon (momentum
    ``ema_end`` there), and past it an implementation may clamp, stop updating or stop its
    scheduler (the official I-JEPA momentum generator is exhausted); nothing is documented."""
    trainer, images, contexts, targets, _ = _trainer(adapter, draws)
    horizon = trainer.ema_horizon
    require(horizon >= 1, f"ema_horizon must be at least 1, got {horizon!r}")
    end = math.floor(horizon)  # the last documented step
    start = draws.draw("first_step", st.sampled_from(sorted({0, 1, end // 2, end - 1, end})))
    for step in range(start, min(start + draws.draw("steps", st.integers(1, 3)), end + 1)):
        before = _params(trainer.target_encoder)
        trainer.train_step(images, contexts, targets, step)
        online = _params(trainer.context_encoder)
        after = _params(trainer.target_encoder)
        require(before.keys() == online.keys(),
                "target and context encoders have different parameter names")
        m = ema_momentum(trainer, step)
        for name, old in before.items():
            want = m * old + (1 - m) * online[name]
            # Two float32 products and one sum, each rounded once (γ_3), plus m's rounding.
            bound = 4 * U32 * (m * old.abs() + (1 - m) * online[name].abs()) + 2.0**-140
            error = (after[name] - want).abs()
            if bool((error > bound).any()):
                raise Violation(
                    f"step {step}: target parameter {name} is not m·target + (1-m)·online with "
                    f"the documented m = {m!r} (max error {float(error.max()):.3e}, "
                    f"bound {float(bound.max()):.3e})")


def check_optimizer_coverage(adapter: JEPATrainingCapability, draws: Draws) -> None:
    """Every **trainable** (``requires_grad``) context-encoder and predictor parameter is in the
    optimizer and changes in one step; a parameter with ``requires_grad=False`` (a fixed sin-cos
    table registered as a frozen ``nn.Parameter``) is neither required nor expected to move.
    Each of the two modules must still have a trainable parameter: freezing a whole module is
    the same bug as leaving it out of the optimizer."""
    trainer, images, contexts, targets, _ = _trainer(adapter, draws)
    in_optimizer = {id(p) for group in trainer.optimizer.param_groups for p in group["params"]}
    online: dict[str, torch.Tensor] = {}
    for prefix, module in (("context_encoder", trainer.context_encoder),
                           ("predictor", trainer.predictor)):
        trainable = {f"{prefix}.{n}": p for n, p in module.named_parameters() if p.requires_grad}
        require(bool(trainable), f"the {prefix} has no trainable parameter (every parameter has "
                                 f"requires_grad=False)")
        online.update(trainable)
    missing = [name for name, p in online.items() if id(p) not in in_optimizer]
    require(not missing, f"trainable parameters in no optimizer group: {missing[:4]}"
                         f"{' …' if len(missing) > 4 else ''}")
    frozen = [name for name, p in trainer.target_encoder.named_parameters()
              if id(p) in in_optimizer]
    require(not frozen, f"target-encoder parameters in the optimizer: {frozen[:4]}")
    before = {name: p.detach().clone() for name, p in online.items()}
    trainer.train_step(images, contexts, targets, 0)
    unchanged = [name for name, p in online.items() if torch.equal(before[name], p.detach())]
    require(not unchanged, f"parameters unchanged by a training step: {unchanged[:4]}")


def check_teacher_full_view(adapter: JEPATrainingCapability, draws: Draws) -> None:
    trainer, images, contexts, targets, seed = _trainer(adapter, draws)
    _, valid = padded_targets(targets)
    first = _valid_rows(trainer.forward(images, contexts, targets).target, valid, "target")
    keep = torch.rand((len(contexts), max(len(c) for c in contexts)),
                      generator=generator(seed + 2))
    smaller = [[i for k, i in enumerate(c) if keep[b, k] < 0.5 or k == 0]
               for b, c in enumerate(contexts)]
    second = _valid_rows(trainer.forward(images, smaller, targets).target, valid, "target")
    require(torch.equal(first, second),
            "the target features changed when only the context changed (the teacher does not "
            "see the full view)")


def check_loss_equals_spec(adapter: JEPATrainingCapability, draws: Draws) -> None:
    trainer, images, contexts, targets, _ = _trainer(adapter, draws)
    out = trainer.forward(images, contexts, targets)
    index, valid = padded_targets(targets)
    _valid_rows(out.pred, valid, "pred")
    _valid_rows(out.target, valid, "target")
    try:
        check = exact_loss.check_ijepa(out.pred, out.target, index, valid, out.loss.reshape(()))
    except VacuousBoundError as error:  # not checkable: another draw, never a failure
        note(f"not checkable: {error}")
        reject()
    require(check.holds, f"{check.describe()}; target blocks per sample "
                         f"{[len(block) for block in targets[0]]} tokens")


CONTRACTS = (
    Contract("jepa.masks_disjoint_nonempty",
             "per sample: context and targets non-empty, inside the grid, disjoint unless "
             "overlap is declared",
             (JEPACollatorCapability,),
             "I-JEPA paper: targets are removed from the context block", OVERLAP,
             check_disjoint_nonempty),
    Contract("jepa.positions_reachable",
             "over 256 samples every grid cell is a target at least once and context at least "
             "once",
             (JEPACollatorCapability,),
             "I-JEPA paper: target and context blocks are sampled at random positions", OVERLAP,
             check_reachable, weight=0.1),
    Contract("jepa.loss_equals_spec",
             "loss = jepaLoss (smooth-L1, beta 1) over each block's target patches / (valid "
             "target tokens · D), exactly up to derived rounding; padding never scored",
             (JEPATrainingCapability,),
             "jepaLoss, jepa_is_predictive_view_loss (JEPA.lean, PredictiveView.lean); official "
             "I-JEPA smooth-L1 loss", "normalisation of the loss", check_loss_equals_spec,
             weight=0.2),
    Contract("jepa.target_no_gradient",
             "after backward() the target branch has no gradient; targets do not require grad "
             "and two target computations agree",
             (JEPATrainingCapability,),
             "jepaLoss_target_ext (JEPA.lean): the loss reads targets only as values",
             "stop-gradient", check_no_target_gradient, weight=0.2),
    Contract("jepa.ema_law",
             "after each step, target = m·target + (1-m)·online exactly once for every "
             "parameter, m on the documented linear schedule (steps 0..ema_horizon)",
             (JEPATrainingCapability,),
             "I-JEPA paper: EMA target encoder, momentum 0.996 -> 1.0 linearly",
             "EMA law", check_ema_law, weight=0.2),
    Contract("jepa.optimizer_coverage",
             "optimizer = every trainable (requires_grad) context-encoder and predictor "
             "parameter, no target-encoder one; one step changes all of them",
             (JEPATrainingCapability,),
             "I-JEPA paper: context encoder and predictor are trained by gradient",
             "optimizer coverage", check_optimizer_coverage, weight=0.2),
    Contract("jepa.teacher_full_view",
             "target features do not change when only the context changes",
             (JEPATrainingCapability,),
             "I-JEPA paper: the target encoder sees the full image", "teacher input",
             check_teacher_full_view, weight=0.2),
)
