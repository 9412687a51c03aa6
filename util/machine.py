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


def native_cpu_bf16() -> bool:
    """Whether this CPU computes bfloat16 in hardware (AVX512-BF16 or AMX on x86, BF16/SVE-BF16 on ARM); elsewhere
    --amp's bf16 is emulated, slower than fp32 (half the speed on a 2-core Xeon without AVX512-BF16:
    docs/benchmark_cpu.md)."""
    capabilities = torch.cpu.get_capabilities()
    return any(capabilities.get(name) for name in ("avx512_bf16", "amx_bf16", "bf16", "sve_bf16"))
