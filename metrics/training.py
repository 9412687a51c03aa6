"""train.py --eval_freq N: every N epochs and after the last, translate a held-out split with the model being trained,
score it with the chosen metrics (as scripts/evaluate.py scores test.py's files), plot the scores beside the losses,
and keep the best checkpoint as `best_net_*.pth` with `best_train_state.pth`, whose training state (like every later
one) holds the best score so far, so that a resumed run goes on comparing with it.

The held-out images are translated as test.py translates them (in order, not flipped, resized to --fineSizeH x
--fineSizeW or cropped at the centre: `held_out_options`; the model's `translate_held_out`) and turned into pixels
as test.py saves them. The real target images are DATA/{eval_phase}B (or A), or where the data are paired and no
such folder exists (pix2pix's DATA/val/), the pairs' own. The global random states and the networks' buffers
are restored afterwards: a run with --eval_freq trains exactly as one without."""
from __future__ import annotations

import argparse
import copy
import json
import os
from contextlib import contextmanager
from typing import Iterator, Sequence

import numpy as np
import torch
from torch.utils.data import DataLoader

from data import collate, create_dataset
from data.transforms import at_network_size
from models import run_state
from util.checkpoint import restore_rng, rng_state
from util.errors import OptionError
from util.history import keep_entries
from util.image import tensor2im
from util.log import logger
from .evaluate import Settings, headline, score
from .images import real_files
from .options import LOWER_IS_BETTER, METRICS, add_weight_flags, metric_list

HISTORY = "scores_history.jsonl"      # in the run folder, beside loss_history.jsonl
PLOT = "scores.png"                   # in web/images, shown on the training page
TITLES = {"fid": "FID (lower is better)", "kid": "KID x100 (lower is better)", "is": "IS (higher is better)",
          "cls": "classification score (higher is better)"}


def add_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--eval_freq", type=int, default=0,
                   help="score the held-out split --eval_phase every N epochs and after the last with "
                        "--eval_metrics (0: never)")
    p.add_argument("--eval_metrics", type=metric_list, default=["fid"],
                   help=f"comma-separated, of {','.join(m for m in METRICS if m != 'lpips_diversity')}")
    p.add_argument("--eval_phase", default="val", help="the held-out split: DATA/{eval_phase}A and B (and _seg)")
    p.add_argument("--eval_visual", default=None,
                   help="the visual scored against DATA/{eval_phase}B (default: the model's first fake_B*, e.g. "
                        "InstaGAN's fake_B_img)")
    p.add_argument("--eval_num", type=int, default=500, help="held-out images translated (at most)")
    p.add_argument("--eval_best", default=None,
                   help="the metric that chooses best_net_* (default: the first of --eval_metrics)")
    add_weight_flags(p)


def validate_options(opt: argparse.Namespace) -> None:
    """Flag checks, and with --eval_freq the weight files now: not after hours of training."""
    if opt.eval_freq < 0:
        raise OptionError(f"--eval_freq must be >= 0, got {opt.eval_freq}")
    if opt.eval_num < 1:
        raise OptionError(f"--eval_num must be >= 1, got {opt.eval_num}")
    if "lpips_diversity" in opt.eval_metrics:
        raise OptionError("--eval_metrics lpips_diversity needs several outputs per input (a multimodal model's "
                          "test.py): score them with scripts/evaluate.py")
    opt.eval_best = opt.eval_best or opt.eval_metrics[0]
    if opt.eval_best not in opt.eval_metrics:
        raise OptionError(f"--eval_best {opt.eval_best} is not one of --eval_metrics {','.join(opt.eval_metrics)}")
    if opt.eval_visual and not opt.eval_visual.startswith(("fake_A", "fake_B")):
        raise OptionError(f"--eval_visual {opt.eval_visual}: expected a translation, fake_A_* or fake_B_*")
    if opt.eval_freq:
        settings(opt).check_weights(opt.eval_metrics)


def settings(opt: argparse.Namespace) -> Settings:
    return Settings(inception_weights=opt.inception_weights, lpips_net=opt.lpips_net, lpips_weights=opt.lpips_weights,
                    classifier=opt.classifier, vgg_weights=opt.vgg_weights)


def better(metric: str, value: float, best: float | None) -> bool:
    return best is None or (value < best if metric in LOWER_IS_BETTER else value > best)


def held_out_options(opt: argparse.Namespace) -> argparse.Namespace:
    """The data options of the held-out split: test.py's (in order, not flipped), resized to the network's size
    where the training resizes then crops, and cropped at the centre where it only crops, so that every evaluation
    scores the same pixels."""
    held_out = copy.copy(opt)
    held_out.phase, held_out.isTrain, held_out.serial_batches, held_out.no_flip = opt.eval_phase, False, True, True
    held_out.max_dataset_size, held_out.num_threads, held_out.center_crop = opt.eval_num, 0, True
    if opt.resize_or_crop == "resize_and_crop":
        at_network_size(held_out)
    elif opt.resize_or_crop == "shorter_side_and_crop":
        held_out.resize_or_crop = "shorter_side"
    return held_out


class HeldOutEvaluation:
    """The held-out split, the scores so far (`state`, saved in every training state) and their history."""

    def __init__(self, opt: argparse.Namespace, saved: dict | None, model) -> None:
        self.opt = opt
        self.dataset = create_dataset(held_out_options(opt))   # a missing or broken split fails now, before training
        settings(opt).load_weights(opt.eval_metrics)   # and so does a weight file of the wrong kind
        with untouched(model):                     # the first batch now: a visual the model does not make fails here
            model.set_input(next(iter(self.loader())))
            visuals = model.translate_held_out()
        translations = [name for name in visuals if name.startswith(("fake_A", "fake_B"))]
        self.visual = opt.eval_visual or next((name for name in translations if name.startswith("fake_B")), "")
        if self.visual not in translations:
            raise OptionError(f"--eval_visual {self.visual or '(default: the first fake_B*)'} is not a held-out "
                              f"translation of --model {opt.model}, which makes {', '.join(translations) or 'none'}")
        self.target = self.visual[len("fake_")]
        self.real_visual = "real_" + self.visual[len("fake_"):]
        folder = os.path.join(opt.dataroot, opt.eval_phase + self.target)
        if os.path.isdir(folder) or self.real_visual not in visuals:
            self.real_folder, self.real = folder, real_files(folder)[: opt.eval_num]   # missing: its one-line error
        else:                                      # paired data without such a folder: the pairs' own targets
            self.real_folder, self.real = None, None
        self.mask_visual = self.visual[: -len("_img")] + "_seg" if self.visual.endswith("_img") else None
        self.state: dict = dict((saved or {}).get("scores") or {})
        self.history_path = os.path.join(run_state.run_dir(opt), HISTORY)
        self.history: list[dict] | None = None     # read at the first scoring: nothing is written before training

    def due(self, epoch: int) -> bool:
        """Every --eval_freq epochs, and after the last epoch (--niter + --niter_decay): the finished model is
        scored whatever N."""
        return epoch % self.opt.eval_freq == 0 or epoch == self.opt.niter + self.opt.niter_decay

    def _restart_history(self, resume_epoch: int | None) -> list[dict]:
        """The scores of the epochs before `resume_epoch` (none for a new run); the file is rewritten to match."""
        return keep_entries(self.history_path, None if resume_epoch is None else
                            lambda e: e["epoch"] < resume_epoch)

    def loader(self) -> DataLoader:
        return DataLoader(self.dataset, batch_size=self.opt.batch_size, shuffle=False, num_workers=0,
                          collate_fn=collate)

    @torch.no_grad()
    def translate(self, model) -> tuple[list[torch.Tensor], list[torch.Tensor] | None, list[torch.Tensor] | None]:
        """The held-out translations, their translated masks (or None) and, for paired data, their real targets
        (else None), as the uint8 pixels test.py would save."""
        fake, masks, real = [], [], []
        for data in self.loader():
            model.set_input(data)
            visuals = model.translate_held_out()
            fake += [as_pixels(t) for t in visuals[self.visual]]
            if self.mask_visual in visuals:
                masks += [as_pixels(t) for t in visuals[self.mask_visual]]
            if self.real is None:
                real += [as_pixels(t) for t in visuals[self.real_visual]]
        return fake, masks if len(masks) == len(fake) else None, real or None

    def run(self, model, epoch: int, position: run_state.Position, shuffle: torch.Tensor | None,
            visualizer=None) -> dict[str, float]:
        """Score the model now (the end of `epoch`); save it as `best` when the chosen metric improved."""
        with untouched(model):
            fake, masks, real = self.translate(model)
            results = score(self.opt.eval_metrics, settings(self.opt), model.device, fake, real or self.real,
                            self.target, masks, self.real_folder)
        numbers = headline(results)
        if self.history is None:
            self.history = self._restart_history(self.opt.epoch_count if self.opt.continue_train else None)
        logger.info("held-out scores after epoch %d (%d %s images of %s): %s", epoch, len(fake), self.visual,
                    self.opt.eval_phase, ", ".join(f"{k} {v:.4f}" for k, v in numbers.items()))
        self.history.append({"epoch": epoch, "scores": numbers, "results": results})
        with open(self.history_path, "a") as f:
            f.write(json.dumps(self.history[-1]) + "\n")
        metric, best = self.opt.eval_best, self.state.get("best", {})
        if better(metric, numbers[metric], best.get("value")):
            self.state["best"] = {"metric": metric, "value": numbers[metric], "epoch": epoch, "scores": numbers}
            logger.info("best %s so far (%.4f): saving the model as 'best'", metric, numbers[metric])
            run_state.save_checkpoint(model, "best", position, shuffle, scores=self.state)
        if visualizer is not None:
            if visualizer.use_html:
                plot_scores(self.history, self.state.get("best"), f"{self.opt.name} held-out scores",
                            os.path.join(visualizer.img_dir, PLOT))
            visualizer.plot_current_scores([e["epoch"] for e in self.history],
                                           [e["scores"] for e in self.history])
        return numbers


@contextmanager
def untouched(model) -> Iterator[None]:
    """Translate without a trace on training: the random states and the networks' buffers (batch norm's running
    statistics, spectral norm's vectors) are put back afterwards."""
    saved_rng = rng_state()
    buffers = [(b, b.clone()) for net in model.networks().values() for b in net.buffers()]
    try:
        yield
    finally:
        restore_rng(saved_rng)
        with torch.no_grad():
            for buffer, saved in buffers:
                buffer.copy_(saved)


def as_pixels(image: torch.Tensor) -> torch.Tensor:
    """A (C, H, W) visual in [-1, 1] as the uint8 (3, H, W) pixels test.py saves (util/image.tensor2im)."""
    return torch.from_numpy(tensor2im(image)).permute(2, 0, 1)


def plot_scores(history: Sequence[dict], best: dict | None, title: str, path: str) -> None:
    """One panel per metric against the epoch, the best epoch marked, into the PNG `path` (written aside)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    names = list(history[-1]["scores"])
    fig = Figure(figsize=(4 * len(names), 3), dpi=100)
    FigureCanvasAgg(fig)
    axes = np.atleast_1d(fig.subplots(1, len(names)))
    for ax, name in zip(axes, names):
        points = [(e["epoch"], e["scores"][name]) for e in history if name in e["scores"]]
        ax.plot(*zip(*points), marker="o", linewidth=1)
        if best and best["metric"] == name:
            ax.axvline(best["epoch"], color="grey", linestyle=":", label=f"best: epoch {best['epoch']}")
            ax.legend(fontsize="small")
        ax.set(title=TITLES.get(name, name), xlabel="epoch")
        ax.grid(alpha=0.3)
    fig.suptitle(title, y=1.04)
    fig.savefig(path + ".tmp", format="png", bbox_inches="tight")
    os.replace(path + ".tmp", path)
