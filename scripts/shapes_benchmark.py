"""The paper's comparison in miniature: InstaGAN, its ablations and the CycleGAN baselines on Shapes.

    python scripts/shapes_benchmark.py [--minutes 20 --out ./results/shapes_benchmark --only instagan,cycle_gan ...]

Every configuration trains for the same wall-clock budget (train.py --time_limit, counted from the first
iteration), is tested on all test images (InstaGAN with --ins_max 6, every instance of the Shapes test split)
and scored by scripts/evaluate_shapes.py. Configurations:

- instagan:          InstaGAN as the paper trains it (sequential mini-batches of --ins_per 2 of --ins_max 4);
- instagan_no_ctx:   without the context-preserving loss (--lambda_ctx 0);
- instagan_one_step: all 4 instances in one step (--ins_per 4), no sequential training; tested in one step too;
- cycle_gan:         CycleGAN with --double_width, about InstaGAN's parameter count (the paper's comparison);
- cycle_gan_seg:     CycleGAN+Seg (the merged mask as an extra channel), also --double_width.

OUT/checkpoints/shapes_NAME and OUT/results/shapes_NAME hold each run; OUT/shapes_benchmark.md the table
(rewritten after every configuration, so that a long benchmark shows its progress) and
OUT/shapes_benchmark.json every figure of the evaluator. The data set is generated with the defaults of
datasets/make_shapes_dataset.py when --dataroot does not exist.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import shlex
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

if __package__ in (None, ""):  # run as `python scripts/X.py`: import from the repo root, not scripts/
    sys.path[0] = str(Path(__file__).resolve().parents[1])

import torch

import test as test_script
import train as train_script
from data.image_folder import list_images
from datasets import make_shapes_dataset
from models.networks.blocks import OUTPUTS, UPSAMPLING
from scripts.evaluate_shapes import evaluate
from util.checkpoint import read_checkpoint
from util.cli import run_cli
from util.errors import OptionError
from util.log import logger
from util.machine import describe

TEST_INS_MAX = 6  # the most instances per test image of the Shapes data (--test_max_instances)


@dataclass(frozen=True)
class Config:
    label: str
    model: tuple[str, ...]             # flags of train.py and test.py
    train: tuple[str, ...] = ()        # flags of train.py only
    test: tuple[str, ...] = ("--ins_max", str(TEST_INS_MAX))  # flags of test.py only


CONFIGS = {
    "instagan": Config("InstaGAN", ("--model", "insta_gan")),
    "instagan_no_ctx": Config("InstaGAN, no context loss", ("--model", "insta_gan"), ("--lambda_ctx", "0")),
    "instagan_one_step": Config("InstaGAN, one step", ("--model", "insta_gan"), ("--ins_per", "4", "--ins_max", "4"),
                                ("--ins_per", str(TEST_INS_MAX), "--ins_max", str(TEST_INS_MAX))),
    # --netD n_layers: the 3-layer PatchGAN of --netD basic, whose depth --n_layers_D can change like InstaGAN's;
    # --netG basic: the ResNet generator with --n_blocks blocks; unaligned_seg: InstaGAN's data and visual names
    "cycle_gan": Config("CycleGAN (double width)", ("--model", "cycle_gan", "--double_width", "--netD", "n_layers",
                                                    "--netG", "basic", "--dataset_mode", "unaligned_seg"), test=()),
    "cycle_gan_seg": Config("CycleGAN+Seg (double width)", ("--model", "cycle_gan_seg", "--double_width", "--netD",
                                                            "n_layers", "--netG", "basic"), test=()),
}


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--minutes", type=float, default=20, help="training budget of each configuration (wall clock)")
    p.add_argument("--dataroot", default="./datasets/shapes", help="the Shapes data set (generated when missing)")
    p.add_argument("--out", default="./results/shapes_benchmark", help="checkpoints, results and the table go here")
    p.add_argument("--only", default=",".join(CONFIGS), help="comma-separated configurations to run, in this order")
    p.add_argument("--size", type=int, default=64, help="load and fine size (the images are square)")
    p.add_argument("--ngf", type=int, default=16, help="generator width (CycleGANs double it)")
    p.add_argument("--ndf", type=int, default=16, help="discriminator width (CycleGANs double it)")
    p.add_argument("--n_blocks", type=int, default=3, help="residual blocks of the generators")
    p.add_argument("--upsample", default="transpose", choices=UPSAMPLING,
                   help="the generators' decoder upsampling (train.py --upsample)")
    p.add_argument("--n_layers_D", type=int, default=3, help="strided convs of every discriminator")
    p.add_argument("--G_output", default="generate", choices=OUTPUTS,
                   help="what the InstaGAN generators output (train.py --G_output); the CycleGANs keep theirs")
    p.add_argument("--gpu_ids", default="-1", help="as train.py: -1 for the CPU")
    p.add_argument("--num_threads", type=int, default=0, help="data loading workers")
    p.add_argument("--seed", type=int, default=0, help="the same seed for every configuration")
    p.add_argument("--niter", type=int, default=1000,
                   help="epochs at a constant learning rate: enough that the time limit ends training")
    p.add_argument("--extra", default="", help="more train.py flags for every configuration, e.g. '--lr 0.0001'")
    args = p.parse_args(argv)
    if not args.minutes > 0:
        raise OptionError(f"--minutes must be > 0, got {args.minutes:g}")
    names = [name.strip() for name in args.only.split(",") if name.strip()]
    if not names or not set(names) <= CONFIGS.keys():
        raise OptionError(f"--only {args.only}: choose configurations among {', '.join(CONFIGS)}")
    args.only = names
    return args


def run(name: str, config: Config, args: argparse.Namespace) -> dict:
    """Train, test and score one configuration; returns its row of the report."""
    size = str(args.size)
    run_name = f"shapes_{name}"
    checkpoints, results = os.path.join(args.out, "checkpoints"), os.path.join(args.out, "results")
    common = ["--dataroot", args.dataroot, "--name", run_name, "--checkpoints_dir", checkpoints, "--ngf", str(args.ngf),
              "--ndf", str(args.ndf), "--n_blocks", str(args.n_blocks), "--upsample", args.upsample, "--n_layers_D",
              str(args.n_layers_D), "--loadSizeH", size, "--loadSizeW", size, "--fineSizeH", size, "--fineSizeW", size,
              "--gpu_ids", args.gpu_ids, "--num_threads", str(args.num_threads), "--seed", str(args.seed),
              *config.model]
    if "insta_gan" in config.model:
        common += ["--G_output", args.G_output]
    logger.info("%s: training for %g minutes", config.label, args.minutes)
    start = time.monotonic()
    train_script.main([*common, *config.train, "--display_id", "0", "--niter", str(args.niter), "--niter_decay", "0",
                       "--time_limit", str(args.minutes), "--overwrite", *shlex.split(args.extra)])
    minutes = (time.monotonic() - start) / 60
    state = read_checkpoint(os.path.join(checkpoints, run_name, "latest_train_state.pth"))
    num_test = max(len(list_images(os.path.join(args.dataroot, f"test{d}"))) for d in "AB")
    test_script.main([*common, *config.test, "--results_dir", results, "--num_test", str(num_test)])
    return {"name": name, "label": config.label, "iterations": state["run"]["position"]["total_steps"],
            "minutes": minutes, "figures": evaluate(os.path.join(results, run_name, "test_latest"))}


def number(value: float | None, digits: int) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def report(rows: list[dict], args: argparse.Namespace, command: str, machine_text: str) -> str:
    """The markdown report: how it was made, then one row per configuration."""
    lines = ["# Shapes benchmark (disks <-> squares)", "",
             f"- command: `{command}`",
             f"- date: {datetime.datetime.now().isoformat(sep=' ', timespec='seconds')}",
             f"- machine: {machine_text}",
             f"- budget: {args.minutes:g} minutes of training per configuration, counted from its first iteration",
             "",
             "| configuration | iterations | train minutes | A->B target shape | A->B background error "
             "| B->A target shape | B->A background error | count kept (A->B / B->A) |",
             "|---" * 8 + "|"]
    for row in rows:
        a2b, b2a = row["figures"]["A2B"], row["figures"]["B2A"]
        cells = [row["label"], str(row["iterations"]), f"{row['minutes']:.1f}",
                 number(a2b["target_shape"], 3), number(a2b["background_error"], 2),
                 number(b2a["target_shape"], 3), number(b2a["background_error"], 2),
                 f"{number(a2b['count_kept'], 2)} / {number(b2a['count_kept'], 2)}"]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "Iterations are training samples (iterations at batch size 1); train minutes include start-up. "
              "Target shape: the fraction of input instances translated into the other shape (higher is better). "
              "Background error: mean absolute change of the background in 0-255 levels (lower is better). Count "
              "kept: the fraction of images with as many output shapes as input instances. See "
              "scripts/evaluate_shapes.py."]
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    command = shlex.join(["python", "scripts/shapes_benchmark.py", *(sys.argv[1:] if argv is None else argv)])
    if not os.path.isdir(args.dataroot):
        logger.info("%s does not exist: generating the Shapes data set there", args.dataroot)
        make_shapes_dataset.main(["--save_root", args.dataroot])
    os.makedirs(args.out, exist_ok=True)
    machine_text = describe(gpus=[torch.cuda.get_device_name()] if args.gpu_ids.strip() != "-1" and torch.cuda.is_available() else [])
    rows: list[dict] = []
    for name in args.only:
        rows.append(run(name, CONFIGS[name], args))
        table = report(rows, args, command, machine_text)
        Path(args.out, "shapes_benchmark.md").write_text(table)
        Path(args.out, "shapes_benchmark.json").write_text(json.dumps(rows, indent=1) + "\n")
    sys.stdout.write(table)  # the report itself, not a log line
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
