"""Training with several processes (util/distributed.py) on the CPU with gloo: train.py under torchrun, and
one step of N processes with b samples each against one process with N*b samples."""
from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from contextlib import nullcontext
from unittest import mock

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

import train as train_script
from data import create_dataloader
from models import create_model
from models.run_state import cpu_state_dict, unwrap
from models.masks import nonempty
from options.train_options import TrainOptions
from tests.conftest import TINY, write_shapes
from tests.models import test_bicycle_gan_model as bicycle
from util import distributed
from util.checkpoint import read_checkpoint
from util.errors import OptionError
from util.seed import seed_all

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NETS = ("G_A", "G_B", "D_A", "D_B")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def torchrun(args: list[str], nproc: int = 2) -> subprocess.CompletedProcess:
    env = dict(os.environ, OMP_NUM_THREADS="1")
    return subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", str(nproc),
                           "--master_port", str(free_port()), "train.py", *args],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=240)


def test_torchrun_trains_one_model_and_process_0_alone_writes(tiny_data, tmp_path):
    ck = str(tmp_path / "ck")
    flags = ["--dataroot", tiny_data, "--name", "tiny", "--checkpoints_dir", ck, "--seed", "1", *TINY,
             "--display_id", "0", "--niter", "1", "--niter_decay", "0", "--print_freq", "1"]
    proc = torchrun(flags)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stderr.count("2 processes: parameters identical across ranks") == 1, proc.stderr[-3000:]
    run = os.path.join(ck, "tiny")
    nets = [f"{label}_net_{n}.pth" for label in ("1", "latest") for n in NETS]
    assert sorted(os.listdir(run)) == sorted(nets + ["1_train_state.pth", "latest_train_state.pth", "opt.txt",
                                                     "loss_log.txt", "loss_history.jsonl", "web"])
    log = open(os.path.join(run, "loss_log.txt")).read().splitlines()
    assert sum(line.startswith("================ Training Loss") for line in log) == 1
    # three A images on two processes: two batches of one image each (the sampler repeats one), counted together
    assert [line.split(", time")[0] for line in log[1:]] == ["(epoch: 1, iters: 2", "(epoch: 1, iters: 4"]
    state = read_checkpoint(os.path.join(run, "latest_train_state.pth"))["run"]
    assert state["processes"] == 2 and state["loader"] is None
    assert (state["position"]["epoch"], state["position"]["total_steps"]) == (2, 4)


def test_torchrun_flag_mistake_is_named_once(tiny_data, tmp_path):
    """Every process parses the same flags; the first alone logs the mistake, and is the one torchrun reports
    (exit code 2): the others leave it time to."""
    proc = torchrun(["--dataroot", tiny_data, "--name", "bad", "--checkpoints_dir", str(tmp_path / "ck"), *TINY,
                     "--display_id", "0", "--ins_per", "0"])
    # torchrun's report: its root cause is process 0, which named the mistake, with exit code 2
    root_cause = proc.stderr[proc.stderr.find("Root Cause"):]
    assert proc.returncode != 0 and re.search(r"rank\s*:\s*0\b.*?exitcode\s*:\s*2\b", root_cause, re.S), \
        proc.stderr[-3000:]
    assert proc.stderr.count("--ins_per must be") == 1, proc.stderr[-3000:]
    assert not (tmp_path / "ck").exists()


def test_torchrun_time_limit_stops_every_process_and_resumes_mid_epoch(tiny_data, tmp_path):
    ck = str(tmp_path / "ck")
    flags = ["--dataroot", tiny_data, "--name", "tiny", "--checkpoints_dir", ck, "--seed", "1", *TINY,
             "--display_id", "0", "--niter", "1", "--niter_decay", "0"]
    proc = torchrun(flags + ["--time_limit", "1e-6"])
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "time limit of 1e-06 minutes reached at epoch 1, iteration 2" in proc.stderr
    position = read_checkpoint(os.path.join(ck, "tiny", "latest_train_state.pth"))["run"]["position"]
    assert (position["epoch"], position["batches_done"], position["total_steps"]) == (1, 1, 2)

    proc = torchrun(flags + ["--continue_train"])
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "continuing at epoch 1 after 1 batches of it, 2 samples in all" in proc.stderr
    position = read_checkpoint(os.path.join(ck, "tiny", "latest_train_state.pth"))["run"]["position"]
    assert (position["epoch"], position["total_steps"]) == (2, 4)


# -- one step of 2 processes (1 sample each) against one process (both samples) -------------------------------------
def exact_flags(data: str, ck: str, model: str) -> list[str]:
    flags = ["--dataroot", data, "--checkpoints_dir", ck, "--name", model, *TINY, "--display_id", "0",
             "--loadSizeH", "32", "--loadSizeW", "24", "--resize_or_crop", "resize", "--no_flip", "--serial_batches",
             "--pool_size", "0", "--seed", "5", "--model", model]
    return flags + (["--ins_max", "4", "--ins_per", "2"] if model == "insta_gan" else ["--netG", "basic"])


CASES = [("insta_gan", "adam"), ("insta_gan", "sgd"), ("cycle_gan", "sgd")]


def one_step(flags: list[str], initial: dict, optimizer: str, data: dict) -> dict[str, dict[str, torch.Tensor]]:
    """The networks after one optimize_parameters from `initial`, in float64 (the caller's default dtype).

    float64: Adam's first update is about lr * sign(gradient), and would blow float32's rounding noise in
    gradients that are 0 in exact arithmetic (conv biases before an instance norm) up to lr. SGD's update is
    proportional to the gradient, so a wrong weighting of the processes' losses shows in it.
    `data["noise"]`, if given, (samples, draws, ...): what the step's torch.randn calls return, draw after draw."""
    opt = TrainOptions().parse(flags)
    model = create_model(opt)
    model.setup()
    for name, net in model.networks().items():
        unwrap(net).load_state_dict(initial[name])
    if optimizer == "sgd":
        sgd = lambda adam: torch.optim.SGD(adam.param_groups[0]["params"], lr=1e-3)
        if isinstance(getattr(model, "optimizer", None), dict):     # BicycleGAN's, by network
            model.optimizer = {name: sgd(adam) for name, adam in model.optimizer.items()}
        else:
            model.optimizer_G, model.optimizer_D = sgd(model.optimizer_G), sgd(model.optimizer_D)
    data = dict(data)
    noise = data.pop("noise", None)
    model.set_input({k: v.double() if torch.is_tensor(v) else v for k, v in data.items()})
    with nullcontext() if noise is None else mock.patch("torch.randn", side_effect=list(noise.unbind(1))):
        model.optimize_parameters()
    return {name: cpu_state_dict(net) for name, net in model.networks().items()}


def part(data: dict, i: int) -> dict:
    """Process i's share of a batch for 2 processes: every second sample from i, as DistributedSampler deals."""
    return {k: v[i::2] for k, v in data.items()}


def two_process_steps(tmp_path, cases: list[tuple]) -> list[list[dict]]:
    """one_step of each (flags, initial, optimizer, data) case in 2 gloo processes, each on its part of data:
    [rank 0's networks per case, rank 1's]."""
    out = str(tmp_path / "result")
    mp.spawn(step_worker, args=(2, str(tmp_path / "store"), cases, out), nprocs=2)
    return [torch.load(f"{out}.{r}", weights_only=True) for r in range(2)]


def assert_same_steps(labels: list[str], expected: list[dict], ranks: list[list[dict]]) -> None:
    """Both processes hold one model, and it is the one process's within 1e-6."""
    for label, want, got0, got1 in zip(labels, expected, *ranks, strict=True):
        for name in want:
            for key, value in want[name].items():
                where = f"{label} {name}.{key}"
                assert torch.equal(got0[name][key], got1[name][key]), where   # one model on both processes
                torch.testing.assert_close(got0[name][key], value, atol=1e-6, rtol=0, msg=where)


def step_worker(rank: int, world: int, init_file: str, cases: list, out: str) -> None:
    torch.set_num_threads(1)
    torch.set_default_dtype(torch.float64)
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world)
    try:
        results = [one_step(flags, initial, optimizer, part(data, rank)) for flags, initial, optimizer, data in cases]
        torch.save(results, f"{out}.{rank}")
    finally:
        dist.destroy_process_group()


@pytest.fixture
def float64():
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(torch.float32)


def test_two_processes_take_the_step_of_one_process_with_both_samples(tmp_path, float64):
    root, ck = str(tmp_path / "data"), str(tmp_path / "ck")
    write_shapes(root, "train", "A", [1, 3], seed=1)   # process 0 has no A instance left in step 2
    write_shapes(root, "train", "B", [3, 0], seed=2)   # process 1 has no B instance at all
    cases, expected = [], []
    for model_name, optimizer in CASES:
        flags = exact_flags(root, ck, model_name)
        opt = TrainOptions().parse(flags)
        opt.batch_size = 2
        data = next(iter(create_dataloader(opt)))
        data = {k: v for k, v in data.items() if torch.is_tensor(v)} | {"A_paths": data["A_paths"]}
        if model_name == "insta_gan":
            assert nonempty(data["A_segs"]).sum(1).tolist() == [1, 3]
            assert nonempty(data["B_segs"]).sum(1).tolist() == [3, 0]
        seed_all(opt.seed)
        initial = {name: cpu_state_dict(net) for name, net in create_model(opt).networks().items()}
        expected.append(one_step(flags, initial, optimizer, data))
        cases.append((flags, initial, optimizer, data))
    assert_same_steps([" ".join(case) for case in CASES], expected, two_process_steps(tmp_path, cases))


def test_bicycle_gan_two_processes_with_2_samples_take_the_step_of_one_process_with_4(tmp_path, float64):
    """BicycleGAN splits each process's batch in halves: the first (A1, B1) feeds both branches, the second's B2 is
    D2's real image. Process r with samples [r, r + 2] (DistributedSampler's deal) takes r as its first half and
    r + 2 as its second, so 2 processes with 2 samples each use the halves of one process with [0, 1 | 2, 3], and
    take its step when the noise matches: E(B)'s eps and the random z of first-half sample r go to process r.
    No one-process batch matches processes with an odd number of samples each (the middle one serves in both of
    their halves, and a single sample is both). The KL and a single-scale D2's GAN losses are sums over the
    images, not means (the authors'): counted over every process's images, they weigh in the step as in one
    process. --lambda_kl 1: at the default 0.01 the KL's share of an SGD step is below the tolerance."""
    flags = [*bicycle.TINY, "--dataroot", str(tmp_path), "--checkpoints_dir", str(tmp_path / "ck"), "--display_id",
             "0", "--seed", "5", "--lambda_kl", "1"]
    opt = TrainOptions().parse(flags)
    assert opt.netD2 == "basic_128" and opt.netD == "basic_128_multi"     # D2 one map (a sum), D a list (means)
    seed_all(opt.seed)
    initial = {name: cpu_state_dict(net) for name, net in create_model(opt).networks().items()}
    data = bicycle.batch(4) | {"noise": torch.randn(2, 2, opt.nz)}      # first-half samples x (eps, z)
    expected = one_step(flags, initial, "sgd", data)
    assert_same_steps(["bicycle_gan sgd"], [expected], two_process_steps(tmp_path, [(flags, initial, "sgd", data)]))


# -- single process: every helper is the identity ----------------------------------------------------------------------
def test_helpers_do_nothing_in_one_process():
    net = torch.nn.Linear(2, 1)
    net(torch.ones(1, 2)).sum().backward()
    grad = net.weight.grad.clone()
    t = torch.tensor([1.0, 2.0])
    assert distributed.all_reduce_sum(t) is t
    assert distributed.any_rank(True) and not distributed.any_rank(False)
    assert (distributed.rank(), distributed.world_size(), distributed.is_main()) == (0, 1, True)
    distributed.sync_gradients(net.parameters(), scale=0.5)
    distributed.broadcast_state([net])
    assert torch.equal(net.weight.grad, grad) and distributed.max_divergence([net]) == 0.0


def test_several_gpu_ids_under_torchrun_are_refused_as_the_flags_are_read(tmp_path, monkeypatch):
    """Refused on any machine: without CUDA, --gpu_ids would otherwise become the CPU before the check."""
    monkeypatch.setenv("WORLD_SIZE", "2")
    with pytest.raises(OptionError, match=r"^--gpu_ids 0,1 with torchrun: each process uses one GPU"):
        TrainOptions().parse(["--dataroot", str(tmp_path), "--gpu_ids", "0,1"])
    distributed.check_gpu_ids([0, 1], world=1)                                          # DataParallel
    distributed.check_gpu_ids([0], world=2)


def test_device_ids_one_gpu_per_process():
    assert distributed.device_ids([], world=2, local_rank=1, visible=0) == []
    assert distributed.device_ids([0], world=2, local_rank=1, visible=2) == [1]
    assert distributed.device_ids([0, 1], world=1, local_rank=0, visible=2) == [0, 1]   # DataParallel
    with pytest.raises(OptionError, match="needs GPU 2 but only 2 are visible"):
        distributed.device_ids([0], world=3, local_rank=2, visible=2)


def test_main_without_torchrun_is_one_process(tiny_data, tmp_path, monkeypatch):
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    ck = str(tmp_path / "ck")
    assert train_script.main(["--dataroot", tiny_data, "--checkpoints_dir", ck, "--name", "one", *TINY,
                              "--display_id", "0", "--niter", "1", "--niter_decay", "0", "--seed", "1"]) == 0
    state = read_checkpoint(os.path.join(ck, "one", "latest_train_state.pth"))["run"]
    assert state["processes"] == 1 and state["loader"] is not None


pairs = bicycle.pairs       # the fixture: five aligned 64x64 pairs


def test_torchrun_trains_bicycle_gan_to_one_model(pairs, tmp_path):
    """train.py's loop: five aligned pairs dealt to 2 processes (3 each, one repeated), each in one odd batch of 3."""
    ck = str(tmp_path / "ck")
    proc = torchrun(["--dataroot", pairs, "--name", "t", "--checkpoints_dir", ck, *bicycle.TINY, "--display_id", "0",
                     "--niter", "1", "--niter_decay", "0", "--seed", "1", "--batch_size", "3"])
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stderr.count("2 processes: parameters identical across ranks") == 1, proc.stderr[-3000:]
    state = read_checkpoint(os.path.join(ck, "t", "latest_train_state.pth"))["run"]
    assert state["processes"] == 2 and state["position"]["total_steps"] == 6


@pytest.mark.parametrize("model", ["munit", "unit"])
def test_torchrun_trains_munit_and_unit_to_max_iter(tmp_path, model):
    """Their --max_iter counts each process's iterations; the processes end with one model."""
    fixture = os.path.join(ROOT, "tests", "fixtures", model)
    ck = str(tmp_path / "ck")
    proc = torchrun(["--model", model, "--config", os.path.join(fixture, f"{model}_tiny.yaml"), "--dataroot",
                     os.path.join(ROOT, "tests", "fixtures", "munit", "data"), "--name", "t", "--checkpoints_dir", ck,
                     "--max_iter", "3", "--batch_size", "2", "--gpu_ids", "-1", "--display_id", "0",
                     "--num_threads", "0", "--seed", "1"])
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stderr.count("2 processes: parameters identical across ranks") == 1, proc.stderr[-3000:]
    state = read_checkpoint(os.path.join(ck, "t", "latest_train_state.pth"))
    assert [s["last_epoch"] for s in state["model"]["schedulers"]] == [3, 3]
    assert state["run"]["position"]["total_steps"] == 12          # 3 iterations of 2 processes x 2 images
