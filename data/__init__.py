"""Data-mode registry and the data loader.

`--dataset_mode NAME` loads the class registered by `data/NAME_dataset.py` with `@register_dataset("NAME")`.
"""
from __future__ import annotations

import atexit
import multiprocessing
import os
import signal

import torch
from torch.utils.data import DataLoader, Dataset, DistributedSampler, default_collate

from util import distributed
from util.errors import DataError
from util.log import logger
from util.registry import Registry

_modes = Registry("data", "_dataset")
register_dataset = _modes.register
dataset_modes = _modes.names
get_dataset_class = _modes.get


def create_dataset(opt) -> Dataset:
    """The data set of `opt.dataset_mode`, checked on construction (raises `DataError`)."""
    dataset = get_dataset_class(opt.dataset_mode)(opt)
    logger.info("dataset [%s] was created: %d items", type(dataset).__name__, len(dataset))
    return dataset


def create_dataloader(opt, full_batches: bool = False) -> DataLoader:
    """Batches of `create_dataset(opt)`; shuffling follows `opt.seed` so that runs can be repeated. `full_batches`:
    a last batch shorter than --batch_size is left out (training, for the models whose authors train so), and a data
    set without one full batch fails in one line.

    With several processes (util/distributed.py) each reads its own share through a `DistributedSampler`,
    whose order is a function of (seed, epoch) alone (`sampler.set_epoch` each epoch), so a resumed run needs
    no generator state; it pads the data set so that every process has as many batches, of the same sizes.
    The loader's generator then only seeds the loading workers, differently per process.
    """
    dataset = create_dataset(opt)
    workers = dict(num_workers=min(opt.num_threads, os.cpu_count() or 1), pin_memory=bool(opt.gpu_ids),
                   persistent_workers=opt.num_threads > 0, drop_last=full_batches, worker_init_fn=_ignore_sigterm,
                   collate_fn=collate)
    if distributed.is_distributed():
        sampler = DistributedSampler(dataset, shuffle=not opt.serial_batches, seed=opt.seed, drop_last=False)
        loader = DataLoader(dataset, batch_size=opt.batch_size, sampler=sampler, **workers,
                            generator=torch.Generator().manual_seed(opt.seed + distributed.rank()))
    else:
        loader = DataLoader(dataset, batch_size=opt.batch_size, shuffle=not opt.serial_batches, **workers,
                            generator=torch.Generator().manual_seed(opt.seed))
    if full_batches and len(loader) == 0:           # only a dropped last batch leaves a data set without one
        each = f" ({len(loader.sampler)} per process)" if distributed.is_distributed() else ""
        raise DataError(f"{opt.dataroot}: {len(dataset)} training items{each}, fewer than --batch_size "
                        f"{opt.batch_size}; --model {opt.model} trains on full batches only, as its authors: lower "
                        f"--batch_size")
    return loader


def collate(items: list[dict]) -> dict:
    """torch's default_collate; pictures of different sizes in one batch (a --preprocess that keeps each picture's
    size or aspect ratio, with --batch_size > 1) end in one line naming two of them."""
    for key, value in items[0].items():
        if torch.is_tensor(value):
            other = next((item for item in items if item[key].shape != value.shape), None)
            if other is not None:
                paths, sizes = f"{key[0]}_paths", ["x".join(map(str, t.shape[-2:])) for t in (value, other[key])]
                raise DataError(f"{items[0].get(paths, '?')} ({sizes[0]}) and {other.get(paths, '?')} ({sizes[1]}, "
                                f"HxW) differ in size but share a batch: use --batch_size 1, or a --preprocess that "
                                f"crops or resizes to fixed sizes")
    return default_collate(items)


def _ignore_sigterm(worker_id: int) -> None:
    """Loading workers outlive a SIGTERM sent to all the processes (as schedulers do): the main process then
    saves and stops them itself (train.py), instead of failing wherever it is on a worker that died under it."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


@atexit.register          # after multiprocessing's exit handler, so it runs first
def _end_workers() -> None:
    """At exit, multiprocessing ends daemonic children with SIGTERM and waits for them: loading workers ignore
    it, so they are killed first (without torch's handler, which would report their deaths as failures)."""
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    for child in multiprocessing.active_children():
        if child.daemon:
            child.kill()
