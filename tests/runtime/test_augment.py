"""Random resized crop: boxes inside the image, exact draw count, rows independent of sharding."""

from __future__ import annotations

import math

import pytest
import torch

from maskproof.runtime.augment import ASPECT_RATIO, crop_boxes, random_resized_crop, resample_boxes


def test_the_full_box_resamples_every_image_to_itself() -> None:
    images = torch.rand(3, 2, 5, 7)
    full = torch.tensor([[1.0, 1.0, 0.0, 0.0]]).repeat(3, 1)
    torch.testing.assert_close(resample_boxes(images, full), images)


def test_a_half_box_in_a_corner_is_that_corner_upsampled() -> None:
    # 4x4 image whose top-left 2x2 block is constant: the top-left half box shows only that value
    image = torch.zeros(1, 1, 4, 4)
    image[..., :2, :2] = 7.0
    box = torch.tensor([[0.5, 0.5, -0.5, -0.5]])  # width, height, centre x, centre y in [-1, 1]
    out = resample_boxes(image, box)
    assert out.shape == image.shape
    # The 4 output pixels of a row sample input coordinates -0.25, 0.25, 0.75 and 1.25
    # (border padding below 0; above 1, a blend with the zero pixel 2).
    torch.testing.assert_close(out[0, 0, :3, :3], torch.full((3, 3), 7.0))
    assert float(out[0, 0, 3, 0]) == pytest.approx(7.0 * 0.75)  # 1.25: a quarter from pixel 2
    assert float(out[0, 0, 3, 3]) == pytest.approx(7.0 * 0.75 * 0.75)


@pytest.mark.parametrize("min_scale", [0.2, 0.5, 1.0])
def test_boxes_lie_inside_the_image_with_the_drawn_area_and_aspect(min_scale: float) -> None:
    draws = torch.rand(4000, 4, generator=torch.Generator().manual_seed(1))
    width, height, centre_x, centre_y = crop_boxes(draws, min_scale).unbind(1)
    assert bool((width <= 1).all()) and bool((height <= 1).all())
    assert bool((centre_x.abs() <= 1 - width + 1e-6).all())
    assert bool((centre_y.abs() <= 1 - height + 1e-6).all())
    unclamped = (width < 1) & (height < 1)
    area = (width * height)[unclamped]
    assert bool((area >= min_scale - 1e-6).all()) and bool((area <= 1 + 1e-6).all())
    aspect = (width / height)[unclamped]
    assert bool((aspect >= ASPECT_RATIO[0] - 1e-5).all())
    assert bool((aspect <= ASPECT_RATIO[1] + 1e-5).all())
    # A side clamped to the image only happens for a drawn area of at least 1 / max aspect, so a
    # clamped box still covers >= 3/4 of the image (more than any min_scale < 3/4 asks).
    clamped = ~unclamped
    assert bool(((width * height)[clamped] >= ASPECT_RATIO[0] - 1e-6).all())
    if min_scale < 1:  # the whole area range is reached, not only its middle
        assert float(area.min()) < min_scale + 0.05 and float(area.max()) > 0.9


def test_every_image_takes_exactly_four_draws_whatever_rows_a_rank_holds() -> None:
    images = torch.rand(8, 1, 6, 6)
    whole_gen, shard_gen = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    whole = random_resized_crop(images, whole_gen, 0.3)
    rows = random_resized_crop(images[2:5], shard_gen, 0.3, start=2, global_size=8)
    torch.testing.assert_close(rows, whole[2:5])
    assert torch.equal(whole_gen.get_state(), shard_gen.get_state())
    check = torch.Generator().manual_seed(3)
    torch.rand(8, 4, generator=check)
    assert torch.equal(check.get_state(), whole_gen.get_state())


def test_bad_arguments_name_the_value() -> None:
    with pytest.raises(ValueError, match="min_scale 0.0"):
        crop_boxes(torch.rand(2, 4), 0.0)
    with pytest.raises(ValueError, match=r"draws of shape \(2, 3\)"):
        crop_boxes(torch.rand(2, 3), 0.5)
    with pytest.raises(ValueError, match=r"rows \[6, 10\)"):
        random_resized_crop(torch.rand(4, 1, 4, 4), torch.Generator(), 0.5, 6, 8)
    with pytest.raises(ValueError, match=r"boxes of shape \(1, 4\)"):
        resample_boxes(torch.rand(2, 1, 4, 4), torch.rand(1, 4))


def test_crop_scale_is_validated_and_kept_to_the_image_tasks() -> None:
    from maskproof.runtime.config import resolve_config
    from maskproof.runtime.errors import UserError

    assert resolve_config("mae", {}, {"crop_scale": 0.2}).crop_scale == 0.2
    for bad in (0.0, 1.5, math.nan):
        with pytest.raises(UserError, match=r"--crop-scale .*expected a number in \(0, 1\]"):
            resolve_config("mae", {}, {"crop_scale": bad})
    with pytest.raises(UserError, match="crops apply to mae and jepa"):
        resolve_config("vector-mae", {}, {"crop_scale": 0.5})
