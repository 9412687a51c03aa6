"""Instance masks from torchvision's Mask R-CNN (ResNet-50 FPN v2, COCO categories), for photos and video frames
that have none.

The weights are torchvision's COCO file, read from `--weights PATH` or from torchvision's own cache (where
`torchvision.models.detection.maskrcnn_resnet50_fpn_v2(weights="COCO_V1")` downloads it); nothing is
downloaded here. Detections of the chosen categories are kept when their score is above `score_thresh`, their
soft masks are cut at `mask_thresh`, masks smaller than `min_area` pixels are dropped and the `max_instances`
largest are returned, largest first: the order InstaGAN's sequential translation uses.
"""
from __future__ import annotations

import argparse
import os
from typing import Sequence

import numpy as np
import torch
from torchvision.models.detection import MaskRCNN_ResNet50_FPN_V2_Weights, maskrcnn_resnet50_fpn_v2

from util.checkpoint import read_checkpoint
from util.errors import OptionError, UserError
from util.log import logger

WEIGHTS = MaskRCNN_ResNet50_FPN_V2_Weights.COCO_V1
CATEGORIES: list[str] = list(WEIGHTS.meta["categories"])     # index = label id; 0 is the background
WEIGHTS_FILE = os.path.basename(WEIGHTS.url)
NOT_CATEGORIES = {"__background__", "N/A"}


def cached_weights() -> str:
    """Where torchvision keeps the COCO weights once downloaded ($TORCH_HOME/hub/checkpoints/...)."""
    return os.path.join(torch.hub.get_dir(), "checkpoints", WEIGHTS_FILE)


def category_ids(names: str) -> list[int]:
    """Label ids of a comma-separated list of COCO category names ('sheep', 'sheep,cow'); one line naming the
    unknown ones otherwise."""
    wanted = [name.strip() for name in names.split(",") if name.strip()]
    known = [c for c in CATEGORIES if c not in NOT_CATEGORIES]
    unknown = [name for name in wanted if name not in known]
    if unknown or not wanted:
        raise OptionError(f"--category {names!r}: {', '.join(unknown) or 'no name'} is not one of the "
                          f"{len(known)} COCO categories of the Mask R-CNN weights ({', '.join(known)})")
    return [CATEGORIES.index(name) for name in wanted]


def resolve_weights(path: str | None) -> str:
    """`path`, else torchvision's cached file; without either, one line saying which file to put where."""
    if path is not None:
        if not os.path.isfile(path):
            raise UserError(f"Mask R-CNN weights not found: {path} (torchvision's {WEIGHTS_FILE}: {WEIGHTS.url})")
        return path
    cached = cached_weights()
    if not os.path.isfile(cached):
        raise UserError(f"Mask R-CNN weights not found: pass --weights PATH, or put {WEIGHTS_FILE} ({WEIGHTS.url}) "
                        f"at {cached}")
    return cached


# the flags' defaults; argparse's are None, filled in by check_maskrcnn_flags, so that a flag given with another
# predictor is seen and refused
FLAG_DEFAULTS = {"score_thresh": 0.5, "mask_thresh": 0.5, "max_instances": 20, "detect_size": 800,
                 "proposals": 1000}


def add_maskrcnn_flags(parser: argparse.ArgumentParser, max_instances: bool = True) -> None:
    """The Mask R-CNN flags of predict_masks.py and translate_video.py (the latter takes --ins_max instead of
    --max_instances)."""
    g = parser.add_argument_group("--predictor maskrcnn")
    g.add_argument("--weights", default=None,
                   help=f"torchvision's COCO Mask R-CNN state dict ({WEIGHTS_FILE}); default: torchvision's cache, "
                        f"{cached_weights()}")
    g.add_argument("--category", default=None,
                   help="the COCO category (or comma-separated categories) to mask, e.g. sheep or giraffe")
    g.add_argument("--score_thresh", type=float, default=None, help="keep detections scoring above this (0.5)")
    g.add_argument("--mask_thresh", type=float, default=None,
                   help="a pixel is in a detection's mask when its mask probability is above this (0.5)")
    if max_instances:
        g.add_argument("--max_instances", type=int, default=None, help="keep the largest N instances per image (20)")
    g.add_argument("--detect_size", type=int, default=None,
                   help="the detector resizes each picture to this shorter side (800, torchvision's)")
    g.add_argument("--proposals", type=int, default=None,
                   help="region proposals classified per picture (1000, torchvision's); fewer run faster, on a CPU "
                        "above all, and may miss objects in crowded pictures")


def check_maskrcnn_flags(args: argparse.Namespace, used: bool) -> None:
    """With Mask R-CNN (`used`): fill in the defaults and check the values and the category, one line each;
    without it: refuse its flags, which would be ignored."""
    names = ["weights", "category", *FLAG_DEFAULTS]
    if not used:
        given = [name for name in names if getattr(args, name, None) is not None]
        if given:
            raise OptionError(f"--{given[0]} is a flag of --predictor maskrcnn")
        return
    for name, default in FLAG_DEFAULTS.items():
        if hasattr(args, name) and getattr(args, name) is None:
            setattr(args, name, default)
    if args.category is None:
        raise OptionError("--predictor maskrcnn needs --category: the COCO category to mask, e.g. sheep")
    category_ids(args.category)
    if not 0 <= args.score_thresh <= 1:
        raise OptionError(f"--score_thresh must be in [0, 1], got {args.score_thresh}")
    if not 0 < args.mask_thresh < 1:
        raise OptionError(f"--mask_thresh must be between 0 and 1, got {args.mask_thresh}")
    if getattr(args, "max_instances", 1) < 1:
        raise OptionError(f"--max_instances must be >= 1, got {args.max_instances}")
    if args.detect_size < 32:
        raise OptionError(f"--detect_size must be >= 32, got {args.detect_size}")
    if args.proposals < 1:
        raise OptionError(f"--proposals must be >= 1, got {args.proposals}")


class MaskRCNNMasks:
    """Instance masks of one COCO category set for batches of RGB pictures, on `device`."""

    def __init__(self, weights: str | None, categories: str, device: torch.device | str = "cpu",
                 score_thresh: float = 0.5, mask_thresh: float = 0.5, min_area: int = 100,
                 max_instances: int = 20, detect_size: int = 800, proposals: int = 1000):
        path = resolve_weights(weights)
        self.category_ids = category_ids(categories)
        self.score_thresh, self.mask_thresh = score_thresh, mask_thresh
        self.min_area, self.max_instances = min_area, max_instances
        self.device = torch.device(device)
        # detect_size is the shorter side the network sees (torchvision's default 800, its longer side at most
        # 1333/800 of it). Detections under score_thresh are dropped inside (they would be anyway), so that the
        # mask head runs on fewer; the 100 best detections of all categories are kept, as torchvision does, so
        # that other categories rarely crowd out ours.
        self.model = maskrcnn_resnet50_fpn_v2(
            weights=None, weights_backbone=None, num_classes=len(CATEGORIES), min_size=detect_size,
            max_size=round(detect_size * 1333 / 800), box_score_thresh=score_thresh,
            rpn_pre_nms_top_n_test=proposals, rpn_post_nms_top_n_test=proposals)
        state = read_checkpoint(path)
        if not isinstance(state, dict):
            raise UserError(f"{path} is not a Mask R-CNN state dict")
        try:
            self.model.load_state_dict(state)
        except RuntimeError as e:
            detail = " ".join(str(e).split())
            raise UserError(f"{path} is not a maskrcnn_resnet50_fpn_v2 state dict with the {len(CATEGORIES)} COCO "
                            f"classes ({detail[:300]})") from None
        self.model.eval().to(self.device)
        logger.info("Mask R-CNN (%s) on %s: %s", path, self.device,
                    ", ".join(CATEGORIES[i] for i in self.category_ids))

    @torch.no_grad()
    def __call__(self, images: Sequence[np.ndarray]) -> list[np.ndarray]:
        """One (N, H, W) bool array of instance masks per (H, W, 3) uint8 picture, largest first. Pictures of one
        size go through the network as one batch: torchvision pads a batch to its largest picture, which would
        make a picture's masks depend on the others in its batch."""
        by_size: dict[tuple, list[int]] = {}
        for i, img in enumerate(images):
            by_size.setdefault(img.shape, []).append(i)
        masks: list[np.ndarray] = [np.empty(0)] * len(images)
        for index in by_size.values():
            batch = [torch.tensor(images[i], device=self.device).permute(2, 0, 1).float().div(255) for i in index]
            for i, out in zip(index, self.model(batch)):
                masks[i] = select_instances(out, self.category_ids, self.score_thresh, self.mask_thresh,
                                            self.min_area, self.max_instances)
        return masks


def select_instances(detections: dict[str, torch.Tensor], categories: Sequence[int], score_thresh: float,
                     mask_thresh: float, min_area: int, max_instances: int) -> np.ndarray:
    """The instance masks (N, H, W) bool of one image's detections (torchvision's dict: `labels` (D,),
    `scores` (D,), `masks` (D, 1, H, W) in [0, 1]): those of `categories` scoring above `score_thresh` (as
    torchvision's own filter, which runs first), cut at `mask_thresh`, with at least `min_area` pixels; the
    `max_instances` largest, largest first (equal areas by score, as the detector ordered them)."""
    labels, scores, soft = detections["labels"], detections["scores"], detections["masks"]
    wanted = torch.isin(labels, torch.as_tensor(list(categories), device=labels.device)) & (scores > score_thresh)
    index = wanted.nonzero().flatten()
    index = index[scores[index].argsort(descending=True, stable=True)]
    masks = soft[index, 0] > mask_thresh
    areas = masks.flatten(1).sum(1)
    masks, areas = masks[areas >= min_area], areas[areas >= min_area]
    order = areas.argsort(descending=True, stable=True)[:max_instances]
    return masks[order].cpu().numpy()
