"""Mirror of ``TorchLean.ssl.BlockMAE`` (the second half of ``BlockMask.lean``).

Masked reconstruction over arbitrary batch and data shapes: the input is the block-masked sample
(same shape), the target the first ``reconstructionWidth`` entries of the row-major flattening of
the *unmasked* sample.

Two kinds of failure, kept apart as Lean keeps them apart:

* ``sample`` and ``hiddenReconstructionIndices`` return Lean's ``Except String``: a width larger
  than the sample is an ordinary result, :class:`ExceptError` carrying Lean's exact message
  ``BlockMAE reconstruction width {w} exceeds input width {size}``; success is :class:`ExceptOk`.
* ``Proof.rowPredictiveContract`` (and the internal helpers) take the proof
  ``hReconstruction : w ≤ size``; there a too-large width is not a Lean call at all and raises
  ``LeanContractError``.

Hidden coordinates are found as Lean finds them: mask a tensor of ones and keep the entries that
compare ``== 0.0``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Generic, TypeAlias, TypeVar, cast

from maskproof.spec.block_mask import Policy, apply_from_prefix, require_policies, require_rank
from maskproof.spec.errors import LeanContractError
from maskproof.spec.lean import fin_range, require_fin, require_nat
from maskproof.spec.predictive_view import PredictiveViewContract, mae_as_predictive_view_contract
from maskproof.spec.registry import mirrors
from maskproof.spec.tensor import (
    Matrix,
    Shape,
    SupervisedSample,
    Tensor,
    TensorLike,
    map_leading,
    require_matrix,
    require_shape,
    require_tensor,
    row_major_flatten,
    shape_size,
    take_prefix,
)

T = TypeVar("T")
#: The scalar type of ``reconstructionWeights`` (Lean's ``α``): exact or binary64.
Field = TypeVar("Field", Fraction, float)


@dataclass(frozen=True)
class ExceptOk(Generic[T]):
    """Lean ``Except.ok value``."""

    value: T


@dataclass(frozen=True)
class ExceptError:
    """Lean ``Except.error message``."""

    message: str


#: Lean ``Except String T``.
Except: TypeAlias = "ExceptOk[T] | ExceptError"


def width_error_message(width: int, size: int) -> str:
    """Lean's error text for a reconstruction width larger than the flattened sample."""
    return f"BlockMAE reconstruction width {width} exceeds input width {size}"


def _ones(shape: Shape) -> Tensor:
    if not shape:
        return 1.0
    return tuple(_ones(shape[1:]) for _ in range(shape[0]))


def _data_args(declaration: str, data_shape: Sequence[int], blocks: Sequence[Policy], period: int,
               offset: int) -> tuple[Shape, list[Policy], int, int]:
    shape = require_shape(data_shape, declaration, "dataShape")
    policies = require_policies(blocks, declaration)
    require_rank(policies, len(shape), declaration, "blocks")
    return (shape, policies, require_nat(period, declaration, "period"),
            require_nat(offset, declaration, "offset"))


def _require_width(declaration: str, width: int, size: int) -> int:
    # Lean's `hReconstruction : reconstructionWidth ≤ dataShape.size` is a proof argument here.
    if require_nat(width, declaration, "reconstructionWidth") > size:
        raise LeanContractError(declaration, "hReconstruction",
                                f"reconstructionWidth <= dataShape.size = {size}", width)
    return width


def _flat_mask(shape: Shape, policies: list[Policy], period: int, offset: int) -> tuple[float, ...]:
    # `BlockMask.apply (Tensor.ones dataShape) blocks period offset`, flattened row-major.
    masked = apply_from_prefix(shape, policies, period, offset, (), shape, _ones(shape))
    return row_major_flatten(masked, shape)


@mirrors("BlockMAE.Internal.sample")
def internal_sample(batch_shape: Sequence[int], data_shape: Sequence[int],
                    reconstruction_width: int, blocks: Sequence[Policy], period: int,
                    offset: int, x: TensorLike) -> SupervisedSample[Tensor, Tensor]:
    """Lean ``BlockMAE.Internal.sample`` (width already proved ``≤ dataShape.size``).

    Input: ``BlockMask.apply`` on every sample below ``batchShape``. Target:
    ``flattenThenTake batchShape reconstructionWidth x`` of the unmasked source.
    """
    decl = "BlockMAE.Internal.sample"
    batch = require_shape(batch_shape, decl, "batchShape")
    shape, policies, period, offset = _data_args(decl, data_shape, blocks, period, offset)
    width = _require_width(decl, reconstruction_width, shape_size(shape))
    tensor = require_tensor(x, (*batch, *shape), decl, "x")
    masked = map_leading(tensor, batch, lambda data: apply_from_prefix(
        shape, policies, period, offset, (), shape, data))
    target = map_leading(tensor, batch, lambda data: take_prefix(
        row_major_flatten(data, shape), width))
    return SupervisedSample(masked, target)


@mirrors("BlockMAE.Internal.hiddenReconstructionIndices")
def internal_hidden_reconstruction_indices(data_shape: Sequence[int], reconstruction_width: int,
                                           blocks: Sequence[Policy], period: int,
                                           offset: int) -> list[int]:
    """Lean ``BlockMAE.Internal.hiddenReconstructionIndices`` (width proved ``≤ size``).

    The ascending ``Fin reconstructionWidth`` indices whose entry of the masked, flattened tensor
    of ones is ``== 0.0``.
    """
    decl = "BlockMAE.Internal.hiddenReconstructionIndices"
    shape, policies, period, offset = _data_args(decl, data_shape, blocks, period, offset)
    width = _require_width(decl, reconstruction_width, shape_size(shape))
    flat = take_prefix(_flat_mask(shape, policies, period, offset), width)
    return [i for i in fin_range(width) if flat[i] == 0.0]


@mirrors("BlockMAE.sample")
def sample(batch_shape: Sequence[int], data_shape: Sequence[int], reconstruction_width: int,
           blocks: Sequence[Policy], period: int, offset: int,
           x: TensorLike) -> Except[SupervisedSample[Tensor, Tensor]]:
    """Lean ``BlockMAE.sample batchShape reconstructionWidth blocks period offset x``.

    ``ExceptOk(Internal.sample …)`` when the width fits the flattened sample, else
    ``ExceptError("BlockMAE reconstruction width {w} exceeds input width {size}")``.
    """
    decl = "BlockMAE.sample"
    shape = require_shape(data_shape, decl, "dataShape")
    width = require_nat(reconstruction_width, decl, "reconstructionWidth")
    if width > shape_size(shape):
        return ExceptError(width_error_message(width, shape_size(shape)))
    return ExceptOk(internal_sample(batch_shape, shape, width, blocks, period, offset, x))


@mirrors("BlockMAE.hiddenReconstructionIndices")
def hidden_reconstruction_indices(data_shape: Sequence[int], reconstruction_width: int,
                                  blocks: Sequence[Policy], period: int,
                                  offset: int) -> Except[list[int]]:
    """Lean ``BlockMAE.hiddenReconstructionIndices``: the hidden flat indices ``< width``.

    Ascending; an ``ExceptError`` with Lean's message when the width exceeds the sample size.
    """
    decl = "BlockMAE.hiddenReconstructionIndices"
    shape = require_shape(data_shape, decl, "dataShape")
    width = require_nat(reconstruction_width, decl, "reconstructionWidth")
    if width > shape_size(shape):
        return ExceptError(width_error_message(width, shape_size(shape)))
    return ExceptOk(internal_hidden_reconstruction_indices(shape, width, blocks, period, offset))


@mirrors("BlockMAE.hiddenMask")
def hidden_mask(data_shape: Sequence[int], blocks: Sequence[Policy], period: int,
                offset: int) -> tuple[bool, ...]:
    """Lean ``BlockMAE.hiddenMask``: the row-major Boolean indicator of hidden entries."""
    shape, policies, period, offset = _data_args("BlockMAE.hiddenMask", data_shape, blocks,
                                                 period, offset)
    return tuple(value == 0.0 for value in _flat_mask(shape, policies, period, offset))


@mirrors("BlockMAE.reconstructionWeights")
def reconstruction_weights(data_shape: Sequence[int], blocks: Sequence[Policy], period: int,
                           offset: int, scalar: Callable[[int], Field]) -> tuple[Field, ...]:
    """Lean ``BlockMAE.reconstructionWeights`` over the scalar type ``α`` given by ``scalar``.

    ``1 / count`` on every hidden entry (``count`` = number of hidden entries), ``0`` elsewhere;
    all zeros when nothing is hidden (no division happens then). Pass ``Fraction`` for exact
    weights or ``float`` for Lean ``Float`` (one binary64 division, as Lean performs it).
    """
    mask = hidden_mask(data_shape, blocks, period, offset)
    count = sum(1 for hidden in mask if hidden)
    return tuple(scalar(1) / scalar(count) if hidden else scalar(0) for hidden in mask)


@mirrors("BlockMAE.hiddenIndices")
def hidden_indices(data_shape: Sequence[int], blocks: Sequence[Policy], period: int,
                   offset: int) -> list[int]:
    """Lean ``BlockMAE.hiddenIndices``: every hidden flat coordinate of the data shape."""
    shape = require_shape(data_shape, "BlockMAE.hiddenIndices", "dataShape")
    return internal_hidden_reconstruction_indices(shape, shape_size(shape), blocks, period, offset)


@mirrors("BlockMAE.Proof.rowPredictiveContract")
def row_predictive_contract(data_shape: Sequence[int], batch: int, reconstruction_width: int,
                            blocks: Sequence[Policy], period: int, offset: int, x: TensorLike,
                            prediction: TensorLike, row: int, loss: Callable[[float, float], int]
                            ) -> PredictiveViewContract[None, float, float, float]:
    """Lean ``BlockMAE.Proof.rowPredictiveContract``: one batch row as an MAE contract.

    Target indices: ``Internal.hiddenReconstructionIndices`` (hidden entries only); target: row
    ``row`` of ``Internal.sample [batch] …``'s target; prediction: ``prediction[row]``.
    ``reconstructionWidth > dataShape.size`` is a contract error (Lean's ``hReconstruction``).
    """
    decl = "BlockMAE.Proof.rowPredictiveContract"
    batch = require_nat(batch, decl, "batch")
    idxs = internal_hidden_reconstruction_indices(data_shape, reconstruction_width, blocks,
                                                  period, offset)
    target = cast(Matrix, internal_sample((batch,), data_shape, reconstruction_width, blocks,
                                          period, offset, x).target)
    predictions = require_matrix(prediction, batch, reconstruction_width, decl, "prediction")
    checked_row = require_fin(row, batch, decl, "row")
    return mae_as_predictive_view_contract(reconstruction_width, idxs, target[checked_row],
                                           predictions[checked_row], loss)
