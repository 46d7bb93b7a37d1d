"""Agreements Lean does not state as theorems but its definitions imply.

The image-patch mask and the vector mask are special cases of the arbitrary-rank block mask:

* ``imagePatchHidden h w pH pW period offset row col`` equals ``BlockMask.hidden`` on shape
  ``[h, w]`` with policies ``[some pH, some pW]`` at ``[row, col]``, and on ``[c, h, w]`` with
  ``[none, some pH, some pW]`` at ``[ch, row, col]`` for every channel;
* ``vectorMaeHiddenMask dataDim period offset j`` equals ``BlockMask.hidden`` on ``[dataDim]``
  with ``[some 1]`` at ``[j]``.

The draws include ``period = 0``, ``patchH = 0`` / ``patchW = 0`` (Lean's ``some 0``), offsets past
the period, patches wider than the image and extents not divisible by the patch. The whole masked
tensors are compared as well, bit for bit.
"""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from maskproof.bridge.theorem_args.common import offsets, periods
from maskproof.bridge.theorem_args.ssl import float_tensors
from maskproof.spec import block_mask, ssl
from maskproof.spec.tensor import tensor_eq

extents = st.integers(min_value=1, max_value=7)
patches = st.integers(min_value=0, max_value=8)


@st.composite
def image_masks(draw: st.DrawFn) -> dict[str, Any]:
    h, w = draw(extents), draw(extents)
    return {"h": h, "w": w, "patch_h": draw(patches), "patch_w": draw(patches),
            "period": draw(periods), "offset": draw(offsets),
            "row": draw(st.integers(0, h - 1)), "col": draw(st.integers(0, w - 1))}


@given(image_masks(), st.integers(min_value=1, max_value=3))
def test_image_patch_hidden_is_the_block_mask_on_h_w_and_c_h_w(args: dict[str, Any],
                                                              c: int) -> None:
    h, w, ph, pw = args["h"], args["w"], args["patch_h"], args["patch_w"]
    period, offset, row, col = args["period"], args["offset"], args["row"], args["col"]
    expected = ssl.image_patch_hidden(h, w, ph, pw, period, offset, row, col)
    assert block_mask.hidden([h, w], [ph, pw], period, offset, [row, col]) is expected
    for ch in range(c):
        assert block_mask.hidden([c, h, w], [None, ph, pw], period, offset,
                                 [ch, row, col]) is expected


@given(st.integers(min_value=0, max_value=12), periods, offsets)
def test_vector_hidden_mask_is_the_block_mask_with_unit_blocks(data_dim: int, period: int,
                                                               offset: int) -> None:
    mask = ssl.vector_mae_hidden_mask(data_dim, period, offset)
    assert len(mask) == data_dim
    for j in range(data_dim):
        assert block_mask.hidden([data_dim], [1], period, offset, [j]) is mask[j]


@st.composite
def images_and_masks(draw: st.DrawFn) -> dict[str, Any]:
    batch, c = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    h, w = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    return {"batch": batch, "c": c, "h": h, "w": w, "patch_h": draw(patches),
            "patch_w": draw(patches), "period": draw(periods), "offset": draw(offsets),
            "x": draw(float_tensors((batch, c, h, w)))}


@given(images_and_masks())
def test_image_patch_mask_is_block_mask_apply_per_sample(args: dict[str, Any]) -> None:
    c, h, w, x = args["c"], args["h"], args["w"], args["x"]
    masked = ssl.image_patch_mask(args["batch"], c, h, w, args["patch_h"], args["patch_w"],
                                  args["period"], args["offset"], x)
    blocks = [None, args["patch_h"], args["patch_w"]]
    for sample, got in zip(x, masked, strict=True):
        expected = block_mask.apply((c, h, w), sample, blocks, args["period"], args["offset"])
        assert tensor_eq(got, expected)


@given(st.integers(0, 3), st.integers(0, 9), periods, offsets, st.data())
def test_vector_mae_mask_is_block_mask_apply_per_row(batch: int, data_dim: int, period: int,
                                                    offset: int, data: st.DataObject) -> None:
    x = data.draw(float_tensors((batch, data_dim)))
    masked = ssl.vector_mae_mask(batch, data_dim, period, offset, x)
    for row, got in zip(x, masked, strict=True):
        assert tensor_eq(got, block_mask.apply((data_dim,), row, [1], period, offset))


def test_a_known_grid_agrees() -> None:
    # 3 x 5 image, 2 x 2 patches: 3 patches per row (ceiling), rows 0-1 are patch row 0.
    hidden = [[ssl.image_patch_hidden(3, 5, 2, 2, 2, 1, r, c) for c in range(5)] for r in range(3)]
    assert hidden == [[False, False, True, True, False],
                      [False, False, True, True, False],
                      [True, True, False, False, True]]
    blocks = [[block_mask.hidden([3, 5], [2, 2], 2, 1, [r, c]) for c in range(5)]
              for r in range(3)]
    assert blocks == hidden
