"""TensorBoard and Weights & Biases: training loggers beside visdom and the HTML page (util/visualizer.py).

Both take the same things from the Visualizer: the losses and held-out scores against the epoch, the current
visuals, and the options once. Each uses its package (tensorboard's `SummaryWriter`, `wandb`). A logger that
cannot start (package missing, no W&B login) says why in one warning and the run goes on without it; one that
fails later is dropped with one warning too. They are `--logger tensorboard,wandb` (or `--use_wandb`).
test.py --use_wandb logs its result images to a W&B run too (`start_wandb`); there a run that cannot start ends
test.py with one line, as the user asked for it and nothing was written yet.
"""
from __future__ import annotations

import argparse
import os
from typing import Mapping, Sequence

import torch

from util.errors import OptionError
from util.image import tensor2im
from util.log import logger

Visuals = Mapping[str, torch.Tensor]


class RunLogger:
    """The interface: `step` is the number of training samples seen (monotone, also across a resume), the axis to
    compare by; `epoch` is, for losses, the current epoch E plus the fraction of it done (the reference's loss-plot
    axis), for images the current epoch E, for scores the epoch E just finished."""

    name = ""

    def losses(self, epoch: float, step: int, losses: Mapping[str, float]) -> None:
        raise NotImplementedError

    def images(self, visuals: Visuals, epoch: float, step: int) -> None:
        """The first sample of the batch, each visual as an image."""
        raise NotImplementedError

    def scores(self, epoch: float, step: int, scores: Mapping[str, float]) -> None:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError


class TensorBoardLogger(RunLogger):
    """Event files in CHECKPOINTS_DIR/NAME/tensorboard (`tensorboard --logdir` there). TensorBoard's x axis is an
    integer step: the samples seen; the fractional epoch is the scalar `epoch` at the same steps."""

    name = "tensorboard"

    def __init__(self, opt: argparse.Namespace, options_text: str, resume_step: int | None):
        from torch.utils.tensorboard import SummaryWriter

        self.log_dir = os.path.join(opt.checkpoints_dir, opt.name, "tensorboard")
        # a resumed run drops what the earlier one logged after the checkpoint it goes on from
        self.writer = SummaryWriter(self.log_dir, purge_step=resume_step)
        self.writer.add_text("options", "\n".join("    " + line for line in options_text.splitlines()),
                             resume_step or 0)

    def losses(self, epoch: float, step: int, losses: Mapping[str, float]) -> None:
        for name, value in losses.items():
            self.writer.add_scalar(f"loss/{name}", value, step)
        self.writer.add_scalar("epoch", epoch, step)

    def images(self, visuals: Visuals, epoch: float, step: int) -> None:
        for name, tensor in visuals.items():
            self.writer.add_image(f"visuals/{name}", tensor2im(tensor[0]), step, dataformats="HWC")

    def scores(self, epoch: float, step: int, scores: Mapping[str, float]) -> None:
        for name, value in scores.items():
            self.writer.add_scalar(f"score/{name}", value, step)

    def close(self) -> None:
        self.writer.close()


class WandbLogger(RunLogger):
    """A W&B run of project --wandb_project_name named --name, the options as its config; losses and scores are
    plotted against `epoch`. WANDB_MODE=offline writes the run under WANDB_DIR (default ./wandb) without network,
    for `wandb sync` later."""

    name = "wandb"

    def __init__(self, opt: argparse.Namespace, options_text: str, resume_step: int | None):
        import wandb

        self.wandb = wandb
        self.run = wandb.init(project=opt.wandb_project_name, name=opt.name, config=vars(opt),
                              settings=wandb.Settings(console="off", silent=True))
        if getattr(self.run, "offline", False):
            logger.info("W&B run %s written offline to %s (`wandb sync` it later)", opt.name,
                        os.path.dirname(self.run.dir))
        else:
            logger.info("W&B run %s: %s", opt.name, self.run.url)
        self.run.define_metric("epoch")
        for prefix in ("loss/*", "score/*", "visuals/*"):
            self.run.define_metric(prefix, step_metric="epoch")

    def losses(self, epoch: float, step: int, losses: Mapping[str, float]) -> None:
        self.run.log({"epoch": epoch, "samples": step, **{f"loss/{k}": v for k, v in losses.items()}})

    def images(self, visuals: Visuals, epoch: float, step: int) -> None:
        self.run.log({"epoch": epoch, "samples": step,
                      **{f"visuals/{k}": self.wandb.Image(tensor2im(t[0]), caption=k) for k, t in visuals.items()}})

    def scores(self, epoch: float, step: int, scores: Mapping[str, float]) -> None:
        self.run.log({"epoch": epoch, "samples": step, **{f"score/{k}": v for k, v in scores.items()}})

    def results(self, visuals: Visuals, image_paths: Sequence[str]) -> None:
        """test.py's images of one batch as it saves them: `results/{visual}`, every sample's image captioned with
        its input's name (the saved file is `{caption}_{visual}.png`)."""
        names = [os.path.splitext(os.path.basename(path))[0] for path in image_paths]
        self.run.log({f"results/{k}": [self.wandb.Image(tensor2im(t[b]), caption=name) for b, name in enumerate(names)]
                      for k, t in visuals.items()})

    def close(self) -> None:
        self.run.finish()


KINDS: dict[str, type[RunLogger]] = {"tensorboard": TensorBoardLogger, "wandb": WandbLogger}
HINTS = {"tensorboard": " (pip install tensorboard)",
         "wandb": " (pip install wandb; `wandb login`, or WANDB_MODE=offline to write the run without network)"}


def _why(error: Exception) -> str:
    lines = str(error).strip().splitlines()
    return f"{type(error).__name__}: {lines[0]}" if lines else type(error).__name__


def start_loggers(opt: argparse.Namespace, options_text: str, resume_step: int | None = None) -> list[RunLogger]:
    """The loggers of --logger that this module runs, each started or, failing that, named in one warning."""
    started = []
    for name in getattr(opt, "logger", None) or []:
        if name not in KINDS:
            continue                           # visdom and html: the Visualizer's own
        try:
            started.append(KINDS[name](opt, options_text, resume_step))
        except Exception as e:                 # a service or package the run does not depend on
            logger.warning("%s could not start (%s): training goes on without it%s", name, _why(e), HINTS[name])
    return started


def start_wandb(opt: argparse.Namespace, options_text: str) -> WandbLogger:
    """test.py --use_wandb: its W&B run, or one line saying why it cannot start."""
    try:
        return WandbLogger(opt, options_text, None)
    except Exception as e:                     # the package, the login, the service: as start_loggers
        raise OptionError(f"--use_wandb: W&B could not start ({_why(e)}){HINTS['wandb']}") from e


def call_each(loggers: list[RunLogger], method: str, *args) -> None:
    """Call `method` of every logger; one that fails is named in one warning and removed from `loggers`."""
    for run_logger in list(loggers):
        try:
            getattr(run_logger, method)(*args)
        except Exception as e:                 # the service went away, the disk filled up, ...
            loggers.remove(run_logger)
            logger.warning("%s stopped working (%s): training goes on without it", run_logger.name, _why(e))
