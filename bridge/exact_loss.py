"""The spec's losses evaluated exactly on a runtime's inputs and outputs, with a rounding bound.

Each ``check_*`` function widens the runtime tensors exactly, evaluates the Lean objective
(``spec.mae.mae_loss`` / ``spec.jepa.jepa_loss`` over the index list the Lean bridge names) with an
exact per-patch loss, applies the normalisation the runtime applies outside the Lean objective
(division by the count; norm-pix), and returns a :class:`LossCheck`: runtime value, exact value,
and the rounding bound of :mod:`bridge.rounding` for the runtime's operation count.

Exactness without ``Fraction`` in the inner loop: every binary64 value is an integer multiple of
``2^-S`` for the largest ``S`` its denominators need, so a squared difference is an integer in
units of ``2^-2S``. Lean's per-patch losses are ``Nat``-valued, and these integers are exactly
such a loss; the single division by the unit, the width and the count happens once, in
``Fraction``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import cast

import torch

from maskproof.bridge import extract
from maskproof.bridge.rounding import (
    Chain,
    NormPixBounds,
    ceil_on_grid,
    floor_on_grid,
    grid_bits,
    nonnegative_loss_bound,
    norm_pix_bounds,
    precision_of,
    result_rounding,
    smooth_l1_sum_bound,
)
from maskproof.spec import block_mae, ssl
from maskproof.spec.jepa import jepa_loss
from maskproof.spec.mae import mae_loss
from maskproof.spec.tensor import Matrix

#: The runtime's ``NORM_PIX_EPS`` as the real number it stands for (the stored float32 value is
#: within ``u·eps`` of it; the bound accounts for that).
NORM_PIX_EPS = Fraction(1, 10**6)


@dataclass(frozen=True)
class LossCheck:
    """A runtime loss against the spec loss evaluated exactly."""

    objective: str
    runtime: float
    exact: Fraction
    bound: Fraction

    @property
    def finite(self) -> bool:
        """Whether the runtime loss is a finite number (an inf or NaN loss never holds)."""
        return math.isfinite(self.runtime)

    @property
    def difference(self) -> Fraction:
        if not self.finite:
            raise NonFiniteValueError(f"{self.objective}: runtime loss {self.runtime!r} has no "
                                      "finite difference from the exact loss")
        return abs(Fraction(self.runtime) - self.exact)

    @property
    def holds(self) -> bool:
        return self.finite and self.difference <= self.bound

    def describe(self) -> str:
        if not self.finite:
            return (f"{self.objective}: runtime {self.runtime!r} vs spec {float(self.exact)!r} "
                    f"(runtime loss not finite: OUTSIDE bound {float(self.bound):.3e})")
        verdict = "within" if self.holds else "OUTSIDE"
        return (f"{self.objective}: runtime {self.runtime!r} vs spec {float(self.exact)!r} "
                f"(|diff| {float(self.difference):.3e} {verdict} bound {float(self.bound):.3e})")


class NonFiniteValueError(ValueError):
    """A runtime input or output that is NaN or infinite: the exact loss is undefined there."""


def inputs_dtype(*inputs: torch.Tensor) -> torch.dtype:
    """The dtype the loss's operations run at: PyTorch's type promotion of its operands (a
    float32 target and a bf16 prediction are subtracted in float32)."""
    dtype = inputs[0].dtype
    for tensor in inputs[1:]:
        dtype = torch.promote_types(dtype, tensor.dtype)
    return dtype


def _runtime_value(loss: torch.Tensor) -> float:
    value = float(loss.detach().cpu().double())
    return value


def _scale(values: Sequence[float]) -> int:
    # The common power of two that makes every value an integer.
    bits = 0
    for value in values:
        if value != value or value in (float("inf"), float("-inf")):
            raise NonFiniteValueError(f"non-finite value {value!r}: the exact loss is undefined")
        bits = max(bits, value.as_integer_ratio()[1].bit_length() - 1)
    return 1 << bits


def _units(values: Sequence[float], scale: int) -> tuple[int, ...]:
    out = []
    for value in values:
        numerator, denominator = value.as_integer_ratio()
        out.append(numerator * (scale // denominator))
    return tuple(out)


def _squared_error_units(target: tuple[int, ...], pred: tuple[int, ...]) -> int:
    return sum((p - t) * (p - t) for t, p in zip(target, pred, strict=True))


def _rows_on_grid(*matrices: Matrix) -> tuple[int, list[list[tuple[int, ...]]]]:
    # Rows of every matrix as integers on one common grid 2^-S; returns (2^S, rows per matrix).
    scale = _scale([v for m in matrices for row in m for v in row])
    return scale, [[_units(row, scale) for row in m] for m in matrices]


def _mean_squared_over(objective: str, target: Matrix, pred: Matrix, n: int, idxs: list[int],
                       runtime: torch.Tensor, dtype: torch.dtype) -> LossCheck:
    """``Σ_rows maeLoss idxs (row) (pred row) (squared error) / (rows · |idxs|)``, 0 if empty.
    ``dtype`` is the inputs' dtype (:func:`inputs_dtype`); the loss's own dtype adds its final
    rounding."""
    scale, (target_units, pred_units) = _rows_on_grid(target, pred)
    total = 0
    for t_row, p_row in zip(target_units, pred_units, strict=True):
        total += int(mae_loss(n, idxs, t_row, p_row,
                              lambda t, p: (p - t) ** 2))
    terms = len(target) * len(idxs)
    exact = Fraction(total, scale * scale * terms) if terms else Fraction(0)
    # (pred − target): 1 rounding, used twice by the square; square: 1; sum of `terms`; / count: 1.
    inputs = precision_of(dtype)
    bound = nonnegative_loss_bound(exact, Chain(4, (max(terms, 1),)), inputs, terms + 1)
    return LossCheck(objective, _runtime_value(runtime), exact,
                     result_rounding(bound, exact, inputs, precision_of(runtime.dtype)))


def _matrix(x: torch.Tensor) -> Matrix:
    return cast(Matrix, extract.to_spec(x))


def check_vector_mae(x: torch.Tensor, pred: torch.Tensor, loss: torch.Tensor, period: int,
                     offset: int) -> LossCheck:
    """Compact vector MAE: squared error over ``vectorMaeSelectedIdxs`` in every row, averaged.

    Row ``bi``'s objective is Lean's ``vectorMaeRowPredictiveContract`` objective, i.e.
    ``maeLoss (vectorMaeSelectedIdxs …) (matrixRowAsPatchBatch x bi) (matrixRowAsPrediction yhat
    bi)`` (theorem ``vectorMaeRow_predictive_objective_eq_maeLoss``).
    """
    batch, data_dim = int(x.shape[0]), int(x.shape[1])
    xs, ps = _matrix(x), _matrix(pred)
    target = tuple(ssl.matrix_row_as_patch_batch(1, data_dim, (xs[bi],), 0) for bi in range(batch))
    preds = tuple(ssl.matrix_row_as_prediction(1, data_dim, (ps[bi],), 0) for bi in range(batch))
    idxs = extract.vector_mae_selected_idxs(data_dim, period, offset)
    return _mean_squared_over("vector MAE", target, preds, data_dim, idxs, loss,
                              inputs_dtype(x, pred))


def check_image_patch_mae(x: torch.Tensor, pred: torch.Tensor, loss: torch.Tensor,
                          patch_h: int, patch_w: int, period: int, offset: int,
                          recon_dim: int) -> LossCheck:
    """Compact image MAE: squared error over **every** target coordinate
    (``imageMaeReconstructionIdxs = finRange reconDim``) of ``imagePatchMaeSample``'s target."""
    batch, c, h, w = extract.shape_of(x)
    sample = ssl.image_patch_mae_sample(batch, c, h, w, recon_dim, patch_h, patch_w, period,
                                        offset, extract.to_spec(x))
    idxs = extract.image_mae_reconstruction_idxs(recon_dim)
    return _mean_squared_over("image-patch MAE", sample.target, _matrix(pred), recon_dim, idxs,
                              loss, inputs_dtype(x, pred))


def check_block_mae(x: torch.Tensor, pred: torch.Tensor, loss: torch.Tensor,
                    blocks: Sequence[int | None], period: int, offset: int,
                    width: int) -> LossCheck:
    """Block MAE over ``x [B, *data_shape]``: squared error over
    ``BlockMAE.hiddenReconstructionIndices`` (hidden coordinates below ``width``) of
    ``BlockMAE.sample``'s target, averaged over rows and those indices."""
    batch, *data_shape = extract.shape_of(x)
    result = block_mae.sample((batch,), data_shape, width, blocks, period, offset,
                              extract.to_spec(x))
    if isinstance(result, block_mae.ExceptError):
        raise extract.ExtractionError(result.message)
    target = cast(Matrix, result.value.target)
    idxs = extract.block_hidden_reconstruction_indices(data_shape, width, blocks, period, offset)
    return _mean_squared_over("block MAE", target, _matrix(pred), width, idxs, loss,
                              inputs_dtype(x, pred))


def paper_mae_masked_idxs(mask_removed: torch.Tensor) -> list[list[int]]:
    """Per sample, the masked-patch ``List (Fin N)`` read from ``mask_removed [B, N]``."""
    return [extract.masked_patch_idxs(mask_removed[bi]) for bi in range(mask_removed.shape[0])]


def _patch_rows(x: torch.Tensor) -> list[list[tuple[float, ...]]]:
    values = x.detach().cpu().double().tolist()
    return [[tuple(patch) for patch in sample] for sample in values]


def _paper_sum_units(target: list[list[tuple[float, ...]]], pred: list[list[tuple[float, ...]]],
                     idxs: list[list[int]]) -> tuple[Fraction, int]:
    # Σ_b maeLoss idxs_b target_b pred_b (Σ_j (p_j − t_j)²), as an exact Fraction, and the count.
    scale = _scale([v for sample in (*target, *pred) for patch in sample for v in patch])
    total = 0
    for t_sample, p_sample, sample_idxs in zip(target, pred, idxs, strict=True):
        t_units = [_units(patch, scale) for patch in t_sample]
        p_units = [_units(patch, scale) for patch in p_sample]
        total += int(mae_loss(len(t_units), sample_idxs, t_units, p_units,
                              lambda t, p: _squared_error_units(t, p)))
    return Fraction(total, scale * scale), sum(len(sample_idxs) for sample_idxs in idxs)


def check_paper_mae(target: torch.Tensor, pred: torch.Tensor, mask_removed: torch.Tensor,
                    loss: torch.Tensor) -> LossCheck:
    """Paper MAE without norm-pix: per-patch mean squared error over the **masked** patches only,
    normalised by their count. ``target`` is the patchified image ``[B, N, P]``."""
    idxs = paper_mae_masked_idxs(mask_removed)
    batch, patches, width = (int(d) for d in target.shape)
    total, count = _paper_sum_units(_patch_rows(target), _patch_rows(pred), idxs)
    exact = total / (width * count) if count else Fraction(0)
    return LossCheck("paper MAE", _runtime_value(loss), exact,
                     _paper_bound(exact, batch, patches, width, count, inputs_dtype(target, pred),
                                  loss.dtype))


def _paper_bound(exact: Fraction, batch: int, patches: int, width: int, masked: int,
                 dtype: torch.dtype, result_dtype: torch.dtype) -> Fraction:
    # sub (×2, squared), square, mean's division (2: a 1/P factor may be rounded first), count
    # rounding, final division; sums over the P values of a patch and over the patches. That sum
    # runs over all B·N patches, but the visible ones are exact zeros and adding an exact zero
    # is exact, so only the `masked` non-zero summands count (rounding_bound.md, Lemma B').
    # `dtype` is the inputs' (the operations run at it); `result_dtype` the returned loss's.
    chain = Chain(7, (max(width, 1), max(masked, 1)))
    inputs = precision_of(dtype)
    bound = nonnegative_loss_bound(exact, chain, inputs, batch * patches * (width + 1) + 1)
    return result_rounding(bound, exact, inputs, precision_of(result_dtype))


def norm_pix_patch_bounds(target: torch.Tensor,
                          dtype: torch.dtype | None = None) -> list[list[NormPixBounds]]:
    """Per sample and patch of the **raw** patchified image ``[B, N, P]``, the exact normalised
    values' enclosures and the intervals the runtime's normalised values must lie in, for a
    normalisation evaluated in ``dtype`` (default: the raw target's own dtype, the precision the
    normalisation's operations run at). Raises :class:`~maskproof.bridge.rounding.
    VacuousBoundError` where a patch's variance error can reach ``var + eps``: not checkable."""
    precision = precision_of(target.dtype if dtype is None else dtype)
    return [[norm_pix_bounds([Fraction(v) for v in patch], NORM_PIX_EPS, precision)
             for patch in sample] for sample in _patch_rows(target)]


@dataclass(frozen=True)
class NormalisationMiss:
    """A runtime normalised value outside its derived interval."""

    sample: int
    patch: int
    value_index: int
    runtime: float
    low: Fraction
    high: Fraction

    def describe(self) -> str:
        return (f"norm-pix target[{self.sample}, {self.patch}, {self.value_index}] = "
                f"{self.runtime!r} outside [{float(self.low)!r}, {float(self.high)!r}]")


def norm_pix_misses(normalised: torch.Tensor,
                    bounds: list[list[NormPixBounds]]) -> list[NormalisationMiss]:
    """Every runtime normalised value outside its interval (empty = the normalisation agrees)."""
    misses = []
    for bi, sample in enumerate(_patch_rows(normalised)):
        for i, patch in enumerate(sample):
            for j, value in enumerate(patch):
                low, high = bounds[bi][i].runtime[j]
                if not low <= Fraction(value) <= high:
                    misses.append(NormalisationMiss(bi, i, j, value, low, high))
    return misses


def check_paper_mae_norm_pix(raw_target: torch.Tensor, normalised: torch.Tensor,
                             pred: torch.Tensor, mask_removed: torch.Tensor,
                             loss: torch.Tensor,
                             bounds: list[list[NormPixBounds]] | None = None) -> LossCheck:
    """Paper MAE with norm-pix: the exact objective over the exactly normalised target.

    ``raw_target`` is the patchified image, ``normalised`` the runtime's normalised target (the
    values its loss was computed from). The exact normalised values are irrational (a square
    root); they are enclosed in rational intervals of width ~2^-96, and the reported exact value
    is the midpoint of the loss's enclosure, whose half-width is added to the bound. The rest of
    the bound: the rounding of the loss evaluated on the runtime's own target, plus how far the
    runtime's normalised values may lie from the exact ones (``Σ e_j (2|p_j − t̂_j| + e_j)``),
    which holds only if every runtime value lies in its interval (see
    :func:`norm_pix_misses`; the caller checks that first). The enclosure's sums are rounded
    outward to a grid finer than the dtype's underflow unit (:func:`norm_pix_loss_sums`), which
    keeps the check linear in the batch.
    """
    bounds = norm_pix_patch_bounds(raw_target) if bounds is None else bounds
    idxs = paper_mae_masked_idxs(mask_removed)
    batch, patches, width = (int(d) for d in raw_target.shape)
    pred_rows, runtime_rows = _patch_rows(pred), _patch_rows(normalised)
    on_runtime, count = _paper_sum_units(runtime_rows, pred_rows, idxs)
    dtype = inputs_dtype(normalised, pred)
    if count == 0:
        return LossCheck("paper MAE (norm-pix)", _runtime_value(loss), Fraction(0),
                         _paper_bound(Fraction(0), batch, patches, width, 0, dtype, loss.dtype))
    low, high, propagated = norm_pix_loss_sums(bounds, pred_rows, runtime_rows, idxs,
                                               max(grid_bits(precision_of(dtype)),
                                                   grid_bits(precision_of(loss.dtype))))
    scale = width * count
    middle, half_width = (low + high) / (2 * scale), (high - low) / (2 * scale)
    rounding = _paper_bound(on_runtime / scale, batch, patches, width, count, dtype, loss.dtype)
    return LossCheck("paper MAE (norm-pix)", _runtime_value(loss), middle,
                     rounding + propagated / scale + half_width)


def norm_pix_loss_sums(bounds: list[list[NormPixBounds]],
                       pred: list[list[tuple[float, ...]]],
                       normalised: list[list[tuple[float, ...]]],
                       idxs: list[list[int]], bits: int) -> tuple[Fraction, Fraction, Fraction]:
    """Over the masked patches ``idxs``: ``low ≤ Σ (p − x)² ≤ high`` for the exact normalised
    values ``x`` in their enclosures, and ``propagated ≥ Σ e_j (2|p_j − t̂_j| + e_j)``.

    Each patch's sums are exact; only their totals are rounded, outward, to the grid ``2^-bits``
    (``low`` down, ``high`` and ``propagated`` up) and added as integers. Adding the exact
    Fractions across patches instead makes the denominator the product of every patch's odd
    square-root factors, and the cost grows with the square of the batch (rounding_bound.md,
    section 3.3, "Outward rounding").
    """
    low = high = propagated = 0
    for bi, sample_idxs in enumerate(idxs):
        for i in sample_idxs:
            patch_low, patch_high, patch_propagated = _norm_pix_patch_terms(
                bounds[bi][i], pred[bi][i], normalised[bi][i])
            low += floor_on_grid(patch_low, bits)
            high += ceil_on_grid(patch_high, bits)
            propagated += ceil_on_grid(patch_propagated, bits)
    unit = 1 << bits
    return Fraction(low, unit), Fraction(high, unit), Fraction(propagated, unit)


def _norm_pix_patch_terms(patch_bounds: NormPixBounds, pred: Sequence[float],
                          runtime: Sequence[float]) -> tuple[Fraction, Fraction, Fraction]:
    """One masked patch, exactly: ``Σ_j min (p_j − x)²`` and ``Σ_j max (p_j − x)²`` over ``x`` in
    the exact value's enclosure, and ``Σ_j e_j (2|p_j − t̂_j| + e_j)``."""
    low = high = propagated = Fraction(0)
    for j, p_float in enumerate(pred):
        p = Fraction(p_float)
        exact_lo, exact_hi = patch_bounds.exact[j]
        ends = ((p - exact_lo) ** 2, (p - exact_hi) ** 2)
        low += 0 if exact_lo <= p <= exact_hi else min(ends)
        high += max(ends)
        e = patch_bounds.error_bound(j)
        propagated += e * (2 * abs(p - Fraction(runtime[j])) + e)
    return low, high, propagated


def _smooth_l1_units(t: tuple[int, ...], p: tuple[int, ...], half_unit: int) -> int:
    # Σ smoothL1(p − t) (β = 1) in units of 2^-(2S+1): d²/2 → d_u², |d| − ½ → (2|d_u| − 2^S)·2^S.
    total = 0
    for tu, pu in zip(t, p, strict=True):
        d = abs(pu - tu)
        total += d * d if d < half_unit else (2 * d - half_unit) * half_unit
    return total


def check_ijepa(pred: torch.Tensor, target: torch.Tensor, targets: torch.Tensor,
                targets_valid: torch.Tensor, loss: torch.Tensor) -> LossCheck:
    """I-JEPA: smooth-L1 (β = 1) over the valid target-block tokens, averaged over them and the
    feature width. Per sample ``b`` and block ``m``, Lean's ``jepaLoss`` over the block's patch
    list (``List (Fin N)`` read from the padded mask) with ``target i`` the target encoder's
    feature row at patch ``i`` and ``predict () i`` the predictor's row for patch ``i``."""
    batch, blocks, _, dim = (int(d) for d in pred.shape)
    pred_rows = pred.detach().cpu().double().reshape(batch, blocks, -1, dim).tolist()
    target_rows = target.detach().cpu().double().reshape(batch, blocks, -1, dim).tolist()
    scale = _scale([v for rows in (pred_rows, target_rows) for s in rows for b in s for r in b
                    for v in r])
    total = 0
    abs_diff_units = 0  # Σ |p − t| in units of 2^-S: integers, so the running sum stays cheap
    count = 0
    for bi in range(batch):
        for m in range(blocks):
            slots = extract.jepa_block_slots(targets_valid[bi, m], targets[bi, m])
            patch_idxs = [patch for _, patch in slots]
            if len(set(patch_idxs)) != len(patch_idxs):
                raise extract.ExtractionError(
                    f"targets[{bi}, {m}] lists a patch twice: {patch_idxs}")
            n = max(patch_idxs, default=-1) + 1
            by_patch = {patch: slot for slot, patch in slots}
            table = [_units(target_rows[bi][m][by_patch[i]], scale) if i in by_patch else ()
                     for i in range(n)]

            def predict(_: None, i: int, bi: int = bi, m: int = m,
                        by_patch: dict[int, int] = by_patch) -> tuple[int, ...]:
                return _units(pred_rows[bi][m][by_patch[i]], scale)

            total += int(jepa_loss(n, patch_idxs, None, table, predict,
                                   lambda t, p: _smooth_l1_units(t, p, scale)))
            for slot, _ in slots:
                abs_diff_units += sum(abs(p - t) for p, t in zip(
                    _units(pred_rows[bi][m][slot], scale), _units(target_rows[bi][m][slot], scale),
                    strict=True))
            count += len(slots)
    values = count * dim
    exact_sum = Fraction(total, 2 * scale * scale)
    abs_diff = Fraction(abs_diff_units, scale)
    exact = exact_sum / values if values else Fraction(0)
    # The sum runs over every padded slot, but padding is an exact zero and adds no rounding:
    # only the valid values count as summands (rounding_bound.md, Lemma B'); underflow is
    # budgeted for every slot.
    inputs = precision_of(inputs_dtype(pred, target))
    bound = smooth_l1_sum_bound(exact_sum, abs_diff, max(values, 1), 2, inputs,
                                underflow_terms=int(pred.numel()))
    return LossCheck("I-JEPA", _runtime_value(loss), exact,
                     result_rounding(bound / max(values, 1), exact, inputs,
                                     precision_of(loss.dtype)))
