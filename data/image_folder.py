"""Finding and opening image files, with one-line `DataError`s that name the file.

Listing and header checks are cheap (no pixel decode) so a data set can be checked when it is built;
`load_image` decodes fully so a truncated file fails here, not deep inside a transform.
"""
from __future__ import annotations

import os

from PIL import Image

from util.errors import DataError

IMG_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".ppm")
_PIL_ERRORS = (OSError, SyntaxError, ValueError, Image.DecompressionBombError)


def is_image_file(name: str) -> bool:
    return name.lower().endswith(IMG_EXTENSIONS)


def require_dir(path: str, what: str) -> None:
    """Fail early with the folder's name rather than with an empty data set later."""
    if not os.path.isdir(path):
        raise DataError(f"{what} not found: {path}")


def list_images(folder: str, max_size: float = float("inf")) -> list[str]:
    """Image files under `folder` (recursively), sorted by path, at most `max_size` of them."""
    require_dir(folder, "image folder")
    paths = sorted(os.path.join(root, name) for root, _, names in os.walk(folder) for name in names
                   if is_image_file(name))
    if not paths:
        raise DataError(f"no images ({', '.join(IMG_EXTENSIONS)}) in folder {folder}")
    return paths[: int(min(max_size, len(paths)))]


def read_size(path: str, what: str = "image") -> tuple[int, int]:
    """(width, height) from the file header only."""
    try:
        with Image.open(path) as img:
            return img.size
    except _PIL_ERRORS as e:
        raise DataError(f"{what} {path} is not a readable image ({_one_line(e)})") from None


def load_image(path: str, mode: str) -> Image.Image:
    """Decode `path` fully and convert it to `mode` ('RGB' or 'L')."""
    try:
        with Image.open(path) as img:
            return img.convert(mode)
    except _PIL_ERRORS as e:
        raise DataError(f"cannot read {path}: {_one_line(e)}") from None


def _one_line(e: BaseException) -> str:
    return " ".join(str(e).split()) or type(e).__name__
