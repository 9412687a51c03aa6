"""Train a model: `python train.py --dataroot DATA --name NAME --model insta_gan [flags]` (see README).

Every checkpoint also holds where training stands and every random state, so that `--continue_train`
goes on as if the run had never stopped (README, "Resuming a run").

`python -m torch.distributed.run --nproc_per_node N train.py [flags]` trains one model with N processes
(util/distributed.py): each reads its share of every epoch, gradients are summed across them, and every decision
that ends training (a NaN, --time_limit) is taken by all together so that none waits forever in a collective.
Process 0 alone writes checkpoints, opt.txt, the loss log and the pages.
"""
from __future__ import annotations

import argparse
import math
import os
import sys
import time
from dataclasses import asdict, dataclass
from typing import Iterator, Mapping, Sequence

import torch
from torch.utils.data import DataLoader, DistributedSampler
from tqdm import tqdm
from tqdm.contrib.logging import logging_redirect_tqdm

from data import create_dataloader
from models import create_model
from models.base_model import BaseModel, load_label
from options.train_options import TrainOptions
from util import distributed
from util.checkpoint import restore_rng, rng_state
from util.cli import run_cli
from util.errors import UserError
from util.log import logger
from util.seed import seed_all
from util.visualizer import Visualizer


@dataclass
class Position:
    """Where training stands, saved with every checkpoint: the epoch under way and how far into it."""
    epoch: int
    batches_done: int = 0     # batches of `epoch` trained on (by each process)
    epoch_iter: int = 0       # their samples (of all processes)
    total_steps: int = 0      # samples since the start of training (of all processes)
    g_loss_sum: float = 0.0   # the epoch's summed generator losses: the plateau schedule's metric


def crossed(total: int, batch: int, freq: int) -> bool:
    """True when the sample counter passed a multiple of `freq` in the last batch (works for any batch size)."""
    return total // freq > (total - batch) // freq


def epoch_batches(loader: DataLoader, skip: int, rng: dict | None) -> Iterator[dict]:
    """The epoch's batches after the first `skip`, which a resumed run trained on before it stopped.

    They are read and dropped, so that the shuffled order (drawn from the loader's generator, restored by
    the caller) is the interrupted epoch's; then the global random streams are set to the saved `rng`, as
    they were after those batches.
    """
    batches = iter(loader)
    for _ in range(skip):
        next(batches)
    if rng is not None:
        restore_rng(rng)
    return batches


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


def loader_state(loader: DataLoader) -> torch.Tensor | None:
    """The loader's shuffling state, saved with checkpoints; None for a DistributedSampler, whose order is a
    function of (seed, epoch)."""
    return None if isinstance(loader.sampler, DistributedSampler) else loader.generator.get_state()


def save(model: BaseModel, label: str | int, position: Position, loader_state) -> str:
    """Save checkpoint `label` with the position, the loader's shuffling state for `position.epoch`, the
    global random states and the number of processes (`batches_done` counts the batches of each); returns the
    network files' pattern, for messages."""
    model.save_checkpoint(label, {"position": asdict(position), "loader": loader_state, "rng": rng_state(),
                                  "processes": distributed.world_size()})
    return model.checkpoint_path(label, "*")


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


def start_position(opt: argparse.Namespace, loader: DataLoader, saved: dict | None) -> tuple[Position, dict | None]:
    """Where this run starts: at --epoch_count for a new or weights-only run; else at the saved position, with
    the loader's shuffling state set here and the global random states returned (for `epoch_batches`)."""
    if saved is None:
        return Position(epoch=opt.epoch_count), None
    try:
        position, rng, loader_saved = Position(**saved["position"]), saved["rng"], saved["loader"]
    except (KeyError, TypeError) as e:
        path = os.path.join(opt.checkpoints_dir, opt.name, f"{load_label(opt)}_train_state.pth")
        raise UserError(f"training state {path} has no valid position ({type(e).__name__}: {e}): it was not "
                        f"written by this program, or was damaged (delete it to resume the weights only)") from None
    if position.batches_done and saved.get("processes", 1) != distributed.world_size():
        logger.warning("the checkpoint was saved in the middle of epoch %d by %d process(es), and %d go on: that "
                       "epoch starts again from its beginning", position.epoch, saved.get("processes", 1),
                       distributed.world_size())
        position = Position(position.epoch, total_steps=position.total_steps)
        rng = None
    if distributed.is_distributed():
        # the order is the sampler's (seed, epoch); the saved random states are process 0's alone, so every
        # process draws fresh streams of its own instead (a resumed run goes on, but not bit for bit)
        seed_all(opt.seed + distributed.rank() + distributed.world_size() * position.total_steps)
        rng = None
    elif loader_saved is not None:
        loader.generator.set_state(loader_saved.cpu())
    if opt.epoch_count not in (1, position.epoch):
        logger.warning("--epoch_count %d ignored: the training state goes on with epoch %d", opt.epoch_count,
                       position.epoch)
    opt.epoch_count = position.epoch           # the first epoch of this run, as for a weights-only resume
    logger.info("continuing at epoch %d after %d batches of it, %d samples in all", position.epoch,
                position.batches_done, position.total_steps)
    return position, rng


def main(argv: Sequence[str] | None = None) -> int:
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
    """The training loop, in each process (one, or each of torchrun's)."""
    main_process = distributed.is_main()       # the one that writes files and shows progress
    seed_all(opt.seed + distributed.rank())    # pools, random B partners and augmentations differ per process
    loader = create_dataloader(opt)            # validates the data set before anything is written
    model = create_model(opt)
    saved = model.setup()                      # --continue_train: networks and, if saved, the training state
    model.broadcast_networks()                 # several processes start from process 0's weights
    position, rng = start_position(opt, loader, saved)
    last_good = None
    if opt.continue_train:
        last_good = model.checkpoint_path(load_label(opt), "*")
    visualizer = None
    if main_process:
        visualizer = Visualizer(opt, resume_at=position.epoch + position.epoch_iter / len(loader.dataset))
        options.save(opt, os.path.join(opt.checkpoints_dir, opt.name))
    dataset_size = len(loader.dataset)
    logger.info("training %s on %d images per epoch, seed %d, %d process(es)", opt.name, dataset_size, opt.seed,
                distributed.world_size())
    last_epoch = opt.niter + opt.niter_decay
    started = None                             # when the first iteration began, for --time_limit
    if position.epoch > last_epoch:
        logger.warning("nothing to train: the checkpoint is at the end of epoch %d = --niter + --niter_decay",
                       last_epoch)
    with logging_redirect_tqdm(loggers=[logger]):
        bars = None if main_process else True      # tqdm: shown on a terminal, in process 0 only
        for epoch in tqdm(range(position.epoch, last_epoch + 1), desc="epochs", unit="epoch", disable=bars):
            epoch_start = time.time()
            if isinstance(loader.sampler, DistributedSampler):
                loader.sampler.set_epoch(epoch)
            epoch_state = loader_state(loader)    # this epoch's shuffling, saved with mid-epoch checkpoints
            batches = epoch_batches(loader, position.batches_done, rng)
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
                position.g_loss_sum += sum(v for k, v in losses.items() if not k.startswith("D"))
                bar.set_postfix({k: f"{v:.3f}" for k, v in losses.items()}, refresh=False)

                total = position.total_steps
                show, save_page = crossed(total, batch, opt.display_freq), crossed(total, batch, opt.update_html_freq)
                if visualizer and (show or save_page):
                    visualizer.display_current_results(model.get_current_visuals(), epoch, save_page)
                if visualizer and crossed(total, batch, opt.print_freq):
                    visualizer.print_current_losses(epoch, position.epoch_iter, losses,
                                                    (time.time() - iter_start) / batch, t_data)
                    visualizer.plot_current_losses(epoch, position.epoch_iter / dataset_size, losses)
                if crossed(total, batch, opt.save_latest_freq):
                    label = f"iter_{total}" if opt.save_by_iter else "latest"
                    logger.info("saving the %s model (epoch %d, total_steps %d)", label, epoch, total)
                    last_good = save(model, label, position, epoch_state)
                if out_of_time(started, opt.time_limit):
                    check_identical(model)
                    save(model, "latest", position, epoch_state)
                    logger.info("time limit of %g minutes reached at epoch %d, iteration %d: saved the latest model; "
                                "--continue_train goes on from here", opt.time_limit, epoch, total)
                    return 0
                data_start = time.time()

            model.update_learning_rate(position.g_loss_sum / max(position.batches_done, 1))
            position, rng = Position(epoch + 1, total_steps=position.total_steps), None
            if epoch % opt.save_epoch_freq == 0 or epoch == last_epoch:
                # the numbered set first: should a kill break 'latest', the same state is whole under this epoch
                logger.info("saving the model at the end of epoch %d, iters %d", epoch, position.total_steps)
                save(model, epoch, position, loader_state(loader))
                last_good = save(model, "latest", position, loader_state(loader))
            logger.info("end of epoch %d / %d \t time taken: %d sec", epoch, last_epoch, time.time() - epoch_start)
    check_identical(model)
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
