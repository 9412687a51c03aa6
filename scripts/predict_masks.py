"""Predict instance masks for photos that have none, with a pix2pix model trained on image | mask pairs.

    python scripts/predict_masks.py --images PHOTOS --save_root DATA --domain A --phase test \\
        --name NAME [--checkpoints_dir DIR --epoch latest --gpu_ids 0 --netG unet_256 ...]

writes DATA/{phase}{domain}/NAME.png (each photo, as PNG, at its own size) and DATA/{phase}{domain}_seg/NAME_k.png,
one 0/255 mask per predicted instance, largest first (k = 0, 1, ...), so that
`test.py --model insta_gan --dataroot DATA` runs on them. The model's flags (--name, --checkpoints_dir, --epoch,
--gpu_ids, --netG, --ngf, --norm, --no_dropout, --eval, --batch_size, ...) are test.py's and must match the
training run; photos are resized to --fineSizeH x --fineSizeW (the training crop) for the network. The prediction
is scaled back to the photo's size, thresholded, and split into instances by 8-connected components; components
smaller than --min_area pixels (of the photo) are dropped. Photos without any instance are written without masks.
Both folders are written aside (FOLDER.partial-XXXX next to them) and take the place of earlier ones (--overwrite)
only when every photo is done: a failing or interrupted run leaves the earlier predictions as they were.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Sequence

if __package__ in (None, ""):  # run as `python scripts/X.py`: import from the repo root, not scripts/
    sys.path[0] = str(Path(__file__).resolve().parents[1])

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from tqdm import tqdm
from tqdm.contrib.logging import logging_redirect_tqdm

from data import create_dataloader
from data.image_folder import load_image, require_dir
from datasets.common import require_folder_path
from models import create_model
from options.test_options import TestOptions
from util.checkpoint import written_aside
from util.cli import run_cli
from util.components import split_instances
from util.errors import OptionError
from util.log import logger
from util.seed import seed_all



def parse_args(argv: Sequence[str] | None) -> tuple[argparse.Namespace, argparse.Namespace]:
    """This script's flags, and the test options of the pix2pix model built from the remaining flags."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--images", required=True, help="folder of photos (searched recursively)")
    p.add_argument("--save_root", required=True, help="data set root to write the unaligned_seg layout into")
    p.add_argument("--domain", default="A", choices=["A", "B"], help="the domain the photos belong to")
    p.add_argument("--phase", default="test", help="the split to write: {phase}{domain} and {phase}{domain}_seg")
    p.add_argument("--threshold", type=float, default=0.5,
                   help="a pixel is in a mask when its prediction (0 black .. 1 white) is above this")
    p.add_argument("--min_area", type=int, default=100, help="drop instances smaller than this many pixels")
    p.add_argument("--overwrite", action="store_true", help="replace existing output folders")
    args, rest = p.parse_known_args(argv)
    if not 0 < args.threshold < 1:
        raise OptionError(f"--threshold must be between 0 and 1, got {args.threshold}")
    if args.min_area < 1:
        raise OptionError(f"--min_area must be >= 1, got {args.min_area}")
    require_dir(args.images, "--images folder")
    opt = TestOptions().parse([*rest, "--dataroot", args.images, "--model", "pix2pix", "--dataset_mode", "single",
                               "--resize_or_crop", "resize"])
    return args, opt


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


def write_predictions(args: argparse.Namespace, model, loader, img_dir: Path, seg_dir: Path) -> tuple[int, int]:
    """Write every photo and its predicted masks; returns (masks written, photos without any instance)."""
    n_masks = without = 0
    with logging_redirect_tqdm(loggers=[logger]), tqdm(total=len(loader.dataset), unit="image", disable=None) as bar:
        for data in loader:
            model.set_input(data)
            model.test()
            for path, prediction in zip(model.get_image_paths(), model.fake_B):
                image = load_image(path, "RGB")
                masks = predicted_masks(prediction, image.size, args.threshold, args.min_area)
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
    seed_all(opt.seed)
    loader = create_dataloader(opt)
    model = create_model(opt)
    model.setup()  # a missing checkpoint fails here, before anything is written
    if opt.eval:
        model.eval()
    with written_aside(str(img_dir)) as img_work, written_aside(str(seg_dir)) as seg_work:
        n_masks, without = write_predictions(args, model, loader, Path(img_work), Path(seg_work))
    logger.info("%d images written to %s, %d masks to %s; %d without any predicted instance (written without "
                "masks)", len(loader.dataset), img_dir, n_masks, seg_dir, without)
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
