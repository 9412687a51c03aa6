import random

import numpy as np
import torch

from util.seed import seed_all, seed_worker


def _draw():
    return random.random(), np.random.rand(), torch.rand(3).tolist()


def test_seed_all_repeats_every_generator():
    seed_all(123)
    first = _draw()
    seed_all(123)
    assert _draw() == first
    seed_all(124)
    assert _draw() != first


def test_seed_worker_follows_torch_seed():
    torch.manual_seed(7)
    seed_worker(0)
    first = (random.random(), np.random.rand())
    torch.manual_seed(7)
    seed_worker(0)
    assert (random.random(), np.random.rand()) == first
    torch.manual_seed(8)
    seed_worker(0)
    assert (random.random(), np.random.rand()) != first
