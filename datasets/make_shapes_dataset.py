"""Write Shapes, a small synthetic multi-instance data set: disks (domain A) <-> squares (domain B).

    python datasets/make_shapes_dataset.py [--save_root ./datasets/shapes --seed 0 --size 64 ...]

writes SAVE_ROOT/{train,test}{A,B}/NNNN.png and {train,test}{A,B}_seg/NNNN_k.png (the unaligned_seg layout,
one 0/255 mask per instance). Each image has --min_instances..--max_instances solid instances (up to
--test_max_instances in the test split, to show that a model generalises to more instances than it was
trained with) of a strongly saturated colour (HSV saturation >= 0.7) on a textured background of low
saturation (<= 0.2): smooth gradients plus weak pixel noise (--noise), different in every image. Translation success and
background preservation can therefore be measured from the pixels alone (scripts/evaluate_shapes.py).

A disk of radius r and a square of side r*sqrt(pi) have the same area, so both domains have the same size
distribution: r is drawn from --min_radius..--max_radius (fractions of --size). Instances never overlap and keep
--margin pixels apart (0 lets them touch), so that each is its own connected component; an instance that finds
no room shrinks to the smallest radius, and is left out (counted in the log) if it still finds none. Masks are
exact (no anti-aliasing): a mask is precisely the pixels of its instance. Every image is drawn from its own
seed (--seed, split, domain, index), so a run is repeatable and resumable: images already written are skipped,
and a rerun with other settings is refused (--overwrite starts afresh).
"""
from __future__ import annotations

import argparse
import math
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
from util.cli import run_cli
from util.errors import OptionError
from util.log import logger

SHAPES = {"A": "disk", "B": "square"}
SPLITS = ("train", "test")
# HSV ranges (0..1) of the colours drawn; the evaluator separates them with a saturation threshold between.
INSTANCE_SATURATION = (0.7, 1.0)
INSTANCE_VALUE = (0.7, 1.0)
BACKGROUND_MAX_SATURATION = 0.2
BACKGROUND_VALUE = (0.3, 0.95)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--save_root", default="./datasets/shapes", type=output_root,
                   help="output folder (unaligned_seg layout)")
    p.add_argument("--overwrite", action="store_true", help="delete the output folders first instead of resuming")
    p.add_argument("--seed", type=int, default=0, help="the same seed and settings give the same files")
    p.add_argument("--size", type=int, default=64, help="side of the square images in pixels (>= 16)")
    p.add_argument("--n_train", type=positive_int, default=1000, help="training images per domain")
    p.add_argument("--n_test", type=positive_int, default=100, help="test images per domain")
    p.add_argument("--min_instances", type=positive_int, default=1, help="fewest instances per image")
    p.add_argument("--max_instances", type=positive_int, default=4, help="most instances per training image")
    p.add_argument("--test_max_instances", type=positive_int, default=6, help="most instances per test image")
    p.add_argument("--min_radius", type=float, default=0.09,
                   help="smallest disk radius as a fraction of --size (squares: the same area)")
    p.add_argument("--max_radius", type=float, default=0.22, help="largest disk radius as a fraction of --size")
    p.add_argument("--margin", type=int, default=2, help="pixels kept free between instances (0: they may touch)")
    p.add_argument("--noise", type=float, default=0.01,
                   help="standard deviation of the background's pixel noise in HSV value (0..1; 0.01 is 2.6 levels)")
    args = p.parse_args(argv)
    if args.seed < 0:
        raise OptionError(f"--seed must be >= 0, got {args.seed}")
    if args.size < 16:
        raise OptionError(f"--size must be >= 16, got {args.size}")
    if not 0 < args.min_radius <= args.max_radius <= 0.3:
        raise OptionError(f"need 0 < --min_radius <= --max_radius <= 0.3, got {args.min_radius} and {args.max_radius}")
    if args.margin < 0:
        raise OptionError(f"--margin must be >= 0, got {args.margin}")
    if not 0 <= args.noise <= 0.1:
        raise OptionError(f"--noise must be in [0, 0.1], got {args.noise}")
    if not args.min_instances <= min(args.max_instances, args.test_max_instances):
        raise OptionError(f"--min_instances {args.min_instances} exceeds --max_instances {args.max_instances} "
                          f"or --test_max_instances {args.test_max_instances}")
    return args


def square_side(radius: np.ndarray) -> np.ndarray:
    """Side in pixels of the square with the area of a disk of `radius`."""
    return np.maximum(2, np.rint(radius * math.sqrt(math.pi))).astype(int)


def shape_masks(shape: str, cy: np.ndarray, cx: np.ndarray, radius: np.ndarray, size: int,
                grow: int = 0) -> np.ndarray:
    """(N, size, size) boolean masks of N shapes centred at (cy, cx) (pixel indices), each grown by `grow` pixels.

    A disk holds the pixels within `radius` of its centre; a square is axis-aligned, pixel-aligned and has the
    disk's area. Both are exact pixel sets, so a mask is its instance with no soft edge.
    """
    cy, cx, radius = (np.asarray(v, float).reshape(-1, 1, 1) for v in (cy, cx, radius))
    yy, xx = np.arange(size).reshape(1, -1, 1), np.arange(size).reshape(1, 1, -1)
    if shape == "disk":
        return (yy - cy) ** 2 + (xx - cx) ** 2 <= (radius + grow) ** 2
    if shape == "square":
        side = square_side(radius)
        top, left = np.rint(cy - (side - 1) / 2) - grow, np.rint(cx - (side - 1) / 2) - grow
        side = side + 2 * grow
        return (yy >= top) & (yy < top + side) & (xx >= left) & (xx < left + side)
    raise ValueError(f"unknown shape '{shape}'")


def hsv_to_rgb(hsv: np.ndarray) -> np.ndarray:
    """(..., 3) HSV in [0, 1] (hue wraps around) -> (..., 3) uint8 RGB."""
    hsv = np.asarray(hsv, float)
    levels = np.stack([np.mod(hsv[..., 0], 1.0), np.clip(hsv[..., 1], 0, 1), np.clip(hsv[..., 2], 0, 1)], -1)
    flat = np.rint(levels.reshape(-1, 1, 3) * 255).astype(np.uint8)
    return np.asarray(Image.fromarray(flat, "HSV").convert("RGB")).reshape(hsv.shape)


def background(rng: np.random.Generator, size: int, noise: float) -> np.ndarray:
    """(size, size, 3) uint8 low-saturation texture: linear gradients of hue, saturation and value, smooth blobs
    and pixel noise in value (noise in value only keeps the saturation bound)."""
    yy, xx = np.mgrid[0:size, 0:size] / (size - 1) - 0.5

    def gradient() -> np.ndarray:
        angle = rng.uniform(0, 2 * np.pi)
        return np.cos(angle) * xx + np.sin(angle) * yy     # in [-0.71, 0.71]

    coarse = rng.uniform(-1, 1, (4, 4)).astype(np.float32)
    blobs = np.asarray(Image.fromarray(coarse, "F").resize((size, size), Image.Resampling.BICUBIC))
    hue = rng.uniform() + 0.1 * gradient()
    sat = rng.uniform(0.02, 0.12) + 0.1 * gradient()
    value = (rng.uniform(0.45, 0.8) + rng.uniform(0.1, 0.3) * gradient() + 0.08 * blobs
             + rng.normal(0, noise, (size, size)))
    value = np.clip(value, *BACKGROUND_VALUE)
    return hsv_to_rgb(np.stack([hue, np.clip(sat, 0, BACKGROUND_MAX_SATURATION), value], -1))


def instance_colours(rng: np.random.Generator, n: int) -> np.ndarray:
    """(n, 3) uint8 strongly saturated, bright colours."""
    return hsv_to_rgb(np.stack([rng.uniform(0, 1, n), rng.uniform(*INSTANCE_SATURATION, n),
                                rng.uniform(*INSTANCE_VALUE, n)], -1))


def free_centres(shape: str, radius: float, taken: np.ndarray, margin: int) -> np.ndarray:
    """(N, 2) pixels (y, x) where a shape of `radius` centred within half a pixel of them stays 1 pixel inside
    the image and keeps `margin` pixels away from `taken`: sampling among them needs no rejection loop."""
    size = taken.shape[0]
    # every pixel of the grown shape lies within `reach` of the centre pixel: Euclidean for a disk, chessboard
    # for a square (the rounding of its corner included)
    disk = shape == "disk"
    reach = radius + margin + math.sqrt(0.5) if disk else (square_side(radius) - 1) / 2 + margin + 1
    if not taken.any():
        dist = np.full(taken.shape, np.inf)
    elif disk:
        dist = ndimage.distance_transform_edt(~taken)
    else:
        dist = ndimage.distance_transform_cdt(~taken, metric="chessboard")
    idx = np.arange(size)
    inside = (idx >= radius + 1.5) & (idx <= size - 2.5 - radius)
    return np.argwhere((dist > reach) & inside[:, None] & inside[None, :])


def draw_instances(rng: np.random.Generator, shape: str, count: int, size: int, radius_range: tuple[float, float],
                   margin: int) -> np.ndarray:
    """(K, size, size) disjoint instance masks, K <= count, largest first.

    Largest first packs best. Each instance goes to a uniformly random free position; one that finds none
    shrinks to the smallest radius, and is left out if even that finds no room.
    """
    radii = np.sort(rng.uniform(*radius_range, count))[::-1]
    taken = np.zeros((size, size), bool)
    masks = []
    for radius in radii:
        for r in (radius, radius_range[0]):
            centres = free_centres(shape, r, taken, margin)
            if len(centres):
                cy, cx = centres[rng.integers(len(centres))] + rng.uniform(-0.5, 0.5, 2)
                masks.append(shape_masks(shape, cy, cx, r, size)[0])
                taken |= masks[-1]
                break
    return np.stack(masks) if masks else np.zeros((0, size, size), bool)


def render(base: np.ndarray, masks: np.ndarray, colours: np.ndarray) -> np.ndarray:
    """`base` with every mask filled with its colour (masks are disjoint)."""
    image = base.copy()
    if len(masks):
        owner = np.argmax(masks, axis=0)
        inside = masks.any(axis=0)
        image[inside] = colours[owner[inside]]
    return image


def make_sample(rng: np.random.Generator, shape: str, count: int, size: int, radius_range: tuple[float, float],
                margin: int, noise: float) -> tuple[np.ndarray, np.ndarray]:
    """One (size, size, 3) uint8 image and its (K, size, size) boolean instance masks."""
    base = background(rng, size, noise)
    masks = draw_instances(rng, shape, count, size, radius_range, margin)
    return render(base, masks, instance_colours(rng, len(masks))), masks


def write_split(args: argparse.Namespace, save_root: Path, split: str, domain: str) -> tuple[int, int, int]:
    """Write one folder and its masks; returns (images written, images already there, instances left out)."""
    n = args.n_train if split == "train" else args.n_test
    most = args.max_instances if split == "train" else args.test_max_instances
    radius_range = (args.min_radius * args.size, args.max_radius * args.size)
    img_dir, seg_dir = save_root / f"{split}{domain}", save_root / f"{split}{domain}_seg"
    img_dir.mkdir(parents=True, exist_ok=True)
    seg_dir.mkdir(parents=True, exist_ok=True)
    written = left_out = 0
    for i in tqdm(range(n), desc=img_dir.name, unit="img", disable=None):
        name = f"{i:04d}"
        target = img_dir / f"{name}.png"
        if target.exists():  # the image is written last: it exists only when its masks do
            continue
        rng = np.random.default_rng([args.seed, SPLITS.index(split), "AB".index(domain), i])
        count = int(rng.integers(args.min_instances, most + 1))
        image, masks = make_sample(rng, SHAPES[domain], count, args.size, radius_range, args.margin, args.noise)
        for k, mask in enumerate(masks):
            save_png(Image.fromarray(mask.astype(np.uint8) * 255), seg_dir / f"{name}_{k}.png")
        save_png(Image.fromarray(image), target)
        written += 1
        left_out += count - len(masks)
    return written, n - written, left_out


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    folders = [f"{split}{domain}{suffix}" for split in SPLITS for domain in "AB" for suffix in ("", "_seg")]
    save_root = prepare_output(args, "shapes", folders)
    for split in SPLITS:
        for domain in "AB":
            written, there, left_out = write_split(args, save_root, split, domain)
            logger.info("%s%s (%ss): %d images written, %d already there; %d instances left out for lack of room",
                        split, domain, SHAPES[domain], written, there, left_out)
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
