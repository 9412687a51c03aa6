"""Train a model: `python train.py --dataroot DATA --name NAME --model insta_gan [flags]` (see README).
`python train.py --config CONFIG.yaml --output_path PATH --trainer MUNIT|UNIT [--resume]` is the authors'
MUNIT/UNIT command, taken as our flags (models/authors_train.py).

Every checkpoint also holds where training stands and every random state, so that `--continue_train`
goes on as if the run had never stopped (README, "Resuming a run"); the files, the run folder's lock and what a
failing run may touch are models/run_state.py's. SIGTERM saves `latest` after the iteration and exits with 143.

`python -m torch.distributed.run --nproc_per_node N train.py [flags]` trains one model with N processes
(util/distributed.py): each reads its share of every epoch, gradients are summed across them, and every decision
that ends training (a NaN, --time_limit, SIGTERM) is taken by all together so that none waits forever in a
collective.
Process 0 alone writes checkpoints, opt.txt, the loss log and the pages.
"""
from __future__ import annotations

import argparse
import math
import sys
import time
from contextlib import ExitStack
from functools import partial
from typing import Mapping, Sequence

import torch
from torch.utils.data import DataLoader, DistributedSampler
from tqdm import tqdm
from tqdm.contrib.logging import logging_redirect_tqdm

from data import create_dataloader
from metrics.training import HeldOutEvaluation
from models import authors_train, create_model, get_model_class, run_state
from models.base_model import BaseModel
from options.train_options import TrainOptions
from util import distributed
from util.cli import run_cli
from util.errors import UserError
from util.log import logger
from util.progress import ProgressLine
from util.seed import seed_all
from util.visualizer import Visualizer


def crossed(total: int, batch: int, freq: int) -> bool:
    """True when the sample counter passed a multiple of `freq` in the last batch (works for any batch size)."""
    return total // freq > (total - batch) // freq


def check_finite(losses: Mapping[str, float], epoch: int, total_steps: int, last_good: str | None) -> None:
    """Stop at a NaN or infinite loss, before anything else is saved: the weights are broken from here on."""
    for name, value in losses.items():
        if not math.isfinite(value):
            kept = f"the last good checkpoint is {last_good}" if last_good else "no checkpoint was saved"
            raise UserError(f"non-finite loss {name} = {value} at epoch {epoch}, iteration {total_steps}: "
                            f"stopping; {kept}")


def out_of_time(started: float, minutes: float) -> bool:
    """--time_limit: whether `minutes` (0: no limit) have passed since `started`, the first iteration's start,
    so that start-up, data checks and loading a checkpoint do not eat into the budget; in any process, so that
    all stop after the same iteration."""
    return distributed.any_rank(minutes > 0 and time.time() - started >= minutes * 60)


def global_losses(losses: Mapping[str, float]) -> dict[str, float]:
    """The losses averaged over the processes (as they are in one process): every process then logs, checks
    for NaN and feeds the plateau schedule the same numbers, and takes the same decisions."""
    if distributed.world_size() == 1:
        return dict(losses)
    mean = distributed.all_reduce_sum(torch.tensor(list(losses.values()), dtype=torch.float64))
    return dict(zip(losses, (mean / distributed.world_size()).tolist()))


def check_identical(model: BaseModel) -> None:
    """Several processes: make sure that they end with one model (a missed collective or a buffer that drifted
    would show here), and say so once."""
    if distributed.world_size() == 1:
        return
    diff = distributed.max_divergence(model.networks().values())
    if diff != 0:
        raise RuntimeError(f"{distributed.world_size()} processes ended with different parameters "
                           f"(max difference {diff:g})")
    logger.info("%d processes: parameters identical across ranks", distributed.world_size())


def main(argv: Sequence[str] | None = None) -> int:
    if authors_train.is_authors_command(argv or []):   # MUNIT's and UNIT's authors' interface
        argv = authors_train.our_flags(argv)
    options = TrainOptions()
    opt = options.parse(argv)
    distributed.init(opt)                      # under torchrun: join the other processes
    finished = False
    try:
        code = train(options, opt)
        finished = True
        return code
    finally:
        distributed.close(finished)


def train(options: TrainOptions, opt: argparse.Namespace) -> int:
    """Check the data, take the run folder (process 0), then train (`train_loop`); the folder is let go at the end."""
    seed_all(opt.seed + distributed.rank())    # pools, random B partners and augmentations differ per process
    # validates the data set before anything is written
    loader = create_dataloader(opt, full_batches=get_model_class(opt.model).full_batches_only)
    folder, error = None, None
    if distributed.is_main():                  # the process that writes files
        folder = run_state.RunFolder(opt)
        try:
            folder.open()                      # one train.py at a time; never over another run's checkpoints
        except UserError as e:
            folder, error = None, e
    if distributed.any_rank(error is not None):
        raise error or UserError("process 0 could not take the run folder (its error says why)")
    try:
        with run_state.stop_request() as stop:
            return train_loop(options, opt, loader, folder, stop)
    finally:
        if folder is not None:
            folder.close()


def train_loop(options: TrainOptions, opt: argparse.Namespace, loader: DataLoader,
               folder: run_state.RunFolder | None, stop: list[bool]) -> int:
    """The training loop, in each process (one, or each of torchrun's); `folder` in process 0 only. Returns the
    exit code: 0, or 143 when SIGTERM (`stop`) ended it after saving."""
    model = create_model(opt)
    saved = model.setup()                      # --continue_train: networks and, if saved, the training state
    model.broadcast_networks()                 # several processes start from process 0's weights
    position, rng = run_state.start_position(opt, loader, saved)
    # --eval_freq, in process 0: the held-out split is checked now; its best score so far goes into checkpoints
    evaluation = HeldOutEvaluation(opt, saved, model) if opt.eval_freq and folder else None
    save_checkpoint = partial(run_state.save_checkpoint, scores=evaluation.state) if evaluation else \
        run_state.save_checkpoint
    last_good = run_state.net_path(model.save_dir, run_state.load_label(opt), "*") if opt.continue_train else None
    resume_at = position.epoch + position.epoch_iter / len(loader.dataset)
    resume_step = position.total_steps         # the loggers' steps (samples trained) go on from here
    visualizer = None                          # process 0, from the first iteration that trained
    dataset_size = len(loader.dataset)
    logger.info("training %s on %d images per epoch, seed %d, %d process(es)", opt.name, dataset_size, opt.seed,
                distributed.world_size())
    last_epoch = opt.niter + opt.niter_decay
    iterations_left = model.iterations_left()
    if iterations_left == 0:                   # the model's own limit (MUNIT's and UNIT's --max_iter) reached
        last_epoch = position.epoch - 1
    elif iterations_left is not None:          # it may come first
        later = max(iterations_left - (len(loader) - position.batches_done), 0)
        last_epoch = min(last_epoch, position.epoch + math.ceil(later / len(loader)))
    started = None                             # when the first iteration began, for --time_limit
    if position.epoch > last_epoch:
        logger.warning("nothing to train: the checkpoint is at the end of training (epoch %d: --niter + "
                       "--niter_decay, or --max_iter)", last_epoch)
    with logging_redirect_tqdm(loggers=[logger]), ExitStack() as closing:
        bars = None if folder else True        # tqdm: shown on a terminal, in process 0 only
        progress = ProgressLine(opt.log_interval_s, enabled=None if folder else False)  # off a terminal
        for epoch in tqdm(range(position.epoch, last_epoch + 1), desc="epochs", unit="epoch", disable=bars):
            epoch_start = time.time()
            if model.lr_step_at_epoch_start and position.batches_done == 0:    # not again when resumed mid-epoch
                model.update_learning_rate()
            if isinstance(loader.sampler, DistributedSampler):
                loader.sampler.set_epoch(epoch)
            epoch_state = run_state.loader_state(loader)    # this epoch's shuffling, saved with mid-epoch checkpoints
            batches = run_state.epoch_batches(loader, position.batches_done, rng)
            bar = tqdm(batches, total=len(loader), initial=position.batches_done, desc=f"epoch {epoch}/{last_epoch}",
                       unit="batch", leave=False, disable=bars)
            data_start = time.time()
            for data in bar:
                t_data = time.time() - data_start
                iter_start = time.time()
                started = started or iter_start
                batch = len(data["A_paths"]) * distributed.world_size()   # every process has as many
                position.total_steps += batch
                position.epoch_iter += batch
                position.batches_done += 1
                model.set_input(data)
                with model.autocast():
                    model.optimize_parameters()
                losses = global_losses(model.get_current_losses())
                check_finite(losses, epoch, position.total_steps, last_good)
                if folder and visualizer is None:  # trained: now this run may write its options, logs, pages
                    folder.started()
                    visualizer = closing.enter_context(Visualizer(opt, resume_at=resume_at, resume_step=resume_step,
                                                                  options_text=options.format_options(opt)))
                    options.save(opt, folder.path)
                position.g_loss_sum += sum(v for k, v in losses.items() if not k.startswith("D"))
                bar.set_postfix({k: f"{v:.3f}" for k, v in losses.items()}, refresh=False)
                progress.update(epoch, last_epoch, position.epoch_iter, dataset_size, position.total_steps)

                total = position.total_steps
                # the run's last iteration always shows, pages and logs: a short run has its page and losses too
                last = model.iterations_left() == 0 or (epoch == last_epoch and position.batches_done == len(loader))
                show = crossed(total, batch, opt.display_freq) or last
                save_page = crossed(total, batch, opt.update_html_freq) or last
                if visualizer and (crossed(total, batch, opt.print_freq) or last):   # first: the page plots them
                    visualizer.print_current_losses(epoch, position.epoch_iter, losses,
                                                    (time.time() - iter_start) / batch, t_data)
                    visualizer.plot_current_losses(epoch, position.epoch_iter / dataset_size, losses, step=total)
                if visualizer and (show or save_page):
                    visualizer.display_current_results(model.get_current_visuals(), epoch, save_page, step=total)
                if crossed(total, batch, opt.save_latest_freq):
                    label = f"iter_{total}" if opt.save_by_iter else "latest"
                    logger.info("saving the %s model (epoch %d, total_steps %d)", label, epoch, total)
                    last_good = save_checkpoint(model, label, position, epoch_state)
                if model.iterations_left() == 0:   # MUNIT's and UNIT's --max_iter: the finished model is scored too
                    check_identical(model)
                    if evaluation:
                        evaluation.run(model, epoch, position, epoch_state, visualizer)
                    save_checkpoint(model, "latest", position, epoch_state)
                    logger.info("--max_iter reached at epoch %d: saved the latest model", epoch)
                    return 0
                timed_out, terminated = out_of_time(started, opt.time_limit), distributed.any_rank(stop[0])
                if timed_out or terminated:
                    check_identical(model)
                    save_checkpoint(model, "latest", position, epoch_state)
                    why = "SIGTERM received" if terminated else f"time limit of {opt.time_limit:g} minutes reached"
                    logger.info("%s at epoch %d, iteration %d: saved the latest model; the same command with "
                                "--continue_train goes on from here", why, epoch, total)
                    return 143 if terminated else 0
                data_start = time.time()

            if not model.lr_step_at_epoch_start:
                model.update_learning_rate(position.g_loss_sum / max(position.batches_done, 1))
            position, rng = run_state.Position(epoch + 1, total_steps=position.total_steps), None
            if evaluation and evaluation.due(epoch):   # scores the held-out split; may save 'best'
                evaluation.run(model, epoch, position, run_state.loader_state(loader), visualizer)
            if epoch % opt.save_epoch_freq == 0 or epoch == last_epoch:
                # the numbered set first: should a kill break 'latest', the same state is whole under this epoch
                logger.info("saving the model at the end of epoch %d, iters %d", epoch, position.total_steps)
                shuffle = run_state.loader_state(loader)
                save_checkpoint(model, epoch, position, shuffle)
                last_good = save_checkpoint(model, "latest", position, shuffle)
            logger.info("end of epoch %d / %d \t time taken: %d sec", epoch, last_epoch, time.time() - epoch_start)
    check_identical(model)
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
