"""The runtime's deterministic masks equal the ``spec/`` mirrors scalar by scalar, by bit pattern.

A first cross-check written with the masks; the bridge's runtime-equals-spec suite covers more.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Sequence

import torch
from hypothesis import given
from hypothesis import strategies as st

from maskproof.runtime.masks import (
    block_mask_apply,
    flatten_batch_prefix,
    image_patch_mask,
    vector_mae_mask,
)
from maskproof.spec import block_mask as spec_block_mask
from maskproof.spec import ssl as spec_ssl
from maskproof.spec import tensor as spec_tensor

extents = st.integers(min_value=0, max_value=5)
periods = st.integers(min_value=0, max_value=7)
offsets = st.integers(min_value=0, max_value=30)
scalars = st.one_of(
    st.sampled_from([0.0, -0.0, math.nan, -math.nan, math.inf, -math.inf, 5e-324, -2.5]),
    st.floats(allow_nan=True, allow_infinity=True, width=64),
)


def flat_bits(nested: object) -> list[int]:
    """Bit patterns of every binary64 scalar in a nested list/tuple, in row-major order."""
    if isinstance(nested, (list, tuple)):
        return [b for item in nested for b in flat_bits(item)]
    assert isinstance(nested, float)
    return [struct.unpack("<Q", struct.pack("<d", nested))[0]]


@st.composite
def tensors(draw: st.DrawFn, shape: Sequence[int]) -> torch.Tensor:
    values = draw(st.lists(scalars, min_size=math.prod(shape), max_size=math.prod(shape)))
    return torch.tensor(values, dtype=torch.float64).reshape(tuple(shape))


@st.composite
def image_cases(draw: st.DrawFn) -> tuple[torch.Tensor, int, int, int, int]:
    shape = [draw(st.integers(min_value=0, max_value=2)), draw(st.integers(1, 2)),
             draw(extents), draw(extents)]
    return (draw(tensors(shape)), draw(st.integers(0, 6)), draw(st.integers(0, 6)), draw(periods),
            draw(offsets))


@given(case=image_cases())
def test_image_patch_mask_equals_spec(case: tuple[torch.Tensor, int, int, int, int]) -> None:
    x, patch_h, patch_w, period, offset = case
    batch, c, h, w = x.shape
    expected = spec_ssl.image_patch_mask(batch, c, h, w, patch_h, patch_w, period, offset,
                                         x.tolist())
    got = image_patch_mask(x, patch_h, patch_w, period, offset)
    assert flat_bits(got.tolist()) == flat_bits(expected)


@given(shape=st.tuples(st.integers(0, 3), st.integers(0, 9)), period=periods, offset=offsets,
       data=st.data())
def test_vector_mae_mask_equals_spec(shape: tuple[int, int], period: int, offset: int,
                                     data: st.DataObject) -> None:
    x = data.draw(tensors(shape))
    expected = spec_ssl.vector_mae_mask(shape[0], shape[1], period, offset, x.tolist())
    assert flat_bits(vector_mae_mask(x, period, offset).tolist()) == flat_bits(expected)


@given(sample_shape=st.lists(extents, max_size=3), batch=st.integers(0, 2), period=periods,
       offset=offsets, data=st.data())
def test_block_mask_apply_equals_spec(sample_shape: list[int], batch: int, period: int,
                                      offset: int, data: st.DataObject) -> None:
    blocks = [data.draw(st.one_of(st.none(), st.integers(0, 4))) for _ in sample_shape]
    x = data.draw(tensors([batch, *sample_shape]))
    got = block_mask_apply(x, blocks, period, offset)
    for b in range(batch):
        sample = x[b].tolist() if sample_shape else x[b].item()
        expected = spec_block_mask.apply(sample_shape, sample, blocks, period, offset)
        result = got[b].tolist() if sample_shape else got[b].item()
        assert flat_bits(result) == flat_bits(expected)


@given(shape=st.lists(extents, min_size=1, max_size=4), data=st.data())
def test_flatten_batch_prefix_equals_spec(shape: list[int], data: st.DataObject) -> None:
    x = data.draw(tensors(shape))
    take = data.draw(st.integers(0, math.prod(shape[1:])))
    expected = spec_tensor.flatten_batch_prefix(shape[0], take, shape[1:], x.tolist())
    assert flat_bits(flatten_batch_prefix(x, take).tolist()) == flat_bits(expected)
