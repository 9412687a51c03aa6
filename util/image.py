"""Tensor <-> image file conversions for results pages and visdom.

`tensor2im` follows the reference's rule exactly (scale, then truncate) so that the PNGs that test.py
writes can be compared pixel for pixel with the reference's.
"""
import numpy as np
import torch
from PIL import Image


def tensor2im(t: torch.Tensor) -> np.ndarray:
    """Turn one (C, H, W) tensor in [-1, 1] into an (H, W, 3) uint8 array; C = 1 is shown grey."""
    if t.dim() != 3 or t.shape[0] not in (1, 3):
        raise ValueError(f"tensor2im expects a (1 or 3, H, W) tensor, got shape {tuple(t.shape)}")
    arr = t.detach().cpu()
    arr = (arr if arr.dtype == torch.float64 else arr.float()).numpy()
    if arr.shape[0] == 1:
        arr = np.tile(arr, (3, 1, 1))
    arr = (np.transpose(arr, (1, 2, 0)) + 1) / 2 * 255
    # The cast truncates like the reference; the clip only matters for out-of-range input.
    return np.clip(arr, 0, 255).astype(np.uint8)


def save_image(arr: np.ndarray, path: str, aspect_ratio: float = 1.0) -> None:
    """Write an (H, W, 3) uint8 array as a PNG; aspect_ratio > 1 widens it, < 1 makes it taller."""
    img = Image.fromarray(arr)
    w, h = img.size
    if aspect_ratio > 1.0:
        img = img.resize((int(w * aspect_ratio), h), Image.BICUBIC)
    elif aspect_ratio < 1.0:
        img = img.resize((w, int(h / aspect_ratio)), Image.BICUBIC)
    img.save(path, format="PNG")
