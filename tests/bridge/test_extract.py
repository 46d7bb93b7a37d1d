"""Runtime equals spec for every mask and index list, read through ``bridge.extract``.

Each runtime tensor is widened exactly to binary64 (``extract.to_spec``), the spec mirror is
evaluated on those very values, and the results are compared scalar by scalar by bit pattern,
NaN payloads and the sign of zero included. Inputs are Hypothesis-drawn (degenerate shapes and
parameters, every float dtype the runtime trains in) and real batches of scikit-learn digits.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Sequence

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from maskproof.bridge import extract
from maskproof.runtime.data import load_digits_images
from maskproof.runtime.masks import (
    block_hidden,
    block_mask_apply,
    flatten_batch_prefix,
    image_patch_hidden,
    image_patch_mask,
    mae_keep_count,
    random_masking,
    vector_mae_hidden_mask,
    vector_mae_mask,
)
from maskproof.runtime.models.mae import patchify
from maskproof.spec import block_mae, masking, ssl
from maskproof.spec import block_mask as spec_block_mask
from maskproof.spec import tensor as spec_tensor
from maskproof.spec.tensor import Tensor

DTYPES = (torch.float64, torch.float32, torch.bfloat16, torch.float16)
extents = st.integers(min_value=0, max_value=5)
periods = st.integers(min_value=0, max_value=7)
offsets = st.one_of(st.integers(min_value=0, max_value=30), st.just(2**64 + 5))
scalars = st.one_of(
    st.sampled_from([0.0, -0.0, math.nan, -math.nan, math.inf, -math.inf, 5e-324, -2.5, 1e-40]),
    st.floats(allow_nan=True, allow_infinity=True, width=64),
)


def bits(nested: object) -> list[int]:
    """Bit patterns of every binary64 scalar of a nested tuple/list, row-major."""
    if isinstance(nested, (list, tuple)):
        return [b for item in nested for b in bits(item)]
    assert isinstance(nested, float), nested
    return [struct.unpack("<Q", struct.pack("<d", nested))[0]]


@st.composite
def tensors(draw: st.DrawFn, shape: Sequence[int]) -> torch.Tensor:
    values = draw(st.lists(scalars, min_size=math.prod(shape), max_size=math.prod(shape)))
    dtype = draw(st.sampled_from(DTYPES))
    return torch.tensor(values, dtype=torch.float64).reshape(tuple(shape)).to(dtype)


def assert_same_bits(runtime: torch.Tensor, spec_value: Tensor) -> None:
    # Widening is exact, so equal bits here means equal bits in the runtime's own dtype.
    assert bits(extract.to_spec(runtime)) == bits(spec_value)
    assert extract.first_mismatch(runtime, spec_value) is None


# --- masks over Hypothesis-drawn shapes, parameters and dtypes ------------------------------


@given(shape=st.tuples(st.integers(0, 3), st.integers(0, 9)), period=periods, offset=offsets,
       data=st.data())
def test_vector_mae_mask_is_spec(shape: tuple[int, int], period: int, offset: int,
                                 data: st.DataObject) -> None:
    x = data.draw(tensors(shape))
    expected = ssl.vector_mae_mask(*shape, period, offset, extract.to_spec(x))
    assert_same_bits(vector_mae_mask(x, period, offset), expected)
    hidden = vector_mae_hidden_mask(shape[1], period, offset)
    assert extract.hidden_idxs(hidden) == extract.vector_mae_selected_idxs(shape[1], period,
                                                                           offset)


@given(shape=st.tuples(st.integers(0, 2), st.integers(1, 2), extents, extents),
       patch=st.tuples(st.integers(0, 6), st.integers(0, 6)), period=periods, offset=offsets,
       data=st.data())
def test_image_patch_mask_is_spec(shape: tuple[int, int, int, int], patch: tuple[int, int],
                                  period: int, offset: int, data: st.DataObject) -> None:
    x = data.draw(tensors(shape))
    _, _, h, w = shape
    expected = ssl.image_patch_mask(*shape, *patch, period, offset, extract.to_spec(x))
    assert_same_bits(image_patch_mask(x, *patch, period, offset), expected)
    spec_hidden = [row * w + col for row in range(h) for col in range(w)
                   if ssl.image_patch_hidden(h, w, *patch, period, offset, row, col)]
    assert extract.hidden_idxs(image_patch_hidden(h, w, *patch, period, offset)) == spec_hidden


@given(shape=st.lists(extents, min_size=1, max_size=4), data=st.data())
def test_flatten_batch_prefix_is_spec(shape: list[int], data: st.DataObject) -> None:
    x = data.draw(tensors(shape))
    take = data.draw(st.integers(0, math.prod(shape[1:])))
    assert_same_bits(flatten_batch_prefix(x, take), extract.flatten_batch_prefix(x, take))


@given(sample_shape=st.lists(extents, max_size=3), batch=st.integers(0, 2), period=periods,
       offset=offsets, data=st.data())
def test_block_mask_is_spec(sample_shape: list[int], batch: int, period: int, offset: int,
                            data: st.DataObject) -> None:
    blocks = [data.draw(st.one_of(st.none(), st.integers(0, 4))) for _ in sample_shape]
    x = data.draw(tensors([batch, *sample_shape]))
    got = block_mask_apply(x, blocks, period, offset)
    for b in range(batch):
        sample = extract.to_spec(x[b])
        assert_same_bits(got[b], spec_block_mask.apply(sample_shape, sample, blocks, period,
                                                       offset))
    hidden = extract.hidden_idxs(block_hidden(sample_shape, blocks, period, offset))
    assert hidden == block_mae.hidden_indices(sample_shape, blocks, period, offset)
    size = math.prod(sample_shape)
    width = data.draw(st.integers(0, size + 2))
    if width > size:  # Lean's `Except` error becomes a one-line ExtractionError
        with pytest.raises(extract.ExtractionError, match=str(width)):
            extract.block_hidden_reconstruction_indices(sample_shape, width, blocks, period,
                                                        offset)
    else:
        assert extract.block_hidden_reconstruction_indices(
            sample_shape, width, blocks, period, offset) == [i for i in hidden if i < width]


@given(recon_dim=st.integers(0, 40))
def test_image_mae_reconstruction_idxs_is_every_coordinate(recon_dim: int) -> None:
    assert extract.image_mae_reconstruction_idxs(recon_dim) == list(range(recon_dim))


@given(batch=st.integers(1, 3), tokens=st.integers(0, 12), seed=st.integers(0, 2**32),
       dtype=st.sampled_from(DTYPES), data=st.data())
def test_paper_mae_masked_patch_list_is_complement_of_kept(batch: int, tokens: int, seed: int,
                                                           dtype: torch.dtype,
                                                           data: st.DataObject) -> None:
    keep = data.draw(st.integers(0, tokens))
    x = torch.zeros(batch, tokens, 2, dtype=dtype)
    out = random_masking(x, keep, torch.Generator().manual_seed(seed))
    for b in range(batch):
        kept = [i in out.ids_keep[b].tolist() for i in range(tokens)]
        removed = masking.complement(tokens, kept)  # spec: the masked set is the kept set's
        idxs = extract.masked_patch_idxs(out.mask_removed[b])
        assert idxs == [i for i in range(tokens) if masking.selected(tokens, removed, i)]
        assert len(idxs) == tokens - keep


# --- the readers mirror Lean's bridge definitions ------------------------------------------


@given(shape=st.tuples(st.integers(1, 3), st.integers(0, 6)), data=st.data())
def test_matrix_row_readers_are_the_rows(shape: tuple[int, int], data: st.DataObject) -> None:
    x = data.draw(tensors(shape))
    bi = data.draw(st.integers(0, shape[0] - 1))
    assert bits(extract.matrix_row_as_patch_batch(x, bi)) == bits(extract.to_spec(x[bi]))
    assert bits(extract.matrix_row_as_prediction(x, bi)) == bits(extract.to_spec(x[bi]))


@given(shape=st.tuples(st.integers(1, 2), st.integers(1, 3), st.integers(1, 3),
                       st.integers(1, 3)), data=st.data())
def test_image_pixel_reads_nchw(shape: tuple[int, int, int, int], data: st.DataObject) -> None:
    x = data.draw(tensors(shape))
    coordinate = [data.draw(st.integers(0, extent - 1)) for extent in shape]
    assert bits([extract.image_pixel(x, *coordinate)]) == bits([float(x[tuple(coordinate)])])


@given(batch=st.integers(1, 2), chans=st.integers(1, 3), grid=st.tuples(st.integers(1, 3),
       st.integers(1, 3)), patch=st.integers(1, 3), data=st.data())
def test_image_patches_equal_runtime_patchify(batch: int, chans: int, grid: tuple[int, int],
                                              patch: int, data: st.DataObject) -> None:
    shape = (batch, chans, grid[0] * patch, grid[1] * patch)
    x = data.draw(tensors(shape))
    read = extract.image_patches(extract.to_spec(x), shape, patch)
    assert bits(read) == bits(extract.to_spec(patchify(x, patch)))


# --- real batches ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def digits() -> torch.Tensor:
    return load_digits_images(16).images[:64]


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_masks_on_digits_equal_spec(digits: torch.Tensor, dtype: torch.dtype) -> None:
    x = digits.to(dtype)
    batch, c, h, w = extract.shape_of(x)
    flat = flatten_batch_prefix(x, c * h * w)
    spec_flat = extract.flatten_batch_prefix(x, c * h * w)
    assert extract.first_mismatch(flat, spec_flat) is None
    for period, offset in ((3, 1), (4, 7), (0, 2)):
        assert extract.first_mismatch(vector_mae_mask(flat, period, offset), ssl.vector_mae_mask(
            batch, c * h * w, period, offset, spec_flat)) is None
        assert extract.first_mismatch(image_patch_mask(x, 4, 4, period, offset),
                                      ssl.image_patch_mask(batch, c, h, w, 4, 4, period, offset,
                                                           extract.to_spec(x))) is None
        blocks: list[int | None] = [None, 4, 4]
        masked = block_mask_apply(x, blocks, period, offset)
        for b in range(0, batch, 16):
            assert extract.first_mismatch(masked[b], spec_block_mask.apply(
                (c, h, w), extract.to_spec(x[b]), blocks, period, offset)) is None


@pytest.mark.parametrize("ratio", ["0.75", "0.5", "0"])
def test_paper_mae_masks_on_digits(digits: torch.Tensor, ratio: str) -> None:
    tokens = patchify(digits, 4)
    keep = mae_keep_count(tokens.shape[1], ratio)
    out = random_masking(tokens, keep, torch.Generator().manual_seed(7))
    for b in range(tokens.shape[0]):
        idxs = extract.masked_patch_idxs(out.mask_removed[b])
        assert idxs == sorted(set(range(tokens.shape[1])) - set(out.ids_keep[b].tolist()))
        assert len(idxs) == tokens.shape[1] - keep


# --- refusals and the mismatch report --------------------------------------------------------


def test_first_mismatch_names_the_coordinate() -> None:
    x = torch.arange(12, dtype=torch.float32).reshape(3, 4)
    spec_value = [list(row) for row in extract.to_spec(x)]  # type: ignore[arg-type]
    spec_value[2][1] = 99.0
    assert extract.first_mismatch(x, spec_tensor.require_matrix(spec_value, 3, 4, "t", "x")) == (
        (2, 1), 9.0, 99.0)
    zero = torch.zeros(1, 1)
    assert extract.first_mismatch(zero, ((-0.0,),)) == ((0, 0), 0.0, -0.0)


def test_bad_inputs_are_refused_in_one_line() -> None:
    with pytest.raises(extract.ExtractionError, match="floating-point"):
        extract.to_spec(torch.zeros(2, dtype=torch.int64))
    with pytest.raises(extract.ExtractionError, match=r"mask_removed\[1\] = 0\.5"):
        extract.masked_patch_idxs(torch.tensor([1.0, 0.5]))
    with pytest.raises(extract.ExtractionError, match="1-D"):
        extract.masked_patch_idxs(torch.zeros(2, 2))
    with pytest.raises(extract.ExtractionError, match="bool"):
        extract.hidden_idxs(torch.zeros(3))
    with pytest.raises(extract.ExtractionError, match=r"\[batch, n\]"):
        extract.matrix_row_as_patch_batch(torch.zeros(3), 0)
    with pytest.raises(extract.ExtractionError, match="NCHW"):
        extract.image_pixel(torch.zeros(1, 2, 2), 0, 0, 0, 0)
    with pytest.raises(extract.ExtractionError, match="does not tile"):
        extract.image_patches(extract.to_spec(torch.zeros(1, 1, 3, 3)), (1, 1, 3, 3), 2)


@settings(max_examples=50)
@given(valid=st.lists(st.booleans(), max_size=6), data=st.data())
def test_jepa_block_slots_keep_valid_entries(valid: list[bool], data: st.DataObject) -> None:
    index = data.draw(st.lists(st.integers(0, 20), min_size=len(valid), max_size=len(valid)))
    slots = extract.jepa_block_slots(torch.tensor(valid, dtype=torch.bool),
                                     torch.tensor(index, dtype=torch.long))
    assert slots == [(k, index[k]) for k in range(len(valid)) if valid[k]]
