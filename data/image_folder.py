"""Finding and opening image files, with one-line `DataError`s that name the file.

Listing and header checks are cheap (no pixel decode) so a data set can be checked when it is built;
`load_image` decodes fully so a truncated file fails here, not deep inside a transform, and reads any PIL mode
as the picture it shows (`as_picture`).
"""
from __future__ import annotations

import os
from typing import Callable

import numpy as np
from PIL import Image

from util.errors import DataError

IMG_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".ppm")
_PIL_ERRORS = (OSError, SyntaxError, ValueError, Image.DecompressionBombError)


def is_image_file(name: str) -> bool:
    return name.lower().endswith(IMG_EXTENSIONS)


def require_dir(path: str, what: str) -> None:
    """Fail early with the folder's name rather than with an empty data set later."""
    if not os.path.isdir(path):
        raise DataError(f"{what} {'is a file, not a folder' if os.path.exists(path) else 'not found'}: {path}")


def list_images(folder: str, max_size: float = float("inf")) -> list[str]:
    """Image files under `folder` (recursively), sorted by path, at most `max_size` of them."""
    require_dir(folder, "image folder")
    paths = sorted(os.path.join(root, name) for root, _, names in os.walk(folder) for name in names
                   if is_image_file(name))
    if not paths:
        raise DataError(f"no images ({', '.join(IMG_EXTENSIONS)}) in folder {folder}")
    return paths[: int(min(max_size, len(paths)))]


def read_image_list(list_file: str, folder: str, max_size: float = float("inf")) -> list[str]:
    """The images a list file names, one path a line relative to `folder` (the authors' list files of MUNIT and
    UNIT), in its order, at most `max_size` of them; a missing one is named with its line."""
    try:
        with open(list_file) as f:
            lines = [(n, line.strip()) for n, line in enumerate(f, 1) if line.strip()]
    except OSError as e:
        raise DataError(f"cannot read image list {list_file}: {e.strerror}") from None
    if not lines:
        raise DataError(f"image list {list_file} names no image")
    paths = []
    for n, name in lines[: int(min(max_size, len(lines)))]:
        path = os.path.join(folder, name)
        if not os.path.isfile(path):
            raise DataError(f"image {path} (line {n} of {list_file}) not found")
        paths.append(path)
    return paths


def read_size(path: str, what: str = "image") -> tuple[int, int]:
    """(width, height) from the file header only."""
    try:
        with Image.open(path) as img:
            return img.size
    except _PIL_ERRORS as e:
        raise DataError(f"{what} {path} is not a readable image ({_one_line(e)})") from None


def decode(path: str, convert: Callable[[Image.Image], Image.Image]) -> Image.Image:
    """Decode `path` fully and `convert` it; a file that fails either way is named in one line."""
    try:
        with Image.open(path) as img:
            img.load()
            return convert(img)
    except _PIL_ERRORS as e:
        raise DataError(f"cannot read {path}: {_one_line(e)}") from None


def load_image(path: str, mode: str) -> Image.Image:
    """Decode `path` fully as a `mode` ('RGB' or 'L') picture (see `as_picture`)."""
    return decode(path, lambda img: as_picture(img, mode))


def as_picture(img: Image.Image, mode: str) -> Image.Image:
    """`img` in `mode` as it looks: PIL would clip 16-bit, 32-bit and float greys at 255 (a 16-bit photo turns
    white), so they are scaled into 8 bits first; palettes are looked up and any alpha channel is dropped."""
    if img.mode.startswith("I") or img.mode == "F":
        img = Image.fromarray(_to_8bit(np.asarray(img)))
    elif img.mode == "P":  # via RGBA: PIL warns about converting a palette with transparency straight to RGB
        img = img.convert("RGBA")
    return img.convert(mode)


def _to_8bit(values: np.ndarray) -> np.ndarray:
    """Greys of mode I;16*, I or F as uint8, their full range onto 0..255 (negative values are black).

    Mode I holds 16-bit files too (e.g. 16-bit PPM), so it is taken as 16-bit unless a value needs more bits;
    floats are taken as 0..1 when no value is above 1, else as 0..255.
    """
    top = values.max()
    if values.dtype.kind == "f":
        full = 1.0 if top <= 1 else 255.0
    else:
        full = 65535.0 if values.dtype.itemsize == 2 or top <= 65535 else float(np.iinfo(np.int32).max)
    return np.clip(np.rint(values * (255 / full)), 0, 255).astype(np.uint8)


def _one_line(e: BaseException) -> str:
    return " ".join(str(e).split()) or type(e).__name__
