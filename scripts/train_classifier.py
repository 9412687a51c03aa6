"""Fine-tune a binary domain classifier for the classification score (InstaGAN paper, Section 3.1, Appendix D).

    python scripts/train_classifier.py --dataroot DATA --output checkpoints/sheep_giraffe_cls.pth \
        [--vgg_weights vgg16-397923af.pth] [--masked] [--epochs 10 --size 224 --train_layers 2 ...]

An ImageNet VGG-16 (torchvision's, from --vgg_weights or torch's cache folder; nothing is downloaded) gets a
2-way last layer; its last --train_layers fully connected layers are fine-tuned (the rest stays frozen) to tell
the real images of DATA/{phase}A (output 0) from DATA/{phase}B (output 1), resized to --size x --size. With
--masked the images are multiplied by the union of their instance masks (DATA/{phase}A_seg/NAME_k.png), as for
the masked score of Table 2. When DATA/{val_phase}A and B exist, the accuracy on them is logged: the tables' "Real"
rows. `scripts/evaluate.py --metrics cls --classifier OUTPUT` then scores translations.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Sequence

if __package__ in (None, ""):  # run as `python scripts/X.py`: import from the repo root, not scripts/
    sys.path[0] = str(Path(__file__).resolve().parents[1])

import torch
from tqdm import tqdm

from metrics import options, weights
from metrics.classifier import DOMAINS, DomainClassifier
from metrics.evaluate import pick_device
from metrics.images import masked, read_rgb, real_files, real_masks
from util.cli import run_cli
from util.errors import OptionError
from util.log import logger
from util.seed import seed_all


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = options.Parser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataroot", required=True, help="folder with {phase}A and {phase}B (and _seg) subfolders")
    p.add_argument("--output", required=True, help="the classifier file to write")
    p.add_argument("--phase", default="train", help="the split to train on")
    p.add_argument("--val_phase", default="test", help="the split to report accuracy on, when it exists")
    p.add_argument("--vgg_weights", default=None, metavar="PATH",
                   help="torchvision's ImageNet VGG-16 file (vgg16-397923af.pth); default: "
                        "$TORCH_HOME/hub/checkpoints/ (~/.cache/torch/hub/checkpoints/)")
    p.add_argument("--masked", action="store_true", help="train on images multiplied by their masks (Table 2)")
    p.add_argument("--size", type=options.positive_int, default=224, help="images are resized to size x size")
    p.add_argument("--train_layers", type=int, default=2, choices=[1, 2, 3],
                   help="the last fully connected layers to fine-tune (1: the new 2-way layer only)")
    p.add_argument("--epochs", type=options.positive_int, default=10)
    p.add_argument("--batch_size", type=options.positive_int, default=16)
    p.add_argument("--lr", type=float, default=1e-4, help="Adam learning rate")
    p.add_argument("--max_images", type=options.positive_int, default=None, help="at most this many per domain")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--overwrite", action="store_true", help="replace an existing --output")
    p.add_argument("--verbose", action="store_true", help="debug logs")
    args = p.parse_args(argv)
    if not args.lr > 0:
        raise OptionError(f"--lr must be > 0, got {args.lr}")
    if os.path.exists(args.output) and not args.overwrite:
        raise OptionError(f"--output {args.output} exists: pass --overwrite or choose another file")
    return args


def domain_images(clf: DomainClassifier, dataroot: str, phase: str, domain: str,
                  limit: int | None) -> list[torch.Tensor]:
    """The real images of DATA/{phase}{domain} at the classifier's size (masked for a masked classifier)."""
    folder = os.path.join(dataroot, phase + domain)
    files = real_files(folder)[:limit]
    masks = real_masks(folder, files) if clf.masked else [None] * len(files)
    out = []
    for path, mask in tqdm(list(zip(files, masks)), desc=f"{phase}{domain}", unit="image", disable=None,
                           leave=False):
        image = read_rgb(path)
        out.append(clf.resize(masked(image, mask) if mask is not None else image))
    return out


def accuracy(clf: DomainClassifier, images: dict[str, list[torch.Tensor]], batch_size: int) -> dict[str, float]:
    """Per domain: the fraction of its images classified as that domain."""
    return {d: float((clf.predict(xs, len(xs), batch_size) == DOMAINS.index(d)).float().mean())
            for d, xs in images.items()}


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    backbone = weights.torchvision_backbone("vgg", "--vgg_weights").resolve(args.vgg_weights)
    seed_all(args.seed)
    device = pick_device(args.device)
    clf = DomainClassifier.new(backbone, args.size, args.masked, args.train_layers)
    clf.net.to(device)
    train = {d: domain_images(clf, args.dataroot, args.phase, d, args.max_images) for d in DOMAINS}
    logger.info("fine-tuning the last %d layer(s) of VGG-16 on %s: %d images of A, %d of B", args.train_layers,
                args.phase, len(train["A"]), len(train["B"]))
    losses = clf.fit([x for d in DOMAINS for x in train[d]], [i for i, d in enumerate(DOMAINS) for _ in train[d]],
                     args.epochs, args.batch_size, args.lr, args.seed)
    found = accuracy(clf, train, args.batch_size)
    report = {"train_loss": losses, "accuracy": {args.phase: found}}
    logger.info("loss %.4f after %d epochs; %s accuracy: A %.3f, B %.3f", losses[-1], args.epochs, args.phase,
                found["A"], found["B"])
    if all(os.path.isdir(os.path.join(args.dataroot, args.val_phase + d)) for d in DOMAINS):
        held_out = {d: domain_images(clf, args.dataroot, args.val_phase, d, args.max_images) for d in DOMAINS}
        report["accuracy"][args.val_phase] = found = accuracy(clf, held_out, args.batch_size)
        logger.info("%s accuracy (the tables' Real row): A %.3f, B %.3f", args.val_phase, found["A"], found["B"])
    else:
        logger.warning("no %s: no held-out accuracy (the tables' Real row); --val_phase names the split (COCO's: val)",
                       " and ".join(os.path.join(args.dataroot, args.val_phase + d) for d in DOMAINS))
    clf.save(args.output, {"dataroot": os.path.abspath(args.dataroot), "phase": args.phase, **report})
    logger.info("wrote %s", args.output)
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
