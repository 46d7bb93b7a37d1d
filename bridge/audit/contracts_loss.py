"""Contracts on the MAE loss: the spec loss over the masked set, and what it must ignore.

The spec side is ``spec.mae.mae_loss`` (Lean ``maeLoss``) over the masked-patch list, evaluated
exactly by :mod:`bridge.exact_loss` and compared within its derived rounding bound, never a
hand-picked tolerance. The per-patch target is the implementation's own ``patchify`` when the
adapter has one (the within-patch order is its convention), else the official MAE layout.

The bound's precision comes from the inputs (float32 here) and the operations; a loss returned
in a lower-precision dtype (bf16) adds one final rounding. A draw whose bound is vacuous
(:class:`~maskproof.bridge.rounding.VacuousBoundError`) is *not checkable*: it is rejected
(``hypothesis.reject``) and another is drawn, never reported as a failure.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from hypothesis import note, reject
from hypothesis import strategies as st

from maskproof.bridge import exact_loss
from maskproof.bridge.audit.contract import Contract, Draws, Violation, generator, randn, require
from maskproof.bridge.audit.protocols import MAELossCapability, PatchifyCapability
from maskproof.bridge.audit.sizes import at_least
from maskproof.bridge.rounding import VacuousBoundError
from maskproof.runtime.models.mae import normalize_patches, patchify, unpatchify

POLARITY = "mask polarity / wrong loss set"
#: Grid sides for the loss contracts, smallest first, up to 14x14 (ViT/16 at 224 px).
LOSS_GRID_SIDES = (1, 2, 3, 4, 5, 7, 14)
#: The most patches (B·N) one loss example has, for one sample and for several: the exact
#: evaluation's cost grows with B·N·P (norm-pix with P = 48: about 1 s for one 14x14 sample on
#: the development machine), so only a single sample gets the real grid.
ONE_SAMPLE_PATCHES, BATCH_PATCHES = 196, 50
NORMALISATION = "normalisation of the loss"


def _patches(adapter: MAELossCapability, images: torch.Tensor) -> torch.Tensor:
    if isinstance(adapter, PatchifyCapability):
        return adapter.patchify(images, adapter.patch_size)
    return patchify(images, adapter.patch_size)


def _draw_mask(draws: Draws, batch: int, patches: int, seed: int, min_visible: int
               ) -> torch.Tensor:
    """``[B, N]`` float 0/1 with at least one masked and ``min_visible`` visible per sample."""
    masked = draws.draw("masked_per_sample", st.integers(1, max(1, patches - min_visible)))
    noise = torch.rand((batch, patches), generator=generator(seed + 3))
    ranks = torch.argsort(torch.argsort(noise, dim=1), dim=1)
    return (ranks < masked).float()


def loss_example(adapter: MAELossCapability, draws: Draws, min_patches: int = 1,
                 min_visible: int = 0, low_variance: bool = False, largest_side: int = 14
                 ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, int]:
    """``(images, pred, mask, seed)`` for the adapter's patch size and channels, square grid
    (MAE losses assume square images) up to ``largest_side`` patches a side."""
    batch = draws.draw("batch", st.integers(1, 3))
    budget = ONE_SAMPLE_PATCHES if batch == 1 else BATCH_PATCHES
    fits = tuple(s for s in LOSS_GRID_SIDES if batch * s * s <= budget and s <= largest_side)
    side = draws.draw("grid_side", at_least(fits, math.isqrt(min_patches - 1) + 1))
    seed = draws.seed()
    p, chans = adapter.patch_size, adapter.in_chans
    shape = (batch, chans, side * p, side * p)
    if low_variance:
        # Patches of near-constant value (variance ~ 1e-6, the size of eps): where eps sits and
        # which variance is used change the target by far more than rounding.
        offsets = randn((batch, chans, side, 1, side, 1), seed + 4)
        jitter = randn((batch, chans, side, p, side, p), seed, scale=1e-3)
        images = (offsets + jitter).reshape(shape)
    else:
        scale = draws.draw("pixel_scale", st.sampled_from((1.0, 1e-3, 100.0)))
        images = randn(shape, seed, scale)
    patches = side * side
    pred = randn((batch, patches, p * p * chans), seed + 5)
    mask = _draw_mask(draws, batch, patches, seed, min_visible)
    draws.size = images.numel()
    return images, pred, mask, seed


def spec_check(adapter: MAELossCapability, images: torch.Tensor, pred: torch.Tensor,
               mask: torch.Tensor, loss: torch.Tensor) -> exact_loss.LossCheck:
    """The adapter's loss against ``maeLoss`` over the masked patches / (count · P), exactly.

    A draw the derived bound cannot judge (vacuous: a norm-pix variance error that reaches
    ``var + eps``, a γ_k with ``k·u ≥ 1``) is rejected as not checkable, never failed."""
    try:
        return _spec_check(adapter, images, pred, mask, loss)
    except VacuousBoundError as error:
        note(f"not checkable: {error}")
        reject()


def _spec_check(adapter: MAELossCapability, images: torch.Tensor, pred: torch.Tensor,
                mask: torch.Tensor, loss: torch.Tensor) -> exact_loss.LossCheck:
    target = _patches(adapter, images)
    if not adapter.norm_pix_loss:
        return exact_loss.check_paper_mae(target, pred, mask, loss)
    normalised = normalize_patches(target)
    # The reference normalisation runs at the target's dtype: its bounds take that precision.
    bounds = exact_loss.norm_pix_patch_bounds(target, normalised.dtype)
    misses = exact_loss.norm_pix_misses(normalised, bounds)
    if misses:  # maskproof's own normalisation left its derived interval: a maskproof bug
        raise RuntimeError("reference normalisation outside its bound: " + misses[0].describe())
    return exact_loss.check_paper_mae_norm_pix(target, normalised, pred, mask, loss, bounds)


def _scalar(loss: Any) -> torch.Tensor:
    require(isinstance(loss, torch.Tensor) and loss.numel() == 1,
            f"loss must be a one-element tensor, got {loss!r}")
    tensor: torch.Tensor = loss
    return tensor.reshape(())


def check_equals_spec(adapter: MAELossCapability, draws: Draws) -> None:
    images, pred, mask, _ = loss_example(adapter, draws)
    loss = _scalar(adapter.loss(images, pred, mask))
    check = spec_check(adapter, images, pred, mask, loss)
    require(check.holds, f"{check.describe()}; mask {mask.long().tolist()}")


def check_norm_pix(adapter: MAELossCapability, draws: Draws) -> None:
    # Up to 7x7: the eps convention shows on any grid, and the exact norm-pix check is the
    # audit's most expensive evaluation.
    images, pred, mask, _ = loss_example(adapter, draws, low_variance=True, largest_side=7)
    loss = _scalar(adapter.loss(images, pred, mask))
    check = spec_check(adapter, images, pred, mask, loss)
    require(check.holds, f"near-constant patches: {check.describe()}")


def _replace_cells(images: torch.Tensor, patch: int, where: torch.Tensor,
                   seed: int) -> torch.Tensor:
    """``images`` with the grid cells where ``where [B, N]`` is True replaced by noise."""
    chans, height, width = images.shape[1:]
    rows = patchify(images, patch)
    noise = randn(tuple(rows.shape), seed, scale=3.0)
    rows = torch.where(where.unsqueeze(-1), noise, rows)
    return unpatchify(rows, patch, (height // patch, width // patch), chans)


def check_visible_ignored(adapter: MAELossCapability, draws: Draws) -> None:
    images, pred, mask, seed = loss_example(adapter, draws, min_patches=2, min_visible=1)
    visible = mask == 0
    loss = _scalar(adapter.loss(images, pred, mask)).detach()
    what = draws.draw("perturb", st.sampled_from(("predictions", "targets")))
    if what == "predictions":
        other = randn(tuple(pred.shape), seed + 6, scale=5.0)
        pred2 = torch.where(visible.unsqueeze(-1), other, pred)
        loss2 = _scalar(adapter.loss(images, pred2, mask)).detach()
    else:
        images2 = _replace_cells(images, adapter.patch_size, visible, seed + 6)
        loss2 = _scalar(adapter.loss(images2, pred, mask)).detach()
    require(torch.equal(loss, loss2),
            f"changing the {what} at visible patches changed the loss {loss.item()!r} -> "
            f"{loss2.item()!r} (mask {mask.long().tolist()})")


def check_masked_gradient(adapter: MAELossCapability, draws: Draws) -> None:
    images, pred, mask, _ = loss_example(adapter, draws, min_patches=2, min_visible=1)
    pred = pred.clone().requires_grad_(True)
    loss = _scalar(adapter.loss(images, pred, mask))
    require(loss.requires_grad, "the loss does not depend on the predictions (no gradient)")
    (grad,) = torch.autograd.grad(loss, pred)
    nonzero = (grad != 0).any(dim=-1)
    masked = mask != 0
    wrong = (nonzero != masked).nonzero().tolist()
    if wrong:
        b, i = wrong[0]
        kind = "masked patch has a zero" if masked[b, i] else "visible patch has a non-zero"
        raise Violation(f"sample {b} patch {i}: {kind} gradient (mask {mask.long().tolist()})")


def check_order_invariant(adapter: MAELossCapability, draws: Draws) -> None:
    # Up to 7x7: two exact checks per example.
    images, pred, mask, seed = loss_example(adapter, draws, min_patches=2, largest_side=7)
    p = adapter.patch_size
    patches = mask.shape[1]
    perm = torch.randperm(patches, generator=generator(seed + 7))
    chans, height, width = images.shape[1:]
    rows = patchify(images, p)[:, perm]
    images2 = unpatchify(rows, p, (height // p, width // p), chans)
    pred2, mask2 = pred[:, perm], mask[:, perm]
    loss1 = _scalar(adapter.loss(images, pred, mask)).detach()
    loss2 = _scalar(adapter.loss(images2, pred2, mask2)).detach()
    bound = (spec_check(adapter, images, pred, mask, loss1).bound
             + spec_check(adapter, images2, pred2, mask2, loss2).bound)
    diff = abs(float(loss1) - float(loss2))
    require(diff <= bound, f"moving patches to other grid positions (permutation "
            f"{perm.tolist()}) changed the loss {float(loss1)!r} -> {float(loss2)!r}, more than "
            f"rounding ({float(bound):.3e})")


def _norm_pix_declared(adapter: MAELossCapability) -> str | None:
    return None if adapter.norm_pix_loss else "the adapter declares norm_pix_loss = False"


CONTRACTS = (
    Contract("loss.equals_spec",
             "loss = maeLoss over the masked patches / (masked count · P), exactly up to "
             "derived rounding, with the declared target (norm-pix or raw)",
             (MAELossCapability,),
             "maeLoss, mae_is_predictive_view_loss (MAE.lean, PredictiveView.lean); MAE paper "
             "loss on removed patches only", POLARITY, check_equals_spec),
    Contract("loss.visible_ignored",
             "changing predictions or targets at visible patches leaves the loss bit-identical",
             (MAELossCapability,),
             "jepaLoss_target_ext (JEPA.lean) and its MAE twin: maeLoss reads only the listed "
             "indices", POLARITY, check_visible_ignored),
    Contract("loss.masked_gradient",
             "d loss / d pred is non-zero on every masked patch and zero on every visible one",
             (MAELossCapability,),
             "maeLoss over maskedIdxs: each listed index contributes its patchLoss",
             "CLS / special-token off-by-one", check_masked_gradient, weight=0.5),
    Contract("loss.masked_order_invariant",
             "moving patches (with their mask and predictions) to other grid positions leaves "
             "the loss unchanged up to rounding",
             (MAELossCapability,),
             "maeLoss_reverse, maskedLoss_append (MAE.lean, Masking.lean)",
             "ordering / unshuffle", check_order_invariant,
             weight=0.5),
    Contract("loss.norm_pix_convention",
             "norm-pix target = (x - per-patch mean) / sqrt(unbiased var + 1e-6), checked on "
             "near-constant patches where the conventions differ",
             (MAELossCapability,),
             "MAE official norm_pix_loss (var unbiased, eps inside the sqrt)",
             "target definition (norm-pix / patchify)", check_norm_pix,
             applicable=_norm_pix_declared),
)
