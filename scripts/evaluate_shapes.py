"""Score test.py's translations of the Shapes data set (datasets/make_shapes_dataset.py) from the pixels alone.

    python scripts/evaluate_shapes.py RESULTS_DIR [--json OUT]

RESULTS_DIR is test.py's `{phase}_{epoch}` folder, its `images/` folder, or the NAME folder above them (when
it holds one result). Per direction, A->B (disks to squares: real_A_img, real_A_seg, fake_B_img) and B->A
(squares to disks: real_B_img, real_B_seg, fake_A_img), it reports:

- target shape: the fraction of input instances whose output counterpart has the target shape. Input
  instances are the 8-connected components of the merged input mask (real_X_seg >= mid-grey); output
  instances are the 8-connected components of the output's saturated pixels (HSV saturation >= 0.45, between
  the data's backgrounds <= 0.2 and instances >= 0.7). Components under 0.5% of the image (20 pixels at 64x64)
  are ignored. An input instance's counterpart is the output component with the largest overlap with the
  instance's mask grown by 2 pixels; an instance with no overlapping component is a failure. The shape is
  read from the bounding box: rectangularity = area / box area is 1 for a square and about pi/4 for a disk (the
  data's disks measure 0.69-0.87 at 64x64). A square needs >= 0.9, a disk 0.65-0.88, and both a box no more
  than 1.25 times as long as it is wide: blobs in between, ragged shapes and bars count as neither.
- rectangularity: its mean over the counterparts found (a diagnostic: how square the outputs are).
- count kept: the fraction of images whose number of output components equals the number of input instances,
  and the mean absolute difference.
- background error: the mean absolute difference (0-255 levels, over pixels and channels) between input and
  output where both are background: below mid-grey in the input mask, and neither saturated nor within
  2 pixels of a saturated pixel in the output (edges are forgiven).
- sanity figures: the target-shape score of the input itself (identity translation; about 0) and of the real
  images of the target domain with their own masks (about 1).

Only instances in real_X_seg are scored: test with --ins_max at least the most instances per image (6 in the
Shapes test split); a warning says when input images hold instances without a mask.
"""
from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

if __package__ in (None, ""):  # run as `python scripts/X.py`: import from the repo root, not scripts/
    sys.path[0] = str(Path(__file__).resolve().parents[1])

import numpy as np
from PIL import Image
from scipy import ndimage

from datasets.make_shapes_dataset import SHAPES
from util.cli import run_cli
from util.components import split_instances
from util.errors import DataError
from util.log import logger

SATURATED = 0.45           # HSV saturation separating instances from background
MIN_AREA_FRACTION = 0.005  # smaller components are noise, not instances
MATCH_GROW = 2             # pixels an input instance is grown by to find its output counterpart
EDGE = 2                   # pixels around saturated output pixels left out of the background error
SQUARE_RECTANGULARITY = (0.9, 1.0)
DISK_RECTANGULARITY = (0.65, 0.88)
MAX_ASPECT = 1.25          # longer / shorter side of the bounding box of a square or a disk
DIRECTIONS = {"A2B": ("A", "B"), "B2A": ("B", "A")}  # key: (source domain, target domain)
MARKER = "_real_A_img.png"  # every result row of test.py has one


def saturation(rgb: np.ndarray) -> np.ndarray:
    """HSV saturation (max - min) / max of (..., 3) uint8 RGB, in [0, 1]; black has 0."""
    rgb = rgb.astype(np.float32)
    high = rgb.max(-1)
    return np.where(high > 0, (high - rgb.min(-1)) / np.maximum(high, 1), 0.0)


def box_sizes(masks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(K,) heights and widths of the bounding boxes of (K, H, W) non-empty boolean masks."""
    rows, cols = masks.any(2), masks.any(1)
    height = rows.shape[1] - rows[:, ::-1].argmax(1) - rows.argmax(1)
    width = cols.shape[1] - cols[:, ::-1].argmax(1) - cols.argmax(1)
    return height, width


def rectangularity(masks: np.ndarray) -> np.ndarray:
    """(K,) area / bounding-box area of (K, H, W) non-empty boolean masks."""
    height, width = box_sizes(masks)
    return masks.sum((1, 2)) / (height * width)


def has_shape(masks: np.ndarray, shape: str) -> np.ndarray:
    """(K,) whether (K, H, W) non-empty boolean masks read as `shape` ("square" or "disk")."""
    low, high = SQUARE_RECTANGULARITY if shape == "square" else DISK_RECTANGULARITY
    rect = rectangularity(masks)
    height, width = box_sizes(masks)
    return (rect >= low) & (rect <= high) & (np.maximum(height, width) <= MAX_ASPECT * np.minimum(height, width))


def counterparts(inputs: np.ndarray, outputs: np.ndarray) -> np.ndarray:
    """(K,) index of the output component overlapping each grown input instance most, -1 for none."""
    if not len(inputs) or not len(outputs):
        return np.full(len(inputs), -1)
    grown = ndimage.binary_dilation(inputs, structure=np.ones((1, 3, 3), bool), iterations=MATCH_GROW)
    overlap = grown.reshape(len(inputs), -1).astype(np.float32) @ outputs.reshape(len(outputs), -1).T.astype(np.float32)
    return np.where(overlap.max(1) > 0, overlap.argmax(1), -1)


def ratio(num: float, den: float) -> float | None:
    """num / den, None when undefined (JSON has no NaN)."""
    return num / den if den else None


@dataclass
class Tally:
    """Sums over the images of one direction."""

    images: int = 0
    instances: int = 0
    hits: int = 0
    matched: int = 0
    rect_sum: float = 0.0
    count_kept: int = 0
    count_abs_diff: int = 0
    bg_abs_sum: float = 0.0
    bg_values: int = 0

    def add(self, real: np.ndarray, seg: np.ndarray, out: np.ndarray, shape: str) -> None:
        """Score one output image against its input image and merged input mask."""
        min_area = max(1, round(MIN_AREA_FRACTION * seg.size))
        inputs = split_instances(seg >= 128, min_area)
        saturated = saturation(out) >= SATURATED
        outputs = split_instances(saturated, min_area)
        match = counterparts(inputs, outputs)
        found = outputs[match[match >= 0]]
        self.images += 1
        self.instances += len(inputs)
        self.matched += len(found)
        if len(found):
            self.hits += int(has_shape(found, shape).sum())
            self.rect_sum += float(rectangularity(found).sum())
        self.count_kept += len(outputs) == len(inputs)
        self.count_abs_diff += abs(len(outputs) - len(inputs))
        near = ndimage.binary_dilation(saturated, structure=np.ones((3, 3), bool), iterations=EDGE)
        both = (seg < 128) & ~near
        self.bg_abs_sum += float(np.abs(real[both].astype(np.float32) - out[both]).sum())
        self.bg_values += int(both.sum()) * real.shape[-1]

    @property
    def score(self) -> float | None:
        return ratio(self.hits, self.instances)


def find_images_dir(results_dir: str | Path) -> Path:
    """The `images/` folder of one test.py result, given it, its parent, or the NAME folder above that."""
    root = Path(results_dir)
    candidates = [root, root / "images", *(d for d in sorted(root.glob("*/images")) if ".partial-" not in str(d))]
    found = [d for d in candidates if any(d.glob("*" + MARKER))]
    if not found:
        raise DataError(f"no test.py results in {root}: expected images/*{MARKER} in it or in a folder below it")
    if len(found) > 1:
        raise DataError(f"{root} holds several results ({', '.join(str(d.parent) for d in found)}): pass one of them")
    return found[0]


def read_rgb(path: Path) -> np.ndarray:
    if not path.is_file():
        raise DataError(f"result image missing: {path}")
    with Image.open(path) as img:
        return np.asarray(img.convert("RGB"))


def evaluate(results_dir: str | Path) -> dict:
    """The figures of one test.py result folder, per direction (see the module docstring)."""
    images_dir = find_images_dir(results_dir)
    stems = sorted(p.name[: -len(MARKER)] for p in images_dir.glob("*" + MARKER))
    figures: dict = {"images_dir": str(images_dir)}
    for key, (src, tgt) in DIRECTIONS.items():
        shape = SHAPES[tgt]
        translated, identity, real_target = Tally(), Tally(), Tally()
        for stem in stems:
            real, seg, out, target, target_seg = (
                read_rgb(images_dir / f"{stem}_{visual}.png")
                for visual in (f"real_{src}_img", f"real_{src}_seg", f"fake_{tgt}_img", f"real_{tgt}_img",
                               f"real_{tgt}_seg"))
            if out.shape != real.shape:
                raise DataError(f"{images_dir / f'{stem}_fake_{tgt}_img.png'} is not the size of its input")
            translated.add(real, seg[..., 0], out, shape)
            identity.add(real, seg[..., 0], real, shape)
            real_target.add(target, target_seg[..., 0], target, shape)
        if identity.count_kept < identity.images:
            logger.warning("%s: %d of %d input images hold another number of instances than real_%s_seg; instances "
                           "without a mask are not scored (test with --ins_max >= the most instances per image)",
                           key, identity.images - identity.count_kept, identity.images, src)
        figures[key] = {
            "source": SHAPES[src], "target": shape,
            "images": translated.images, "instances": translated.instances,
            "target_shape": translated.score,
            "rectangularity": ratio(translated.rect_sum, translated.matched),
            "count_kept": ratio(translated.count_kept, translated.images),
            "count_abs_diff": ratio(translated.count_abs_diff, translated.images),
            "background_error": ratio(translated.bg_abs_sum, translated.bg_values),
            "identity_target_shape": identity.score,
            "real_target_shape": real_target.score,
        }
    figures["thresholds"] = {"saturation": SATURATED, "square_rectangularity": SQUARE_RECTANGULARITY,
                             "disk_rectangularity": DISK_RECTANGULARITY, "max_aspect": MAX_ASPECT,
                             "min_area_fraction": MIN_AREA_FRACTION, "match_grow": MATCH_GROW, "edge": EDGE}
    logger.info("scored %d result rows in %s", len(stems), images_dir)
    return figures


# (figure, column header, decimals)
COLUMNS = (("target_shape", "target shape", 3), ("rectangularity", "rectangularity", 3),
           ("count_kept", "count kept", 3), ("count_abs_diff", "mean abs count diff", 2),
           ("background_error", "background error", 2), ("identity_target_shape", "identity", 3),
           ("real_target_shape", "real target", 3))


def format_table(figures: dict) -> str:
    """The figures as a markdown table, one row per direction."""
    headers = ["direction", "images", "instances", *(header for _, header, _ in COLUMNS)]
    lines = ["| " + " | ".join(headers) + " |", "|---" * len(headers) + "|"]
    for key, (src, tgt) in DIRECTIONS.items():
        f = figures[key]
        cells = [f"{src}->{tgt} ({f['source']}s to {f['target']}s)", str(f["images"]), str(f["instances"])]
        cells += ["-" if f[k] is None else f"{f[k]:.{digits}f}" for k, _, digits in COLUMNS]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("results_dir", help="test.py's {phase}_{epoch} folder, its images/ folder, or the NAME folder")
    p.add_argument("--json", help="also write the figures to this JSON file")
    args = p.parse_args(argv)
    figures = evaluate(args.results_dir)
    sys.stdout.write(format_table(figures))  # the report itself, not a log line
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
