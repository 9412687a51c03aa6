"""The flags scripts/evaluate.py and train.py's --eval_freq share: which metrics, and where the weight files are.
Bad values fail as the flags are read, with one line (`OptionError`)."""
from __future__ import annotations

import argparse
import re

from util.errors import OptionError
from . import fidelity

METRICS = ("fid", "kid", "is", "lpips_diversity", "cls")
LOWER_IS_BETTER = {"fid", "kid"}
# BicycleGAN's test.py names outputs input_{i:03d}_random_sample{k:02d}.png (and input_{i:03d}_encoded.png, which
# is not a random latent sample and is left out)
DEFAULT_GROUPS = r"(?P<input>.+)_random_sample\d+"


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are `OptionError`s: one line, exit code 2 through util.cli.run_cli."""

    def error(self, message: str):  # type: ignore[override]
        raise OptionError(message)


def metric_list(text: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in METRICS]
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"unknown metric(s) {', '.join(unknown) or '(none)'}: choose from "
                                         f"{','.join(METRICS)}")
    return list(dict.fromkeys(names))


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text}")
    return value


def group_pattern(text: str) -> re.Pattern:
    try:
        pattern = re.compile(text)
    except re.error as e:
        raise argparse.ArgumentTypeError(f"not a regular expression ({e}): {text}") from None
    if "input" not in pattern.groupindex:
        raise argparse.ArgumentTypeError(f"the pattern needs a group (?P<input>...) naming the input: {text}")
    return pattern


def add_weight_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--inception_weights", default=None, metavar="PATH",
                   help="torch-fidelity's Inception-v3 file (weights-inception-2015-12-05-6726825d.pth); default: "
                        "$TORCH_HOME/hub/checkpoints/ (~/.cache/torch/hub/checkpoints/)")
    p.add_argument("--lpips_net", default="alex", choices=["alex", "vgg"], help="LPIPS backbone (0.1 linear layers)")
    p.add_argument("--lpips_weights", default=None, metavar="PATH",
                   help="torchvision's ImageNet file of the LPIPS backbone (alexnet-owt-7be5be79.pth or "
                        "vgg16-397923af.pth); default: the torch hub cache, as above")
    p.add_argument("--classifier", default=None, metavar="PATH", help="domain classifier of "
                   "scripts/train_classifier.py (for --metrics cls)")
    p.add_argument("--vgg_weights", default=None, metavar="PATH",
                   help="the VGG-16 file the classifier was fine-tuned from (vgg16-397923af.pth); default: the torch "
                        "hub cache, as above. MUNIT/UNIT training with --vgg_w > 0: the perceptual loss's VGG-16 "
                        "(torchvision's key layout; required)")


def add_protocol_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--kid_subsets", type=positive_int, default=100, help="KID: random subsets averaged over")
    p.add_argument("--kid_subset_size", type=positive_int, default=1000,
                   help="KID: images per subset (cut to the number of images when there are fewer)")
    p.add_argument("--is_splits", type=positive_int, default=10,
                   help="IS: splits of the images (cut to the number of images when there are fewer)")
    p.add_argument("--fid_features", default=fidelity.POOL, choices=fidelity.FID_LAYERS,
                   help="FID: Inception layer (2048: the standard; the smaller ones, as pytorch-fid's --dims, for "
                        "fewer images, comparable only with FIDs at the same layer)")
    p.add_argument("--batch_size", type=positive_int, default=32, help="images per network call")
