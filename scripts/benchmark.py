"""Time InstaGAN training (or inference) iterations over a grid of configurations.

    python scripts/benchmark.py [--device cpu,cuda --size 64 --batch_size 1,4 --precision fp32,bf16
                                 --channels_last off,on --compile off,on --iters 10 --out ./results/benchmark ...]

Every combination of the comma-separated grid flags is one configuration. Each runs in a fresh subprocess of
this script, so that its peak memory is its own and a failure (out of memory, a compiler error) becomes a row
with the error instead of ending the grid. The model is built as train.py builds it (test.py's options with
--mode test, with random weights: no checkpoint is read) and fed one synthetic batch in which every mask slot
holds an instance, so that every sequential step runs. An iteration is what train.py times per batch:
`model.set_input(batch)` and `optimize_parameters()` under the model's autocast (`model.test()` with --mode test).

OUT/benchmark.md holds the command, the machine and the table (also printed), OUT/benchmark.csv every column.
"""
from __future__ import annotations

import argparse
import csv
import datetime
import itertools
import json
import os
import resource
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Callable, Sequence

if __package__ in (None, ""):  # run as `python scripts/X.py`: import from the repo root, not scripts/
    sys.path[0] = str(Path(__file__).resolve().parents[1])

import numpy as np
import torch
from tqdm import tqdm
from tqdm.contrib.logging import logging_redirect_tqdm

from util.cli import run_cli
from util.errors import OptionError
from util.log import logger
from util.machine import describe

SCRIPT = str(Path(__file__).resolve())
# dense peak TFLOP/s by the arithmetic the convolutions run in; matched against torch.cuda.get_device_name
PEAK_TFLOPS = {"H100": {"bf16": 989.0, "tf32": 495.0, "fp32": 67.0},
               "H200": {"bf16": 989.0, "tf32": 495.0, "fp32": 67.0}}
CHOICES = {"device": ("cpu", "cuda"), "precision": ("fp32", "bf16"), "channels_last": ("off", "on"),
           "compile": ("off", "on")}
COLUMNS = ["mode", "device", "size", "batch_size", "ngf", "ndf", "n_blocks", "ins_max", "ins_per", "precision",
           "channels_last", "compile", "threads", "device_name", "first_iter_s", "warmup_s", "median_s", "iqr_s",
           "images_per_s", "mem_before_mib", "peak_mem_mib", "flops", "gflop_per_iter", "tflops", "math",
           "peak_tflops", "pct_of_peak", "times_s", "error"]


@dataclass(frozen=True)
class Config:
    """One configuration: what a worker needs to build, feed and time the model."""
    mode: str
    device: str
    size: int
    batch_size: int
    ngf: int
    ndf: int
    n_blocks: int
    ins_max: int
    ins_per: int
    precision: str
    channels_last: bool
    compile: bool
    threads: int | None
    warmup: int
    iters: int


# -- flags -------------------------------------------------------------------------------------------------------
def int_list(name: str, text: str, minimum: int) -> list[int]:
    try:
        values = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise OptionError(f"--{name} {text}: expected comma-separated integers") from None
    if not values or min(values) < minimum:
        raise OptionError(f"--{name} {text}: expected comma-separated integers >= {minimum}")
    return list(dict.fromkeys(values))   # a value given twice is run once


def choice_list(name: str, text: str) -> list[str]:
    values = [x.strip() for x in text.split(",") if x.strip()]
    if not values or not set(values) <= set(CHOICES[name]):
        raise OptionError(f"--{name} {text}: choose among {', '.join(CHOICES[name])}")
    return list(dict.fromkeys(values))


class _Parser(argparse.ArgumentParser):
    """Argument errors as `OptionError`s: one line and exit code 2 through run_cli, no usage dump."""

    def error(self, message: str):  # type: ignore[override]
        raise OptionError(message)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = _Parser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--mode", default="train", choices=["train", "test"],
                   help="time training iterations (optimize_parameters) or inference (model.test)")
    p.add_argument("--device", default="cpu", help="comma list of cpu, cuda")
    p.add_argument("--size", default="64", help="comma list of image sizes (square)")
    p.add_argument("--ngf", default="16", help="comma list of generator widths")
    p.add_argument("--ndf", default="", help="comma list of discriminator widths (default: the row's --ngf)")
    p.add_argument("--n_blocks", default="9", help="comma list of residual block counts")
    p.add_argument("--batch_size", default="1", help="comma list of batch sizes")
    p.add_argument("--ins_max", default="4", help="comma list of instances per image (every slot is filled)")
    p.add_argument("--ins_per", default="2", help="comma list of instances per sequential step")
    p.add_argument("--precision", default="fp32", help="comma list of fp32, bf16 (bf16: --amp autocast)")
    p.add_argument("--channels_last", default="off", help="comma list of off, on")
    p.add_argument("--compile", default="off", help="comma list of off, on (torch.compile of every network)")
    p.add_argument("--iters", type=int, default=10, help="timed iterations per configuration")
    p.add_argument("--warmup", type=int, default=3, help="untimed iterations before them (compilation, caches)")
    p.add_argument("--threads", type=int, default=None, help="torch.set_num_threads in every worker")
    p.add_argument("--peak_tflops", type=float, default=None,
                   help="peak TFLOP/s for the %% of peak column (default: built-in H100/H200 figures on CUDA)")
    p.add_argument("--timeout", type=float, default=1800, help="seconds one configuration may take")
    p.add_argument("--out", default="./results/benchmark", help="benchmark.md and benchmark.csv go here")
    p.add_argument("--worker", default=None, help=argparse.SUPPRESS)  # one configuration as JSON: run it
    args = p.parse_args(argv)
    if args.worker is not None:
        return args
    for name, minimum in (("iters", 1), ("warmup", 0), ("threads", 1)):
        value = getattr(args, name)
        if value is not None and value < minimum:
            raise OptionError(f"--{name} must be >= {minimum}, got {value}")
    if args.peak_tflops is not None and not args.peak_tflops > 0:
        raise OptionError(f"--peak_tflops must be > 0, got {args.peak_tflops:g}")
    if not args.timeout > 0:
        raise OptionError(f"--timeout must be > 0, got {args.timeout:g}")
    return args


def grid(args: argparse.Namespace) -> list[Config]:
    """Every combination of the grid flags, in the order of the flags (the last one varies fastest)."""
    axes = [choice_list("device", args.device), int_list("size", args.size, 1),
            int_list("batch_size", args.batch_size, 1), int_list("ngf", args.ngf, 1),
            int_list("ndf", args.ndf, 1) if args.ndf.strip() else [0], int_list("n_blocks", args.n_blocks, 0),
            int_list("ins_max", args.ins_max, 1), int_list("ins_per", args.ins_per, 1),
            choice_list("precision", args.precision), choice_list("channels_last", args.channels_last),
            choice_list("compile", args.compile)]
    return [Config(args.mode, dev, size, batch, ngf, ndf or ngf, blocks, ins_max, ins_per, precision, cl == "on",
                   comp == "on", args.threads, args.warmup, args.iters)
            for dev, size, batch, ngf, ndf, blocks, ins_max, ins_per, precision, cl, comp in itertools.product(*axes)]


def model_argv(c: Config, root: str) -> list[str]:
    """train.py / test.py flags of a configuration; `root` stands in for the data set and checkpoints (the
    options only name --dataroot, the data set class would read it; setup() clears leftovers in checkpoints)."""
    s = str(c.size)
    argv = ["--dataroot", root, "--checkpoints_dir", root, "--name", "benchmark", "--model", "insta_gan",
            "--gpu_ids", "0" if c.device == "cuda" else "-1", "--batch_size", str(c.batch_size),
            "--loadSizeH", s, "--loadSizeW", s, "--fineSizeH", s, "--fineSizeW", s, "--ngf", str(c.ngf),
            "--ndf", str(c.ndf), "--n_blocks", str(c.n_blocks), "--ins_max", str(c.ins_max),
            "--ins_per", str(c.ins_per), "--num_threads", "0", "--seed", "0"]
    argv += ["--amp"] * (c.precision == "bf16") + ["--channels_last"] * c.channels_last + ["--compile"] * c.compile
    return argv + ["--display_id", "0"] * (c.mode == "train")


def options_class(mode: str):
    from options.test_options import TestOptions
    from options.train_options import TrainOptions

    return TrainOptions if mode == "train" else TestOptions


# -- worker: one configuration in its own process ----------------------------------------------------------------
def synthetic_batch(batch: int, ins_max: int, size: int, seed: int = 0) -> dict:
    """Random images and `ins_max` instances per image, each a random rectangle or ellipse (+1 on -1): no slot is
    empty, so every sequential step is active for every sample."""
    g = torch.Generator().manual_seed(seed)
    yy, xx = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    data: dict = {}
    for domain in "AB":
        data[domain] = torch.rand(batch, 3, size, size, generator=g) * 2 - 1
        segs = torch.full((batch, ins_max, size, size), -1.0)
        for i, k in itertools.product(range(batch), range(ins_max)):
            h, w = torch.randint(max(size // 8, 2), max(size // 2, 3), (2,), generator=g).tolist()
            y = int(torch.randint(0, size - h + 1, (1,), generator=g))
            x = int(torch.randint(0, size - w + 1, (1,), generator=g))
            if torch.rand(1, generator=g).item() < 0.5:
                inside = (yy >= y) & (yy < y + h) & (xx >= x) & (xx < x + w)
            else:
                inside = ((yy - y - (h - 1) / 2) / (h / 2)) ** 2 + ((xx - x - (w - 1) / 2) / (w / 2)) ** 2 <= 1
            segs[i, k][inside] = 1.0
        data[domain + "_segs"] = segs
        data[domain + "_paths"] = [f"synthetic_{domain}_{i}.png" for i in range(batch)]
    return data


def current_rss_mib() -> float:
    """Resident set size now (Linux /proc; else the peak so far)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:
        return peak_rss_mib()


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def count_flops(model, iteration: Callable[[], None]) -> int:
    """FLOPs of one iteration, counted on the eager networks: the counter does not see into compiled graphs,
    and compilation does not change the arithmetic."""
    from torch.utils.flop_counter import FlopCounterMode

    nets = model.networks()
    # compiled parts of a set network (base_model.compile_network) hold their compiled forward on the instance
    parts = [getattr(net, name) for net in nets.values() for name in getattr(net, "compile_parts", ())]
    compiled = [part.__dict__.pop("forward", None) for part in parts]
    for name, net in nets.items():
        setattr(model, "net" + name, getattr(net, "_orig_mod", net))
    try:
        with FlopCounterMode(display=False) as counter:
            iteration()
    finally:
        for name, net in nets.items():
            setattr(model, "net" + name, net)
        for part, forward in zip(parts, compiled):
            if forward is not None:
                part.forward = forward
    return int(counter.get_total_flops())


def measure(c: Config) -> dict:
    """Build the model, time warm-up + timed iterations, read the peak memory, then count the FLOPs."""
    from models import create_model
    from util.seed import seed_all

    if c.threads:
        torch.set_num_threads(c.threads)
    if c.device == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("CUDA is not available")   # the options would fall back to the CPU
    with tempfile.TemporaryDirectory(prefix="benchmark-") as root:
        opt = options_class(c.mode)().parse(model_argv(c, root))
        seed_all(opt.seed)
        model = create_model(opt)
        if c.mode == "train":
            model.setup()   # schedulers, as train.py; for test, setup() would load a checkpoint: random weights instead
        batch = synthetic_batch(c.batch_size, c.ins_max, c.size)
        cuda = model.device.type == "cuda"

        def iteration() -> None:
            model.set_input(batch)
            if c.mode == "train":
                with model.autocast():
                    model.optimize_parameters()
            else:
                model.test()

        def timed() -> float:
            if cuda:
                torch.cuda.synchronize(model.device)
            start = time.perf_counter()
            iteration()
            if cuda:
                torch.cuda.synchronize(model.device)
            return time.perf_counter() - start

        mem_before = torch.cuda.memory_allocated(model.device) / 2**20 if cuda else current_rss_mib()
        times = [timed() for _ in range(c.warmup + c.iters)]
        peak = torch.cuda.max_memory_allocated(model.device) / 2**20 if cuda else peak_rss_mib()
        flops = count_flops(model, iteration)
    timed_times = times[c.warmup:]
    median = statistics.median(timed_times)
    q1, q3 = np.percentile(timed_times, [25, 75])
    tf32 = cuda and torch.backends.cudnn.allow_tf32   # fp32 convolutions then run on the TF32 tensor cores
    return {"threads": torch.get_num_threads(), "device_name": torch.cuda.get_device_name(model.device) if cuda else "",
            "math": "bf16" if c.precision == "bf16" else "tf32" if tf32 else "fp32",
            "first_iter_s": times[0], "warmup_s": sum(times[:c.warmup]), "median_s": median, "iqr_s": q3 - q1,
            "images_per_s": c.batch_size / median, "mem_before_mib": mem_before, "peak_mem_mib": peak,
            "flops": flops, "times_s": " ".join(f"{t:.4f}" for t in timed_times)}


def worker(config_json: str) -> int:
    """Run one configuration and print its result (or its error) as one JSON line on stdout."""
    c = Config(**json.loads(config_json))
    try:
        result = measure(c)
    except Exception as e:   # any failure (out of memory, compiler) is this configuration's result
        logger.exception("configuration failed")
        first = (str(e).strip().splitlines() or [""])[0]
        result = {"error": f"{type(e).__name__}: {first}"[:300]}
    print(json.dumps(result), flush=True)
    return 0


# -- parent: the grid, the report --------------------------------------------------------------------------------
def run_config(c: Config, timeout: float) -> dict:
    """Run one configuration in a fresh process; a crash or timeout gives a row with the error."""
    cmd = [sys.executable, SCRIPT, "--worker", json.dumps(asdict(c))]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:g} s"}
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith("{"):
            try:
                return json.loads(line)
            except json.JSONDecodeError:
                pass
    last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
    killed = " (killed: out of memory?)" if proc.returncode == -9 else ""
    return {"error": f"worker exited with code {proc.returncode}{killed}: {last}"[:300]}


def peak_for(result: dict, given: float | None) -> float | None:
    """--peak_tflops, else the built-in figure of a known GPU for the arithmetic used; None on a CPU."""
    if given is not None:
        return given
    for key, table in PEAK_TFLOPS.items():
        if key in result.get("device_name", ""):
            return table[result["math"]]
    return None


def make_row(c: Config, result: dict, peak_given: float | None) -> dict:
    row = {f.name: getattr(c, f.name) for f in fields(Config) if f.name in COLUMNS}
    row.update(channels_last="on" if c.channels_last else "off", compile="on" if c.compile else "off")
    row.update({k: v for k, v in result.items() if k in COLUMNS})
    row["threads"] = result.get("threads", c.threads)
    if "flops" in result:
        tflops = result["flops"] / result["median_s"] / 1e12
        peak = peak_for(result, peak_given)
        row.update(gflop_per_iter=result["flops"] / 1e9, tflops=tflops, peak_tflops=peak,
                   pct_of_peak=None if peak is None else 100 * tflops / peak)
    return {name: row.get(name) for name in COLUMNS}


def cell(value, digits: int) -> str:
    return "" if value is None else f"{value:.{digits}f}"


def table(rows: list[dict]) -> str:
    header = ["device", "size", "batch", "ngf/ndf", "blocks", "ins_max/per", "precision", "channels_last",
              "compile", "first iteration s", "median s", "IQR s", "images/s", "memory before MiB", "peak memory MiB",
              "GFLOP/iter", "TFLOP/s", "% of peak", "error"]
    lines = ["| " + " | ".join(header) + " |", "|---" * len(header) + "|"]
    for r in rows:
        cells = [r["device"], str(r["size"]), str(r["batch_size"]), f"{r['ngf']}/{r['ndf']}", str(r["n_blocks"]),
                 f"{r['ins_max']}/{r['ins_per']}", r["precision"], r["channels_last"], r["compile"],
                 cell(r["first_iter_s"], 3), cell(r["median_s"], 4), cell(r["iqr_s"], 4), cell(r["images_per_s"], 2),
                 cell(r["mem_before_mib"], 0), cell(r["peak_mem_mib"], 0), cell(r["gflop_per_iter"], 2),
                 cell(r["tflops"], 4), cell(r["pct_of_peak"], 1), (r["error"] or "").replace("|", "/")]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def report(rows: list[dict], args: argparse.Namespace, command: str) -> str:
    what = "training iterations (set_input + optimize_parameters)" if args.mode == "train" else \
        "inference iterations (set_input + model.test)"
    lines = [f"# InstaGAN benchmark: {what}", "",
             f"- command: `{command}`",
             f"- date: {datetime.datetime.now().isoformat(sep=' ', timespec='seconds')}",
             f"- machine: {describe(args.threads, (r['device_name'] for r in rows if r.get('device_name')))}",
             f"- {args.iters} timed iterations after {args.warmup} warm-up iterations, one synthetic batch with "
             f"every instance slot filled, each configuration in its own process", "",
             table(rows),
             "Median and IQR (interquartile range) of the timed iterations; images/s = batch / median. First "
             "iteration: the first warm-up iteration (with --compile it includes compilation). Memory: on a CPU the "
             "process's resident set before the first iteration and its peak (the difference is what training "
             "needs); on CUDA allocated tensor memory. FLOPs: torch.utils.flop_counter over one more iteration; "
             "% of peak against --peak_tflops or the GPU's dense peak for the arithmetic used (fp32 convolutions "
             "run as TF32 when cuDNN allows it)."]
    return "\n".join(lines) + "\n"


def write_csv(rows: list[dict], path: Path) -> None:
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, COLUMNS)
        w.writeheader()
        w.writerows({k: "" if v is None else v for k, v in row.items()} for row in rows)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    if args.worker is not None:
        return worker(args.worker)
    configs = grid(args)
    if any(c.device == "cuda" for c in configs) and not torch.cuda.is_available():
        raise OptionError("--device cuda: CUDA is not available on this machine")
    with tempfile.TemporaryDirectory() as root:   # bad combinations (ins_per > ins_max, odd sizes) fail here
        for c in configs:
            options_class(c.mode)().parse(model_argv(c, root))
    command = shlex.join(["python", "scripts/benchmark.py", *argv])
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rows: list[dict] = []
    with logging_redirect_tqdm(loggers=[logger]):
        for c in tqdm(configs, desc="configurations", unit="config", disable=None):
            row = make_row(c, run_config(c, args.timeout), args.peak_tflops)
            if row["error"]:
                logger.warning("%s: %s", c, row["error"])
            rows.append(row)
            text = report(rows, args, command)   # rewritten after every configuration: a long grid shows progress
            (out / "benchmark.md").write_text(text)
            write_csv(rows, out / "benchmark.csv")
    sys.stdout.write(table(rows))
    logger.info("wrote %s and %s", out / "benchmark.md", out / "benchmark.csv")
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
