"""Training images: scikit-learn's digits (embedded, no download) or any N x C x H x W ``.npy``.

Digits are 1,797 8x8 grey images with values 0..16. They are scaled to [0, 1] (divided by 16) and
upsampled to ``image_size`` x ``image_size`` (16 by default) with bilinear interpolation
(``align_corners=False``, no antialiasing): each output pixel is a convex combination of its
nearest input pixels, so values stay in [0, 1] and 4x4 patches of the 16x16 image see smooth
strokes rather than 2x2 copies of one pixel. ``image_size = 8`` keeps the original pixels.

A user array is validated before anything else happens: rank 4, no zero-sized axis, dtype uint8
(scaled by 1/255) or floating point (kept, converted to float32), every value finite after the
conversion; labels are a 1-D integer array with one entry per image.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from numpy.typing import NDArray

from maskproof.runtime.errors import UserError

DIGITS_MAX_VALUE = 16.0


@dataclass(frozen=True)
class ImageData:
    """Float32 images ``[N, C, H, W]`` and, when known, int64 labels ``[N]``."""

    images: torch.Tensor
    labels: torch.Tensor | None
    source: str

    @property
    def shape(self) -> tuple[int, int, int]:
        """``(C, H, W)`` of one image."""
        _, channels, height, width = self.images.shape
        return int(channels), int(height), int(width)


def load_digits_images(image_size: int = 16) -> ImageData:
    """scikit-learn's digits as ``[1797, 1, image_size, image_size]`` in [0, 1], with labels."""
    from sklearn.datasets import load_digits

    if image_size <= 0:
        raise UserError(f"--image-size {image_size}: expected a positive integer")
    digits = load_digits()
    images = torch.from_numpy(np.asarray(digits.images, dtype=np.float32) / DIGITS_MAX_VALUE)
    images = images.unsqueeze(1)
    if image_size != images.shape[-1]:
        images = F.interpolate(images, size=(image_size, image_size), mode="bilinear",
                               align_corners=False)
    labels = torch.from_numpy(np.asarray(digits.target, dtype=np.int64))
    return ImageData(images=images.contiguous(), labels=labels,
                     source=f"sklearn digits {image_size}x{image_size}")


def load_npy(path: str, flag: str) -> NDArray[np.generic]:
    file = Path(path)
    if not file.is_file():
        raise UserError(f"{flag} {path}: no such file")
    try:
        array = np.load(file, allow_pickle=False)
    except (ValueError, OSError, EOFError) as error:
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise UserError(f"{flag} {path}: not a readable .npy array ({reason})") from None
    if not isinstance(array, np.ndarray):  # an .npz archive
        raise UserError(f"{flag} {path}: expected a single .npy array, got an archive")
    return array


def images_from_array(array: NDArray[np.generic], name: str) -> torch.Tensor:
    """Validate an ``N x C x H x W`` array and return it as float32 (uint8 scaled to [0, 1])."""
    if array.ndim != 4:
        raise UserError(f"{name}: shape {array.shape} has rank {array.ndim}; "
                        "expected a rank-4 N x C x H x W array")
    if 0 in array.shape:
        raise UserError(f"{name}: shape {array.shape} is empty; expected N, C, H, W all > 0")
    if array.dtype == np.uint8:
        converted = array.astype(np.float32) / np.float32(255.0)
    elif np.issubdtype(array.dtype, np.floating):
        with np.errstate(over="ignore"):  # float64 beyond float32 range becomes inf, caught below
            converted = array.astype(np.float32)
    else:
        raise UserError(f"{name}: dtype {array.dtype}; expected uint8 or a floating-point type")
    bad = ~np.isfinite(converted)
    if bad.any():
        first = tuple(int(i) for i in np.argwhere(bad)[0])
        raise UserError(f"{name}: {int(bad.sum())} non-finite value(s) as float32, first at "
                        f"index {first} (value {array[first]!r}); expected finite numbers")
    return torch.from_numpy(np.ascontiguousarray(converted))


def labels_from_array(array: NDArray[np.generic], count: int, name: str) -> torch.Tensor:
    """Validate a 1-D integer label array with ``count`` entries."""
    if array.ndim != 1:
        raise UserError(f"{name}: shape {array.shape}; expected a 1-D array of {count} labels")
    if array.shape[0] != count:
        raise UserError(f"{name}: {array.shape[0]} labels for {count} images; expected {count}")
    if not np.issubdtype(array.dtype, np.integer):
        raise UserError(f"{name}: dtype {array.dtype}; expected integer class labels")
    return torch.from_numpy(array.astype(np.int64))


def load_images(data: str | None, labels: str | None, image_size: int) -> ImageData:
    """The run's images: digits when ``data`` is None, else the validated user arrays."""
    if data is None:
        if labels is not None:
            raise UserError("--labels needs --data (the embedded digits bring their own labels)")
        return load_digits_images(image_size)
    images = images_from_array(load_npy(data, "--data"), f"--data {data}")
    label_tensor = None
    if labels is not None:
        label_tensor = labels_from_array(load_npy(labels, "--labels"), images.shape[0],
                                         f"--labels {labels}")
    return ImageData(images=images, labels=label_tensor, source=data)
