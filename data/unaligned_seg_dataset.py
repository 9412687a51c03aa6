"""Unpaired domains with instance masks (InstaGAN's data).

Layout: `{dataroot}/{phase}A/NAME.ext` and `{dataroot}/{phase}A_seg/NAME_k.ext`, one binary mask per
instance (k an integer), the same for B. Each item holds `max_instances` mask slots, laid out as the reference
reads them: mask k in slot k, the other slots all -1 ("empty"), so that the model's choice of the largest masks
(`models.masks.select_masks`) breaks ties as the reference's. An image with a mask numbered from `max_instances` on
(which the reference would not read) has its `max_instances` largest masks, in the order of k, in the first slots.
"""
from __future__ import annotations

import argparse
import math
import os
import re
from collections import defaultdict
from dataclasses import replace

import numpy as np
import torch
from PIL import Image

from data import register_dataset
from data.base_dataset import BaseDataset
from data.image_folder import as_picture, decode, is_image_file, list_images, load_image, read_size, require_dir
from data.transforms import FIXED_SIZE, RESAMPLE, apply, draw_params, image_to_tensor, luma, normalise, resized_size
from data.unaligned_dataset import UnalignedDataset
from util.errors import DataError, OptionError
from util.log import logger

_MASK_STEM = re.compile(r"^(?P<image>.+)_(?P<k>\d+)$")


def _key(stem_path: str, folder: str) -> str:
    """Matches an image with its masks: the path without extension, relative to its folder."""
    return os.path.normpath(os.path.relpath(stem_path, folder))


def _image_key(path: str, folder: str) -> str:
    return _key(os.path.splitext(path)[0], folder)


def scan_masks(seg_dir: str) -> tuple[dict[str, list[tuple[int, str]]], list[str]]:
    """(k, mask path) per image key, in the numeric order of their `_k` suffix, and the image files without such a
    suffix (which belong to no image, and are reported as such), from one listing of the folder."""
    found: dict[str, list[tuple[int, str]]] = defaultdict(list)
    unnamed: list[str] = []
    for root, _, names in os.walk(seg_dir):
        for name in filter(is_image_file, names):
            match = _MASK_STEM.match(os.path.splitext(name)[0])
            if match:
                owner = _key(os.path.join(root, match["image"]), seg_dir)
                found[owner].append((int(match["k"]), os.path.join(root, name)))
            else:
                unnamed.append(os.path.join(root, name))
    return {key: sorted(masks) for key, masks in found.items()}, unnamed


def warn_unmatched(domain: str, seg_dir: str, index: dict[str, list[tuple[int, str]]], unnamed: list[str],
                   image_keys: set[str]) -> None:
    """One warning per domain for the mask files that belong to no image: a naming slip would otherwise drop
    those instances silently, or all of the domain's when not a single mask matches."""
    unmatched = sorted(unnamed + [p for key, masks in index.items() if key not in image_keys for _, p in masks])
    if not unmatched:
        return
    rule = "the masks of an image NAME.ext must be named NAME_k.ext (k = 0, 1, ...)"
    if len(unmatched) == len(unnamed) + sum(map(len, index.values())):
        logger.warning("domain %s: none of the %d mask file(s) in %s matches an image (e.g. %s), so the domain "
                       "has no instances; %s", domain, len(unmatched), seg_dir, unmatched[0], rule)
    else:
        logger.warning("domain %s: %d mask file(s) in %s match no image and are ignored (e.g. %s); %s",
                       domain, len(unmatched), seg_dir, unmatched[0], rule)


def check_mask_sizes(image: str, masks: list[str], mode: str | None = None) -> None:
    """Header-only check that every mask matches its image, so a bad file fails at start-up; where --preprocess
    `mode` resizes every picture to the load size (as the reference), a mask of another size is resized too."""
    size = read_size(image)
    for mask in masks:
        mask_size = read_size(mask, "mask")
        if mask_size != size and mode not in FIXED_SIZE:
            needs = f", which --preprocess {mode} needs ({' or '.join(FIXED_SIZE)} resizes both)" if mode else ""
            raise DataError(f"mask {mask} is {mask_size[0]}x{mask_size[1]} but its image {image} is "
                            f"{size[0]}x{size[1]} (width x height){needs}")


def load_mask(path: str) -> Image.Image:
    """A mask as 0/255 greys (see `mask_greys`)."""
    return decode(path, mask_greys)


def mask_greys(img: Image.Image) -> Image.Image:
    """The instance in white on black, as the reference reads it (PIL's convert('L')): the greys of the picture
    the file shows, palettes through their colours (a palette may put black at index 1), 16/32-bit values
    clipped at 255, alpha dropped (as for images), soft edges kept. Beyond the reference, masks saved as 0/1 are
    scaled up so that they are not read as all but empty."""
    grey = img.convert("L") if img.mode.startswith("I") else as_picture(img, "L")
    return grey.point(lambda v: v * 255) if grey.getextrema()[1] == 1 else grey


@register_dataset("unaligned_seg")
class UnalignedSegDataset(UnalignedDataset):
    """Items: A, B (C,H,W), A_segs, B_segs (slots,H,W), all in [-1, 1], and A_paths, B_paths."""

    @staticmethod
    def modify_commandline_options(parser: argparse.ArgumentParser, is_train: bool) -> argparse.ArgumentParser:
        parser.add_argument("--max_instances", type=int, default=20,
                            help="mask slots per image; images with more masks keep the largest ones")
        parser.add_argument("--mask_resize", type=str, default="bicubic", choices=sorted(RESAMPLE),
                            help="resampling of masks: bicubic (the reference: soft edges) or nearest (binary)")
        return parser

    @staticmethod
    def validate_options(opt: argparse.Namespace) -> None:
        BaseDataset.validate_options(opt)
        if opt.max_instances < 1:
            raise OptionError(f"--max_instances must be >= 1, got {opt.max_instances}")
        ins_max = getattr(opt, "ins_max", None)
        if ins_max is not None and ins_max > opt.max_instances:
            logger.info("--max_instances raised from %d to --ins_max %d", opt.max_instances, ins_max)
            opt.max_instances = ins_max

    def __init__(self, opt: argparse.Namespace) -> None:
        super().__init__(opt)
        self.masks: dict[str, list[tuple[int, str]]] = {}     # image path -> (k, mask path), in the order of k
        for domain, folder, paths in (("A", self.dir_A, self.A_paths), ("B", self.dir_B, self.B_paths)):
            seg_dir = self.folder(opt.phase + domain + "_seg")
            require_dir(seg_dir, f"mask folder of domain {domain}")
            index, unnamed = scan_masks(seg_dir)
            for path in paths:
                self.masks[path] = masks = index.get(_image_key(path, folder), [])
                for (k, first), (j, second) in zip(masks, masks[1:]):
                    if k == j:                     # mask k goes to slot k: one of them would be lost
                        raise DataError(f"{first} and {second} are both mask {k} of {path}: rename one")
                check_mask_sizes(path, [mask for _, mask in masks], opt.resize_or_crop)
            # the masks of images left out by --max_dataset_size do have an image
            listed = paths if math.isinf(opt.max_dataset_size) else list_images(folder)
            warn_unmatched(domain, seg_dir, index, unnamed, {_image_key(p, folder) for p in listed})
        cut = [p for p, masks in self.masks.items() if len(masks) > opt.max_instances]
        if cut:
            logger.warning("%d image(s) have more than --max_instances %d masks (e.g. %s has %d): only the %d "
                           "largest (by area) of each are used; raise --max_instances to keep more",
                           len(cut), opt.max_instances, cut[0], len(self.masks[cut[0]]), opt.max_instances)

    def load_with_masks(self, path: str, nc: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The image (C, H, W) and its `max_instances` mask slots (slots, H, W) under one draw of crop and flip."""
        img = load_image(path, "RGB")
        params = draw_params(self.opt, img.size, path)
        image = image_to_tensor(apply(img, params))
        if nc == 1:
            image = luma(image)
        slots = self.opt.max_instances
        numbers = [k for k, _ in self.masks[path]]
        masks = [load_mask(p) for _, p in self.masks[path]]
        if numbers and numbers[-1] >= slots:          # not the reference's layout: the largest, in the first slots
            if len(masks) > slots:
                areas = np.array([np.asarray(m).mean() for m in masks])     # of the picture: sizes may differ
                masks = [masks[i] for i in np.sort(np.argsort(-areas, kind="stable")[:slots])]
            numbers = list(range(len(masks)))
        segs = torch.full((slots, *image.shape[1:]), -1.0)
        if masks:
            resample = RESAMPLE[self.opt.mask_resize]
            to_load_size = replace(params, resize=resized_size(self.opt, img.size))    # a mask of another size
            segs[numbers] = normalise(np.stack([np.asarray(apply(m, params if m.size == img.size else to_load_size,
                                                                 resample)) for m in masks])).to(segs.dtype)
        return image, segs

    def __getitem__(self, index: int) -> dict:
        a, b = self.pair(index)
        A, A_segs = self.load_with_masks(a, self.nc("A"))
        B, B_segs = self.load_with_masks(b, self.nc("B"))
        return {"A": A, "B": B, "A_segs": A_segs, "B_segs": B_segs, "A_paths": a, "B_paths": b}
