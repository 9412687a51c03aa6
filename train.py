"""Train a model: `python train.py --dataroot DATA --name NAME --model insta_gan [flags]` (see README)."""
from __future__ import annotations

import os
import sys
import time
from typing import Sequence

from tqdm import tqdm
from tqdm.contrib.logging import logging_redirect_tqdm

from data import create_dataloader
from models import create_model
from options.train_options import TrainOptions
from util.cli import run_cli
from util.log import logger
from util.seed import seed_all
from util.visualizer import Visualizer


def crossed(total: int, batch: int, freq: int) -> bool:
    """True when the sample counter passed a multiple of `freq` in the last batch (works for any batch size)."""
    return total // freq > (total - batch) // freq


def main(argv: Sequence[str] | None = None) -> int:
    options = TrainOptions()
    opt = options.parse(argv)
    seed_all(opt.seed)
    loader = create_dataloader(opt)            # validates the data set before anything is written
    model = create_model(opt)
    model.setup()                              # loads checkpoints for --continue_train
    visualizer = Visualizer(opt)
    options.save(opt, os.path.join(opt.checkpoints_dir, opt.name))
    dataset_size = len(loader.dataset)
    logger.info("training %s on %d images per epoch, seed %d", opt.name, dataset_size, opt.seed)

    last_epoch = opt.niter + opt.niter_decay
    total_steps = 0
    with logging_redirect_tqdm(loggers=[logger]):
        for epoch in tqdm(range(opt.epoch_count, last_epoch + 1), desc="epochs", unit="epoch", disable=None):
            epoch_start = time.time()
            epoch_iter = 0
            g_loss_sum, n_batches = 0.0, 0
            bar = tqdm(loader, desc=f"epoch {epoch}/{last_epoch}", unit="batch", leave=False, disable=None)
            data_start = time.time()
            for data in bar:
                t_data = time.time() - data_start
                iter_start = time.time()
                batch = len(data["A_paths"])
                total_steps += batch
                epoch_iter += batch
                model.set_input(data)
                model.optimize_parameters()
                losses = model.get_current_losses()
                g_loss_sum += sum(v for k, v in losses.items() if not k.startswith("D"))
                n_batches += 1
                bar.set_postfix({k: f"{v:.3f}" for k, v in losses.items()}, refresh=False)

                show, save = crossed(total_steps, batch, opt.display_freq), crossed(total_steps, batch,
                                                                                    opt.update_html_freq)
                if show or save:
                    visualizer.display_current_results(model.get_current_visuals(), epoch, save)
                if crossed(total_steps, batch, opt.print_freq):
                    visualizer.print_current_losses(epoch, epoch_iter, losses, (time.time() - iter_start) / batch,
                                                    t_data)
                    visualizer.plot_current_losses(epoch, epoch_iter / dataset_size, losses)
                if crossed(total_steps, batch, opt.save_latest_freq):
                    suffix = f"iter_{total_steps}" if opt.save_by_iter else "latest"
                    logger.info("saving the %s model (epoch %d, total_steps %d)", suffix, epoch, total_steps)
                    model.save_networks(suffix)
                data_start = time.time()

            if epoch % opt.save_epoch_freq == 0 or epoch == last_epoch:
                logger.info("saving the model at the end of epoch %d, iters %d", epoch, total_steps)
                model.save_networks("latest")
                model.save_networks(epoch)
            logger.info("end of epoch %d / %d \t time taken: %d sec", epoch, last_epoch, time.time() - epoch_start)
            model.update_learning_rate(g_loss_sum / max(n_batches, 1))
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
