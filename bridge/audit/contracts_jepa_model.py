"""Contracts on the I-JEPA forward pass (``JEPATrainingCapability``): what each returned row is.

``jepa.loss_equals_spec`` checks the loss against the ``pred`` and ``target`` rows the forward
returns; these check the rows themselves: a prediction row answers its target position, only the
context's pixels reach the predictions, a target row is the target encoder's (layer-normed)
feature at its listed patch, in the listed order, and the padding of a ragged batch changes
nothing real.

Rows count as the same when they differ by at most :data:`SAME_ROW` times the outputs' scale,
as in :mod:`bridge.audit.contracts_model` (float32 rounding through a few blocks moves them by
about 1e-6 of it, the defects here by about 1e-1). ``jepa.context_only_reaches_pred`` compares
bit for bit, like ``encoder.hidden_unseen``: changed pixels outside the context must not reach
any arithmetic that produces a prediction.

Each contract draws ``perturbed``: the freshly built trainer's trainable parameters (and the
target encoder's copies of them) then get small seeded noise, since initial values hide defects
(a LayerNorm at weight 1 / bias 0 makes the target's layer norm a no-op).

Optional declarations, read from the trainer and then from the adapter:

* ``target_prefix_tokens: int = 0``: rows (CLS, registers) that ``target_encoder(images)``
  returns before the ``N`` patch rows;
* ``target_layer_norm: bool = True``: whether target rows are the target encoder's features
  layer-normed over the feature axis without affine parameters (I-JEPA's ``F.layer_norm``);
* ``truncates_to_batch_min: bool = False``: the forward truncates every context to the batch's
  shortest context and every target block to the shortest block (the official I-JEPA collator),
  returning ``L`` = that shortest length.

``jepa.blocks_vary_per_sample`` is about the collator (``JEPACollatorCapability``): its one
declaration, ``per_batch_block_size: bool = False`` on the adapter, says that every sample of a
batch gets the same block sizes (the official I-JEPA collator draws one per batch).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from hypothesis import note, reject
from hypothesis import strategies as st

from maskproof.bridge.audit.contract import Contract, Draws, Violation, generator, randn, require
from maskproof.bridge.audit.contracts_jepa import declares_truncation, draw_masks, padded_targets
from maskproof.bridge.audit.contracts_model import PERTURB_SCALE, SAME_ROW
from maskproof.bridge.audit.protocols import (
    JEPACollatorCapability,
    JEPAForward,
    JEPATrainer,
    JEPATrainingCapability,
)

POSITIONS = "positions added twice / missing / unused"
LEAKAGE = "mask never reaches the encoder / target leakage"
TARGET = "target definition (norm-pix / patchify)"
PADDING = "batch dependence"

Masks = tuple[list[list[int]], list[list[list[int]]]]


def declared(trainer: JEPATrainer, adapter: object, name: str, default: object) -> object:
    """An optional declaration: the trainer's, else the adapter's, else ``default``."""
    return getattr(trainer, name, getattr(adapter, name, default))


def perturb(trainer: JEPATrainer, seed: int) -> None:
    """Seeded noise on every trainable context-encoder and predictor parameter, and other noise
    on the target encoder's parameters of the same names (the EMA copies); frozen tensors (sin-cos
    tables) keep their documented values."""
    rng = generator(seed)
    online = {name for name, p in trainer.context_encoder.named_parameters() if p.requires_grad}
    with torch.no_grad():
        for module, names in ((trainer.context_encoder, None), (trainer.predictor, None),
                              (trainer.target_encoder, online)):
            for name, param in module.named_parameters():
                if (param.requires_grad if names is None else name in names):
                    noise = torch.randn(tuple(param.shape), generator=rng) * PERTURB_SCALE
                    param.add_(noise.to(param.device, param.dtype))


class Example:
    """A drawn forward: a (maybe perturbed) trainer, images and multi-block masks."""

    def __init__(self, adapter: JEPATrainingCapability, draws: Draws,
                 masks: Masks | None = None) -> None:
        self.adapter = adapter
        self.seed = draws.seed()
        self.trainer = adapter.jepa_trainer(self.seed)
        if draws.draw("perturbed", st.booleans()):
            perturb(self.trainer, self.seed + 9)
        self.contexts, self.targets = (
            draw_masks(self.trainer, draws, self.seed, declares_truncation(self.trainer, adapter))
            if masks is None else masks)
        self.images = randn((len(self.contexts), *self.trainer.image_shape), self.seed + 1)
        draws.size = self.images.numel()

    def declared(self, name: str, default: object) -> object:
        return declared(self.trainer, self.adapter, name, default)

    def forward(self, images: torch.Tensor | None = None, contexts: list[list[int]] | None = None,
                targets: list[list[list[int]]] | None = None) -> JEPAForward:
        targets = self.targets if targets is None else targets
        out = self.trainer.forward(self.images if images is None else images,
                                   self.contexts if contexts is None else contexts, targets)
        require(isinstance(out, tuple) and len(out) == len(JEPAForward._fields),
                f"forward must return JEPAForward{JEPAForward._fields}, got "
                f"{type(out).__name__}")
        return JEPAForward(out.loss.detach().reshape(()), out.pred.detach(),
                           out.target.detach())


def tolerance(*tensors: torch.Tensor) -> float:
    """:data:`SAME_ROW` (at least 10 units of roundoff of the dtype) times the outputs' scale."""
    scale = max(float(t.abs().max()) if t.numel() else 0.0 for t in tensors)
    eps = max(torch.finfo(t.dtype).eps for t in tensors)
    return max(SAME_ROW, 10 * eps) * (1.0 + scale)


def _rows(x: torch.Tensor, targets: list[list[list[int]]], what: str) -> torch.Tensor:
    """The valid rows ``[b, m, k]`` of ``x`` in list order; ``x`` must be ``[B, M, L, D]``."""
    index, valid = padded_targets(targets)
    require(x.dim() == 4 and tuple(x.shape[:2]) == tuple(valid.shape[:2])
            and x.shape[2] >= valid.shape[2],
            f"{what} has shape {list(x.shape)}, expected [B, M, L, D] with [B, M, L] = "
            f"{list(valid.shape)}")
    return x[:, :, : valid.shape[2]][valid]


def check_pred_follows_target_position(adapter: JEPATrainingCapability, draws: Draws) -> None:
    ex = Example(adapter, draws)
    out = ex.forward()
    tol = tolerance(out.pred)
    for b, blocks in enumerate(ex.targets):
        for m, block in enumerate(blocks):
            if len(block) < 2:
                continue
            rows = out.pred[b, m, : len(block)]
            gaps = (rows[:, None, :] - rows[None, :, :]).abs().amax(dim=-1)
            gaps.fill_diagonal_(float("inf"))
            i, j = divmod(int(gaps.argmin()), len(block))
            require(float(gaps[i, j]) > tol,
                    f"sample {b} block {m}: the predictions at target patches {block[i]} and "
                    f"{block[j]} are the same row (max difference {float(gaps[i, j]):.3e} <= "
                    f"{tol:.3e}): the predictor gives its mask tokens no target position")
    # Move the first cell of block 0 (one cell, unless the trainer truncates and every block
    # takes one shape) to a cell of another block: outside the context, context unchanged.
    cell = ex.targets[0][0][0]
    others = sorted({i for block in ex.targets[0] for i in block} - set(ex.targets[0][0]))
    if not others:
        note("sample 0's other blocks lie inside block 0: nowhere to move it outside the context")
        reject()
    moved_to = others[int(torch.randint(len(others), (1,), generator=generator(ex.seed + 2)))]
    moved = [[list(block) for block in blocks] for blocks in ex.targets]
    moved[0][0][0] = moved_to
    again = ex.forward(targets=moved)
    tol = tolerance(out.pred, again.pred)
    gap = float((out.pred[0, 0, 0] - again.pred[0, 0, 0]).abs().max())
    require(gap > tol, f"moving sample 0's first target cell from patch {cell} to patch "
                       f"{moved_to} (same context) left its prediction unchanged (max difference "
                       f"{gap:.3e} <= {tol:.3e}): the prediction ignores the target position")


def _noise_outside(images: torch.Tensor, grid: tuple[int, int], contexts: list[list[int]],
                   seed: int) -> torch.Tensor:
    """``images`` with the pixels of every patch outside each sample's context replaced by
    seeded noise."""
    batch, _, height, width = images.shape
    grid_h, grid_w = grid
    inside = torch.zeros((batch, grid_h * grid_w), dtype=torch.bool)
    for b, context in enumerate(contexts):
        inside[b, context] = True
    cells = inside.reshape(batch, 1, grid_h, grid_w)
    pixels = cells.repeat_interleave(height // grid_h, 2).repeat_interleave(width // grid_w, 3)
    noise = randn(tuple(images.shape), seed, scale=3.0)
    return torch.where(pixels, images, noise)


def check_context_only_reaches_pred(adapter: JEPATrainingCapability, draws: Draws) -> None:
    ex = Example(adapter, draws)
    out = ex.forward()
    changed = _noise_outside(ex.images, ex.trainer.grid_size, ex.contexts, ex.seed + 3)
    again = ex.forward(images=changed)
    first, second = _rows(out.pred, ex.targets, "pred"), _rows(again.pred, ex.targets, "pred")
    if not torch.equal(first, second):
        gap = float((first - second).abs().max())
        hidden = sorted(set(range(ex.trainer.grid_size[0] * ex.trainer.grid_size[1]))
                        - set(ex.contexts[0]))
        raise Violation(f"replacing the pixels of the patches outside the context (sample 0: "
                        f"{hidden}) changed the predictions by up to {gap:.3e}: target pixels "
                        "reach the context encoder or the predictor")


def _target_features(ex: Example, prefix: int, layer_norm: bool) -> torch.Tensor:
    """``target_encoder(images)`` without its ``prefix`` rows, layer-normed when declared."""
    with torch.no_grad():
        feats = ex.trainer.target_encoder(ex.images)
    patches = ex.trainer.grid_size[0] * ex.trainer.grid_size[1]
    require(isinstance(feats, torch.Tensor) and feats.dim() == 3
            and tuple(feats.shape[:2]) == (len(ex.contexts), prefix + patches),
            f"target_encoder(images) must be [B, target_prefix_tokens + N, D] = "
            f"[{len(ex.contexts)}, {prefix} + {patches}, D], got "
            f"{list(feats.shape) if isinstance(feats, torch.Tensor) else type(feats).__name__}")
    feats = feats[:, prefix:].detach()
    return F.layer_norm(feats, (feats.shape[-1],)) if layer_norm else feats


def check_target_is_target_encoder_at_position(adapter: JEPATrainingCapability,
                                               draws: Draws) -> None:
    ex = Example(adapter, draws)
    prefix = ex.declared("target_prefix_tokens", 0)
    layer_norm = ex.declared("target_layer_norm", True)
    if not isinstance(prefix, int) or isinstance(prefix, bool) or prefix < 0:
        raise Violation(f"target_prefix_tokens must be a non-negative int, got {prefix!r}")
    if not isinstance(layer_norm, bool):
        raise Violation(f"target_layer_norm must be a bool, got {layer_norm!r}")
    out = ex.forward()
    feats = _target_features(ex, prefix, layer_norm)
    _rows(out.target, ex.targets, "target")
    tol = tolerance(out.target, feats)
    for b, blocks in enumerate(ex.targets):
        for m, block in enumerate(blocks):
            for k, patch in enumerate(block):
                row = out.target[b, m, k]
                if float((row - feats[b, patch]).abs().max()) <= tol:
                    continue
                gaps = (feats[b] - row).abs().amax(dim=-1)
                nearest = int(gaps.argmin())
                where = (f"it is the feature of patch {nearest} (position "
                         f"{block.index(nearest)} of the block {block}): rows out of order"
                         if float(gaps[nearest]) <= tol and nearest in block else
                         f"no patch's feature matches it (closest: patch {nearest}, max "
                         f"difference {float(gaps[nearest]):.3e}); declared target_layer_norm = "
                         f"{layer_norm}, target_prefix_tokens = {prefix}")
                raise Violation(f"target row [{b}, {m}, {k}] should be the target encoder's "
                                f"feature of the full image at patch {patch}, but {where}")


def _truncated(contexts: list[list[int]], targets: list[list[list[int]]]) -> Masks:
    """Every context cut to the batch's shortest, every block to the shortest block."""
    keep_context = min(len(c) for c in contexts)
    keep_target = min(len(block) for blocks in targets for block in blocks)
    return ([c[:keep_context] for c in contexts],
            [[block[:keep_target] for block in blocks] for blocks in targets])


def draw_ragged_masks(trainer: JEPATrainer, draws: Draws, seed: int) -> Masks:
    """2-3 samples whose contexts and target blocks have different sizes: sample 0's first block
    is one cell, the others' are drawn rectangles at least 2 wide, and each sample keeps a
    random part of the cells outside its targets as context (sample 0 one cell fewer)."""
    grid_h, grid_w = trainer.grid_size
    batch = draws.draw("batch", st.integers(2, 3))
    blocks = draws.draw("blocks", st.integers(1, 2))
    side = st.tuples(st.integers(1, min(3, grid_h)), st.integers(min(2, grid_w), min(3, grid_w)))
    shapes = draws.draw("block_shapes", st.lists(st.lists(side, min_size=blocks,
                                                          max_size=blocks),
                                                 min_size=batch, max_size=batch))
    shapes[0][0] = (1, 1)
    rng = generator(seed + 5)
    contexts, targets = [], []
    for b in range(batch):
        sample = []
        for height, width in shapes[b]:
            top = int(torch.randint(grid_h - height + 1, (1,), generator=rng))
            left = int(torch.randint(grid_w - width + 1, (1,), generator=rng))
            sample.append([r * grid_w + c for r in range(top, top + height)
                           for c in range(left, left + width)])
        covered = {i for block in sample for i in block}
        rest = [i for i in range(grid_h * grid_w) if i not in covered]
        keep = rest[: max(1, int(len(rest) * (0.5 + 0.5 * float(torch.rand((), generator=rng)))))]
        contexts.append(keep[:-1] if b == 0 and len(keep) > 1 else keep)
        targets.append(sample)
    return contexts, targets


def _disagreement(ex: Example, out: JEPAForward, contexts: list[list[int]],
                  targets: list[list[list[int]]]) -> str | None:
    """How the batch forward ``out`` differs from one forward per sample on these lists (their
    real prediction rows, and the loss against the valid-token-weighted mean of the samples'
    losses, jepaLoss's reduction); ``None`` when they agree."""
    index, _ = padded_targets(targets)
    if out.pred.dim() != 4 or out.pred.shape[2] < index.shape[2]:
        return (f"pred has shape {list(out.pred.shape)}, expected [B, M, L, D] with [B, M, L] = "
                f"{list(index.shape)}")
    alone = [ex.forward(ex.images[b : b + 1], contexts[b : b + 1], targets[b : b + 1])
             for b in range(len(contexts))]
    batch_rows = _rows(out.pred, targets, "pred")
    sample_rows = torch.cat([_rows(a.pred, targets[b : b + 1], "pred")
                             for b, a in enumerate(alone)])
    counts = torch.tensor([float(sum(map(len, t))) for t in targets], dtype=torch.float64)
    want = float((torch.stack([a.loss for a in alone]).double() * counts).sum() / counts.sum())
    tol = tolerance(batch_rows, sample_rows, out.loss.reshape(1))
    gap = float((batch_rows - sample_rows).abs().max())
    if gap <= tol and abs(float(out.loss) - want) <= tol:
        return None
    return (f"predictions of real rows differ by up to {gap:.3e}, loss {float(out.loss)!r} vs "
            f"the valid-token-weighted mean {want!r} of the per-sample losses (tolerance "
            f"{tol:.3e})")


def check_padding_never_counts(adapter: JEPATrainingCapability, draws: Draws) -> None:
    """The batch forward against one forward per sample on the same lists (or on the lists cut
    to the batch minimum, where the adapter declares ``truncates_to_batch_min``)."""
    seed = draws.seed("mask_seed")
    masks = draw_ragged_masks(adapter.jepa_trainer(seed), draws, seed)
    ex = Example(adapter, draws, masks)
    truncates = ex.declared("truncates_to_batch_min", False)
    require(isinstance(truncates, bool),
            f"truncates_to_batch_min must be a bool, got {truncates!r}")
    cut_contexts, cut_targets = _truncated(ex.contexts, ex.targets)
    lost_context = 1 - sum(map(len, cut_contexts)) / sum(map(len, ex.contexts))
    lost_target = 1 - (sum(len(t) for s in cut_targets for t in s)
                       / sum(len(t) for s in ex.targets for t in s))
    cut = (f"truncating to the batch minimum drops {lost_context:.1%} of the context tokens and "
           f"{lost_target:.1%} of the target tokens of this batch")
    note(cut)
    sizes = (f"context sizes {[len(c) for c in ex.contexts]}, target block sizes "
             f"{[[len(t) for t in s] for s in ex.targets]}")
    out = ex.forward()
    if truncates:
        problem = _disagreement(ex, out, cut_contexts, cut_targets)
        require(problem is None, f"the batch forward is not the declared truncation to the "
                                 f"batch minimum of one forward per sample: {problem}; {sizes}")
        return
    problem = _disagreement(ex, out, ex.contexts, ex.targets)
    if problem is None:
        return
    if _disagreement(ex, out, cut_contexts, cut_targets) is None:
        raise Violation(f"the forward truncates to the batch minimum without declaring "
                        f"truncates_to_batch_min = True: {cut}; {sizes}")
    raise Violation(f"padding counts: the batch forward differs from one forward per sample "
                    f"({problem}); {sizes}")


#: Samples the collator is asked for at once by ``jepa.blocks_vary_per_sample``.
VARY_BATCH = 32


def block_shape_of(block: list[int], grid_w: int) -> tuple[int, int, int]:
    """``(cells, bounding-box height, bounding-box width)`` of a block's flat indices."""
    rows = [i // grid_w for i in block]
    cols = [i % grid_w for i in block]
    return len(block), max(rows) - min(rows) + 1, max(cols) - min(cols) + 1


def check_blocks_vary_per_sample(adapter: JEPACollatorCapability, draws: Draws) -> None:
    """With per-sample sizes, a batch of 32 whose blocks all got one shape has probability at
    most ``q ** (31 · M)`` for ``M`` blocks whose likeliest shape has probability ``q`` (on the
    reference's 6x6 grid the commonest shape is about 0.45 of the draws: below 1e-40)."""
    seed = draws.seed()
    per_batch = getattr(adapter, "per_batch_block_size", False)
    require(isinstance(per_batch, bool), f"per_batch_block_size must be a bool, got {per_batch!r}")
    _, targets = adapter.sample_jepa_masks(VARY_BATCH, generator(seed))
    grid_h, grid_w = adapter.jepa_grid
    draws.size = grid_h * grid_w * VARY_BATCH
    require(len(targets) == VARY_BATCH and all(targets),
            f"asked for {VARY_BATCH} samples with target blocks, got {len(targets)} samples and "
            f"block counts {sorted({len(t) for t in targets})}")
    placed = {tuple(tuple(block) for block in blocks) for blocks in targets}
    require(len(placed) > 1, f"all {VARY_BATCH} samples of one batch got the same target blocks "
                             f"{targets[0]}: positions are drawn once per batch")
    if per_batch:
        return
    shapes = {tuple(block_shape_of(block, grid_w) for block in blocks) for blocks in targets}
    require(len(shapes) > 1,
            f"all {VARY_BATCH} samples of one batch got target blocks of the same (cells, height, "
            f"width) {sorted(shapes)[0]}: block sizes are drawn once per batch (declare "
            "per_batch_block_size = True where that is the documented behaviour)")


CONTRACTS = (
    Contract("jepa.pred_follows_target_position",
             "predictions at two target positions differ: rows of one block differ, and moving "
             "a target cell (same context) changes its prediction",
             (JEPATrainingCapability,),
             "I-JEPA paper: the predictor's mask tokens carry the target block's positional "
             "embeddings", POSITIONS, check_pred_follows_target_position, weight=0.3),
    Contract("jepa.context_only_reaches_pred",
             "replacing the pixels of every patch outside the context leaves the predictions "
             "bit-identical",
             (JEPATrainingCapability,),
             "I-JEPA paper: the context encoder sees only the context block; jepaLoss reads "
             "the prediction of the context view (JEPA.lean)", LEAKAGE,
             check_context_only_reaches_pred, weight=0.3),
    Contract("jepa.target_is_target_encoder_at_position",
             "target row [b, m, k] = the target encoder's feature of the full image at the "
             "k-th listed patch of block m (declared prefix tokens dropped, layer-normed unless "
             "target_layer_norm = False)",
             (JEPATrainingCapability,),
             "I-JEPA paper and code: h = layer_norm(target_encoder(x)), then the target "
             "blocks' patches gathered in mask order", TARGET,
             check_target_is_target_encoder_at_position, weight=0.3),
    Contract("jepa.padding_never_counts",
             "a ragged batch gives each sample's forward alone: same real prediction rows, loss "
             "= the valid-token-weighted mean of the samples' losses (or the declared "
             "truncation to the batch minimum)",
             (JEPATrainingCapability,),
             "jepaLoss (JEPA.lean) is a sum over each sample's own target indices; official "
             "I-JEPA collator truncates to the batch minimum", PADDING,
             check_padding_never_counts, weight=0.3),
    Contract("jepa.blocks_vary_per_sample",
             "in one batch of 32 the target blocks differ between samples in position and, "
             "unless per_batch_block_size = True is declared, in shape",
             (JEPACollatorCapability,),
             "I-JEPA paper: block scale and aspect ratio are sampled per target block; the "
             "official collator samples one size per batch (declared there)", PADDING,
             check_blocks_vary_per_sample, weight=0.1),
)
