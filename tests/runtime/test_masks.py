"""TorchLean's deterministic masks in ``runtime.masks``: hand computations and the Lean rules.

The scalar references below transcribe the Lean definitions (LEAN_SEMANTICS.md, ``NN.API.ssl`` and
``BlockMask``) one coordinate at a time with Python ints, independently of the vectorised code.
"""

from __future__ import annotations

import math
import struct

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from maskproof.runtime.masks import (
    block_hidden,
    block_mask_apply,
    flatten_batch_prefix,
    image_patch_hidden,
    image_patch_mask,
    vector_mae_hidden_mask,
    vector_mae_mask,
)

# A quiet NaN with a payload, a negative NaN, signed zeros, infinities, a subnormal.
SPECIAL_BITS = [0x7FF8_0000_0000_1234, 0xFFF8_0000_0000_0000, 0x8000_0000_0000_0000,
                0x0000_0000_0000_0000, 0x7FF0_0000_0000_0000, 0xFFF0_0000_0000_0000,
                0x0000_0000_0000_0001, 0x3FF0_0000_0000_0000]


def specials_float64(shape: tuple[int, ...]) -> torch.Tensor:
    """A float64 tensor of ``shape`` cycling through SPECIAL_BITS, bit patterns exact."""
    count = math.prod(shape)
    bits = [SPECIAL_BITS[i % len(SPECIAL_BITS)] for i in range(count)]
    signed = [struct.unpack("<q", struct.pack("<Q", b))[0] for b in bits]
    return torch.tensor(signed, dtype=torch.int64).view(torch.float64).reshape(shape)


def bits(x: torch.Tensor) -> torch.Tensor:
    """The IEEE bit patterns of a float tensor, as integers of the same width."""
    width = {torch.float64: torch.int64, torch.float32: torch.int32,
             torch.float16: torch.int16, torch.bfloat16: torch.int16}[x.dtype]
    return x.contiguous().view(width)


def assert_masked_exactly(out: torch.Tensor, x: torch.Tensor, hidden: torch.Tensor) -> None:
    """Hidden scalars are +0.0 by bit pattern; visible scalars are the input's bit pattern."""
    hidden = hidden.expand_as(x)
    assert out.dtype == x.dtype and out.shape == x.shape
    assert torch.equal(bits(out)[hidden], torch.zeros_like(bits(out)[hidden]))
    assert torch.equal(bits(out)[~hidden], bits(x)[~hidden])


# --- scalar transcriptions of the Lean definitions -----------------------------------------


def lean_vector_hidden(j: int, period: int, offset: int) -> bool:
    return period != 0 and j % period == offset % period


def lean_image_hidden(w: int, ph: int, pw: int, period: int, offset: int, r: int, c: int) -> bool:
    if period == 0 or ph == 0 or pw == 0:
        return False
    patches_per_row = (w + pw - 1) // pw
    return ((r // ph) * patches_per_row + c // pw) % period == offset % period


def lean_block_index(shape: list[int], blocks: list[int | None], coord: list[int]) -> int | None:
    index, used = 0, False
    for extent, policy, x in zip(shape, blocks, coord, strict=True):
        if x >= extent:
            return None
        if policy is None:
            continue
        if policy == 0:
            return None
        index = index * ((extent + policy - 1) // policy) + x // policy
        used = True
    return index if used else None


def lean_block_hidden(shape: list[int], blocks: list[int | None], period: int, offset: int,
                      coord: list[int]) -> bool:
    if period == 0:
        return False
    index = lean_block_index(shape, blocks, coord)
    return index is not None and index % period == offset % period


# --- hand-computed masks -------------------------------------------------------------------


def test_image_patch_hidden_on_non_divisible_width_uses_ceiling() -> None:
    # 3x5 image, 2x2 patches: ceil(5/2) = 3 patches per row, patch ids
    #   row 0-1: 0 0 1 1 2    row 2: 3 3 4 4 5 ; period 2, offset 1 hides ids 1, 3, 5.
    expected = torch.tensor([[0, 0, 1, 1, 0],
                             [0, 0, 1, 1, 0],
                             [1, 1, 0, 0, 1]], dtype=torch.bool)
    assert torch.equal(image_patch_hidden(3, 5, 2, 2, 2, 1), expected)
    # With floor(5/2) = 2 patches per row the last column would share ids with the next row:
    floor_ids = torch.tensor([[(r // 2) * 2 + c // 2 for c in range(5)] for r in range(3)])
    assert not torch.equal((floor_ids % 2 == 1), expected)


def test_image_patch_hidden_offset_is_reduced_modulo_period() -> None:
    # 4x4 image, 2x2 patches, ids 0 1 / 2 3; offset 7 with period 3 hides id 1 (7 % 3).
    expected = torch.tensor([[0, 0, 1, 1], [0, 0, 1, 1], [0, 0, 0, 0], [0, 0, 0, 0]],
                            dtype=torch.bool)
    assert torch.equal(image_patch_hidden(4, 4, 2, 2, 3, 7), expected)


def test_image_patch_mask_hand_computed_batch() -> None:
    x = torch.arange(1, 1 + 2 * 1 * 3 * 5, dtype=torch.float32).reshape(2, 1, 3, 5)
    out = image_patch_mask(x, 2, 2, 2, 1)
    expected_row0 = torch.tensor([[1, 2, 0, 0, 5], [6, 7, 0, 0, 10], [0, 0, 13, 14, 0]],
                                 dtype=torch.float32)
    assert torch.equal(out[0, 0], expected_row0)
    assert torch.equal(out[1, 0], torch.where(expected_row0 == 0, 0.0, expected_row0 + 15))


def test_vector_mae_mask_hand_computed() -> None:
    x = torch.tensor([[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]])
    # period 3, offset 5: hidden j with j % 3 == 2 -> j = 2, 5.
    assert torch.equal(vector_mae_mask(x, 3, 5), torch.tensor([[1.0, 2.0, 0, 4.0, 5.0, 0, 7.0]]))
    assert vector_mae_hidden_mask(7, 3, 5).tolist() == [False, False, True, False, False, True,
                                                        False]


def test_block_hidden_rank_three_hand_computed() -> None:
    # shape [2, 3, 5], policies [None, 2, 2]: radix along the last axis ceil(5/2) = 3,
    # block id = (row // 2) * 3 + col // 2, repeated over the first axis; period 4 offset 3.
    hidden = block_hidden([2, 3, 5], [None, 2, 2], 4, 3)
    ids = torch.tensor([[(r // 2) * 3 + c // 2 for c in range(5)] for r in range(3)])
    assert torch.equal(hidden[0], ids % 4 == 3)
    assert torch.equal(hidden[1], hidden[0])
    assert hidden.sum().item() == 2 * 2  # block 3 = rows 2, cols 0-1, on both slices


def test_block_hidden_most_significant_axis_first() -> None:
    # shape [3, 4], policies [1, 2]: id = row * 2 + col // 2 (not col // 2 * 3 + row).
    hidden = block_hidden([3, 4], [1, 2], 6, 3)
    expected = torch.zeros(3, 4, dtype=torch.bool)
    expected[1, 2:] = True
    assert torch.equal(hidden, expected)


# --- degenerate parameters hide nothing ------------------------------------------------------


@pytest.mark.parametrize(("patch_h", "patch_w", "period"), [(0, 2, 2), (2, 0, 2), (2, 2, 0)])
def test_image_patch_degenerate_parameters_hide_nothing(patch_h: int, patch_w: int,
                                                        period: int) -> None:
    x = specials_float64((2, 3, 4, 5))
    assert not image_patch_hidden(4, 5, patch_h, patch_w, period, 0).any()
    assert torch.equal(bits(image_patch_mask(x, patch_h, patch_w, period, 0)), bits(x))


def test_vector_period_zero_hides_nothing() -> None:
    x = specials_float64((3, 9))
    assert torch.equal(bits(vector_mae_mask(x, 0, 4)), bits(x))


@pytest.mark.parametrize("blocks", [[None, None], [0, 2], [2, 0], []])
def test_block_degenerate_policies_hide_nothing(blocks: list[int | None]) -> None:
    shape = [3, 4][: len(blocks)]
    assert not block_hidden(shape, blocks, 1, 0).any()


def test_block_period_zero_hides_nothing() -> None:
    assert not block_hidden([4, 4], [2, 2], 0, 0).any()


def test_huge_period_and_offset_beyond_int64() -> None:
    huge = 2**80
    # period >= number of patches: only patch `offset % period` can be hidden.
    assert torch.equal(image_patch_hidden(4, 4, 2, 2, huge, huge + 3),
                       image_patch_hidden(4, 4, 2, 2, 4, 3))
    assert not image_patch_hidden(4, 4, 2, 2, huge, huge - 1).any()
    assert vector_mae_hidden_mask(5, huge, 2 * huge + 1).tolist() == [False, True, False,
                                                                      False, False]
    assert torch.equal(block_hidden([6], [2], huge, 2), torch.tensor([0, 0, 0, 0, 1, 1]).bool())


# --- bit-exact copies and +0.0 ---------------------------------------------------------------


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32, torch.float16, torch.bfloat16])
def test_image_mask_is_bit_exact_on_special_values(dtype: torch.dtype) -> None:
    x = specials_float64((3, 2, 5, 7)).to(dtype)
    out = image_patch_mask(x, 2, 3, 2, 0)
    assert_masked_exactly(out, x, image_patch_hidden(5, 7, 2, 3, 2, 0))
    # A hidden NaN or -0.0 must become +0.0, which multiplication by a 0/1 mask does not give.
    hidden = image_patch_hidden(5, 7, 2, 3, 2, 0).expand_as(x)
    multiplied = x * (~hidden).to(dtype)
    assert not torch.equal(bits(multiplied), bits(out))


def test_vector_and_block_masks_are_bit_exact_on_special_values() -> None:
    x = specials_float64((4, 11))
    assert_masked_exactly(vector_mae_mask(x, 3, 1), x, vector_mae_hidden_mask(11, 3, 1))
    y = specials_float64((2, 3, 6, 5))
    out = block_mask_apply(y, [None, 4, 2], 3, 2)
    assert_masked_exactly(out, y, block_hidden([3, 6, 5], [None, 4, 2], 3, 2))


def test_masks_return_new_tensors() -> None:
    x = torch.ones(2, 1, 4, 4)
    out = image_patch_mask(x, 2, 2, 0, 0)
    out.add_(1.0)
    assert torch.equal(x, torch.ones(2, 1, 4, 4))


def test_any_batch_size_including_zero_and_one() -> None:
    for batch in (0, 1, 5):
        x = torch.ones(batch, 3, 4, 6)
        assert image_patch_mask(x, 2, 2, 2, 0).shape == (batch, 3, 4, 6)
        assert vector_mae_mask(torch.ones(batch, 6), 2, 0).shape == (batch, 6)
        assert flatten_batch_prefix(x, 7).shape == (batch, 7)


# --- agreement with the scalar Lean transcriptions over drawn parameters --------------------

naturals = st.integers(min_value=0, max_value=7)
periods = st.integers(min_value=0, max_value=9)
offsets = st.integers(min_value=0, max_value=40)


@given(h=naturals, w=naturals, ph=naturals, pw=naturals, period=periods, offset=offsets)
def test_image_patch_hidden_equals_lean_rule(h: int, w: int, ph: int, pw: int, period: int,
                                             offset: int) -> None:
    expected = [[lean_image_hidden(w, ph, pw, period, offset, r, c) for c in range(w)]
                for r in range(h)]
    got = image_patch_hidden(h, w, ph, pw, period, offset)
    assert got.shape == (h, w) and got.tolist() == expected


@given(d=st.integers(min_value=0, max_value=30), period=periods, offset=offsets)
def test_vector_hidden_mask_equals_lean_rule(d: int, period: int, offset: int) -> None:
    expected = [lean_vector_hidden(j, period, offset) for j in range(d)]
    assert vector_mae_hidden_mask(d, period, offset).tolist() == expected


@st.composite
def shapes_and_policies(draw: st.DrawFn) -> tuple[list[int], list[int | None]]:
    shape = draw(st.lists(st.integers(min_value=0, max_value=5), max_size=4))
    policies = [draw(st.one_of(st.none(), st.integers(min_value=0, max_value=6)))
                for _ in shape]
    return shape, policies


@given(shape_policies=shapes_and_policies(), period=periods, offset=offsets)
def test_block_hidden_equals_lean_rule(shape_policies: tuple[list[int], list[int | None]],
                                       period: int, offset: int) -> None:
    shape, policies = shape_policies
    got = block_hidden(shape, policies, period, offset)
    assert tuple(got.shape) == tuple(shape)
    for coord in _coordinates(shape):
        assert bool(got[tuple(coord)]) == lean_block_hidden(shape, policies, period, offset,
                                                            coord), coord


def _coordinates(shape: list[int]) -> list[list[int]]:
    coords: list[list[int]] = [[]]
    for extent in shape:
        coords = [c + [i] for c in coords for i in range(extent)]
    return coords


@given(h=naturals, w=naturals, c=st.integers(min_value=1, max_value=3),
       ph=st.integers(min_value=1, max_value=7), pw=st.integers(min_value=1, max_value=7),
       period=periods, offset=offsets)
def test_image_patch_hidden_equals_block_hidden(h: int, w: int, c: int, ph: int, pw: int,
                                                period: int, offset: int) -> None:
    image = image_patch_hidden(h, w, ph, pw, period, offset)
    assert torch.equal(image, block_hidden([h, w], [ph, pw], period, offset))
    assert torch.equal(image.expand(c, h, w), block_hidden([c, h, w], [None, ph, pw], period,
                                                           offset))


@given(d=st.integers(min_value=0, max_value=30), period=periods, offset=offsets)
def test_vector_hidden_mask_equals_block_hidden(d: int, period: int, offset: int) -> None:
    assert torch.equal(vector_mae_hidden_mask(d, period, offset),
                       block_hidden([d], [1], period, offset))


# --- flatten_batch_prefix --------------------------------------------------------------------


def test_flatten_batch_prefix_is_row_major_prefix() -> None:
    x = torch.arange(2 * 3 * 2 * 2, dtype=torch.float64).reshape(2, 3, 2, 2)
    out = flatten_batch_prefix(x, 5)
    assert out.tolist() == [[0, 1, 2, 3, 4], [12, 13, 14, 15, 16]]
    assert flatten_batch_prefix(x, 0).shape == (2, 0)
    assert flatten_batch_prefix(x, 12).tolist() == x.reshape(2, 12).tolist()
    assert flatten_batch_prefix(torch.tensor([1.0, 2.0]), 1).tolist() == [[1.0], [2.0]]


def test_flatten_batch_prefix_keeps_bits() -> None:
    x = specials_float64((3, 2, 5))
    assert torch.equal(bits(flatten_batch_prefix(x, 7)), bits(x.reshape(3, 10)[:, :7]))


# --- argument validation ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: vector_mae_mask(torch.ones(2, 3), -1, 0), "period must be a non-negative int"),
        (lambda: vector_mae_mask(torch.ones(2, 3), 2, -3), "offset must be a non-negative int, "
                                                            "got -3"),
        (lambda: vector_mae_mask(torch.ones(2, 3, 4), 2, 0), "2-D tensor [batch, data_dim]"),
        (lambda: vector_mae_mask(torch.ones(2, 3, dtype=torch.long), 2, 0), "floating-point"),
        (lambda: image_patch_mask(torch.ones(2, 3, 4), 2, 2, 2, 0), "4-D tensor [batch, "),
        (lambda: image_patch_mask(torch.ones(1, 1, 4, 4), 2.0, 2, 2, 0),  # type: ignore[arg-type]
         "patch_h must be a non-negative int"),
        (lambda: image_patch_hidden(4, 4, 2, 2, True, 0), "period must be a non-negative int"),
        (lambda: flatten_batch_prefix(torch.ones(2, 3), 4), "take_dim must be <= the size of "
                                                             "one sample (3"),
        (lambda: flatten_batch_prefix(torch.tensor(1.0), 0), "leading batch axis"),
        (lambda: block_hidden([4, 4], [2], 2, 0), "one policy per axis (2), got 1"),
        (lambda: block_hidden([4, -4], [2, 2], 2, 0), "shape[1] must be a non-negative int"),
        (lambda: block_hidden([4, 4], [2, -1], 2, 0), "blocks[1] must be a non-negative int"),
        (lambda: block_mask_apply(torch.ones(4), [2, 2], 2, 0), "at least 2 axes"),
        (lambda: block_mask_apply(torch.ones(4), "ab", 2, 0),  # type: ignore[arg-type]
         "blocks must be a sequence"),
    ],
)
def test_bad_arguments_raise_one_line_value_errors(call: object, message: str) -> None:
    assert callable(call)
    with pytest.raises(ValueError) as info:
        call()
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_numpy_integers_are_accepted() -> None:
    np = pytest.importorskip("numpy", reason="numpy is a project dependency; guard only")
    assert torch.equal(image_patch_hidden(np.int64(4), 4, np.int32(2), 2, np.int64(2), 1),
                       image_patch_hidden(4, 4, 2, 2, 2, 1))
