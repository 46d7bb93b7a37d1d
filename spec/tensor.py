"""Mirror of ``NN.API.tensor`` and the nested-tuple tensors the executable SSL layer works on.

A Lean ``Spec.Tensor Float shape`` is a nested tuple of Python floats (binary64 = Lean ``Float``):
rank 0 is a bare ``float``, and a ``dim n s`` tensor is a length-``n`` tuple of ``s``-tensors.
Python cannot tell a ``[0, 3]`` tensor from a ``[0]`` one (both are ``()``), so every function takes
the shape explicitly, as a tuple of Nats, and checks the tensor against it before reading a value.

Reading never converts a scalar: a visible value is the same Python ``float`` object, so NaN
payloads and ``-0.0`` survive bit for bit.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from math import prod
from typing import Generic, TypeAlias, TypeVar, cast

from maskproof.spec.errors import LeanContractError
from maskproof.spec.lean import float_eq, is_sequence, require_float, require_nat
from maskproof.spec.registry import mirrors

#: ``Shape`` as the list of its extents, outermost first (``Shape.scalar`` is ``()``).
Shape: TypeAlias = tuple[int, ...]
#: A checked tensor: a ``float`` at rank 0, else a tuple of sub-tensors.
Tensor: TypeAlias = "float | tuple[Tensor, ...]"
#: What callers may pass in: lists are accepted and normalised to tuples.
TensorLike: TypeAlias = "float | Sequence[TensorLike]"
#: ``Shape.Mat batch n``: ``x[bi][j]``.
Matrix: TypeAlias = tuple[tuple[float, ...], ...]

InputT = TypeVar("InputT")
TargetT = TypeVar("TargetT")


@dataclass(frozen=True)
class SupervisedSample(Generic[InputT, TargetT]):
    """A supervised training sample (``sample.Supervised`` / ``TorchLean.Sample.Supervised``).

    ``input`` is Lean's ``sample.x`` (what the model sees), ``target`` is ``sample.y``.
    """

    input: InputT
    target: TargetT


def require_shape(shape: object, declaration: str, binder: str) -> Shape:
    """Return ``shape`` as a tuple of Nats (a Lean ``Shape``, outermost extent first)."""
    if not is_sequence(shape):
        raise LeanContractError(declaration, binder, "a Shape (a sequence of Nats)", shape)
    return tuple(require_nat(extent, declaration, binder) for extent in shape)


def shape_size(shape: Shape) -> int:
    """Lean ``Shape.size``: the number of scalars (``1`` for a scalar, ``0`` if any extent is 0)."""
    return prod(shape)


def require_tensor(x: object, shape: Shape, declaration: str, binder: str) -> Tensor:
    """Return ``x`` as a nested tuple if it is a ``Tensor Float shape``.

    A wrong length names the path to the offending table (``x[1][0]``) and the axis it stands for;
    a leaf that is not a Python ``float`` is refused (Lean ``Float`` is binary64, never an int).
    """
    return _require_tensor(x, shape, 0, declaration, binder)


def _require_tensor(x: object, shape: Shape, axis: int, declaration: str, path: str) -> Tensor:
    if axis == len(shape):
        return require_float(x, declaration, path)
    extent = shape[axis]
    if not is_sequence(x) or len(x) != extent:
        expected = f"a table of length {extent} (axis {axis} of shape {list(shape)})"
        raise LeanContractError(declaration, path, expected, x)
    return tuple(_require_tensor(x[i], shape, axis + 1, declaration, f"{path}[{i}]")
                 for i in range(extent))


def require_matrix(x: object, rows: int, cols: int, declaration: str, binder: str) -> Matrix:
    """Return ``x`` if it is a ``Tensor Float (Shape.Mat rows cols)``."""
    return cast(Matrix, require_tensor(x, (rows, cols), declaration, binder))


def row_major_flatten(x: Tensor, shape: Shape) -> tuple[float, ...]:
    """Lean ``Spec.Tensor.flattenSpec``: every scalar, outermost axis most significant.

    ``x`` must already be checked against ``shape`` (see :func:`require_tensor`).
    """
    if not shape:
        return (cast(float, x),)
    rows = cast(tuple[Tensor, ...], x)
    return tuple(v for row in rows for v in row_major_flatten(row, shape[1:]))


def get_spec(x: Tensor, shape: Shape, coordinates: Sequence[int]) -> float | None:
    """Lean ``Spec.getSpec``: the scalar at a coordinate list, or ``None`` (Lean ``none``).

    A scalar answers only the empty list; a ``dim n`` tensor answers ``i :: is`` when ``i < n``.
    Any other combination (too few, too many or out-of-range coordinates) is ``none``: this is
    Lean's ``Option`` result, not a contract error, so coordinates are only required to be Nats.
    ``x`` must already be checked against ``shape``.
    """
    for i in coordinates:
        require_nat(i, "Spec.getSpec", "coordinates")
    return _get_spec(x, shape, coordinates)


def _get_spec(x: Tensor, shape: Shape, coordinates: Sequence[int]) -> float | None:
    if not shape:
        return cast(float, x) if len(coordinates) == 0 else None
    if len(coordinates) == 0 or coordinates[0] >= shape[0]:
        return None
    rows = cast(tuple[Tensor, ...], x)
    return _get_spec(rows[coordinates[0]], shape[1:], coordinates[1:])


def tensor_eq(x: Tensor, y: Tensor) -> bool:
    """Propositional equality of two tensors of the same shape: every scalar by bit pattern."""
    if isinstance(x, float) or isinstance(y, float):
        return isinstance(x, float) and isinstance(y, float) and float_eq(x, y)
    return len(x) == len(y) and all(tensor_eq(a, b) for a, b in zip(x, y, strict=True))


def option_float_eq(x: float | None, y: float | None) -> bool:
    """Equality of two Lean ``Option Float`` values (``none`` only equals ``none``)."""
    if x is None or y is None:
        return x is None and y is None
    return float_eq(x, y)


def map_scalars(x: Tensor, shape: Shape, f: Callable[[tuple[int, ...], float], float],
                prefix: tuple[int, ...] = ()) -> Tensor:
    """Rebuild ``x`` with ``f(coordinate, value)`` at every scalar (coordinates are absolute)."""
    if not shape:
        return f(prefix, cast(float, x))
    rows = cast(tuple[Tensor, ...], x)
    return tuple(map_scalars(row, shape[1:], f, (*prefix, i)) for i, row in enumerate(rows))


def take_prefix(flat: Sequence[float], count: int) -> tuple[float, ...]:
    """The first ``count`` entries of a flattened sample (``count ≤ len(flat)`` already checked)."""
    return tuple(flat[j] for j in range(count))


@mirrors("flattenBatchPrefix")
def flatten_batch_prefix(batch: int, take_dim: int, source: Sequence[int],
                         x: TensorLike) -> Matrix:
    """Lean ``NN.API.tensor.flattenBatchPrefix batch takeDim hTake x``.

    Row ``bi`` of the result is the first ``takeDim`` entries of the row-major flattening of
    ``x[bi]``. Lean's proof argument ``hTake : takeDim ≤ Shape.size source`` becomes a contract
    check; the implicit ``source`` shape is passed explicitly.
    """
    decl = "flattenBatchPrefix"
    require_nat(batch, decl, "batch")
    require_nat(take_dim, decl, "takeDim")
    source_shape = require_shape(source, decl, "source")
    size = shape_size(source_shape)
    if take_dim > size:
        raise LeanContractError(decl, "hTake", f"takeDim <= Shape.size source = {size}", take_dim)
    samples = cast(tuple[Tensor, ...], require_tensor(x, (batch, *source_shape), decl, "x"))
    return tuple(take_prefix(row_major_flatten(sample, source_shape), take_dim)
                 for sample in samples)


def map_leading(x: Tensor, batch_shape: Shape, f: Callable[[Tensor], Tensor]) -> Tensor:
    """Lean ``Tensor.mapLeading batchShape f x``: apply ``f`` to every sample below the batch axes.

    ``x`` must already be checked against ``batch_shape`` followed by the sample shape.
    """
    if not batch_shape:
        return f(x)
    rows = cast(tuple[Tensor, ...], x)
    return tuple(map_leading(row, batch_shape[1:], f) for row in rows)
