"""What is measured: test.py's result images (`images/{stem}_{visual}.png`), real images of a domain and their
instance masks, read as uint8 (3, H, W) tensors at their own size (the networks resize them as their reference
implementations do)."""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Iterable, Iterator, Sequence

import numpy as np
import torch

from data.image_folder import list_images, load_image, read_size
from data.unaligned_seg_dataset import load_mask, scan_masks
from util.errors import DataError


def find_images_dir(results_dir: str | Path, marker: str) -> Path:
    """The `images/` folder of one test.py result holding files `*{marker}`, given it, its parent (the
    `{phase}_{epoch}` folder) or the NAME folder above that."""
    root = Path(results_dir)
    if not root.is_dir():
        raise DataError(f"results folder not found: {root}")
    candidates = [root, root / "images", *(d for d in sorted(root.glob("*/images")) if ".partial-" not in str(d))]
    found = [d for d in candidates if d.is_dir() and any(d.glob("*" + marker))]
    if not found:
        raise DataError(f"no test.py results in {root}: expected images/*{marker} in it or in a folder below it")
    if len(found) > 1:
        raise DataError(f"{root} holds several results ({', '.join(str(d.parent) for d in found)}): pass one of them")
    return found[0]


def visual_files(images_dir: Path, visual: str) -> dict[str, Path]:
    """stem -> file of every `{stem}_{visual}.png`, sorted by stem."""
    suffix = f"_{visual}.png"
    return {p.name[: -len(suffix)]: p for p in sorted(images_dir.glob("*" + suffix))}


def real_files(folder: str) -> list[Path]:
    return [Path(p) for p in list_images(folder)]


def read_rgb(path: str | Path) -> torch.Tensor:
    """(3, H, W) uint8, alpha dropped and palettes looked up as for training (data/image_folder.py)."""
    return torch.from_numpy(np.array(load_image(str(path), "RGB"))).permute(2, 0, 1).contiguous()


def read_mask(path: str | Path) -> torch.Tensor:
    """(H, W) float in [0, 1]: a merged-mask visual (grey PNG) or an instance mask file."""
    return torch.from_numpy(np.array(load_mask(str(path)), dtype=np.float32) / 255)


def masked(image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The image multiplied by its mask (Table 2's masked images): the background black, the instances kept."""
    if mask.shape != image.shape[1:]:
        raise DataError(f"a mask of {mask.shape[1]}x{mask.shape[0]} cannot mask an image of "
                        f"{image.shape[2]}x{image.shape[1]} (width x height)")
    return (image.float() * mask).round().to(torch.uint8)


def real_masks(folder: str, images: Sequence[Path]) -> list[torch.Tensor]:
    """The union of each image's instance masks from `{folder}_seg/NAME_k.png` (the unaligned_seg layout)."""
    seg_dir = folder.rstrip("/\\") + "_seg"
    if not os.path.isdir(seg_dir):
        raise DataError(f"mask folder not found: {seg_dir} (masked scores need the real images' masks)")
    index, _ = scan_masks(seg_dir)
    merged = []
    for path in images:
        key = os.path.normpath(os.path.relpath(os.path.splitext(path)[0], folder))
        width, height = read_size(str(path))
        union = torch.zeros(height, width)
        for _, mask_path in index.get(key, []):
            union = torch.maximum(union, read_mask(mask_path))
        merged.append(union)
    return merged


def size_batches(images: Iterable[torch.Tensor], batch_size: int) -> Iterator[torch.Tensor]:
    """Consecutive images of one size stacked into batches of at most `batch_size` (sizes may differ between
    images: each batch is resized on its own by the network)."""
    batch: list[torch.Tensor] = []
    for image in images:
        if batch and (len(batch) == batch_size or image.shape != batch[0].shape):
            yield torch.stack(batch)
            batch = []
        batch.append(image)
    if batch:
        yield torch.stack(batch)


def sample_groups(images_dir: Path, pattern: re.Pattern) -> dict[str, list[Path]]:
    """Several outputs of one input, grouped by `pattern`'s group `input` matched against each PNG's stem (e.g.
    BicycleGAN's `input_003_random_sample07` -> `input_003`); files that do not match are left out."""
    groups: dict[str, list[Path]] = {}
    for path in sorted(images_dir.glob("*.png")):
        match = pattern.fullmatch(path.stem)
        if match:
            groups.setdefault(match["input"], []).append(path)
    return groups
