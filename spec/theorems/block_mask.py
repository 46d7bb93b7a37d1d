"""Executable checks of the theorems of ``TorchLean.ssl.BlockMask``.

All four are coordinate statements about ``Spec.getSpec`` on a float tensor: the masked tensor's
``Option Float`` at a coordinate list equals the source's, mapped through "0.0 if hidden". Option
values compare with ``spec.tensor.option_float_eq`` (``none`` only equals ``none``; floats by bit
pattern). The tensors are IEEE floats, which CrossHair cannot explore, so these checks are
exercised by Hypothesis only (``bridge.theorem_args.block_mask``), which reaches out-of-range
coordinates, rank mismatches, ``some 0`` policies and ``period = 0``.

``hidden_scalar_eq_zero`` and ``visible_scalar_eq_input`` have hypotheses ``hValue`` (the source
holds ``value`` at the coordinate) and ``hHidden``/``hVisible``; each is a tagged ``pre:`` line
that the check tests itself (``HypothesisNotMet``), after the arguments' types.
"""

from __future__ import annotations

from collections.abc import Sequence

from maskproof.spec.block_mask import Policy, apply, block_hidden, hidden, internal_apply
from maskproof.spec.lean import require_float
from maskproof.spec.registry import require_hypothesis, theorem
from maskproof.spec.tensor import (
    Shape,
    Tensor,
    TensorLike,
    get_spec,
    option_float_eq,
    require_shape,
    require_tensor,
)

FLOATS = "IEEE float tensors: CrossHair cannot explore binary64 values and bit patterns"


def _masked_value(value: float | None, is_hidden: bool) -> float | None:
    # `Option.map (fun value => if hidden then 0.0 else value)`.
    if value is None:
        return None
    return 0.0 if is_hidden else value


def _holds_value(shape: Sequence[int], x: TensorLike, coordinate: Sequence[int],
                 value: float) -> bool:
    # `Spec.getSpec x coordinate = some value`, Float equality as bit patterns.
    checked_shape = require_shape(shape, "Spec.getSpec", "shape")
    source = require_tensor(x, checked_shape, "Spec.getSpec", "x")
    return option_float_eq(get_spec(source, checked_shape, coordinate), value)


def _require_scalar_args(shape: Sequence[int], x: TensorLike, value: float,
                         declaration: str) -> tuple[Shape, Tensor]:
    # The binders `shape`, `x` and `value : Float`, before any hypothesis is read.
    checked_shape = require_shape(shape, declaration, "shape")
    source = require_tensor(x, checked_shape, declaration, "x")
    require_float(value, declaration, "value")
    return checked_shape, source


def _require_value(shape: Shape, x: Tensor, coordinate: Sequence[int], value: float,
                   declaration: str) -> None:
    require_hypothesis(option_float_eq(get_spec(x, shape, coordinate), value), declaration,
                       "hValue", "Spec.getSpec x coordinate = some value", (coordinate, value))


@theorem("BlockMask.Internal.apply_scalar_at", crosshair=FLOATS)
def BlockMask_Internal_apply_scalar_at(shape: Sequence[int], blocks: Sequence[Policy],
                                       period: int, offset: int,
                                       coordinate_prefix: Sequence[int],
                                       remaining_shape: Sequence[int], x: TensorLike,
                                       coordinates: Sequence[int]) -> bool:
    """``getSpec (Internal.apply shape blocks period offset prefix remainingShape x) coords =
    (getSpec x coords).map (fun v => if blockHidden shape blocks period offset (prefix ++ coords)
    then 0.0 else v)``, for any lists: ``shape``, ``blocks``, ``prefix`` and ``coords`` need not
    agree in length with each other or with ``remainingShape``."""
    decl = "BlockMask.Internal.apply_scalar_at"
    remaining = require_shape(remaining_shape, decl, "remainingShape")
    source = require_tensor(x, remaining, decl, "x")
    masked = internal_apply(shape, blocks, period, offset, coordinate_prefix, remaining, source)
    is_hidden = block_hidden(shape, blocks, period, offset, [*coordinate_prefix, *coordinates])
    expected = _masked_value(get_spec(source, remaining, coordinates), is_hidden)
    return option_float_eq(get_spec(masked, remaining, coordinates), expected)


@theorem("BlockMask.apply_scalar_at", crosshair=FLOATS)
def BlockMask_apply_scalar_at(shape: Sequence[int], blocks: Sequence[Policy], period: int,
                              offset: int, x: TensorLike, coordinate: Sequence[int]) -> bool:
    """``getSpec (apply x blocks period offset) coordinate = (getSpec x coordinate).map
    (fun v => if hidden blocks period offset coordinate then 0.0 else v)``; the coordinate has
    length ``rank`` but its entries may be out of range (both sides ``none`` then)."""
    decl = "BlockMask.apply_scalar_at"
    checked_shape = require_shape(shape, decl, "shape")
    source = require_tensor(x, checked_shape, decl, "x")
    masked = apply(checked_shape, source, blocks, period, offset)
    is_hidden = hidden(checked_shape, blocks, period, offset, coordinate)
    expected = _masked_value(get_spec(source, checked_shape, coordinate), is_hidden)
    return option_float_eq(get_spec(masked, checked_shape, coordinate), expected)


@theorem("BlockMask.hidden_scalar_eq_zero", crosshair=FLOATS)
def BlockMask_hidden_scalar_eq_zero(shape: Sequence[int], blocks: Sequence[Policy], period: int,
                                    offset: int, x: TensorLike, coordinate: Sequence[int],
                                    value: float) -> bool:
    """Hypotheses ``getSpec x coordinate = some value`` and ``hidden … coordinate = true``; then
    ``getSpec (apply x blocks period offset) coordinate = some 0.0``.

    pre: _holds_value(shape, x, coordinate, value)
        # hValue : Spec.getSpec x coordinate = some value
    pre: hidden(shape, blocks, period, offset, coordinate)
        # hHidden : hidden blocks period offset coordinate = true
    """
    decl = "BlockMask.hidden_scalar_eq_zero"
    checked_shape, source = _require_scalar_args(shape, x, value, decl)
    masked = apply(checked_shape, source, blocks, period, offset)
    is_hidden = hidden(checked_shape, blocks, period, offset, coordinate)  # checks the coordinate
    _require_value(checked_shape, source, coordinate, value, decl)
    require_hypothesis(is_hidden, decl, "hHidden", "hidden blocks period offset coordinate = true",
                       coordinate)
    return option_float_eq(get_spec(masked, checked_shape, coordinate), 0.0)


@theorem("BlockMask.visible_scalar_eq_input", crosshair=FLOATS)
def BlockMask_visible_scalar_eq_input(shape: Sequence[int], blocks: Sequence[Policy],
                                      period: int, offset: int, x: TensorLike,
                                      coordinate: Sequence[int], value: float) -> bool:
    """Hypotheses ``getSpec x coordinate = some value`` and ``hidden … coordinate = false``; then
    ``getSpec (apply x blocks period offset) coordinate = some value``.

    pre: _holds_value(shape, x, coordinate, value)
        # hValue : Spec.getSpec x coordinate = some value
    pre: not hidden(shape, blocks, period, offset, coordinate)
        # hVisible : hidden blocks period offset coordinate = false
    """
    decl = "BlockMask.visible_scalar_eq_input"
    checked_shape, source = _require_scalar_args(shape, x, value, decl)
    masked = apply(checked_shape, source, blocks, period, offset)
    is_hidden = hidden(checked_shape, blocks, period, offset, coordinate)  # checks the coordinate
    _require_value(checked_shape, source, coordinate, value, decl)
    require_hypothesis(not is_hidden, decl, "hVisible",
                       "hidden blocks period offset coordinate = false", coordinate)
    return option_float_eq(get_spec(masked, checked_shape, coordinate), value)
