"""Seeding of every random generator the project draws from (python, numpy, torch)."""
import random

import numpy as np
import torch


def seed_all(seed: int) -> None:
    """Seed python's `random`, numpy and torch (CPU and every accelerator) so a run can be repeated."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)  # also seeds all CUDA devices


def seed_worker(worker_id: int) -> None:
    """DataLoader `worker_init_fn`: derive python/numpy seeds from the worker's torch seed.

    torch seeds each worker differently but leaves `random` and numpy alone, so without this every
    worker (and every epoch under fork) would repeat the same augmentations.
    """
    seed = torch.initial_seed() % 2**32
    np.random.seed(seed)
    random.seed(seed)
