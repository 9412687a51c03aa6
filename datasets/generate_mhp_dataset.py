"""Build a two-domain LV-MHP-v1 data set (e.g. pants <-> skirt) in the unaligned_seg layout.

Reads DATA_ROOT/images/ID.jpg, the per-person parsing maps DATA_ROOT/annotations/ID_NN_MM.png (pixel value =
class id) and DATA_ROOT/{train,test}_list.txt; writes SAVE_ROOT/{train,test}{A,B}/ID.png and
{train,test}{A,B}_seg/ID_k.png, one mask per person wearing the category. Images are scaled, keeping the
aspect ratio, to cover --size_h x --size_w and centre-cropped: a photo wider than size_h:size_w gets height
size_h and its width cropped; a narrower one gets width size_w and its height cropped (no padding).
Landscape images (wider than tall) are skipped unless --no_skip_horizontal.
"""
from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from functools import partial
from pathlib import Path
from typing import Sequence

if __package__ in (None, ""):  # run as `python datasets/X.py`: import from the repo root, not datasets/
    sys.path[0] = str(Path(__file__).resolve().parents[1])

import numpy as np
from PIL import Image

from data.image_folder import decode, read_size
from datasets.common import (FASHION_ETHICS_NOTE, Job, Sample, base_parser, cover, generate, lookup_category,
                             positive_int, require_file)
from util.cli import run_cli
from util.errors import DataError, OptionError
from util.log import logger

CLASSES = ("background", "hat", "hair", "sunglass", "upper-clothes", "skirt", "pants", "dress", "belt",
           "left-shoe", "right-shoe", "face", "left-leg", "right-leg", "left-arm", "right-arm", "bag", "scarf",
           "torso-skin")
SPLITS = (("train_list.txt", "train"), ("test_list.txt", "test"))


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = base_parser(__doc__ + FASHION_ETHICS_NOTE)
    p.add_argument("--cat1", default="pants", help="class of domain A (e.g. pants, skirt, dress)")
    p.add_argument("--cat2", default="skirt", help="class of domain B")
    p.add_argument("--size_h", type=positive_int, default=450, help="output image height")
    p.add_argument("--size_w", type=positive_int, default=300, help="output image width")
    p.add_argument("--no_skip_horizontal", action="store_true",
                   help="keep landscape images (centre-cropped like the others) instead of skipping them")
    args = p.parse_args(argv)
    if args.cat1 == args.cat2:
        raise OptionError(f"--cat1 and --cat2 are both '{args.cat1}'; the two domains must differ")
    return args


def read_list(path: Path) -> list[str]:
    """The image file names (`ID.jpg`) listed in a split file."""
    require_file(path, "MHP split list")
    try:
        text = path.read_text()
    except (OSError, ValueError) as e:  # ValueError: not UTF-8 text
        raise DataError(f"cannot read MHP split list {path}: {e}") from e
    return [line.strip() for line in text.splitlines() if line.strip()]


def parsing_maps(ann_dir: Path) -> dict[str, list[Path]]:
    """Parsing-map files grouped by image id (the file name's part before the first '_')."""
    if not ann_dir.is_dir():
        raise DataError(f"MHP annotation folder not found: {ann_dir}")
    groups: dict[str, list[Path]] = defaultdict(list)
    for path in sorted(ann_dir.glob("*.png")):
        groups[path.name.split("_")[0]].append(path)
    return groups


def read_parsing(path: Path) -> np.ndarray:
    """Class ids of one person's parsing map (colour maps carry the id in every channel); the map is decoded as
    stored, since converting a palette or 16-bit map to a picture would change its ids."""
    ids = np.asarray(decode(str(path), Image.Image.copy))
    return ids[..., 0] if ids.ndim == 3 else ids


def _masks(maps: list[Path], class_id: int) -> list[np.ndarray]:
    return [read_parsing(path) == class_id for path in maps]


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    root = Path(args.data_root)
    class_ids = {name: i for i, name in enumerate(CLASSES)}
    cat_ids = [lookup_category(cat, class_ids, "the LV-MHP-v1 classes") for cat in (args.cat1, args.cat2)]
    maps = parsing_maps(root / "annotations")
    jobs: list[Job] = []
    for list_name, phase in SPLITS:
        kept, landscape = [], 0
        for file_name in read_list(root / list_name):
            image_path = root / "images" / file_name
            width, height = read_size(str(image_path))
            if width > height and not args.no_skip_horizontal:
                landscape += 1
            else:
                kept.append((Path(file_name).stem, image_path))
        logger.info("%s: %d images, %d landscape ones skipped", list_name, len(kept), landscape)
        for domain, cat_id in zip("AB", cat_ids):
            samples = [Sample(name, path, partial(_masks, maps[name], cat_id)) for name, path in kept if name in maps]
            jobs.append(Job(f"{phase}{domain}", samples))
    generate(args, "mhp", jobs, cover(args.size_h, args.size_w))
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
