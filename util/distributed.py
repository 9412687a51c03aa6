"""Data-parallel training with several processes (`python -m torch.distributed.run --nproc_per_node N train.py`).

Every process trains the same model on its share of the data; after each backward the gradients are summed
across processes by hand (`sync_gradients`) and every process takes the same optimiser step, so the networks
stay identical. Why not DistributedDataParallel: in InstaGAN's sequential step (models/sequential.py) the
number of *active* samples differs per process and per step (a process may have none, and then runs no
forward), and the generators run several times before one backward (translation, cycle, identity); DDP's
reducer supports neither without a static graph. Plain modules and explicit collectives that every process
calls in the same order do.

Every helper is the identity (or a no-op) in a single process, so the one-process path is unchanged and
costs nothing. The collectives run on the CPU with gloo, and on each process's own GPU with nccl.
"""
from __future__ import annotations

import argparse
import logging
import os
from typing import Iterable

import torch
import torch.distributed as dist
import torch.nn as nn

from util.errors import OptionError
from util.log import logger


def env_world_size() -> int:
    """The number of processes torchrun started (its WORLD_SIZE), 1 without it."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def check_gpu_ids(gpu_ids: list[int], world: int) -> None:
    """Several --gpu_ids would mix DataParallel into every one of `world` processes, which this does not support:
    an OptionError says so, as the flags are read (on any machine, before one without CUDA runs on the CPU)."""
    if world > 1 and len(gpu_ids) > 1:
        raise OptionError(f"--gpu_ids {','.join(map(str, gpu_ids))} with torchrun: each process uses one GPU "
                          f"(its LOCAL_RANK); pass --gpu_ids 0 and --nproc_per_node N, or run one process "
                          f"for DataParallel")


def device_ids(gpu_ids: list[int], world: int, local_rank: int, visible: int) -> list[int]:
    """The GPU ids of one process of `world` (one --gpu_ids at most, `check_gpu_ids`): [] on the CPU, else its
    own GPU [local_rank]."""
    if world <= 1 or not gpu_ids:
        return gpu_ids
    if local_rank >= visible:
        raise OptionError(f"torchrun process {local_rank} needs GPU {local_rank} but only {visible} are visible: "
                          f"start at most {visible} processes per node")
    return [local_rank]


def init(opt: argparse.Namespace) -> None:
    """Join the process group that torchrun set up (WORLD_SIZE > 1); nothing otherwise.

    nccl when the processes use GPUs (each its own: opt.gpu_ids = [LOCAL_RANK]), gloo on the CPU. The seed is
    taken from process 0, because without --seed every process drew its own; processes other than 0 log
    warnings and errors only.
    """
    world = env_world_size()
    if world <= 1 or is_distributed():
        return
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    visible = torch.cuda.device_count() if opt.gpu_ids else 0
    opt.gpu_ids = device_ids(opt.gpu_ids, world, local_rank, visible)
    if opt.gpu_ids:
        torch.cuda.set_device(opt.gpu_ids[0])
        dist.init_process_group("nccl", device_id=torch.device("cuda", opt.gpu_ids[0]))
    else:
        dist.init_process_group("gloo")
    seed = torch.tensor([opt.seed], dtype=torch.int64, device=_device())
    dist.broadcast(seed, 0)
    opt.seed = int(seed.item())
    if not is_main():
        logger.setLevel(logging.WARNING)


def close(finished: bool) -> None:
    """Leave the process group (at exit), if one was joined. After a finished run every process first waits for
    the others: gloo aborts a process whose peer tore its connections down under it. Not after an error, where
    the peers may never arrive."""
    if is_distributed():
        if finished:
            dist.barrier()
        dist.destroy_process_group()


def is_distributed() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def rank() -> int:
    return dist.get_rank() if is_distributed() else 0


def world_size() -> int:
    return dist.get_world_size() if is_distributed() else 1


def is_main() -> bool:
    """Whether this process writes files and logs (process 0, or the only one)."""
    return rank() == 0


def _device() -> torch.device:
    """Where collectives run: the current GPU for nccl, the CPU for gloo."""
    if dist.get_backend() == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def all_reduce_sum(tensor: torch.Tensor) -> torch.Tensor:
    """The sum of `tensor` over all processes (a new tensor on `tensor`'s device); `tensor` itself alone."""
    if not is_distributed():
        return tensor
    buf = tensor.detach().to(_device(), copy=True)
    dist.all_reduce(buf)
    return buf.to(tensor.device)


def any_rank(flag: bool) -> bool:
    """Whether `flag` is true in any process: decisions that end training must be taken by all together."""
    if not is_distributed():
        return flag
    return bool(all_reduce_sum(torch.tensor([int(flag)])).item() > 0)


def sync_gradients(params: Iterable[nn.Parameter], scale: float = 1.0) -> None:
    """Sum the .grad of `params` over all processes (times `scale`), in one flat buffer.

    A missing gradient counts as zeros, and a parameter gets one wherever any process had one, so that every
    process takes the same optimiser step; one that no process has keeps None, as Adam then skips it in a
    single process too. The has-gradient flags travel at the end of the same buffer.
    """
    if not is_distributed():
        return
    params = list(params)
    if not params:
        return
    dtype = params[0].dtype
    if any(p.dtype != dtype for p in params):
        raise RuntimeError("sync_gradients needs parameters of one dtype")
    grads = [torch.zeros(p.numel(), dtype=dtype, device=p.device) if p.grad is None else p.grad.reshape(-1)
             for p in params]
    flags = torch.tensor([float(p.grad is not None) for p in params], dtype=dtype, device=params[0].device)
    flat = all_reduce_sum(torch.cat(grads + [flags]))
    if scale != 1.0:
        flat[: -len(params)] *= scale
    summed = flat[: -len(params)].split([p.numel() for p in params])
    for p, g, has in zip(params, summed, flat[-len(params):].tolist()):
        if p.grad is not None:
            p.grad.copy_(g.view_as(p.grad))
        elif has > 0:
            p.grad = torch.empty_like(p).copy_(g.view_as(p))   # in p's memory format


def _broadcast(tensors: list[torch.Tensor], src: int) -> None:
    """Overwrite `tensors` with process `src`'s values: one flat broadcast per dtype."""
    by_dtype: dict[torch.dtype, list[torch.Tensor]] = {}
    for t in tensors:
        by_dtype.setdefault(t.dtype, []).append(t)
    for group in by_dtype.values():
        flat = torch.cat([t.detach().reshape(-1).to(_device()) for t in group])
        dist.broadcast(flat, src)
        with torch.no_grad():
            for t, value in zip(group, flat.split([t.numel() for t in group])):
                t.copy_(value.view_as(t))


def broadcast_state(nets: Iterable[nn.Module], src: int = 0, params: bool = True) -> None:
    """Give every process the parameters (with `params`) and buffers of `nets` as process `src` has them.

    At the start, so that all processes start from the same weights; after steps, for buffers that a forward
    updates (spectral norm's power-iteration vectors, batch norm's running statistics), which drift apart
    where processes ran different forwards.
    """
    if not is_distributed():
        return
    tensors = [t for net in nets for t in (list(net.parameters()) if params else []) + list(net.buffers())]
    if tensors:
        _broadcast(tensors, src)


def max_divergence(nets: Iterable[nn.Module]) -> float:
    """The largest |x - x on process 0| over every parameter and buffer of `nets` and all processes (0.0 in a
    single process): a check, at the end of training, that the processes trained one model."""
    if not is_distributed():
        return 0.0
    tensors = [t.detach().reshape(-1).double() for net in nets for t in list(net.parameters()) + list(net.buffers())]
    mine = torch.cat(tensors).to(_device())
    ref = mine.clone()
    dist.broadcast(ref, 0)
    diff = (mine - ref).abs().max().reshape(1)
    dist.all_reduce(diff, op=dist.ReduceOp.MAX)
    return float(diff.item())
