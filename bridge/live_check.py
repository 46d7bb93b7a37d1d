"""``maskproof train … --check-every K``: the runtime-equals-spec checks on live training batches.

On steps ``0, K, 2K, …``, before the update, the step's own forward pass (this rank's rows of
the live batch, see :class:`runtime.tasks.StepOutputs`) is checked in two parts:

* the mask. Compact tasks: the runtime's ``vector_mae_mask`` / ``image_patch_mask`` of the live
  batch equals the spec mirror scalar by scalar, by bit pattern. Paper MAE: every ``mask_removed``
  entry is 0 or 1, each row removes exactly ``N − floor(N·(1 − r))`` patches with the keep count
  computed exactly from the ratio as written, ``ids_restore`` is a permutation and a patch is
  removed exactly when its rank in the shuffle is past the kept prefix. I-JEPA: every valid index
  lies on the grid, no block or context lists a patch twice, and context and targets are disjoint.
* the loss: the runtime loss against the spec objective evaluated exactly on the same tensors
  (:mod:`bridge.exact_loss`), within the derived rounding bound.

The first disagreement is returned as one line; the training loop stops before the update.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from maskproof.bridge import exact_loss, extract
from maskproof.runtime.config import parse_ratio
from maskproof.runtime.masks import image_patch_mask, vector_mae_mask
from maskproof.runtime.models.ijepa import IJEPA
from maskproof.runtime.models.mae import MaskedAutoencoderViT, patchify
from maskproof.runtime.train import LiveStep
from maskproof.spec import ssl

Tensors = dict[str, torch.Tensor]


class LiveSpecCheck:
    """The runtime-vs-spec check of steps ``0, K, 2K, …`` (0-based): the first batch is always
    checked, so a run with ``--check-every`` never ends unchecked."""

    def __init__(self, every: int) -> None:
        if isinstance(every, bool) or not isinstance(every, int) or every <= 0:
            raise ValueError(f"check interval must be a positive int, got {every!r}")
        self.every = every
        #: ``(step, objective line)`` of every check that held, for reports and tests.
        self.passed: list[tuple[int, str]] = []

    def due(self, step: int) -> bool:
        return step % self.every == 0

    def __call__(self, live: LiveStep) -> str | None:
        checker = _CHECKERS[live.config.task]
        try:
            failure, loss_check = checker(live)
        except (extract.ExtractionError, exact_loss.NonFiniteValueError) as error:
            return f"{live.config.task}: {error}"
        if failure is not None:
            return failure
        if loss_check is None:
            return None
        if not loss_check.holds:
            return loss_check.describe()
        self.passed.append((live.step, loss_check.describe()))
        return None

    def summary(self) -> str:
        if not self.passed:
            return f"spec checks (every {self.every} steps): no step was checked"
        steps = ", ".join(str(step) for step, _ in self.passed[:5])
        more = f" and {len(self.passed) - 5} more" if len(self.passed) > 5 else ""
        return (f"spec checks (every {self.every} steps): {len(self.passed)} live batches "
                f"(steps {steps}{more}) agree with the spec; last: {self.passed[-1][1]}")


CheckResult = tuple[str | None, exact_loss.LossCheck | None]


def _spec_mask_mismatch(name: str, runtime: torch.Tensor, spec_value: object) -> str | None:
    found = extract.first_mismatch(runtime, spec_value)  # type: ignore[arg-type]
    if found is None:
        return None
    where, got, expected = found
    return (f"{name}{list(where)} = {got!r} in the runtime, {expected!r} in the spec "
            "(compared by bit pattern)")


def _check_vector_mae(live: LiveStep) -> CheckResult:
    config, t = live.config, live.outputs.tensors
    x = t["x"]
    batch, dim = (int(d) for d in x.shape)
    spec_masked = ssl.vector_mae_mask(batch, dim, config.period, config.offset, extract.to_spec(x))
    mismatch = _spec_mask_mismatch("vector_mae_mask", vector_mae_mask(x, config.period,
                                                                      config.offset), spec_masked)
    if mismatch is not None:
        return mismatch, None
    return None, exact_loss.check_vector_mae(x, t["pred"], live.outputs.local_loss,
                                             config.period, config.offset)


def _check_image_mae(live: LiveStep) -> CheckResult:
    config, t = live.config, live.outputs.tensors
    images = t["images"]
    batch, c, h, w = (int(d) for d in images.shape)
    patch = config.patch_size
    recon_dim = config.recon_dim if config.recon_dim is not None else c * h * w
    spec_masked = ssl.image_patch_mask(batch, c, h, w, patch, patch, config.period, config.offset,
                                       extract.to_spec(images))
    runtime_masked = image_patch_mask(images, patch, patch, config.period, config.offset)
    mismatch = _spec_mask_mismatch("image_patch_mask", runtime_masked, spec_masked)
    if mismatch is not None:
        return mismatch, None
    return None, exact_loss.check_image_patch_mae(images, t["pred"], live.outputs.local_loss,
                                                  patch, patch, config.period, config.offset,
                                                  recon_dim)


def mae_mask_disagreement(mask_removed: torch.Tensor, ids_restore: torch.Tensor,
                          mask_ratio: str) -> str | None:
    """The first way a paper-MAE mask breaks the keep-count rule or its permutation, or None."""
    patches = int(mask_removed.shape[1])
    keep = math.floor(patches * (1 - parse_ratio(mask_ratio)))
    ranks = ids_restore.detach().cpu()
    for b in range(mask_removed.shape[0]):
        removed = extract.masked_patch_idxs(mask_removed[b])  # refuses entries other than 0/1
        if len(removed) != patches - keep:
            return (f"mask_removed[{b}] removes {len(removed)} of {patches} patches; mask ratio "
                    f"{mask_ratio} keeps floor({patches}*(1-{mask_ratio})) = {keep}, so "
                    f"{patches - keep} must be removed")
        row = ranks[b].tolist()
        if sorted(row) != list(range(patches)):
            return f"ids_restore[{b}] = {row} is not a permutation of 0..{patches - 1}"
        removed_set = set(removed)
        wrong = [i for i in range(patches) if (row[i] >= keep) != (i in removed_set)]
        if wrong:
            i = wrong[0]
            return (f"mask_removed[{b}, {i}] disagrees with ids_restore: patch {i} has shuffle "
                    f"rank {row[i]} against keep count {keep}")
    return None


def _check_mae(live: LiveStep) -> CheckResult:
    t = live.outputs.tensors
    mask_removed, images, pred = t["mask_removed"], t["images"], t["pred"]
    failure = mae_mask_disagreement(mask_removed, t["ids_restore"], live.config.mask_ratio)
    if failure is not None:
        return failure, None
    model = live.model
    if not isinstance(model, MaskedAutoencoderViT):
        raise TypeError(f"mae check needs a MaskedAutoencoderViT, got {type(model).__name__}")
    loss = live.outputs.local_loss
    raw = patchify(images.detach(), model.cfg.patch_size)
    if not model.cfg.norm_pix_loss:
        return None, exact_loss.check_paper_mae(raw, pred, mask_removed, loss)
    normalised = model.loss_target(images.detach())  # the same ops on the same bits as the step
    bounds = exact_loss.norm_pix_patch_bounds(raw, normalised.dtype)
    misses = exact_loss.norm_pix_misses(normalised, bounds)
    if misses:
        return f"{misses[0].describe()} ({len(misses)} value(s) outside)", None
    return None, exact_loss.check_paper_mae_norm_pix(raw, normalised, pred, mask_removed, loss,
                                                     bounds)


def jepa_mask_disagreement(tensors: Tensors, num_patches: int) -> str | None:
    """The first way an I-JEPA mask batch leaves the grid, repeats a patch or lets context and
    targets overlap, or None."""
    context, context_valid = tensors["context"].cpu(), tensors["context_valid"].cpu()
    targets, targets_valid = tensors["targets"].cpu(), tensors["targets_valid"].cpu()
    for b in range(context.shape[0]):
        seen = [p for _, p in extract.jepa_block_slots(context_valid[b], context[b])]
        blocks = [[p for _, p in extract.jepa_block_slots(targets_valid[b, m], targets[b, m])]
                  for m in range(targets.shape[1])]
        for name, patches in (("context", seen), *((f"target block {m}", block)
                                                   for m, block in enumerate(blocks))):
            outside = [p for p in patches if not 0 <= p < num_patches]
            if outside:
                return f"sample {b}: {name} holds patch {outside[0]} outside [0, {num_patches})"
            if len(set(patches)) != len(patches):
                return f"sample {b}: {name} lists a patch twice: {patches}"
            if not patches:
                return f"sample {b}: {name} is empty"
        shared = sorted(set(seen) & {p for block in blocks for p in block})
        if shared:
            return f"sample {b}: context and targets share patches {shared}"
    return None


def _check_jepa(live: LiveStep) -> CheckResult:
    t = live.outputs.tensors
    if not isinstance(live.model, IJEPA):
        raise TypeError(f"jepa check needs an IJEPA, got {type(live.model).__name__}")
    patches = live.model.cfg.num_patches
    failure = jepa_mask_disagreement(t, patches)
    if failure is not None:
        return failure, None
    return None, exact_loss.check_ijepa(t["pred"], t["target"], t["targets"], t["targets_valid"],
                                        live.outputs.local_loss)


_CHECKERS: dict[str, Callable[[LiveStep], CheckResult]] = {
    "mae": _check_mae, "jepa": _check_jepa, "vector-mae": _check_vector_mae,
    "image-mae": _check_image_mae,
}


def make_step_check(every: int) -> LiveSpecCheck:
    """The step check ``bridge.cli`` hands to ``maskproof train --check-every K``."""
    return LiveSpecCheck(every)
