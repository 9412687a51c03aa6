"""Helpers for the data tests: options as a Namespace and small data sets written into tmp_path."""
from __future__ import annotations

import argparse
import os

import numpy as np
from PIL import Image

from data import get_dataset_class


def make_opt(dataroot, dataset_mode: str = "unaligned_seg", **overrides) -> argparse.Namespace:
    """The options a data mode reads: base defaults, small sizes, the mode's own flag defaults, then overrides."""
    opt = argparse.Namespace(
        dataroot=str(dataroot), phase="train", isTrain=True, dataset_mode=dataset_mode,
        max_dataset_size=float("inf"), resize_or_crop="resize_and_crop", loadSizeH=20, loadSizeW=16,
        fineSizeH=16, fineSizeW=12, no_flip=False, serial_batches=True, direction="AtoB", input_nc=3,
        output_nc=3, batch_size=1, num_threads=0, seed=0, gpu_ids=[])
    mode_flags = get_dataset_class(dataset_mode).modify_commandline_options(argparse.ArgumentParser(), True)
    vars(opt).update(vars(mode_flags.parse_args([])))
    vars(opt).update(overrides)
    return opt


def save(path, pixels: np.ndarray) -> str:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    Image.fromarray(pixels).save(path)
    return str(path)


def rect_mask(h: int, w: int, top: int, left: int, bottom: int, right: int, on: int = 255) -> np.ndarray:
    mask = np.zeros((h, w), np.uint8)
    mask[top:bottom, left:right] = on
    return mask


def random_rgb(h: int, w: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def write_domain(root, phase: str, domain: str, images: dict[str, list[np.ndarray | None]],
                 size: tuple[int, int] = (24, 20), ext: str = ".png") -> None:
    """`images` maps a name to its masks; mask k is saved as NAME_k.png and None leaves a gap in k."""
    h, w = size
    os.makedirs(os.path.join(root, phase + domain + "_seg"), exist_ok=True)
    for i, (name, masks) in enumerate(images.items()):
        save(os.path.join(root, phase + domain, name + ext), random_rgb(h, w, seed=i))
        for k, mask in enumerate(masks):
            if mask is not None:
                save(os.path.join(root, phase + domain + "_seg", f"{name}_{k}.png"), mask)
