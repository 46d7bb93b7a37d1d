"""``--data FOLDER``: PNG/JPEG files, optionally in class subfolders, as one uint8 array.

Layout: either image files directly in the folder (no labels), or one subfolder per class
holding the files (labels 0..K-1 in the sorted order of the subfolder names), not both. Files
whose names do not end in .png, .jpg or .jpeg (any case) and hidden entries are ignored. Every
image must have the size and mode of the first one (in sorted order): mode ``L`` (grey, C = 1)
or ``RGB`` (C = 3); the first file that differs is named. The caller scales uint8 to [0, 1].
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from maskproof.runtime.errors import UserError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
#: Pillow modes accepted and the channel count each gives.
MODES = {"L": 1, "RGB": 3}


@dataclass(frozen=True)
class FolderImages:
    """uint8 images ``[N, C, H, W]``; with class subfolders, int64 labels and the class names."""

    images: NDArray[np.uint8]
    labels: NDArray[np.int64] | None
    classes: tuple[str, ...] | None


def _visible(folder: Path) -> list[Path]:
    return sorted(entry for entry in folder.iterdir() if not entry.name.startswith("."))


def _image_files(folder: Path) -> list[Path]:
    return [entry for entry in _visible(folder)
            if entry.is_file() and entry.suffix.lower() in IMAGE_SUFFIXES]


def _read(file: Path, flag: str) -> tuple[str, tuple[int, int], NDArray[np.uint8]]:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(file) as image:
            mode, size = image.mode, image.size
            pixels = np.asarray(image, dtype=np.uint8) if mode in MODES else None
    except (UnidentifiedImageError, OSError, ValueError) as error:
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise UserError(f"{flag}: {file} is not a readable PNG/JPEG image ({reason})") from None
    if pixels is None:
        raise UserError(f"{flag}: {file} has mode {mode}; expected L (grey) or RGB (convert "
                        "it, e.g. image.convert('RGB'))")
    return mode, size, pixels


def load_image_folder(path: str, flag: str = "--data") -> FolderImages:
    """Read every image of the folder ``path`` (see the module docstring for the layout)."""
    folder = Path(path)
    name = f"{flag} {path}"
    subfolders = [entry for entry in _visible(folder) if entry.is_dir()]
    top_files = _image_files(folder)
    if subfolders and top_files:
        raise UserError(f"{name}: holds both image files ({top_files[0].name}) and subfolders "
                        f"({subfolders[0].name}); expected either images or one subfolder per "
                        "class")
    if subfolders:
        classes: tuple[str, ...] | None = tuple(entry.name for entry in subfolders)
        files = [(file, label) for label, sub in enumerate(subfolders)
                 for file in _image_files(sub)]
        empty = [sub.name for sub in subfolders if not _image_files(sub)]
        if empty:
            raise UserError(f"{name}: class subfolder {empty[0]} has no PNG/JPEG file; expected "
                            "at least one image per class")
    else:
        classes = None
        files = [(file, 0) for file in top_files]
    if not files:
        raise UserError(f"{name}: no PNG/JPEG file; expected image files or class subfolders "
                        "of them")
    first_mode, first_size, _ = _read(files[0][0], flag)
    arrays = []
    for file, _label in files:
        mode, size, pixels = _read(file, flag)
        if (mode, size) != (first_mode, first_size):
            raise UserError(f"{name}: {file} is {mode} {size[0]}x{size[1]}; expected "
                            f"{first_mode} {first_size[0]}x{first_size[1]} like {files[0][0]}")
        arrays.append(pixels)
    stacked = np.stack(arrays)
    images = stacked[:, None] if stacked.ndim == 3 else stacked.transpose(0, 3, 1, 2)
    labels = np.asarray([label for _, label in files], dtype=np.int64) if classes else None
    return FolderImages(np.ascontiguousarray(images), labels, classes)
