"""Training images: scikit-learn's digits (embedded), an N x C x H x W ``.npy``, or an image folder.

Digits are 1,797 8x8 grey images with values 0..16. They are scaled to [0, 1] (divided by 16) and
upsampled to ``image_size`` x ``image_size`` (16 by default) with bilinear interpolation
(``align_corners=False``, no antialiasing): each output pixel is a convex combination of its
nearest input pixels, so values stay in [0, 1] and 4x4 patches of the 16x16 image see smooth
strokes rather than 2x2 copies of one pixel. ``image_size = 8`` keeps the original pixels.

A ``.npy`` is memory-mapped (``np.load(mmap_mode="r")``), never read whole: its header is
validated first (rank 4, no zero-sized axis, not channels-last, dtype uint8 or floating point),
then a floating-point file gets one streamed finiteness pass (ordinary reads of
:data:`STREAM_BYTES` at a time, so the pass leaves no mapped pages resident) before anything
else happens; uint8 needs none. Batches are then gathered from the map and converted per batch
(uint8 scaled by 1/255, floats to float32). An image folder (:mod:`runtime.image_folder`) is
read whole into memory. Labels are a 1-D integer array with one entry per image.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np
import torch
import torch.nn.functional as F
from numpy.typing import NDArray

from maskproof.runtime.errors import UserError

DIGITS_MAX_VALUE = 16.0
#: Bytes read per chunk by the streamed finiteness pass over a floating-point ``.npy``.
STREAM_BYTES = 16 * 2**20


class ImageStore(Protocol):
    """Where the images live: ``count`` images of ``shape`` ``(C, H, W)``."""

    @property
    def count(self) -> int: ...

    @property
    def shape(self) -> tuple[int, int, int]: ...

    def gather(self, index: torch.Tensor) -> torch.Tensor:
        """Float32 images ``[len(index), C, H, W]`` at the int64 positions ``index``."""
        ...


class TensorImages:
    """Images held in memory as one float32 tensor ``[N, C, H, W]``."""

    def __init__(self, images: torch.Tensor) -> None:
        self.images = images

    @property
    def count(self) -> int:
        return int(self.images.shape[0])

    @property
    def shape(self) -> tuple[int, int, int]:
        _, channels, height, width = self.images.shape
        return int(channels), int(height), int(width)

    def gather(self, index: torch.Tensor) -> torch.Tensor:
        return self.images[index]


class NpyImages:
    """A validated ``.npy`` of images, memory-mapped; :meth:`gather` reads only the rows asked.

    Pickled (a DataLoader worker started by spawn) it carries the path, not the pages: each
    process maps the file itself.
    """

    def __init__(self, path: Path, shape: tuple[int, ...], dtype: np.dtype[Any]) -> None:
        self.path = path
        self._shape = shape
        self.dtype = dtype
        self._array: NDArray[Any] | None = None

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_array": None}

    @property
    def count(self) -> int:
        return int(self._shape[0])

    @property
    def shape(self) -> tuple[int, int, int]:
        return int(self._shape[1]), int(self._shape[2]), int(self._shape[3])

    def gather(self, index: torch.Tensor) -> torch.Tensor:
        if self._array is None:
            self._array = np.load(self.path, mmap_mode="r", allow_pickle=False)
        rows = self._array[index.numpy()]  # fancy indexing copies just these rows
        return torch.from_numpy(_as_float32(rows))


@dataclass(frozen=True)
class ImageData:
    """The run's images (``store``), int64 labels ``[N]`` when known, and where they came from.

    ``classes``: an image folder's class names, label ``k`` being ``classes[k]``.
    """

    store: ImageStore
    labels: torch.Tensor | None
    source: str
    classes: tuple[str, ...] | None = None

    @property
    def count(self) -> int:
        return self.store.count

    @property
    def shape(self) -> tuple[int, int, int]:
        """``(C, H, W)`` of one image."""
        return self.store.shape

    def gather(self, index: torch.Tensor) -> torch.Tensor:
        """Float32 images at ``index`` (int64 positions)."""
        return self.store.gather(index)

    @property
    def images(self) -> torch.Tensor:
        """Every image as one float32 tensor: reads a memory-mapped file whole (the probe)."""
        if isinstance(self.store, TensorImages):
            return self.store.images
        return self.store.gather(torch.arange(self.count))


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
    return ImageData(TensorImages(images.contiguous()), labels,
                     f"sklearn digits {image_size}x{image_size}")


def load_npy(path: str, flag: str, mmap: bool = False) -> NDArray[np.generic]:
    """The array in ``path``; with ``mmap`` a read-only memory map (nothing read but the header)."""
    file = Path(path)
    if not file.is_file():
        raise UserError(f"{flag} {path}: no such file")
    try:
        array = np.load(file, allow_pickle=False, mmap_mode="r" if mmap else None)
    except (ValueError, OSError, EOFError) as error:
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        if "Python objects" in reason:  # what mmap_mode says of an object (pickle) array
            raise UserError(f"{flag} {path}: dtype object holds pickled Python objects; "
                            "expected uint8 or a floating-point type") from None
        raise UserError(f"{flag} {path}: not a readable .npy array ({reason})") from None
    if not isinstance(array, np.ndarray):  # an .npz archive
        raise UserError(f"{flag} {path}: expected a single .npy array, got an archive")
    return array


#: Channel counts of grey, RGB and RGBA images: a last axis of this size after a second axis
#: of another size is a channels-last array, not images a few pixels wide.
_CHANNEL_COUNTS = (1, 3, 4)


def check_image_array(shape: tuple[int, ...], dtype: np.dtype[Any], name: str) -> None:
    """Refuse a shape or dtype that is not ``N x C x H x W`` uint8 or floating point."""
    if len(shape) != 4:
        raise UserError(f"{name}: shape {shape} has rank {len(shape)}; "
                        "expected a rank-4 N x C x H x W array")
    if 0 in shape:
        raise UserError(f"{name}: shape {shape} is empty; expected N, C, H, W all > 0")
    if shape[3] in _CHANNEL_COUNTS and shape[1] not in _CHANNEL_COUNTS:
        raise UserError(f"{name}: shape {shape} looks like N x H x W x C (channels last); "
                        "expected N x C x H x W: save array.transpose(0, 3, 1, 2)")
    if dtype != np.uint8 and not np.issubdtype(dtype, np.floating):
        raise UserError(f"{name}: dtype {dtype}; expected uint8 or a floating-point type")


def _as_float32(array: NDArray[Any]) -> NDArray[np.float32]:
    """uint8 scaled to [0, 1]; floats converted (float64 beyond float32 range becomes inf)."""
    if array.dtype == np.uint8:
        return np.ascontiguousarray(array.astype(np.float32) / np.float32(255.0))
    with np.errstate(over="ignore"):
        return np.ascontiguousarray(array.astype(np.float32))


def _non_finite_error(name: str, count: int, first: tuple[int, ...], value: object) -> UserError:
    return UserError(f"{name}: {count} non-finite value(s) as float32, first at index {first} "
                     f"(value {value!r}); expected finite numbers")


def images_from_array(array: NDArray[np.generic], name: str) -> torch.Tensor:
    """Validate an ``N x C x H x W`` array and return it as float32 (uint8 scaled to [0, 1])."""
    check_image_array(array.shape, array.dtype, name)
    converted = _as_float32(array)
    bad = ~np.isfinite(converted)
    if bad.any():
        first = tuple(int(i) for i in np.argwhere(bad)[0])
        raise _non_finite_error(name, int(bad.sum()), first, array[first])
    return torch.from_numpy(converted)


def check_finite_streamed(array: NDArray[Any], name: str) -> None:
    """The finiteness check of :func:`images_from_array` for a memory-mapped ``.npy``, read in
    chunks of :data:`STREAM_BYTES` with ordinary file reads (page cache, not this process's
    resident memory); the first index is in file order (C order unless Fortran-ordered)."""
    if array.dtype == np.uint8:
        return
    assert isinstance(array, np.memmap) and array.filename is not None
    order: Literal["C", "F"] = \
        "F" if array.flags.f_contiguous and not array.flags.c_contiguous else "C"
    per_chunk = max(1, STREAM_BYTES // array.dtype.itemsize)
    bad_count, first = 0, -1
    with open(array.filename, "rb") as handle:
        handle.seek(array.offset)
        done = 0
        while done < array.size:
            chunk = np.fromfile(handle, dtype=array.dtype, count=min(per_chunk, array.size - done))
            bad = ~np.isfinite(_as_float32(chunk))
            found = int(bad.sum())
            if found and first < 0:
                first = done + int(np.argmax(bad))
            bad_count += found
            done += chunk.size
    if bad_count:
        where = tuple(int(i) for i in np.unravel_index(first, array.shape, order=order))
        raise _non_finite_error(name, bad_count, where, array[where])


def labels_from_array(array: NDArray[np.generic], count: int, name: str) -> torch.Tensor:
    """Validate a 1-D integer label array with ``count`` entries."""
    if array.ndim != 1:
        raise UserError(f"{name}: shape {array.shape}; expected a 1-D array of {count} labels")
    if array.shape[0] != count:
        raise UserError(f"{name}: {array.shape[0]} labels for {count} images; expected {count}")
    if not np.issubdtype(array.dtype, np.integer):
        raise UserError(f"{name}: dtype {array.dtype}; expected integer class labels")
    return torch.from_numpy(array.astype(np.int64))


def open_npy_images(path: str) -> NpyImages:
    """A validated, memory-mapped ``--data`` ``.npy``."""
    name = f"--data {path}"
    mapped = load_npy(path, "--data", mmap=True)
    check_image_array(mapped.shape, mapped.dtype, name)
    check_finite_streamed(mapped, name)
    return NpyImages(Path(path), tuple(int(n) for n in mapped.shape), mapped.dtype)


def load_images(data: str | None, labels: str | None, image_size: int) -> ImageData:
    """The run's images: digits when ``data`` is None, else the validated folder or array."""
    from maskproof.runtime.image_folder import load_image_folder

    if data is None:
        if labels is not None:
            raise UserError("--labels needs --data (the embedded digits bring their own labels)")
        return load_digits_images(image_size)
    store: ImageStore
    classes = None
    folder_labels = None
    if Path(data).is_dir():
        folder = load_image_folder(data)
        store = TensorImages(images_from_array(folder.images, f"--data {data}"))
        classes, folder_labels = folder.classes, folder.labels
        if labels is not None and classes is not None:
            raise UserError(f"--labels {labels}: --data {data} has class subfolders, which give "
                            "the labels; expected no --labels")
    else:
        store = open_npy_images(data)
    label_tensor = None
    if labels is not None:
        label_tensor = labels_from_array(load_npy(labels, "--labels"), store.count,
                                         f"--labels {labels}")
    elif folder_labels is not None:
        label_tensor = torch.from_numpy(folder_labels)
    return ImageData(store, label_tensor, data, classes)
