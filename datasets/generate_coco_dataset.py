"""Build a two-domain COCO 2017 data set (e.g. sheep <-> giraffe) in the unaligned_seg layout.

Reads DATA_ROOT/{train2017,val2017}/*.jpg and DATA_ROOT/annotations/instances_{train,val}2017.json and writes
SAVE_ROOT/{train,val}{A,B}/NAME.png with SAVE_ROOT/{train,val}{A,B}_seg/NAME_k.png, one 0/255 mask per
instance (k = 0.., largest first). NAME is the source file's stem (the zero-padded COCO image id), which keeps
names stable across resumed runs. An image goes to A if it has a kept instance of --cat1, to B for --cat2
(to both if it has both). Crowd regions (iscrowd: 1) are not instances and are skipped. An annotation file
that is not COCO's object, or a record without a key read here, is reported in one line naming the record.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import json
import sys
from collections import defaultdict
from functools import partial
from pathlib import Path
from typing import Sequence

if __package__ in (None, ""):  # run as `python datasets/X.py`: import from the repo root, not datasets/
    sys.path[0] = str(Path(__file__).resolve().parents[1])

import numpy as np
from pycocotools.coco import COCO

from datasets.common import (Job, Sample, base_parser, generate, json_type, lookup_category, positive_int,
                             require_file, square)
from util.cli import run_cli
from util.errors import DataError, OptionError
from util.log import logger

# val first: its annotation file loads in a second, so a mistyped category is reported before the long
# train2017 load.
SPLITS = (("val2017", "val"), ("train2017", "train"))
# The keys read from each record (by this script or by pycocotools), with the JSON types they may have.
ID, NUMBER = (int, str), (int, float)
FIELDS = {
    "images": {"id": ID, "file_name": (str,), "height": (int,), "width": (int,)},
    "categories": {"id": ID, "name": (str,)},
    "annotations": {"id": ID, "image_id": ID, "category_id": ID, "segmentation": (list, dict), "area": NUMBER,
                    "iscrowd": (int,)},
}


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = base_parser(__doc__)
    p.add_argument("--image_size", type=positive_int, default=256, help="side of the square output images")
    p.add_argument("--cat1", default="sheep", help="COCO category of domain A")
    p.add_argument("--cat2", default="giraffe", help="COCO category of domain B")
    p.add_argument("--min_area", type=float, default=0.0,
                   help="drop instances whose annotated area (pixels of the source image) is below this")
    p.add_argument("--max_instances", type=positive_int, default=None,
                   help="keep at most this many largest instances per image (default: all)")
    args = p.parse_args(argv)
    if not 0 <= args.min_area < float("inf"):
        raise OptionError(f"--min_area must be a number >= 0, got {args.min_area}")
    if args.cat1 == args.cat2:
        raise OptionError(f"--cat1 and --cat2 are both '{args.cat1}'; the two domains must differ")
    return args


def load_coco(path: Path) -> COCO:
    """The annotation file indexed by pycocotools, once `check_annotations` has found everything it reads."""
    require_file(path, "COCO annotation file")
    try:
        data = json.loads(path.read_bytes())
    except (OSError, ValueError) as e:
        raise DataError(f"cannot read COCO annotations {path} as JSON: {e}") from e
    check_annotations(data, path)
    coco = COCO()
    coco.dataset = data
    with contextlib.redirect_stdout(io.StringIO()):  # pycocotools prints its progress
        coco.createIndex()
    return coco


def check_annotations(data: object, path: Path) -> None:
    """Refuse a file that lacks a key this script or pycocotools reads, or holds it with the wrong type, naming
    the record: otherwise the mistake surfaces as a KeyError inside pycocotools or halfway through writing."""
    if not isinstance(data, dict):
        raise DataError(f"{path} holds {json_type(type(data))}, not a COCO annotation object ({', '.join(FIELDS)})")
    for section, fields in FIELDS.items():
        records = data.get(section)
        if not isinstance(records, list):
            raise DataError(f"{path} has no '{section}' array" if records is None else
                            f"{path}: '{section}' is {json_type(type(records))}, not an array")
        for i, record in enumerate(records):
            if not isinstance(record, dict):
                raise DataError(f"{path}: {section}[{i}] is {json_type(type(record))}, not an object")
            for key, types in fields.items():
                if not isinstance(record.get(key), types):
                    where = f"{path}: {section}[{i}]" + (f" (id {record['id']!r})" if "id" in record else "")
                    if key not in record:
                        raise DataError(f"{where} has no '{key}'")
                    expected = " or ".join(dict.fromkeys(json_type(t) for t in types))
                    raise DataError(f"{where}: '{key}' is {json_type(type(record[key]))}, not {expected}")
    image_ids = {image["id"] for image in data["images"]}
    for i, ann in enumerate(data["annotations"]):
        if ann["image_id"] not in image_ids:
            raise DataError(f"{path}: annotations[{i}] has image_id {ann['image_id']!r}, which is not in 'images'")


def select_instances(coco: COCO, cat_id: int, min_area: float,
                     max_instances: int | None) -> dict[int, list[dict]]:
    """Per image id (ascending), its kept non-crowd annotations of `cat_id`, largest first."""
    by_image: dict[int, list[dict]] = defaultdict(list)
    for ann in coco.loadAnns(coco.getAnnIds(catIds=[cat_id])):
        if not ann["iscrowd"] and ann["area"] >= min_area:
            by_image[ann["image_id"]].append(ann)
    return {image_id: sorted(anns, key=lambda a: (-a["area"], a["id"]))[:max_instances]
            for image_id, anns in sorted(by_image.items())}


def _masks(coco: COCO, anns: list[dict], path: Path) -> list[np.ndarray]:
    """The annotations' masks. pycocotools meets a malformed segmentation (an empty polygon list, a 4-number
    polygon taken for a box, a broken RLE) with any of IndexError, TypeError, ValueError, KeyError or a bare
    Exception, so all of them are taken as the annotation's fault and reported in one line naming it."""
    masks = []
    for ann in anns:
        try:
            masks.append(coco.annToMask(ann).astype(bool))
        except Exception as e:
            raise DataError(f"{path}: pycocotools cannot draw the segmentation of annotation id {ann['id']!r} "
                            f"({type(e).__name__}: {e})") from e
    return masks


def coco_samples(coco: COCO, image_dir: Path, selected: dict[int, list[dict]], path: Path) -> list[Sample]:
    samples = []
    for image_id, anns in selected.items():
        file_name = coco.imgs[image_id]["file_name"]
        samples.append(Sample(Path(file_name).stem, image_dir / file_name, partial(_masks, coco, anns, path)))
    return samples


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    root = Path(args.data_root)
    ann_files = {split: root / "annotations" / f"instances_{split}.json" for split, _ in SPLITS}
    for path in ann_files.values():  # both checked before the long load of either
        require_file(path, "COCO annotation file")
    jobs: list[Job] = []
    for split, phase in SPLITS:
        coco = load_coco(ann_files[split])
        names = {cat["name"]: cat["id"] for cat in coco.loadCats(coco.getCatIds())}
        for domain, category in (("A", args.cat1), ("B", args.cat2)):
            cat_id = lookup_category(category, names, str(ann_files[split]))
            selected = select_instances(coco, cat_id, args.min_area, args.max_instances)
            logger.info("%s: %d images with %s -> %s%s", split, len(selected), category, phase, domain)
            jobs.append(Job(f"{phase}{domain}", coco_samples(coco, root / split, selected, ann_files[split])))
    generate(args, "coco", jobs, square(args.image_size))
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
