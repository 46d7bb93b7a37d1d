"""Contracts on the implementation's own MAE forward pass (``MAEModelCapability``).

The loss, masking and encoder contracts hand the implementation its inputs piece by piece; these
run the model's own entry point, so the wiring between the pieces is what they check: the loss
the forward returns, the mask its noise means, where positions enter, the decoder's un-shuffle,
the mask token and the rows next to CLS.

Whole-network outputs carry rounding that no bound here is derived for. Where two forwards that
must agree are compared, rows count as the same when they differ by at most :data:`SAME_ROW`
times the output's scale (at least ten units of roundoff of its dtype): float32 rounding
through a few blocks moves them by about 1e-6 of it (measured on the reference and on
transformers' ViTMAE), the defects these contracts guard against by about 1e-1.

Not checked: that a position table is added exactly once at the right indices. A forward pass
cannot tell a table added twice from a model built with twice that table; the twice-added bug
that changes meaning, a second addition indexed by slot in the shuffle, fails
``model.shuffle_order_invariant``.

Each forward contract draws ``perturbed``: then it runs on a deep copy of the adapter whose
trainable parameters got small seeded noise, since initial values hide defects (a LayerNorm at
weight 1 / bias 0 is idempotent, so one applied twice is invisible; a zero token drops out of
every sum it enters).
"""

from __future__ import annotations

import copy
from typing import cast

import torch
from hypothesis import note, reject
from hypothesis import strategies as st

from maskproof.bridge.audit.contract import (
    Clauses,
    Contract,
    Draws,
    Violation,
    generator,
    randn,
    require,
)
from maskproof.bridge.audit.contracts_loss import spec_check
from maskproof.bridge.audit.contracts_masking import (
    RATIOS,
    expected_masked,
    keep_count_convention,
)
from maskproof.bridge.audit.protocols import MAEForward, MAELossCapability, MAEModelCapability
from maskproof.runtime.models.mae import patchify, unpatchify

#: Relative distance under which two output rows count as the same row (see module docstring).
SAME_ROW = 1e-4
#: Standard deviation of the seeded noise added to each trainable parameter when ``perturbed``.
PERTURB_SCALE = 0.1

POSITIONS = "positions added twice / missing / unused"
ORDER_FAMILY = "ordering / unshuffle"


def perturbed_copy(adapter: MAEModelCapability, seed: int) -> MAEModelCapability:
    """A deep copy of ``adapter`` whose trainable parameters moved by seeded noise; frozen
    tensors (sin-cos tables) keep their documented values."""
    twin = copy.deepcopy(adapter)
    rng = generator(seed)
    with torch.no_grad():
        for param in twin.module.parameters():
            if param.requires_grad:
                noise = torch.randn(tuple(param.shape), generator=rng) * PERTURB_SCALE
                param.add_(noise.to(param.device, param.dtype))
    return twin


def distinct_noise(batch: int, patches: int, seed: int) -> torch.Tensor:
    """``[B, N]`` noise in ``(0, 1)`` with distinct values per sample (an unambiguous shuffle)."""
    rng = generator(seed)
    ranks = torch.stack([torch.randperm(patches, generator=rng) for _ in range(batch)])
    return (ranks.double() + 0.5).div(patches).float()


def _patches(adapter: MAEModelCapability) -> int:
    _, height, width = adapter.model_image_shape
    return (height // adapter.patch_size) * (width // adapter.patch_size)


def _keep(adapter: MAEModelCapability, ratio: str) -> int:
    patches = _patches(adapter)
    return patches - expected_masked(patches, ratio, keep_count_convention(adapter))


class Example:
    """A drawn forward: the (maybe perturbed) adapter, images, noise and mask ratio."""

    def __init__(self, adapter: MAEModelCapability, draws: Draws, min_keep: int = 1,
                 min_masked: int = 1, min_batch: int = 1) -> None:
        usable = [r for r in RATIOS if _keep(adapter, r) >= min_keep
                  and _patches(adapter) - _keep(adapter, r) >= min_masked]
        if not usable:  # too few patches to decide this contract: not checkable, not failed
            note(f"the model's {_patches(adapter)} patches leave no mask ratio with {min_keep} "
                 f"visible and {min_masked} masked patches")
            reject()
        self.batch = draws.draw("batch", st.integers(min_batch, 3))
        self.ratio = draws.draw("mask_ratio", st.sampled_from(usable))
        self.seed = draws.seed()
        perturbed = draws.draw("perturbed", st.booleans())
        self.model = perturbed_copy(adapter, self.seed + 9) if perturbed else adapter
        self.keep = _keep(adapter, self.ratio)
        self.patches = _patches(adapter)
        self.images = randn((self.batch, *adapter.model_image_shape), self.seed)
        self.noise = distinct_noise(self.batch, self.patches, self.seed + 1)
        draws.size = self.images.numel()

    def forward(self, images: torch.Tensor | None = None,
                noise: torch.Tensor | None = None) -> MAEForward:
        images = self.images if images is None else images
        noise = self.noise if noise is None else noise
        return checked_forward(self.model, images, noise, float(self.ratio))


def checked_forward(adapter: MAEModelCapability, images: torch.Tensor, noise: torch.Tensor,
                    ratio: float) -> MAEForward:
    """``adapter.mae_forward`` with its output's types and shapes checked."""
    out = adapter.mae_forward(images, noise, ratio)
    require(isinstance(out, tuple) and len(out) == len(MAEForward._fields),
            f"mae_forward must return MAEForward{MAEForward._fields}, got {type(out).__name__}")
    loss, pred, mask, ids_restore, latent = out
    batch, patches = noise.shape
    values = adapter.patch_size ** 2 * adapter.in_chans
    require(isinstance(loss, torch.Tensor) and loss.numel() == 1,
            f"loss must be a one-element tensor, got {loss!r}")
    require(tuple(pred.shape) == (batch, patches, values),
            f"pred has shape {list(pred.shape)}, expected {[batch, patches, values]}")
    require(tuple(mask.shape) == (batch, patches),
            f"mask has shape {list(mask.shape)}, expected {[batch, patches]}")
    found = set(mask.detach().reshape(-1).double().tolist())
    require(found <= {0.0, 1.0}, f"mask holds values {sorted(found)} besides 0 and 1")
    require(tuple(ids_restore.shape) == (batch, patches) and not ids_restore.is_floating_point(),
            f"ids_restore must be an integer [{batch}, {patches}] tensor, got "
            f"{ids_restore.dtype} {list(ids_restore.shape)}")
    require(latent.dim() == 3 and latent.shape[0] == batch,
            f"latent must be [B={batch}, L, D], got {list(latent.shape)}")
    return MAEForward(loss.reshape(()), pred, mask, ids_restore, latent)


def _tolerance(*tensors: torch.Tensor) -> float:
    """:data:`SAME_ROW` (at least 10 units of roundoff of the outputs' dtype) times their scale."""
    scale = max(float(t.detach().abs().max()) for t in tensors)
    eps = max(torch.finfo(t.dtype).eps for t in tensors)
    return max(SAME_ROW, 10 * eps) * (1.0 + scale)


def check_loss_of_own_prediction(adapter: MAEModelCapability, draws: Draws) -> None:
    ex = Example(adapter, draws)
    out = ex.forward()
    # The loss contracts' spec side reads only patch_size, in_chans, norm_pix_loss and patchify,
    # which the model capability has too.
    check = spec_check(cast(MAELossCapability, ex.model), ex.images, out.pred.detach(),
                       (out.mask.detach() != 0).float(), out.loss.detach())
    require(check.holds, f"the forward's loss is not maeLoss of its own pred and mask: "
            f"{check.describe()}")


def check_mask_matches_noise(adapter: MAEModelCapability, draws: Draws) -> None:
    ex = Example(adapter, draws)
    out = ex.forward()
    ranks = torch.argsort(torch.argsort(ex.noise, dim=1), dim=1)
    want = ranks >= ex.keep
    got = out.mask.detach() != 0
    restore = out.ids_restore.long()
    with Clauses() as clauses:
        clauses.require(torch.equal(got, want),
                        f"r={ex.ratio}, N={ex.patches}: mask {got.long().tolist()} is not the "
                        f"{ex.patches - ex.keep} largest-noise patches {want.long().tolist()} "
                        f"of noise {ex.noise.tolist()}")
        clauses.require(torch.equal(torch.sort(restore, dim=1).values,
                                    torch.arange(ex.patches).expand(ex.batch, -1)),
                        f"ids_restore {restore.tolist()} is not a permutation per sample")
        clauses.require(torch.equal(restore >= ex.keep, want),
                        f"ids_restore {restore.tolist()} does not put the kept patches first "
                        f"(K={ex.keep})")


def check_masked_rows_follow_position(adapter: MAEModelCapability, draws: Draws) -> None:
    ex = Example(adapter, draws, min_masked=2)
    out = ex.forward()
    pred = out.pred.detach()
    tol = _tolerance(pred)
    for b in range(ex.batch):
        masked = (out.mask[b] != 0).nonzero().reshape(-1).tolist()
        rows = pred[b, masked]
        gaps = (rows[:, None, :] - rows[None, :, :]).abs().amax(dim=-1)
        gaps.fill_diagonal_(float("inf"))
        i, j = divmod(int(gaps.argmin()), len(masked))
        require(float(gaps[i, j]) > tol,
                f"sample {b}: predictions at masked patches {masked[i]} and {masked[j]} are the "
                f"same row (max difference {float(gaps[i, j]):.3e} <= {tol:.3e}): the decoder "
                "gives the mask tokens no position")


def reordered_noise(noise: torch.Tensor, keep: int) -> torch.Tensor:
    """Noise with the same kept set but another shuffle order: the kept patches' ranks shifted
    cyclically among themselves, the masked patches' among themselves."""
    patches = noise.shape[1]
    ranks = torch.argsort(torch.argsort(noise, dim=1), dim=1)
    masked = patches - keep
    kept_ranks = (ranks + 1) % max(keep, 1)
    masked_ranks = keep + (ranks - keep + 1) % max(masked, 1)
    new = torch.where(ranks < keep, kept_ranks, masked_ranks)
    return (new.double() + 0.5).div(patches).float()


def check_shuffle_order_invariant(adapter: MAEModelCapability, draws: Draws) -> None:
    ex = Example(adapter, draws, min_keep=2, min_masked=2)
    out = ex.forward()
    other = reordered_noise(ex.noise, ex.keep)
    out2 = ex.forward(noise=other)
    require(torch.equal(out.mask != 0, out2.mask != 0),
            "noise with the same kept set in another order changed the mask "
            f"{(out.mask != 0).long().tolist()} -> {(out2.mask != 0).long().tolist()}")
    pred, pred2 = out.pred.detach(), out2.pred.detach()
    tol = _tolerance(pred, pred2)
    gap = float((pred - pred2).abs().max())
    if gap > tol:
        b, i = divmod(int((pred - pred2).abs().amax(dim=-1).argmax()), ex.patches)
        raise Violation(f"the same masked set in another shuffle order changed the prediction "
                        f"of sample {b} patch {i} by {gap:.3e} (> {tol:.3e}): a row follows its "
                        "slot in the shuffle, not its patch (un-shuffle missing, or positions "
                        f"indexed by slot); noise {ex.noise[b].tolist()} vs {other[b].tolist()}")


def check_every_parameter_gets_gradient(adapter: MAEModelCapability, draws: Draws) -> None:
    """No trainable parameter is exempt; frozen ones (``requires_grad=False``: sin-cos tables)
    are outside the contract. One caveat: an attention *key* bias has a zero gradient in exact
    arithmetic (softmax is shift-invariant per query), so it passes on rounding-level values;
    a parameter the forward never reads has ``grad is None`` or exact zeros, which is what this
    contract separates."""
    ex = Example(adapter, draws)
    params = [(name, p) for name, p in ex.model.module.named_parameters() if p.requires_grad]
    saved = [p.grad for _, p in params]
    for _, p in params:
        p.grad = None
    try:
        out = ex.forward()
        require(out.loss.requires_grad, "the forward's loss has no gradient at all")
        torch.autograd.backward(out.loss)
        with Clauses() as clauses:  # every parameter that does not train, not just the first
            for name, p in params:
                grad = p.grad
                if grad is None:
                    clauses.require(False, f"trainable parameter {name!r} got no gradient from "
                                    "the loss (never used, or used through a detached / copied "
                                    "tensor)")
                    continue
                clauses.require(bool(torch.isfinite(grad).all()),
                                f"trainable parameter {name!r} has a non-finite gradient")
                clauses.require(bool((grad != 0).any()),
                                f"trainable parameter {name!r} has an all-zero gradient")
    finally:
        for (_, p), grad in zip(params, saved, strict=True):
            p.grad = grad


def _shifted_visible(images: torch.Tensor, patch: int, mask: torch.Tensor) -> torch.Tensor:
    """``images`` with each sample's visible patches' pixels moved one visible patch on
    (cyclically); masked patches unchanged."""
    chans, height, width = images.shape[1:]
    rows = patchify(images, patch).clone()
    moved = rows.clone()
    for b in range(images.shape[0]):
        visible = (mask[b] == 0).nonzero().reshape(-1)
        moved[b, visible] = rows[b, visible.roll(1)]
    return unpatchify(moved, patch, (height // patch, width // patch), chans)


def check_encoder_position_sensitive(adapter: MAEModelCapability, draws: Draws) -> None:
    ex = Example(adapter, draws, min_keep=2)
    out = ex.forward()
    images2 = _shifted_visible(ex.images, ex.model.patch_size, out.mask.detach())
    out2 = ex.forward(images=images2)
    latent, latent2 = out.latent.detach(), out2.latent.detach()
    require(latent.shape == latent2.shape,
            f"the latent changed shape {list(latent.shape)} -> {list(latent2.shape)}")
    tol = _tolerance(latent, latent2)
    for b in range(ex.batch):
        gaps = (latent2[b][:, None, :] - latent[b][None, :, :]).abs().amax(dim=-1)
        nearest = gaps.min(dim=1).values
        if float(nearest.max()) > tol:
            return  # some encoder row changed beyond a reordering: positions reach the encoder
    raise Violation("moving the visible patches' pixels to other visible positions only "
                    f"reordered the encoder's output rows (every row within {tol:.3e} of an "
                    "earlier one): the encoder sees no positions")


CONTRACTS = (
    Contract("model.loss_of_own_prediction",
             "the loss the forward returns = maeLoss of its own pred on its own mask (declared "
             "target, derived rounding bound)",
             (MAEModelCapability,),
             "maeLoss (MAE.lean) on the model's returned pred and mask; MAE paper loss on "
             "removed patches", "CLS / special-token off-by-one", check_loss_of_own_prediction,
             weight=0.5),
    Contract("model.mask_matches_noise",
             "the forward's mask masks exactly the patches with the largest noise, K by the "
             "declared keep_count_convention, and ids_restore puts the kept ones first",
             (MAEModelCapability,),
             "MAE paper code: ids_shuffle = argsort(noise), the first K kept",
             "mask ratio ignored or miscounted", check_mask_matches_noise, weight=0.5),
    Contract("model.masked_rows_follow_position",
             "predictions at two different masked patches differ (the decoder gives each mask "
             "token its position)",
             (MAEModelCapability,),
             "MAE paper: the decoder adds positional embeddings to all tokens, mask tokens "
             "included", POSITIONS, check_masked_rows_follow_position, weight=0.5),
    Contract("model.shuffle_order_invariant",
             "the same masked set drawn in another shuffle order gives the same predictions "
             "(a pred row belongs to its patch, not its slot in the shuffle)",
             (MAEModelCapability,),
             "MAE paper: the decoder un-shuffles with ids_restore before adding positions; "
             "maeLoss_reverse (MAE.lean)", ORDER_FAMILY, check_shuffle_order_invariant,
             weight=0.5),
    Contract("model.every_parameter_gets_gradient",
             "after backward of the forward's loss every trainable parameter has a finite, "
             "not all-zero gradient",
             (MAEModelCapability,),
             "MAE paper: the mask token is a shared, learned vector; every module is trained",
             "knobs that do nothing", check_every_parameter_gets_gradient, weight=0.5),
    Contract("model.encoder_position_sensitive",
             "moving the visible patches' pixels to other visible positions changes the "
             "encoder's output beyond a reordering of its rows",
             (MAEModelCapability,),
             "MAE paper: positional embeddings are added to every patch token before the "
             "encoder", POSITIONS, check_encoder_position_sensitive, weight=0.5),
)
