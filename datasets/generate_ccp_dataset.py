"""Build a two-domain Clothing Co-Parsing (CCP) data set (e.g. jeans <-> skirt) in the unaligned_seg layout.

Class names come from DATA_ROOT/label_list.mat (`label_list`, index = class id); photos are
DATA_ROOT/photos/ID.jpg.
- train: from the pixel-level annotations DATA_ROOT/annotations/pixel-level/ID.mat (`groundtruth`, class id
  per pixel): trainA/ID.png and trainA_seg/ID_0.png, one mask = the category's region; photos without the
  category are skipped.
- val: from the image-level tags DATA_ROOT/annotations/image-level/ID.mat (`tags`, class ids present):
  valA/ID.png for every photo tagged with the category, images only (CCP has no masks for them): predict
  masks into valA_seg/valB_seg before using them with the unaligned_seg data mode.
Photos keep their size (the training loader resizes) unless --size_h and --size_w are given; then they are
scaled, keeping the aspect ratio, to cover size_h x size_w and centre-cropped. A .mat file that cannot be read,
lacks its variable or holds it in another form is reported in one line naming the file.
"""
from __future__ import annotations

import argparse
import sys
from functools import partial
from pathlib import Path
from typing import Sequence

if __package__ in (None, ""):  # run as `python datasets/X.py`: import from the repo root, not datasets/
    sys.path[0] = str(Path(__file__).resolve().parents[1])

import numpy as np
import scipy.io
from scipy.io.matlab import MatReadError

from datasets.common import (FASHION_ETHICS_NOTE, Job, Sample, base_parser, cover, generate, keep_size,
                             lookup_category, positive_int)
from util.cli import run_cli
from util.errors import DataError, OptionError
from util.log import logger


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = base_parser(__doc__ + FASHION_ETHICS_NOTE)
    p.add_argument("--cat1", default="jeans", help="class of domain A (a name from label_list.mat)")
    p.add_argument("--cat2", default="skirt", help="class of domain B")
    p.add_argument("--size_h", type=positive_int, default=None, help="output height (default: keep the size)")
    p.add_argument("--size_w", type=positive_int, default=None, help="output width (default: keep the size)")
    args = p.parse_args(argv)
    if (args.size_h is None) != (args.size_w is None):
        raise OptionError("give both --size_h and --size_w, or neither to keep the photos' size")
    if args.cat1 == args.cat2:
        raise OptionError(f"--cat1 and --cat2 are both '{args.cat1}'; the two domains must differ")
    return args


def load_mat_variable(path: Path, name: str) -> np.ndarray:
    try:
        data = scipy.io.loadmat(str(path), variable_names=[name])
    except (OSError, ValueError, NotImplementedError, MatReadError) as e:  # MatReadError: an empty or cut file
        raise DataError(f"cannot read {path}: {e}") from e
    if name not in data:
        raise DataError(f"{path} has no variable '{name}'")
    return data[name]


def load_class_ids(path: Path, name: str, ndim: int | None = None) -> np.ndarray:
    """A numeric variable of class ids (of `ndim` dimensions if given): a cell array, struct or text there would
    otherwise compare unequal to every class id (no instance at all, without a word) or fail in NumPy."""
    value = load_mat_variable(path, name)
    if value.dtype.kind not in "biuf" or ndim not in (None, value.ndim):
        shape, rank = "x".join(map(str, value.shape)), "" if ndim is None else f"{ndim}-D "
        raise DataError(f"{path}: '{name}' is a {shape} {value.dtype} array, not a {rank}numeric array of class ids")
    return value


def matlab_strings(value: np.ndarray) -> list[str]:
    """The strings of a MATLAB cell array (or char matrix) as scipy.io.loadmat returns it.

    A cell array of strings arrives as an object array whose cells are 1-element (0 for '') string arrays.
    Anything else (numbers, structs) is a ValueError.
    """

    def text(cell: object) -> str:
        if isinstance(cell, str):
            return cell.strip()
        parts = np.asarray(cell)
        if parts.dtype.kind not in "OU":
            raise ValueError(f"a cell holds a {parts.dtype} value, not text")
        return "".join(text(part) for part in parts.ravel())

    return [text(cell) for cell in np.asarray(value).ravel()]


def load_class_names(path: Path) -> list[str]:
    try:
        return matlab_strings(load_mat_variable(path, "label_list"))
    except ValueError as e:
        raise DataError(f"{path}: 'label_list' is not a cell array of class names ({e})") from e


def _region(path: Path, class_id: int) -> list[np.ndarray]:
    return [load_class_ids(path, "groundtruth", ndim=2) == class_id]


def annotation_files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        raise DataError(f"CCP annotation folder not found: {folder}")
    return sorted(folder.glob("*.mat"))


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    root = Path(args.data_root)
    label_file = root / "label_list.mat"
    names = load_class_names(label_file)
    class_ids = {name: i for i, name in enumerate(names) if name}
    cat_ids = [lookup_category(cat, class_ids, str(label_file)) for cat in (args.cat1, args.cat2)]

    pixel_level = annotation_files(root / "annotations" / "pixel-level")
    tags = {path.stem: set(load_class_ids(path, "tags").ravel().astype(int).tolist())
            for path in annotation_files(root / "annotations" / "image-level")}
    jobs = []
    for domain, category, cat_id in zip("AB", (args.cat1, args.cat2), cat_ids):
        jobs.append(Job(f"train{domain}", [Sample(path.stem, root / "photos" / f"{path.stem}.jpg",
                                                  partial(_region, path, cat_id)) for path in pixel_level]))
        tagged = [Sample(stem, root / "photos" / f"{stem}.jpg") for stem, ids in sorted(tags.items()) if cat_id in ids]
        logger.info("image-level tags: %d photos with %s -> val%s", len(tagged), category, domain)
        jobs.append(Job(f"val{domain}", tagged, with_masks=False))
    resize = keep_size if args.size_h is None else cover(args.size_h, args.size_w)
    generate(args, "ccp", jobs, resize)
    logger.warning("valA/valB hold images only (CCP has no masks for them): predict masks into "
                   "valA_seg/valB_seg before using them with the unaligned_seg data mode")
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
