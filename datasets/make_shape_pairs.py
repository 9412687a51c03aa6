"""Write Shape pairs, a small paired data set for multimodal translation (BicycleGAN): outlines -> coloured shapes.

    python datasets/make_shape_pairs.py [--save_root ./datasets/shape_pairs --seed 0 --size 64 --n_train 400 ...]

writes SAVE_ROOT/{train,val}/NNNN.png in the `aligned` layout: A (left) is the 1-pixel black outline of 1 to
--max_instances disks or squares (one kind per image) on white; B (right) is the same shapes filled with strongly
saturated colours on a textured background of low saturation, both drawn by Shapes' generator
(make_shapes_dataset.py). The colours and the background are random given the outline, so one A has many right
answers: the latent code has something to choose. Each pair is drawn from its own seed (--seed, split, index);
a rerun resumes, and one with other settings is refused (--overwrite starts afresh).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Sequence

if __package__ in (None, ""):  # run as `python datasets/X.py`: import from the repo root, not datasets/
    sys.path[0] = str(Path(__file__).resolve().parents[1])

import numpy as np
from PIL import Image
from scipy import ndimage
from tqdm import tqdm

from datasets.common import output_root, positive_int, prepare_output, save_png
from datasets.make_shapes_dataset import SHAPES, make_sample
from util.cli import run_cli
from util.errors import OptionError
from util.log import logger

SPLITS = ("train", "val")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--save_root", default="./datasets/shape_pairs", type=output_root,
                   help="output folder (aligned layout)")
    p.add_argument("--overwrite", action="store_true", help="delete the output folders first instead of resuming")
    p.add_argument("--seed", type=int, default=0, help="the same seed and settings give the same files")
    p.add_argument("--size", type=int, default=64, help="side of each half in pixels (>= 16)")
    p.add_argument("--n_train", type=positive_int, default=400, help="training pairs")
    p.add_argument("--n_val", type=positive_int, default=20, help="validation pairs (test.py's --phase val)")
    p.add_argument("--max_instances", type=positive_int, default=3, help="most shapes per pair")
    args = p.parse_args(argv)
    if args.seed < 0:
        raise OptionError(f"--seed must be >= 0, got {args.seed}")
    if args.size < 16:
        raise OptionError(f"--size must be >= 16, got {args.size}")
    return args


def outline(masks: np.ndarray) -> np.ndarray:
    """(size, size) uint8 RGB-ready grey image: black where a mask's pixel has a neighbour outside it, else white."""
    edges = np.zeros(masks.shape[1:], bool)
    for mask in masks:
        edges |= mask & ~ndimage.binary_erosion(mask, border_value=0)
    return np.where(edges, 0, 255).astype(np.uint8)


def make_pair(rng: np.random.Generator, size: int, max_instances: int) -> np.ndarray:
    """One (size, 2 * size, 3) uint8 A | B pair."""
    shape = SHAPES[rng.choice(list(SHAPES))]
    count = int(rng.integers(1, max_instances + 1))
    image, masks = make_sample(rng, shape, count, size, (0.12 * size, 0.25 * size), margin=3, noise=0.01)
    return np.concatenate([np.repeat(outline(masks)[..., None], 3, 2), image], 1)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    save_root = prepare_output(args, "shape_pairs", SPLITS)
    for split in SPLITS:
        folder = save_root / split
        folder.mkdir(parents=True, exist_ok=True)
        n = args.n_train if split == "train" else args.n_val
        written = 0
        for i in tqdm(range(n), desc=split, unit="pair", disable=None):
            target = folder / f"{i:04d}.png"
            if not target.exists():
                rng = np.random.default_rng([args.seed, SPLITS.index(split), i])
                save_png(Image.fromarray(make_pair(rng, args.size, args.max_instances)), target)
                written += 1
        logger.info("%s: %d pairs written, %d already there", split, written, n - written)
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
