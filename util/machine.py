"""One line describing the machine a benchmark ran on, for its report."""
from __future__ import annotations

import os
from typing import Iterable

import torch


def describe(threads: int | None = None, gpus: Iterable[str] = ()) -> str:
    """CPU model, logical cores, torch version and threads, and the GPUs used (if any)."""
    cpu = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), cpu)
    except OSError:
        pass
    threads = threads or torch.get_num_threads()
    text = f"{cpu}, {os.cpu_count()} logical cores; torch {torch.__version__}, {threads} threads"
    gpus = sorted(set(gpus))
    return text + (f"; GPU {', '.join(gpus)}" if gpus else "")
