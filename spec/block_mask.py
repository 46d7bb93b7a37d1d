"""Mirror of ``TorchLean.ssl.BlockMask`` (file ``NN/API/SelfSupervised/BlockMask.lean``).

An arbitrary-rank block mask. A policy list ``blocks`` (Lean ``Tensor (Option Nat) [rank]``,
here a ``list[int | None]``) says per axis whether it is blocked: ``None`` leaves the axis out of
the block index, ``k`` groups it into blocks of width ``k``. The block coordinates of the blocked
axes are read as one mixed-radix number (radix ``⌈extent / k⌉`` per axis, outermost axis most
significant), and the blocks whose number is ``≡ offset (mod period)`` are hidden.

Everything degenerate hides nothing: ``period = 0``, a ``some 0`` policy, no blocked axis at all,
an out-of-range coordinate, and (for the ``Internal`` functions, which take plain lists) a rank
mismatch between shape, policies and coordinate. The public ``index``/``hidden``/``apply`` take
``blocks`` and ``coordinate`` as tensors of type ``[shape.rank]``, so there a list of the wrong
length is not a Lean value and raises ``LeanContractError``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeAlias, cast

from maskproof.spec.errors import LeanContractError
from maskproof.spec.lean import is_sequence, nat_div, nat_mod, require_bool, require_nat
from maskproof.spec.registry import mirrors
from maskproof.spec.tensor import Shape, Tensor, TensorLike, require_shape, require_tensor

#: One axis policy: ``None`` (Lean ``none``) or a block width (Lean ``some k``).
Policy: TypeAlias = "int | None"

#: The value a hidden scalar becomes (Lean ``Tensor.full [] 0.0``): positive zero.
HIDDEN_VALUE = 0.0


def require_policies(blocks: object, declaration: str, binder: str = "blocks") -> list[Policy]:
    """Return ``blocks`` as a list of ``Option Nat`` (``None`` or a Nat)."""
    if not is_sequence(blocks):
        raise LeanContractError(declaration, binder, "a List (Option Nat)", blocks)
    return [None if p is None else require_nat(p, declaration, binder) for p in blocks]


def require_coordinates(coordinates: object, declaration: str, binder: str) -> list[int]:
    """Return ``coordinates`` as a ``List Nat`` (any size: range is Lean's ``Option`` business)."""
    if not is_sequence(coordinates):
        raise LeanContractError(declaration, binder, "a List Nat", coordinates)
    return [require_nat(i, declaration, binder) for i in coordinates]


def require_rank(values: Sequence[object], rank: int, declaration: str, binder: str) -> None:
    """Refuse a policy or coordinate list that is not a ``Tensor _ [shape.rank]``."""
    if len(values) != rank:
        raise LeanContractError(declaration, binder,
                                f"a tensor of shape [{rank}] (the rank of shape)", list(values))


def _block_index(shape: Shape, policies: Sequence[Policy], coordinates: Sequence[int],
                 flat_index: int, used: bool) -> int | None:
    # Structural recursion as in Lean: the three lists are consumed together.
    if not shape and not policies and not coordinates:
        return flat_index if used else None
    if not shape or not policies or not coordinates:
        return None  # rank mismatch
    extent, coordinate, policy = shape[0], coordinates[0], policies[0]
    if coordinate >= extent:
        return None
    if policy is None:
        return _block_index(shape[1:], policies[1:], coordinates[1:], flat_index, used)
    if policy == 0:
        return None
    blocks_along_axis = nat_div(extent + policy - 1, policy)
    block_coordinate = nat_div(coordinate, policy)
    return _block_index(shape[1:], policies[1:], coordinates[1:],
                        flat_index * blocks_along_axis + block_coordinate, True)


@mirrors("BlockMask.Internal.blockIndex")
def block_index(shape: Sequence[int], policies: Sequence[Policy], coordinates: Sequence[int],
                flat_index: int, used: bool) -> int | None:
    """Lean ``BlockMask.Internal.blockIndex shape policies coordinates flatIndex used``.

    The flat block index (``None`` = Lean ``none``). Walks shape, policies and coordinates in step:
    a coordinate ``≥`` its extent, a ``some 0`` policy or lists of different lengths give ``none``;
    a ``some k`` axis appends the digit ``coordinate / k`` in radix ``(extent + k - 1) / k``; at
    the end, ``none`` unless some axis was blocked (``used``).
    """
    decl = "BlockMask.Internal.blockIndex"
    return _block_index(require_shape(shape, decl, "shape"), require_policies(policies, decl,
                        "policies"), require_coordinates(coordinates, decl, "coordinates"),
                        require_nat(flat_index, decl, "flatIndex"),
                        require_bool(used, decl, "used"))


def _block_hidden(shape: Shape, blocks: Sequence[Policy], period: int, offset: int,
                  coordinate: Sequence[int]) -> bool:
    if period == 0:
        return False
    index = _block_index(shape, blocks, coordinate, 0, False)
    return index is not None and nat_mod(index, period) == nat_mod(offset, period)


@mirrors("BlockMask.Internal.blockHidden")
def block_hidden(shape: Sequence[int], blocks: Sequence[Policy], period: int, offset: int,
                 coordinate: Sequence[int]) -> bool:
    """Lean ``BlockMask.Internal.blockHidden shape blocks period offset coordinate``.

    ``False`` when ``period = 0`` or ``blockIndex … 0 false`` is ``none``; otherwise whether
    ``index % period = offset % period``.
    """
    decl = "BlockMask.Internal.blockHidden"
    return _block_hidden(require_shape(shape, decl, "shape"), require_policies(blocks, decl),
                         require_nat(period, decl, "period"), require_nat(offset, decl, "offset"),
                         require_coordinates(coordinate, decl, "coordinate"))


def apply_from_prefix(shape: Shape, blocks: Sequence[Policy], period: int, offset: int,
                      coordinate_prefix: tuple[int, ...], remaining_shape: Shape,
                      tensor: Tensor) -> Tensor:
    """``Internal.apply`` on arguments already checked (used by ``BlockMAE`` as well)."""
    if not remaining_shape:
        hidden = _block_hidden(shape, blocks, period, offset, coordinate_prefix)
        return HIDDEN_VALUE if hidden else tensor
    rows = cast(tuple[Tensor, ...], tensor)
    return tuple(apply_from_prefix(shape, blocks, period, offset, (*coordinate_prefix, i),
                                 remaining_shape[1:], row) for i, row in enumerate(rows))


@mirrors("BlockMask.Internal.apply")
def internal_apply(shape: Sequence[int], blocks: Sequence[Policy], period: int, offset: int,
                   coordinate_prefix: Sequence[int], remaining_shape: Sequence[int],
                   tensor: TensorLike) -> Tensor:
    """Lean ``BlockMask.Internal.apply shape blocks period offset coordinatePrefix remainingShape``.

    Recurses over ``remainingShape``, extending ``coordinatePrefix`` one axis at a time; at a
    scalar, the full coordinate is ``coordinatePrefix`` and the scalar becomes ``0.0`` if
    ``blockHidden shape blocks …`` holds there. ``shape`` (the mask's shape) and
    ``remainingShape`` (the tensor's) are independent, as in Lean; ``Internal.apply_scalar_at`` is
    stated over it.
    """
    decl = "BlockMask.Internal.apply"
    remaining = require_shape(remaining_shape, decl, "remainingShape")
    return apply_from_prefix(require_shape(shape, decl, "shape"), require_policies(blocks, decl),
                           require_nat(period, decl, "period"),
                           require_nat(offset, decl, "offset"),
                           tuple(require_coordinates(coordinate_prefix, decl,
                                                     "coordinatePrefix")),
                           remaining, require_tensor(tensor, remaining, decl, "tensor"))


def _public_args(declaration: str, shape: Sequence[int], blocks: Sequence[Policy]
                 ) -> tuple[Shape, list[Policy]]:
    checked_shape = require_shape(shape, declaration, "shape")
    policies = require_policies(blocks, declaration)
    require_rank(policies, len(checked_shape), declaration, "blocks")
    return checked_shape, policies


@mirrors("BlockMask.index")
def index(shape: Sequence[int], blocks: Sequence[Policy], coordinate: Sequence[int]) -> int | None:
    """Lean ``BlockMask.index blocks coordinate := Internal.blockIndex shape … 0 false``.

    ``shape`` is Lean's implicit argument; ``blocks`` and ``coordinate`` must have length
    ``shape.rank``. Coordinate values may be out of range (the answer is then ``None``).
    """
    decl = "BlockMask.index"
    checked_shape, policies = _public_args(decl, shape, blocks)
    coordinates = require_coordinates(coordinate, decl, "coordinate")
    require_rank(coordinates, len(checked_shape), decl, "coordinate")
    return _block_index(checked_shape, policies, coordinates, 0, False)


@mirrors("BlockMask.hidden")
def hidden(shape: Sequence[int], blocks: Sequence[Policy], period: int, offset: int,
           coordinate: Sequence[int]) -> bool:
    """Lean ``BlockMask.hidden blocks period offset coordinate``.

    ``False`` if ``period = 0`` or ``index blocks coordinate`` is ``none``, else
    ``index % period = offset % period``.
    """
    decl = "BlockMask.hidden"
    checked_shape, policies = _public_args(decl, shape, blocks)
    coordinates = require_coordinates(coordinate, decl, "coordinate")
    require_rank(coordinates, len(checked_shape), decl, "coordinate")
    return _block_hidden(checked_shape, policies, require_nat(period, decl, "period"),
                         require_nat(offset, decl, "offset"), coordinates)


@mirrors("BlockMask.apply")
def apply(shape: Sequence[int], x: TensorLike, blocks: Sequence[Policy], period: int,
          offset: int) -> Tensor:
    """Lean ``BlockMask.apply x blocks period offset`` (``x : Tensor Float shape``).

    Every scalar whose coordinate is ``hidden`` becomes ``0.0``; every other scalar is copied (the
    same float). ``Internal.apply shape blocks period offset [] shape x``.
    """
    decl = "BlockMask.apply"
    checked_shape, policies = _public_args(decl, shape, blocks)
    tensor = require_tensor(x, checked_shape, decl, "x")
    return apply_from_prefix(checked_shape, policies, require_nat(period, decl, "period"),
                           require_nat(offset, decl, "offset"), (), checked_shape, tensor)
