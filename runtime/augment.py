"""Random resized crop, the MAE and I-JEPA papers' pre-training augmentation, on a whole batch.

Each image gets a box covering a uniformly drawn fraction ``[min_scale, 1]`` of its area, with a
log-uniform aspect ratio in ``[3/4, 4/3]`` and a uniform position inside the image; the box is
resampled bilinearly back to the full size. Both papers use torchvision's ``RandomResizedCrop``
(scale ``(0.2, 1)`` for MAE, ``(0.3, 1)`` for I-JEPA) with a horizontal flip; the flip is left out
here because it changes what a digit means.

Written on ``affine_grid``/``grid_sample`` rather than torchvision, for two reasons: one call
crops the whole batch (torchvision's transform is per image), and every sample takes exactly four
draws from the run's generator. torchvision retries a box that does not fit up to ten times and
then falls back to a centre crop, so its draw count varies; here a side longer than the image is
clamped to the image instead. A fixed draw count is what lets every rank of a multi-process run
draw the global batch's boxes and keep its own rows, and lets ``--resume`` replay exactly.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

#: Aspect-ratio range of the box (width / height), torchvision's default.
ASPECT_RATIO = (3 / 4, 4 / 3)
DRAWS_PER_IMAGE = 4


def crop_boxes(draws: Tensor, min_scale: float) -> Tensor:
    """Boxes ``[N, 4]`` as ``(width, height, centre_x, centre_y)`` in ``grid_sample``'s [-1, 1]
    coordinates (width and height as fractions of the image side), from ``[N, 4]`` uniforms."""
    if not 0.0 < min_scale <= 1.0:
        raise ValueError(f"min_scale {min_scale}: expected a number in (0, 1]")
    if draws.dim() != 2 or draws.shape[1] != DRAWS_PER_IMAGE:
        raise ValueError(f"draws of shape {tuple(draws.shape)}: expected [N, {DRAWS_PER_IMAGE}]")
    area = min_scale + (1.0 - min_scale) * draws[:, 0]
    low, high = math.log(ASPECT_RATIO[0]), math.log(ASPECT_RATIO[1])
    ratio = torch.exp(low + (high - low) * draws[:, 1])
    width = torch.sqrt(area * ratio).clamp(max=1.0)
    height = torch.sqrt(area / ratio).clamp(max=1.0)
    centre_x = (2.0 * draws[:, 2] - 1.0) * (1.0 - width)  # keeps the box inside the image
    centre_y = (2.0 * draws[:, 3] - 1.0) * (1.0 - height)
    return torch.stack([width, height, centre_x, centre_y], dim=1)


def resample_boxes(images: Tensor, boxes: Tensor) -> Tensor:
    """Each image's box, resampled bilinearly to the image's own ``H x W``."""
    count = images.shape[0]
    if boxes.shape != (count, 4):
        raise ValueError(f"boxes of shape {tuple(boxes.shape)}: expected [{count}, 4]")
    theta = torch.zeros(count, 2, 3, dtype=images.dtype, device=images.device)
    boxes = boxes.to(device=images.device, dtype=images.dtype)
    theta[:, 0, 0], theta[:, 0, 2] = boxes[:, 0], boxes[:, 2]
    theta[:, 1, 1], theta[:, 1, 2] = boxes[:, 1], boxes[:, 3]
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="border",
                         align_corners=False)


def random_crop_boxes(generator: torch.Generator, min_scale: float, start: int, count: int,
                      global_size: int | None = None) -> Tensor:
    """The boxes of rows ``[start, start + count)`` of a global batch of ``global_size``.

    Draws ``4 * global_size`` uniforms from the CPU ``generator`` whatever rows this process
    holds, so every rank stays in step and the rows equal those of a one-process run.
    """
    total = count if global_size is None else global_size
    if not (0 <= start and start + count <= total):
        raise ValueError(f"rows [{start}, {start + count}) do not fit a global batch of {total}")
    draws = torch.rand(total, DRAWS_PER_IMAGE, generator=generator)
    return crop_boxes(draws[start:start + count], min_scale)


def random_resized_crop(images: Tensor, generator: torch.Generator, min_scale: float,
                        start: int = 0, global_size: int | None = None) -> Tensor:
    """Crop ``images``, rows ``[start, start + N)`` of a global batch of ``global_size``
    (boxes from :func:`random_crop_boxes`)."""
    boxes = random_crop_boxes(generator, min_scale, start, images.shape[0], global_size)
    return resample_boxes(images, boxes)
