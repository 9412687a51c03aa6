"""Translate test images with trained generators and write an HTML page of the results.

`python test.py --dataroot DATA --name NAME --model insta_gan [flags]` writes
`RESULTS_DIR/NAME/{phase}_{epoch}/index.html` (`_iter{N}` after it with --load_iter; BicycleGAN: the authors'
`RESULTS_DIR/{phase}[_sync]/`) and `images/{name}_{visual}.png`.
`python test.py --config CONFIG --checkpoint gen_XXXXXXXX.pt --input IMAGE --a2b 1 --output_folder OUT` is the
authors' MUNIT/UNIT interface (models/single_image_test.py).
"""
from __future__ import annotations

import os
import sys
from contextlib import closing, nullcontext
from typing import Sequence

from tqdm import tqdm
from tqdm.contrib.logging import logging_redirect_tqdm

from data import create_dataloader
from models import create_model, single_image_test
from models.run_state import load_label
from options.test_options import TestOptions
from util.checkpoint import written_aside
from util.cli import run_cli
from util.html import HTML
from util.log import logger
from util.loggers import WandbLogger, start_wandb
from util.seed import seed_all
from util.visualizer import save_images


def write_results(opt, options: TestOptions, model, loader, web_dir: str, epoch: str,
                  wandb_run: WandbLogger | None = None) -> int:
    """Translate up to --num_test images and write the page, its images and the options into `web_dir`; log the
    images of each batch to `wandb_run` (--use_wandb) as they are saved."""
    webpage = HTML(web_dir, f"Experiment = {opt.name}, Phase = {opt.phase}, Epoch = {epoch}")
    options.save(opt, web_dir)
    todo = min(opt.num_test, len(loader.dataset))
    done = 0
    with logging_redirect_tqdm(loggers=[logger]), tqdm(total=todo, unit="image", disable=None) as bar:
        for data in loader:
            if done >= todo:
                break
            model.set_input(data)
            model.test()
            n = min(len(model.get_image_paths()), todo - done)
            visuals = {k: v[:n] for k, v in model.get_current_visuals().items()}
            save_images(webpage, visuals, model.get_image_paths()[:n], aspect_ratio=opt.aspect_ratio,
                        width=opt.display_winsize)
            if wandb_run is not None:
                wandb_run.results(visuals, model.get_image_paths()[:n])
            done += n
            bar.update(n)
    webpage.add_header("Options")
    webpage.add_text(options.format_options(opt))
    webpage.save()
    return done


def warn_if_trained_otherwise(opt) -> None:
    """--G_output changes no checkpoint key, so generators trained with another value load without complaint:
    compare with the opt.txt that training wrote next to them."""
    trained = TestOptions.read_saved(os.path.join(opt.checkpoints_dir, opt.name, "opt.txt")).get("G_output")
    if trained is not None and trained != opt.G_output:
        logger.warning("%s was trained with --G_output %s but is tested with --G_output %s", opt.name, trained,
                       opt.G_output)


def main(argv: Sequence[str] | None = None) -> int:
    if single_image_test.is_single_image_command(argv or []):   # MUNIT's and UNIT's authors' interface
        return single_image_test.main(argv)
    options = TestOptions()
    opt = options.parse(argv)
    warn_if_trained_otherwise(opt)
    seed_all(opt.seed)
    logger.info("testing %s, seed %d", opt.name, opt.seed)
    loader = create_dataloader(opt)   # validates the data set
    model = create_model(opt)
    model.setup()                     # loads the generators; fails before anything is written
    if opt.eval:
        model.eval()
    epoch = load_label(opt)
    # pytorch-CycleGAN-and-pix2pix's folder: {phase}_{epoch}, with _iter{N} for --load_iter N
    web_dir = os.path.join(opt.results_dir, model.results_subdir(opt.epoch)) + (
        f"_iter{opt.load_iter}" if opt.load_iter > 0 else "")
    wandb_run = start_wandb(opt, options.format_options(opt)) if opt.use_wandb else None
    # Results are written aside and moved into place at the end: a failing run leaves earlier results intact.
    with closing(wandb_run) if wandb_run else nullcontext(), written_aside(web_dir) as work_dir:
        done = write_results(opt, options, model, loader, work_dir, epoch, wandb_run)
    logger.info("%d results in %s", done, os.path.join(web_dir, "index.html"))
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
