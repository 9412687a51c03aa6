"""Shared test helpers: tiny options and a tiny generated unaligned_seg data set."""
from __future__ import annotations

import os

import numpy as np
import pytest
import torch
from PIL import Image

from util.log import logger

FIXTURE = os.path.join(os.path.dirname(__file__), "fixtures", "parity")

# flags for networks small enough to train in seconds on a CPU
TINY = ["--loadSizeH", "36", "--loadSizeW", "28", "--fineSizeH", "32", "--fineSizeW", "24", "--ngf", "4", "--ndf", "4",
        "--n_blocks", "1", "--gpu_ids", "-1", "--num_threads", "0"]
TINY_TRAIN = TINY + ["--display_id", "0", "--niter", "1", "--niter_decay", "1"]


def write_shapes(root: str, phase: str, domain: str, counts: list[int], size: tuple[int, int] = (28, 36),
                 seed: int = 0) -> None:
    """Images with `counts[i]` coloured rectangles each, and one 0/255 mask per rectangle."""
    rng = np.random.default_rng(seed)
    w, h = size
    os.makedirs(os.path.join(root, phase + domain), exist_ok=True)
    os.makedirs(os.path.join(root, phase + domain + "_seg"), exist_ok=True)
    for i, n in enumerate(counts):
        img = rng.integers(60, 120, (h, w, 3), dtype=np.uint8)
        for k in range(n):
            mask = np.zeros((h, w), np.uint8)
            y, x = rng.integers(0, h - 8), rng.integers(0, w - 8)
            mask[y:y + rng.integers(4, 9), x:x + rng.integers(4, 9)] = 255
            img[mask > 0] = rng.integers(0, 256, 3, dtype=np.uint8)
            Image.fromarray(mask).save(os.path.join(root, phase + domain + "_seg", f"{i:04d}_{k}.png"))
        Image.fromarray(img).save(os.path.join(root, phase + domain, f"{i:04d}.png"))


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny networks gain nothing from several threads, and lose much when the machine is busy."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def tiny_data(tmp_path) -> str:
    """train and test splits; one A image has no instance at all, one B image has five."""
    root = str(tmp_path / "data")
    for phase in ("train", "test"):
        write_shapes(root, phase, "A", [1, 3, 0], seed=1)
        write_shapes(root, phase, "B", [2, 5], seed=2)
    return root


@pytest.fixture
def log_records():
    """Records logged by the project's logger during the test."""
    import logging

    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record):
            records.append(record)

    handler = Keep()
    level = logger.level
    logger.setLevel(logging.INFO)   # outside an entry point the logger sits at WARNING
    logger.addHandler(handler)
    yield records
    logger.removeHandler(handler)
    logger.setLevel(level)


def seeded(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@pytest.fixture
def tiny_checkpoints(tiny_data, tmp_path) -> str:
    """A checkpoints dir holding `tiny/latest_net_G_{A,B}.pth` of freshly initialised tiny generators."""
    from models import create_model, run_state
    from options.test_options import TestOptions

    ck = str(tmp_path / "tiny_ck")
    opt = TestOptions().parse(["--dataroot", tiny_data, "--name", "tiny", "--checkpoints_dir", ck, *TINY])
    run_state.save_networks(create_model(opt), "latest")
    return ck
