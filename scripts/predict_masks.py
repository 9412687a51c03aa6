"""Predict instance masks for photos that have none: with torchvision's Mask R-CNN (COCO categories), or with a
pix2pix model trained on image | mask pairs.

    python scripts/predict_masks.py --predictor maskrcnn --category sheep --images PHOTOS --save_root DATA \\
        --domain A --phase test [--weights maskrcnn_resnet50_fpn_v2_coco-73cbd019.pth --score_thresh 0.5
        --mask_thresh 0.5 --min_area 100 --max_instances 20 --detect_size 800 --proposals 1000 --batch_size 4
        --gpu_ids 0]
    python scripts/predict_masks.py --images PHOTOS --save_root DATA --domain A --phase test \\
        --name NAME [--checkpoints_dir DIR --epoch latest --gpu_ids 0 --netG unet_256 ...]

writes DATA/{phase}{domain}/NAME.png (each photo, as PNG, at its own size) and DATA/{phase}{domain}_seg/NAME_k.png,
one 0/255 mask per predicted instance, largest first (k = 0, 1, ...), so that
`test.py --model insta_gan --dataroot DATA` runs on them.

--predictor maskrcnn (util/maskrcnn.py): one mask per detection of --category (COCO names, e.g. sheep or
sheep,cow) scoring above --score_thresh, its soft mask cut at --mask_thresh; masks smaller than --min_area
pixels are dropped and the --max_instances largest kept. The weights are torchvision's COCO file, from --weights
or torchvision's cache ($TORCH_HOME/hub/checkpoints); nothing is downloaded. Photos go through the network
--batch_size at a time, on the GPU of --gpu_ids when there is one.

--predictor pix2pix (the default): the model's flags (--name, --checkpoints_dir, --epoch, --gpu_ids, --netG, --ngf,
--norm, --no_dropout, --eval, --batch_size, ...) are test.py's and must match the training run; photos are
resized to --fineSizeH x --fineSizeW (the training crop) for the network. The prediction is scaled back to the
photo's size, thresholded (--threshold), and split into instances by 8-connected components (touching objects
become one instance); components smaller than --min_area pixels (of the photo) are dropped.

Photos without any instance are written without masks, and counted. Both folders are written aside
(FOLDER.partial-XXXX next to them) and take the place of earlier ones (--overwrite) only when every photo is done:
a failing or interrupted run leaves the earlier predictions as they were.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Iterable, Iterator, Sequence

if __package__ in (None, ""):  # run as `python scripts/X.py`: import from the repo root, not scripts/
    sys.path[0] = str(Path(__file__).resolve().parents[1])

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from tqdm import tqdm
from tqdm.contrib.logging import logging_redirect_tqdm

from data import create_dataloader
from data.image_folder import list_images, load_image, require_dir
from data.transforms import at_network_size, image_to_tensor, with_channels
from datasets.common import require_folder_path
from models import create_model
from options.test_options import TestOptions
from util.checkpoint import written_aside
from util.cli import run_cli
from util.components import split_instances
from util.errors import OptionError
from util.log import logger
from util.maskrcnn import MaskRCNNMasks, add_maskrcnn_flags, check_maskrcnn_flags
from util.seed import seed_all

PREDICTORS = ("pix2pix", "maskrcnn")
Prediction = tuple[str, Image.Image, np.ndarray]      # photo path, the photo, its (N, H, W) bool masks


def parse_args(argv: Sequence[str] | None) -> tuple[argparse.Namespace, argparse.Namespace | None]:
    """This script's flags, and for --predictor pix2pix the test options of the model built from the remaining
    flags (None for maskrcnn, whose remaining flags are --gpu_ids and --batch_size only)."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--images", required=True, help="folder of photos (searched recursively)")
    p.add_argument("--save_root", required=True, help="data set root to write the unaligned_seg layout into")
    p.add_argument("--domain", default="A", choices=["A", "B"], help="the domain the photos belong to")
    p.add_argument("--phase", default="test", help="the split to write: {phase}{domain} and {phase}{domain}_seg")
    p.add_argument("--predictor", default="pix2pix", choices=PREDICTORS,
                   help="maskrcnn: torchvision's COCO Mask R-CNN, one mask per detected object; pix2pix: a trained "
                        "merged-mask predictor split into connected components")
    p.add_argument("--threshold", type=float, default=None,
                   help="pix2pix: a pixel is in a mask when its prediction (0 black .. 1 white) is above this (0.5)")
    p.add_argument("--min_area", type=int, default=100, help="drop instances smaller than this many pixels")
    p.add_argument("--overwrite", action="store_true", help="replace existing output folders")
    add_maskrcnn_flags(p)
    args, rest = p.parse_known_args(argv)
    check_predictor_flags(args)
    require_dir(args.images, "--images folder")
    if args.predictor == "maskrcnn":
        device = argparse.ArgumentParser(prog="--predictor maskrcnn", add_help=False)
        device.add_argument("--gpu_ids", default="0", help="the GPU to run on (its first id); -1 for the CPU")
        device.add_argument("--batch_size", type=int, default=4, help="photos per network call")
        known, unknown = device.parse_known_args(rest)
        if unknown:
            raise OptionError(f"{unknown[0]} is not a flag of --predictor maskrcnn (its flags: --weights, "
                              "--category, --score_thresh, --mask_thresh, --max_instances, --detect_size, "
                              "--proposals, --min_area, --batch_size, --gpu_ids)")
        if known.batch_size < 1:
            raise OptionError(f"--batch_size must be >= 1, got {known.batch_size}")
        args.device, args.batch_size = torch_device(known.gpu_ids), known.batch_size
        return args, None
    opt = TestOptions().parse([*rest, "--dataroot", args.images, "--model", "pix2pix", "--dataset_mode", "single",
                               "--resize_or_crop", "resize_and_crop"])
    at_network_size(opt)
    return args, opt


def check_predictor_flags(args: argparse.Namespace) -> None:
    """Each predictor's flags are refused with the other (they would be ignored), and checked; fills defaults."""
    check_maskrcnn_flags(args, args.predictor == "maskrcnn")
    if args.predictor == "maskrcnn":
        if args.threshold is not None:
            raise OptionError("--threshold is a flag of --predictor pix2pix; Mask R-CNN takes --mask_thresh")
    else:
        args.threshold = 0.5 if args.threshold is None else args.threshold
        if not 0 < args.threshold < 1:
            raise OptionError(f"--threshold must be between 0 and 1, got {args.threshold}")
    if args.min_area < 1:
        raise OptionError(f"--min_area must be >= 1, got {args.min_area}")


def torch_device(gpu_ids: str) -> torch.device:
    """The first GPU of a --gpu_ids value ('0', '1,2', '-1' for the CPU); the CPU, with a warning, without CUDA."""
    try:
        ids = [int(i) for i in gpu_ids.split(",") if i.strip() and int(i) >= 0]
    except ValueError:
        raise OptionError(f"--gpu_ids must be comma-separated integers (-1 for the CPU), got {gpu_ids!r}") from None
    if not ids:
        return torch.device("cpu")
    if not torch.cuda.is_available():
        logger.warning("--gpu_ids %s asked for a GPU but CUDA is not available: running on the CPU", gpu_ids)
        return torch.device("cpu")
    if ids[0] >= torch.cuda.device_count():
        raise OptionError(f"--gpu_ids {gpu_ids}: only {torch.cuda.device_count()} GPU(s) visible")
    return torch.device(f"cuda:{ids[0]}")


def output_folders(args: argparse.Namespace) -> tuple[Path, Path]:
    """The image and mask folders; existing non-empty ones are refused unless --overwrite (they would mix
    this run's masks with stale ones), and so is one that overlaps --images (--overwrite would delete photos)
    or is a file."""
    img_dir = Path(args.save_root) / f"{args.phase}{args.domain}"
    folders = (img_dir, img_dir.with_name(img_dir.name + "_seg"))
    images = Path(args.images).resolve()
    for folder in folders:
        require_folder_path(folder, "output folder")
    for folder in map(Path.resolve, folders):
        if folder == images or folder in images.parents or images in folder.parents:
            raise OptionError(f"--images {args.images} overlaps the output folder {folder}; "
                              "choose another --save_root or --phase")
    used = [str(f) for f in folders if f.is_dir() and any(f.iterdir())]
    if used and not args.overwrite:
        raise OptionError(f"{' and '.join(used)} already hold files; pass --overwrite or choose another --save_root")
    return folders


def predicted_masks(prediction: torch.Tensor, size: tuple[int, int], threshold: float, min_area: int) -> np.ndarray:
    """Instance masks at `size` (width, height) from one generator output (C, h, w) in [-1, 1]: the channel
    mean is scaled to the photo before thresholding, so edges follow the soft prediction, not its pixel grid."""
    prob = (prediction.mean(0, keepdim=True) + 1) / 2
    prob = F.interpolate(prob[None], size=(size[1], size[0]), mode="bilinear", align_corners=False)[0, 0]
    return split_instances(prob.cpu().numpy() > threshold, min_area)


class Pix2PixMasks:
    """A trained pix2pix mask predictor on pictures in memory (video frames): the same resize, threshold and
    components as for photos on disk."""

    def __init__(self, opt: argparse.Namespace, threshold: float, min_area: int):
        self.opt, self.threshold, self.min_area = opt, threshold, min_area
        self.model = create_model(opt)
        self.model.setup()
        if opt.eval:
            self.model.eval()

    def __call__(self, images: Sequence[np.ndarray]) -> list[np.ndarray]:
        """One (N, H, W) bool array of instance masks per (H, W, 3) uint8 picture, largest first."""
        size = (self.opt.fineSizeW, self.opt.fineSizeH)
        batch = torch.stack([image_to_tensor(with_channels(Image.fromarray(img), self.opt.input_nc).resize(
            size, Image.Resampling.BICUBIC)) for img in images])
        self.model.set_input({"A": batch, "A_paths": [""] * len(images)})
        self.model.test()
        return [predicted_masks(prediction, (img.shape[1], img.shape[0]), self.threshold, self.min_area)
                for img, prediction in zip(images, self.model.fake_B)]


def pix2pix_predictions(args: argparse.Namespace, model, loader) -> Iterator[Prediction]:
    for data in loader:
        model.set_input(data)
        model.test()
        for path, prediction in zip(model.get_image_paths(), model.fake_B):
            image = load_image(path, "RGB")
            yield path, image, predicted_masks(prediction, image.size, args.threshold, args.min_area)


def maskrcnn_predictions(paths: list[str], segmenter: MaskRCNNMasks, batch_size: int) -> Iterator[Prediction]:
    for start in range(0, len(paths), batch_size):
        chunk = paths[start:start + batch_size]
        images = [load_image(path, "RGB") for path in chunk]
        yield from zip(chunk, images, segmenter([np.asarray(image) for image in images]))


def write_predictions(args: argparse.Namespace, predictions: Iterable[Prediction], total: int, img_dir: Path,
                      seg_dir: Path) -> tuple[int, int]:
    """Write every photo and its predicted masks; returns (masks written, photos without any instance)."""
    n_masks = without = 0
    with logging_redirect_tqdm(loggers=[logger]), tqdm(total=total, unit="image", disable=None) as bar:
        for path, image, masks in predictions:
            name = os.path.relpath(os.path.splitext(path)[0], args.images)
            (img_dir / name).parent.mkdir(parents=True, exist_ok=True)
            if len(masks):
                (seg_dir / name).parent.mkdir(parents=True, exist_ok=True)
            for k, mask in enumerate(masks):
                Image.fromarray(mask.astype(np.uint8) * 255).save(seg_dir / f"{name}_{k}.png")
            image.save(img_dir / f"{name}.png")
            n_masks += len(masks)
            without += not len(masks)
            bar.update(1)
    return n_masks, without


def main(argv: Sequence[str] | None = None) -> int:
    args, opt = parse_args(argv)
    img_dir, seg_dir = output_folders(args)
    if opt is None:
        paths = list_images(args.images)                  # both fail before anything is written
        segmenter = MaskRCNNMasks(args.weights, args.category, args.device, args.score_thresh, args.mask_thresh,
                                  args.min_area, args.max_instances, args.detect_size, args.proposals)
        predictions, total = maskrcnn_predictions(paths, segmenter, args.batch_size), len(paths)
    else:
        seed_all(opt.seed)
        loader = create_dataloader(opt)
        model = create_model(opt)
        model.setup()  # a missing checkpoint fails here, before anything is written
        if opt.eval:
            model.eval()
        predictions, total = pix2pix_predictions(args, model, loader), len(loader.dataset)
    with written_aside(str(img_dir)) as img_work, written_aside(str(seg_dir)) as seg_work:
        n_masks, without = write_predictions(args, predictions, total, Path(img_work), Path(seg_work))
    logger.info("%d images written to %s, %d masks to %s; %d without any predicted instance (written without "
                "masks)", total, img_dir, n_masks, seg_dir, without)
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
