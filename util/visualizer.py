"""Training feedback (loss log, HTML page of results, loss plot, visdom, TensorBoard, W&B) and test.py's results
writer.

`--logger` chooses among visdom, html (the page), tensorboard and wandb; the loss log is always written. Visdom
and the page are the Visualizer's own; TensorBoard and W&B are util/loggers.py's `RunLogger`s, fed the same
losses, visuals and scores. Every logger is optional: one that cannot start or stops answering costs one warning
instead of a stream of errors, and the run goes on. The program itself never starts a visdom server nor opens a
port.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import re
import time
import urllib.error
import urllib.request
from typing import Mapping

import numpy as np
import torch

from util.history import keep_entries
from util.html import HTML
from util.image import save_image, tensor2im
from util.log import logger
from util.loggers import call_each, start_loggers

Visuals = Mapping[str, torch.Tensor]


def save_images(webpage: HTML, visuals: Visuals, image_paths: list[str], aspect_ratio: float = 1.0,
                width: int = 256) -> None:
    """Save every visual of every sample as `images/{A image stem}_{visual}.png` and add a row per sample."""
    batch = len(next(iter(visuals.values())))
    if len(image_paths) != batch:
        raise ValueError(f"save_images got {len(image_paths)} image paths for a batch of {batch}")
    for b, path in enumerate(image_paths):
        name = os.path.splitext(os.path.basename(path))[0]
        webpage.add_header(name)
        files = []
        for label, tensor in visuals.items():
            fname = f"{name}_{label}.png"
            save_image(tensor2im(tensor[b]), os.path.join(webpage.get_image_dir(), fname), aspect_ratio)
            files.append(fname)
        webpage.add_images(files, list(visuals), files, width=width)


def plot_losses(history: Mapping, title: str, path: str) -> None:
    """Draw every loss against the epoch into the PNG `path` (written aside, then moved into place)."""
    # Imported here: only training pages need matplotlib, and the Agg canvas needs no display.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8, 4), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    ys = np.array(history["Y"], dtype=float)
    for i, name in enumerate(history["legend"]):
        ax.plot(history["X"], ys[:, i], label=name, linewidth=1)
    ax.set(title=title, xlabel="epoch", ylabel="loss")
    ax.grid(alpha=0.3)
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize="small")
    tmp = path + ".tmp"
    fig.savefig(tmp, format="png", bbox_inches="tight")
    os.replace(tmp, path)


def _server_answers(url: str, timeout: float = 2.0) -> bool:
    """Whether anything answers HTTP at `url` (any status counts)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout):
            return True
    except urllib.error.HTTPError:
        return True
    except (OSError, ValueError):
        return False


class Visualizer:
    """Logs losses to `CHECKPOINTS/NAME/loss_log.txt`, keeps `CHECKPOINTS/NAME/web/` and feeds visdom.

    The plotted losses are also kept in `loss_history.jsonl`, so that a run resumed with
    `--continue_train` goes on drawing the curves it had drawn up to where it resumes: `resume_at`, in
    epochs (epoch + fraction done), by default the start of `--epoch_count`. TensorBoard and W&B
    (`opt.logger`) get `options_text` once and the losses, visuals and scores at `step`, the samples trained
    (`resume_step`: where a resumed run goes on from). Use it as a context manager, or `close` it.
    """

    _EPOCH_FILE = re.compile(r"^epoch(\d+)_")
    LOSS_PNG = "loss.png"
    SCORES_PNG = "scores.png"   # held-out scores (--eval_freq), drawn by metrics/training.py
    PAGE_REFRESH = 60   # seconds: an open training page follows the run

    def __init__(self, opt: argparse.Namespace, resume_at: float | None = None, options_text: str = "",
                 resume_step: int = 0) -> None:
        self.opt = opt
        self.name = opt.name
        self.display_id = opt.display_id
        self.use_html = opt.isTrain and not opt.no_html
        run_dir = os.path.join(opt.checkpoints_dir, opt.name)
        self.web_dir = os.path.join(run_dir, "web")
        self.img_dir = os.path.join(self.web_dir, "images")
        if self.use_html:
            os.makedirs(self.img_dir, exist_ok=True)
        os.makedirs(run_dir, exist_ok=True)
        self.log_name = os.path.join(run_dir, "loss_log.txt")
        with open(self.log_name, "a") as f:
            f.write(f"================ Training Loss ({time.strftime('%c')}) ================\n")
        self.history_name = os.path.join(run_dir, "loss_history.jsonl")
        resume = (opt.epoch_count if resume_at is None else resume_at) if opt.continue_train else None
        self.loss_history = self._restart_history(resume)
        self.vis = self._connect() if self.display_id > 0 else None
        self.page_visuals: list[str] = []     # the visuals on the page, for rewriting it with new scores
        self.step = resume_step
        self.loggers = start_loggers(opt, options_text, resume_step if opt.continue_train else None)

    def close(self) -> None:
        """Flush and end the TensorBoard and W&B logs."""
        call_each(self.loggers, "close")
        self.loggers = []

    def __enter__(self) -> "Visualizer":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _at(self, step: int | None) -> int:
        """The samples trained at this report (the last ones given when `step` is None)."""
        self.step = self.step if step is None else step
        return self.step

    # ---- loss history -------------------------------------------------------------------------------------
    def _restart_history(self, resume_at: float | None) -> dict:
        """The losses plotted up to `resume_at` epochs (none for a new run); the file is rewritten to match."""
        kept = keep_entries(self.history_name, None if resume_at is None else
                            lambda e: e["epoch"] <= resume_at and isinstance(e["losses"], dict))
        # One set of loss names per file: plot_current_losses empties it when the names change.
        return {"X": [e["epoch"] for e in kept], "Y": [list(e["losses"].values()) for e in kept],
                "legend": list(kept[0]["losses"]) if kept else []}

    # ---- visdom -------------------------------------------------------------------------------------------
    def _connect(self):
        """A visdom client, or None (with one warning) when visdom or its server is not available."""
        url = f"{self.opt.display_server}:{self.opt.display_port}"
        if not _server_answers(url):
            logger.warning("no visdom server answers at %s: training goes on without live display "
                           "(start one with `python -m visdom.server -port %d`, or without internet access "
                           "`python scripts/visdom_server.py -port %d`; or pass --display_id 0)",
                           url, self.opt.display_port, self.opt.display_port)
            return None
        try:
            import visdom
        except ImportError:
            logger.warning("visdom is not installed: training goes on without live display "
                           "(pip install visdom, or pass --display_id 0)")
            return None
        # The client warns on every session it opens and when run without its event socket.
        logging.getLogger("visdom").setLevel(logging.ERROR)
        try:
            return visdom.Visdom(server=self.opt.display_server, port=self.opt.display_port,
                                 env=self.opt.display_env, raise_exceptions=True, use_incoming_socket=False)
        except OSError as e:
            self._disable(e)
            return None

    def _disable(self, error: Exception) -> None:
        logger.warning("visdom at %s:%s stopped answering (%s): live display is off for the rest of the run",
                       self.opt.display_server, self.opt.display_port, error)
        self.vis = None

    def _show_images(self, visuals: Visuals) -> None:
        """Every sample's visuals in one grid (`display_ncols` per row, each sample on new rows),
        or with `display_ncols` 0 one window per visual holding the whole batch."""
        names = list(visuals)
        batch = len(visuals[names[0]])
        ims = {k: [tensor2im(visuals[k][b]).transpose(2, 0, 1) for b in range(batch)] for k in names}
        ncols = min(self.opt.display_ncols, len(names))
        if ncols > 0:
            blank = np.full_like(ims[names[0]][0], 255)
            pad = [blank] * (-len(names) % ncols)
            tiles = [im for b in range(batch) for im in [ims[k][b] for k in names] + pad]
            self.vis.images(np.stack(tiles), nrow=ncols, padding=2, win=str(self.display_id),
                            opts={"title": f"{self.name} images"})
            rows = [names[i:i + ncols] for i in range(0, len(names), ncols)]
            table = "".join("<tr>" + "".join(f"<td>{n}</td>" for n in row) + "</tr>" for row in rows)
            self.vis.text(f"<table>{table}</table>", win=str(self.display_id + 2),
                          opts={"title": f"{self.name} labels"})
        else:
            for i, k in enumerate(names):
                self.vis.images(np.stack(ims[k]), nrow=batch, padding=2, win=str(self.display_id + 3 + i),
                                opts={"title": k})

    # ---- public API ---------------------------------------------------------------------------------------
    def display_current_results(self, visuals: Visuals, epoch: int, save_result: bool, step: int | None = None
                                ) -> None:
        """Show the batch in visdom, its first sample in TensorBoard and W&B; with `save_result`, add the first
        sample to the HTML page."""
        call_each(self.loggers, "images", visuals, epoch, self._at(step))
        if self.vis is not None:
            try:
                self._show_images(visuals)
            except OSError as e:
                self._disable(e)
        if save_result and self.use_html:
            for k, t in visuals.items():
                save_image(tensor2im(t[0]), os.path.join(self.img_dir, self._epoch_file(epoch, k)))
            self.page_visuals = list(visuals)
            self._write_page(self.page_visuals)

    @staticmethod
    def _epoch_file(epoch: int, visual: str) -> str:
        return "epoch%.3d_%s.png" % (epoch, visual)

    def _write_page(self, names: list[str]) -> None:
        """Rewrite web/index.html with every epoch that has saved images, newest first."""
        files = set(os.listdir(self.img_dir))
        epochs = sorted({int(m.group(1)) for f in files if (m := self._EPOCH_FILE.match(f))}, reverse=True)
        page = HTML(self.web_dir, f"Experiment name = {self.name}", refresh=self.PAGE_REFRESH)
        if self.loss_history["X"]:
            plot_losses(self.loss_history, f"{self.name} loss over time", os.path.join(self.img_dir, self.LOSS_PNG))
            page.add_header("losses")
            page.add_images([self.LOSS_PNG], ["loss over time"], [self.LOSS_PNG], width=800)
        if self.SCORES_PNG in files:
            page.add_header("held-out scores (--eval_freq)")
            page.add_images([self.SCORES_PNG], ["scores over time"], [self.SCORES_PNG], width=800)
        for n in epochs:
            saved = [k for k in names if self._epoch_file(n, k) in files]
            if saved:
                page.add_header(f"epoch [{n}]")
                ims = [self._epoch_file(n, k) for k in saved]
                page.add_images(ims, saved, ims, width=self.opt.display_winsize)
        page.save()

    def plot_current_losses(self, epoch: int, counter_ratio: float, losses: Mapping[str, float],
                            step: int | None = None) -> None:
        """Record the losses at `epoch + counter_ratio`, redraw their curves in visdom, log them to TensorBoard and
        W&B."""
        call_each(self.loggers, "losses", epoch + counter_ratio, self._at(step), losses)
        h = self.loss_history
        if list(losses) != h["legend"]:
            if h["X"]:
                logger.warning("the losses changed from %s to %s: the loss curves start anew",
                               ", ".join(h["legend"]), ", ".join(losses))
            h.update(X=[], Y=[], legend=list(losses))
            open(self.history_name, "w").close()
        x = epoch + counter_ratio
        h["X"].append(x)
        h["Y"].append([float(v) for v in losses.values()])
        with open(self.history_name, "a") as f:
            f.write(json.dumps({"epoch": x, "losses": dict(zip(h["legend"], h["Y"][-1]))}) + "\n")
        if self.vis is None:
            return
        try:
            self.vis.line(X=np.tile(np.array(h["X"])[:, None], (1, len(h["legend"]))), Y=np.array(h["Y"]),
                          win=str(self.display_id + 1),
                          opts={"title": f"{self.name} loss over time", "legend": h["legend"],
                                "xlabel": "epoch", "ylabel": "loss"})
        except OSError as e:
            self._disable(e)

    def plot_current_scores(self, epochs: list[int], scores: list[Mapping[str, float]]) -> None:
        """Show the held-out scores of `epochs` (metrics/training.py) beside the losses: a visdom plot, and the
        page, where metrics/training.py has drawn them; the latest ones go to TensorBoard and W&B."""
        call_each(self.loggers, "scores", epochs[-1], self._at(None), scores[-1])
        if self.use_html:
            self._write_page(self.page_visuals)
        if self.vis is None:
            return
        names = list(scores[-1])
        ys = np.array([[s.get(n, np.nan) for n in names] for s in scores], dtype=float)
        try:
            self.vis.line(X=np.tile(np.array(epochs, dtype=float)[:, None], (1, len(names))), Y=ys,
                          win=f"{self.display_id}_scores",
                          opts={"title": f"{self.name} held-out scores", "legend": names, "xlabel": "epoch",
                                "ylabel": "score"})
        except OSError as e:
            self._disable(e)

    def print_current_losses(self, epoch: int, iters: int, losses: Mapping[str, float], t_comp: float,
                             t_data: float) -> None:
        """Log one line of losses and append it to loss_log.txt, in the reference's format."""
        message = "(epoch: %d, iters: %d, time: %.3f, data: %.3f) " % (epoch, iters, t_comp, t_data)
        message += "".join("%s: %.3f " % (k, v) for k, v in losses.items())
        logger.info(message)
        with open(self.log_name, "a") as f:
            f.write(message + "\n")
