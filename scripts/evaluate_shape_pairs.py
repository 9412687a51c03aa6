"""Score BicycleGAN's test.py results on Shape pairs (datasets/make_shape_pairs.py) from the pixels alone.

    python scripts/evaluate_shape_pairs.py RESULTS_DIR [--json OUT]

RESULTS_DIR is test.py's `{phase}` folder (or its `images/`), holding per input `input_NNN_input.png` (the
outline), `_ground truth.png`, `_encoded.png` and `_random_sampleKK.png`. Reported, for the encoded output and
for the random samples:
- shape precision: the fraction of the output's saturated pixels (HSV saturation >= 0.45, between the data's
  backgrounds <= 0.2 and shapes >= 0.7) that lie inside the outlined shapes (the outline filled); recall: the
  fraction of the outlined shapes' pixels that are saturated. Both near 1: coloured shapes exactly where drawn.
- L1 to the ground truth, in 0-255 levels (mean over pixels and channels). The encoded output, whose code
  comes from the ground truth, should be much closer than a random sample.
- diversity (random samples only): the mean L1 between two samples of the same input, in levels; 0 would be a
  generator that ignores z (mode collapse).
"""
from __future__ import annotations

import argparse
import itertools
import json
import sys
from pathlib import Path
from typing import Sequence

if __package__ in (None, ""):  # run as `python scripts/X.py`: import from the repo root, not scripts/
    sys.path[0] = str(Path(__file__).resolve().parents[1])

import numpy as np
from scipy import ndimage

from scripts.evaluate_shapes import SATURATED, read_rgb, saturation
from util.cli import run_cli
from util.errors import DataError
from util.log import logger

MARKER = "_input.png"


def shape_region(outline_rgb: np.ndarray) -> np.ndarray:
    """The outlined shapes, filled: dark outline pixels and what they enclose."""
    return ndimage.binary_fill_holes(outline_rgb.mean(-1) < 128)


def shape_scores(output: np.ndarray, region: np.ndarray) -> tuple[float, float]:
    """(precision, recall) of the output's saturated pixels against the shape region (1.0 when undefined)."""
    colour = saturation(output) >= SATURATED
    hits = np.count_nonzero(colour & region)
    return (hits / max(np.count_nonzero(colour), 1) if colour.any() else 1.0,
            hits / max(np.count_nonzero(region), 1) if region.any() else 1.0)


def l1(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.float64) - b.astype(np.float64)).mean())


def evaluate(results_dir: str | Path) -> dict:
    root = Path(results_dir)
    images = root if any(root.glob("*" + MARKER)) else root / "images"
    stems = sorted(p.name[:-len(MARKER)] for p in images.glob("*" + MARKER))
    if not stems:
        raise DataError(f"no BicycleGAN test.py results in {root}: expected input_NNN{MARKER} in it or in images/")
    rows: dict[str, list[float]] = {k: [] for k in ("encoded_precision", "encoded_recall", "encoded_L1",
                                                     "random_precision", "random_recall", "random_L1", "diversity")}
    for stem in stems:
        region = shape_region(read_rgb(images / f"{stem}_input.png"))
        truth = read_rgb(images / f"{stem}_ground truth.png")
        encoded = read_rgb(images / f"{stem}_encoded.png")
        samples = [read_rgb(p) for p in sorted(images.glob(f"{stem}_random_sample*.png"))]
        for key, value in zip(("encoded_precision", "encoded_recall"), shape_scores(encoded, region)):
            rows[key].append(value)
        rows["encoded_L1"].append(l1(encoded, truth))
        for sample in samples:
            for key, value in zip(("random_precision", "random_recall"), shape_scores(sample, region)):
                rows[key].append(value)
            rows["random_L1"].append(l1(sample, truth))
        rows["diversity"] += [l1(a, b) for a, b in itertools.combinations(samples, 2)]
    figures = {key: (float(np.mean(values)) if values else None) for key, values in rows.items()}
    figures["inputs"] = len(stems)
    return figures


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("results_dir", help="test.py's {phase} folder or its images/")
    p.add_argument("--json", help="also write the figures to this file")
    args = p.parse_args(argv)
    figures = evaluate(args.results_dir)
    for key, value in figures.items():
        logger.info("%-18s %s", key, "-" if value is None else f"{value:.3f}" if isinstance(value, float) else value)
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
