"""A BicycleGAN latent walk: each input translated along a path through z, written as a video (the authors' video.py).

    python scripts/latent_walk.py --dataroot DATA --name NAME --model bicycle_gan [--netG unet_128 ...] \\
        [--results_dir ./video/ --n_samples 5 --num_frames 4 --fps 8 --seed 50 --align_mode horizontal \\
         --border 0 --format mp4 --num_test 50]

n_samples + 1 codes z_0..z_n ~ N(0, I) are drawn once (from --seed) for all inputs; the walk goes z_0 -> z_1 ->
... -> z_n, --num_frames frames per leg, spherically interpolated (slerp), as the authors'. In every frame each
input is a column holding the input above its translation (--align_mode vertical: a row, the input on the left),
each image with --border white pixels above and to its left, as the authors'. Writes
`--results_dir/morphing_video_seed{seed:04d}_fps{fps}.{format}` and the frames as PNGs in `frames_seed{seed:04d}/`.
The model flags are test.py's (the networks as trained); the encoder is not used.
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
from PIL import Image
from tqdm import tqdm
from tqdm.contrib.logging import logging_redirect_tqdm

from data import create_dataloader
from models import create_model
from options.test_options import TestOptions
from util.checkpoint import written_aside
from util.cli import run_cli
from util.errors import OptionError
from util.image import tensor2im
from util.log import logger
from util.video import write_video


def slerp(z0: torch.Tensor, z1: torch.Tensor, num_frames: int) -> torch.Tensor:
    """num_frames codes (num_frames, nz) from z0 to z1 (both included) along the great circle between their
    directions, the norms blended with it; a straight line when they are (anti)parallel. A single frame is z0."""
    t = torch.linspace(0, 1, num_frames, dtype=torch.float64)[:, None]
    a, b = z0.double(), z1.double()
    omega = torch.arccos(torch.dot(a / (a.norm() + 1e-10), b / (b.norm() + 1e-10)).clamp(-1, 1))
    if torch.sin(omega).abs() < 1e-10:
        return ((1 - t) * a + t * b).float()
    return ((torch.sin((1 - t) * omega) * a + torch.sin(t * omega) * b) / torch.sin(omega)).float()


def walk_codes(nz: int, n_samples: int, num_frames: int, seed: int) -> torch.Tensor:
    """The walk's codes (n_samples * num_frames, nz): legs z_k -> z_k+1 of num_frames frames each."""
    z = torch.randn(n_samples + 1, nz, generator=torch.Generator().manual_seed(seed))
    return torch.cat([slerp(z[k], z[k + 1], num_frames) for k in range(n_samples)])


def with_border(img: np.ndarray, border: int) -> np.ndarray:
    """img (H, W, 3) with `border` white rows above and columns to the left, as the authors' frames."""
    return np.pad(img, ((border, 0), (border, 0), (0, 0)), constant_values=255)


def parse_args(argv: Sequence[str] | None) -> tuple[argparse.Namespace, argparse.Namespace]:
    """This script's flags (the authors' video options), and the model's test options from the rest."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--results_dir", default="./video/", help="where the video and its frames go")
    p.add_argument("--num_frames", type=int, default=4, help="frames per leg of the walk")
    p.add_argument("--n_samples", type=int, default=5, help="legs of the walk (it visits n_samples + 1 codes)")
    p.add_argument("--fps", type=float, default=8, help="frames a second")
    p.add_argument("--seed", type=int, default=50, help="draws the codes")
    p.add_argument("--align_mode", default="horizontal", choices=["horizontal", "vertical"],
                   help="inputs side by side (horizontal) or stacked (vertical)")
    p.add_argument("--border", type=int, default=0, help="white pixels above and left of each image")
    p.add_argument("--format", default="mp4", choices=["mp4", "gif", "webm"], help="video container")
    args, rest = p.parse_known_args(argv)
    for name, low in (("num_frames", 1), ("n_samples", 1), ("border", 0), ("seed", 0)):
        if getattr(args, name) < low:
            raise OptionError(f"--{name} must be >= {low}, got {getattr(args, name)}")
    if not (np.isfinite(args.fps) and args.fps > 0):
        raise OptionError(f"--fps must be a positive number, got {args.fps}")
    opt = TestOptions().parse([*rest, "--no_encode", "--n_samples", "0", "--seed", str(args.seed)])
    if opt.model != "bicycle_gan":
        raise OptionError(f"a latent walk needs --model bicycle_gan, got {opt.model}")
    return args, opt


def main(argv: Sequence[str] | None = None) -> int:
    args, opt = parse_args(argv)
    loader = create_dataloader(opt)
    model = create_model(opt)
    model.setup()                      # loads G; fails before anything is written
    codes = walk_codes(opt.nz, args.n_samples, args.num_frames, args.seed).to(model.device)
    columns: list[list[np.ndarray]] = []   # per input: its frames, each [input; translation]
    todo = min(opt.num_test, len(loader.dataset))
    axis = 0 if args.align_mode == "horizontal" else 1
    with logging_redirect_tqdm(loggers=[logger]), tqdm(total=todo, unit="image", disable=None) as bar:
        for data in loader:
            for A in data["A"][:todo - len(columns)].to(model.device):
                with torch.no_grad(), model.autocast():
                    fakes = model.netG(A.expand(len(codes), *A.shape), codes)
                real = with_border(tensor2im(A), args.border)
                columns.append([np.concatenate([real, with_border(tensor2im(f), args.border)], axis) for f in fakes])
                bar.update(1)
            if len(columns) >= todo:
                break
    frames = [np.concatenate([c[k] for c in columns], 1 - axis) for k in range(len(codes))]
    frame_dir = os.path.join(args.results_dir, f"frames_seed{args.seed:04d}")
    with written_aside(frame_dir) as work_dir:
        for k, frame in enumerate(frames):
            Image.fromarray(frame).save(os.path.join(work_dir, f"frame_{k:04d}.png"))
    video = os.path.join(args.results_dir, f"morphing_video_seed{args.seed:04d}_fps{args.fps:g}.{args.format}")
    write_video(video, frames, args.fps)
    logger.info("%d frames of %d inputs in %s", len(frames), len(columns), video)
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
