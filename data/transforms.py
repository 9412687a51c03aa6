"""Joint preprocessing: one draw of random parameters applied to an image and all of its masks.

The reference kept masks in step with their image by reseeding Python's `random` before each
torchvision transform; current torchvision draws from torch's generator instead, so the masks drift.
Here the crop offset and flip are drawn once per item (from torch's generator, in torchvision's order:
top, left, flip; for paired data from Python's, as pix2pix's get_params) and applied with plain PIL calls, which
give the reference's pixels bit for bit.
"""
from __future__ import annotations

import argparse
import random
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

from util.errors import DataError

RESAMPLE = {"bicubic": Image.Resampling.BICUBIC, "nearest": Image.Resampling.NEAREST}
# --resize_or_crop (--preprocess): resize (to --loadSizeH/W; scale_width: --loadSizeW wide;
# shorter_side: the shorter side to --loadSizeW), then a random --fineSizeH/W crop for the modes in CROPPING
PREPROCESS = ("resize_and_crop", "resize", "crop", "scale_width", "scale_width_and_crop", "shorter_side",
              "shorter_side_and_crop", "none")
CROPPING = ("resize_and_crop", "crop", "scale_width_and_crop", "shorter_side_and_crop")
FIXED_SIZE = ("resize_and_crop", "resize")     # modes that resize every picture to the load size, whatever its size
# modes whose output size follows each picture (no crop): in training its sides are checked picture by picture (at
# test time a ResNet's output may be larger than its input, as in the references)
PER_PICTURE = ("scale_width", "shorter_side", "none")


@dataclass(frozen=True)
class JointParams:
    """What to do to every picture of one item; sizes are PIL's (width, height)."""

    resize: tuple[int, int] | None
    crop: tuple[int, int, int, int] | None  # left, top, right, bottom
    flip: bool
    resample: int = Image.Resampling.BICUBIC  # the image's (masks name their own)


def resized_size(opt: argparse.Namespace, size: tuple[int, int]) -> tuple[int, int]:
    """The size (width, height) a picture of `size` has after `--resize_or_crop`'s resize, before any crop.

    scale_width(_and_crop), as pytorch-CycleGAN-and-pix2pix: --loadSizeW wide, the aspect ratio kept but at least
    --fineSizeH tall. shorter_side(_and_crop), as torchvision's Resize(--loadSizeW) in the authors' MUNIT and UNIT
    loaders (Resize(new_size)): the shorter side to --loadSizeW, the longer one in proportion (rounded down).
    none, as pytorch-CycleGAN-and-pix2pix: each side rounded to the nearest multiple of 4 (Python's round; at
    least 4), which the ResNet generators' two halvings need.
    """
    w, h = size
    mode = opt.resize_or_crop
    if mode in FIXED_SIZE:
        return opt.loadSizeW, opt.loadSizeH
    if mode in ("scale_width", "scale_width_and_crop"):
        return opt.loadSizeW, int(max(opt.loadSizeW * h / w, opt.fineSizeH))
    if mode in ("shorter_side", "shorter_side_and_crop"):
        side = opt.loadSizeW
        return (side, int(side * h / w)) if w <= h else (int(side * w / h), side)
    if mode == "none":
        return max(4, round(w / 4) * 4), max(4, round(h / 4) * 4)
    return w, h


def draw_params(opt: argparse.Namespace, size: tuple[int, int], path: str,
                python_random: bool = False) -> JointParams:
    """Draw the crop offset and flip for a picture of `size` (width, height) read from `path`; the offset is drawn
    within the resized picture (for scale_width_and_crop, pytorch-CycleGAN-and-pix2pix's range: 0 to
    max(0, load * h // w - crop) down), or is its centre with BicycleGAN's --center_crop and for the held-out split
    of --eval_freq (as torchvision's CenterCrop). The shorter_side modes resize bilinearly, as torchvision's Resize;
    the others bicubically, as pytorch-CycleGAN-and-pix2pix and InstaGAN.

    The draws are torchvision's (RandomCrop, then RandomHorizontalFlip: torch's generator, nothing for a crop of
    the whole picture), or with `python_random` those of pytorch-CycleGAN-and-pix2pix's paired data (get_params:
    Python's random draws the left offset, the top one and a coin for the flip, always, in that order, the offsets
    within the picture as read where it does not resize then crop)."""
    w, h = resized_size(opt, size)
    mode, multiple = opt.resize_or_crop, getattr(opt, "size_multiple", 1)
    if opt.isTrain and mode in PER_PICTURE and (w % multiple or h % multiple):
        raise DataError(f"{path}: --preprocess {mode} makes it {w}x{h} (WxH), but the networks need sides that are "
                        f"multiples of {multiple}: use a --preprocess that crops or resizes to fixed sizes")
    resize = None if (w, h) == tuple(size) else (w, h)
    crop = None
    th, tw = opt.fineSizeH, opt.fineSizeW
    if python_random:      # get_params' ranges: the resized picture's where it resizes then crops, else the file's
        range_w, range_h = (w, h) if mode in CROPPING else size
        left = random.randint(0, max(0, range_w - tw))
        top = random.randint(0, max(0, range_h - th))
        coin = random.random() > 0.5
    if mode in CROPPING:
        if th > h or tw > w:
            raise DataError(f"{path}: {w}x{h} (WxH) is smaller than the crop --fineSizeW/H {tw}x{th}")
        if getattr(opt, "center_crop", False):      # BicycleGAN's; --eval_freq's held-out split
            top, left = round((h - th) / 2), round((w - tw) / 2)
        elif not python_random:
            top, left = (0, 0) if (h, w) == (th, tw) else (int(torch.randint(0, h - th + 1, size=(1,))),
                                                          int(torch.randint(0, w - tw + 1, size=(1,))))
        crop = (left, top, left + tw, top + th)
    flip = bool(opt.isTrain and not opt.no_flip and (coin if python_random else torch.rand(1) < 0.5))
    resample = Image.Resampling.BILINEAR if mode.startswith("shorter_side") else Image.Resampling.BICUBIC
    return JointParams(resize, crop, flip, resample)


def at_network_size(opt: argparse.Namespace) -> None:
    """Resize whole pictures to the crop size, the networks' training size, instead of resizing then cropping:
    for the held-out split and for photos and frames."""
    opt.resize_or_crop = "resize"
    opt.loadSizeH, opt.loadSizeW = opt.fineSizeH, opt.fineSizeW


def apply(img: Image.Image, params: JointParams, resample: int | None = None) -> Image.Image:
    """`params` on one picture: an image (its resampling filter: `params`') or a mask (`resample` given)."""
    if params.resize is not None:
        img = img.resize(params.resize, params.resample if resample is None else resample)
    if params.crop is not None:
        img = img.crop(params.crop)
    if params.flip:
        img = img.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    return img


def normalise(pixels: np.ndarray) -> torch.Tensor:
    """uint8 pixels -> float32 in [-1, 1], with torchvision's ToTensor + Normalize(0.5, 0.5) arithmetic."""
    return torch.from_numpy(np.array(pixels)).float().div(255).sub(0.5).div(0.5)


def with_channels(img: Image.Image, nc: int) -> Image.Image:
    """An RGB picture for a network that takes `nc` channels: for 1, PIL's grey ('L', integer luma), taken before
    any resize, crop or flip, as torchvision's Grayscale(1) first in pytorch-CycleGAN-and-pix2pix's transforms."""
    return img.convert("L") if nc == 1 else img


def luma(image: torch.Tensor) -> torch.Tensor:
    """(..., 3, H, W) in [-1, 1] -> (..., 1, H, W): 0.299 R + 0.587 G + 0.114 B in float, of the resized, cropped,
    flipped and scaled picture, as the InstaGAN reference turns its `unaligned_seg` inputs grey (`with_channels` is
    pytorch-CycleGAN-and-pix2pix's grey)."""
    return (image[..., 0, :, :] * 0.299 + image[..., 1, :, :] * 0.587 + image[..., 2, :, :] * 0.114).unsqueeze(-3)


def image_to_tensor(img: Image.Image) -> torch.Tensor:
    """An RGB or grey ('L') picture as a (3 or 1, H, W) tensor in [-1, 1]."""
    t = normalise(np.asarray(img))
    return t.unsqueeze(0) if t.ndim == 2 else t.permute(2, 0, 1).contiguous()
