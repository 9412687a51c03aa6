"""Seeding of every random generator the project draws from (python, numpy, torch).

DataLoader workers need nothing more: torch seeds python, numpy and torch in each worker from its own seed.
"""
import random

import numpy as np
import torch


def seed_all(seed: int) -> None:
    """Seed python's `random`, numpy and torch (CPU and every accelerator) so a run can be repeated."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)  # also seeds all CUDA devices

