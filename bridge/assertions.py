"""``torch.testing``-style assertions: a loss equals the Lean objective, within its rounding bound.

Each ``assert_*`` function evaluates the Lean objective exactly on the tensors it is given
(:mod:`maskproof.bridge.exact_loss`), derives how far a floating-point evaluation in the loss's
dtype may lie from it (:mod:`maskproof.bridge.rounding`), and raises :class:`AssertionError`
with both values and the bound when the runtime loss lies outside. On success it returns the
:class:`~maskproof.bridge.exact_loss.LossCheck` (runtime value, exact value, bound).

A bound that would be too wide to tell a right loss from a wrong one raises
:class:`~maskproof.bridge.rounding.VacuousBoundError` instead (a ``ValueError``): the inputs
are not checkable at that precision, which is neither a pass nor a failure.

Masks are ``[B, N]`` with ``1`` = removed (hidden from the encoder, scored by the loss), as in the
official MAE code; tensors may be on any device and of any floating dtype.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from maskproof.bridge import exact_loss
from maskproof.bridge.exact_loss import LossCheck
from maskproof.runtime.models.mae import normalize_patches


def _verdict(check: LossCheck, what: str) -> LossCheck:
    if not check.holds:
        raise AssertionError(f"{what}: the loss is not the Lean objective: {check.describe()}")
    return check


def assert_paper_mae_loss(loss: torch.Tensor, target: torch.Tensor, pred: torch.Tensor,
                          mask: torch.Tensor) -> LossCheck:
    """The paper MAE loss without norm-pix: mean squared error over the masked patches.

    ``target`` and ``pred`` are ``[B, N, P]`` (the patchified image and the decoder's output),
    ``mask`` is ``[B, N]``; the Lean objective is ``maeLoss`` over the masked patches divided by
    their count and ``P``.
    """
    return _verdict(exact_loss.check_paper_mae(target, pred, mask, loss), "paper MAE")


def assert_paper_mae_norm_pix_loss(loss: torch.Tensor, raw_target: torch.Tensor,
                                   pred: torch.Tensor, mask: torch.Tensor,
                                   normalised: torch.Tensor | None = None) -> LossCheck:
    """The paper MAE loss with ``norm_pix_loss``: the target is each raw patch minus its mean,
    divided by ``sqrt(unbiased variance + 1e-6)``.

    ``normalised`` is the target your loss was computed from, if you have it (default: the
    official normalisation evaluated on ``raw_target`` in its dtype). Its values are checked
    first against their exact intervals, so a wrong normalisation fails with the patch it is
    wrong on.
    """
    values = normalize_patches(raw_target) if normalised is None else normalised
    bounds = exact_loss.norm_pix_patch_bounds(raw_target, values.dtype)
    misses = exact_loss.norm_pix_misses(values, bounds)
    if misses:
        raise AssertionError(f"paper MAE (norm-pix): the normalised target is not the "
                             f"per-patch normalisation: {misses[0].describe()}")
    check = exact_loss.check_paper_mae_norm_pix(raw_target, values, pred, mask, loss, bounds)
    return _verdict(check, "paper MAE (norm-pix)")


def assert_vector_mae_loss(loss: torch.Tensor, x: torch.Tensor, pred: torch.Tensor,
                           period: int, offset: int) -> LossCheck:
    """TorchLean's vector MAE: squared error over ``vectorMaeSelectedIdxs`` of each row of
    ``x [B, D]``, averaged over rows and the selected coordinates."""
    return _verdict(exact_loss.check_vector_mae(x, pred, loss, period, offset), "vector MAE")


def assert_image_patch_mae_loss(loss: torch.Tensor, x: torch.Tensor, pred: torch.Tensor,
                                patch_h: int, patch_w: int, period: int, offset: int,
                                recon_dim: int) -> LossCheck:
    """TorchLean's image-patch MAE on ``x [B, C, H, W]``: squared error over every coordinate of
    ``imagePatchMaeSample``'s reconstruction target (``recon_dim`` of them)."""
    check = exact_loss.check_image_patch_mae(x, pred, loss, patch_h, patch_w, period, offset,
                                             recon_dim)
    return _verdict(check, "image-patch MAE")


def assert_block_mae_loss(loss: torch.Tensor, x: torch.Tensor, pred: torch.Tensor,
                          blocks: Sequence[int | None], period: int, offset: int,
                          width: int) -> LossCheck:
    """TorchLean's block MAE on ``x [B, *data_shape]``: squared error over
    ``BlockMAE.hiddenReconstructionIndices``."""
    check = exact_loss.check_block_mae(x, pred, loss, blocks, period, offset, width)
    return _verdict(check, "block MAE")


def assert_ijepa_loss(loss: torch.Tensor, pred: torch.Tensor, target: torch.Tensor,
                      targets: torch.Tensor, targets_valid: torch.Tensor) -> LossCheck:
    """I-JEPA: smooth-L1 (beta 1) between predictor and target-encoder rows over the valid target
    tokens. ``pred``/``target`` are ``[B, M, T, D]`` (M target blocks of up to T tokens),
    ``targets [B, M, T]`` the patch index of each slot and ``targets_valid`` its validity."""
    check = exact_loss.check_ijepa(pred, target, targets, targets_valid, loss)
    return _verdict(check, "I-JEPA")
