"""Turn one domain of an unaligned_seg data set into aligned image | mask pairs, to train a mask predictor.

For every phase P in --phases, reads DATA_ROOT/P{domain}/NAME.ext with its masks DATA_ROOT/P{domain}_seg/NAME_k.ext
and writes SAVE_ROOT/P/NAME.png: the image on the left, the union of its instance masks (white on black) on the
right, at the image's size. `train.py --model pix2pix --dataroot SAVE_ROOT` then learns image -> mask, and
scripts/predict_masks.py uses it for photos that have no masks (e.g. CCP's val split). Images without any mask
are kept, with an all-black mask: they teach the predictor that nothing is there.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Sequence

if __package__ in (None, ""):  # run as `python datasets/X.py`: import from the repo root, not datasets/
    sys.path[0] = str(Path(__file__).resolve().parents[1])

import numpy as np
from PIL import Image
from tqdm import tqdm

from data.image_folder import list_images, load_image, require_dir
from data.unaligned_seg_dataset import check_mask_sizes, load_mask, scan_masks
from datasets.common import base_parser, prepare_output
from util.cli import run_cli
from util.log import logger


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = base_parser(__doc__, layout="aligned")
    p.add_argument("--domain", default="A", choices=["A", "B"], help="which domain's images and masks to pair")
    p.add_argument("--phases", nargs="+", default=["train", "test"],
                   help="splits to convert (each needs DATA_ROOT/{phase}{domain} and its _seg folder)")
    return p.parse_args(argv)


def mask_pair(image: Image.Image, masks: Sequence[Image.Image]) -> Image.Image:
    """[image | union of the masks] as one RGB picture twice as wide; a pixel is in a mask when above 127."""
    union = np.zeros((image.height, image.width), bool)
    for mask in masks:
        union |= np.asarray(mask) > 127
    pair = Image.new("RGB", (2 * image.width, image.height))
    pair.paste(image, (0, 0))
    pair.paste(Image.fromarray(union.astype(np.uint8) * 255).convert("RGB"), (image.width, 0))
    return pair


def write_pairs(image_dir: str, seg_dir: str, out_dir: Path) -> tuple[int, int]:
    """Write the pairs of one phase; returns (pairs written, images without any mask)."""
    index, _ = scan_masks(seg_dir)
    written = without = 0
    for path in tqdm(list_images(image_dir), desc=out_dir.name, unit="img", disable=None):
        key = os.path.normpath(os.path.relpath(os.path.splitext(path)[0], image_dir))
        mask_paths = [mask for _, mask in index.get(key, [])]
        check_mask_sizes(path, mask_paths)
        target = out_dir / f"{key}.png"
        target.parent.mkdir(parents=True, exist_ok=True)
        mask_pair(load_image(path, "RGB"), [load_mask(m) for m in mask_paths]).save(target)
        written += 1
        without += not mask_paths
    return written, without


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    root = Path(args.data_root)
    for phase in args.phases:  # every input checked before anything is written
        require_dir(str(root / f"{phase}{args.domain}"), "image folder")
        require_dir(str(root / f"{phase}{args.domain}_seg"), "mask folder")
    save_root = prepare_output(args, "mask_pairs", args.phases)
    for phase in args.phases:
        folder = root / f"{phase}{args.domain}"
        written, without = write_pairs(str(folder), f"{folder}_seg", save_root / phase)
        logger.info("%s: %d image|mask pairs written to %s (%d with an empty mask)", folder, written,
                    save_root / phase, without)
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
