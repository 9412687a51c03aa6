"""BaseModel: what every model shares -- device, networks, optimisers, schedules, checkpoints, visuals, losses.

A subclass declares `loss_names`, `visual_names` and `net_names` (networks `self.net<name>`, checkpoint files
`{epoch}_net_{name}.pth`), builds its networks, optimisers and image pools in `__init__`, and implements
`set_input`, `forward` (inference, used by `test`) and `optimize_parameters`.

A training checkpoint is the reference's network files plus one `{epoch}_train_state.pth` (optimisers,
schedules, image pools and whatever the caller adds: position, random states). See `save_checkpoint`.
"""
from __future__ import annotations

import argparse
import copy
import os
from collections import OrderedDict

import torch
import torch.nn as nn

from util import distributed
from util.checkpoint import atomic_save, commit, read_checkpoint, remove_leftovers, write_temporary
from util.errors import UserError
from util.image_pool import ImagePool
from util.log import logger
from .networks.spectral_norm import convert_torch_state_dict
from .schedulers import get_scheduler


def load_label(opt: argparse.Namespace) -> str:
    """The checkpoint to load: `iter_N` with --load_iter N > 0, else --epoch."""
    return f"iter_{opt.load_iter}" if opt.load_iter > 0 else opt.epoch


def unwrap(net: nn.Module) -> nn.Module:
    """The network inside a torch.compile and a DataParallel wrapper."""
    net = getattr(net, "_orig_mod", net)
    return net.module if isinstance(net, nn.DataParallel) else net


class BaseModel:
    loss_names: list[str] = []
    visual_names: list[str] = []
    net_names: list[str] = []

    @staticmethod
    def modify_commandline_options(parser: argparse.ArgumentParser, is_train: bool) -> argparse.ArgumentParser:
        return parser

    @staticmethod
    def validate_options(opt: argparse.Namespace) -> None:
        """Raise OptionError for values this model cannot run with."""

    def __init__(self, opt: argparse.Namespace):
        self.opt = opt
        self.isTrain = opt.isTrain
        self.device = torch.device(f"cuda:{opt.gpu_ids[0]}") if opt.gpu_ids else torch.device("cpu")
        torch.backends.cudnn.benchmark = bool(opt.gpu_ids)  # fastest kernels per input shape (few shapes recur)
        self.save_dir = os.path.join(opt.checkpoints_dir, opt.name)
        self.optimizers: list[torch.optim.Optimizer] = []
        self.losses: dict[str, float] = {}

    # -- networks -----------------------------------------------------------------------------------------------
    def place(self, net: nn.Module) -> nn.Module:
        """Move a network to the device (--channels_last: in that memory format); several GPU ids wrap it in
        DataParallel; --compile compiles it (the state-dict keys stay those of the plain network)."""
        net = net.to(self.device, memory_format=torch.channels_last if self.opt.channels_last else None)
        if len(self.opt.gpu_ids) > 1:
            net = nn.DataParallel(net, self.opt.gpu_ids)
        if self.opt.compile:
            # one graph per input shape: the number of active instances varies, and dynamic shapes cost more
            # here than a few recompilations
            torch._dynamo.config.recompile_limit = max(torch._dynamo.config.recompile_limit, 64)
            net = torch.compile(net, dynamic=False)
        return net

    def make_optimizers(self, generators: list[nn.Module], discriminators: list[nn.Module]) -> None:
        """Adam for the generators (--lr) and for the discriminators (--lr_D), betas (--beta1, 0.999)."""
        betas = (self.opt.beta1, 0.999)
        self.optimizer_G = torch.optim.Adam([p for n in generators for p in n.parameters()], lr=self.opt.lr,
                                            betas=betas)
        self.optimizer_D = torch.optim.Adam([p for n in discriminators for p in n.parameters()], lr=self.opt.lr_D,
                                            betas=betas)
        self.optimizers = [self.optimizer_G, self.optimizer_D]

    def networks(self) -> dict[str, nn.Module]:
        return {name: getattr(self, "net" + name) for name in self.net_names}

    def setup(self) -> dict | None:
        """Schedulers for training; load checkpoints for testing or `--continue_train`.

        Returns the caller's part of the training state (`save_checkpoint`'s `run_state`) when one was
        resumed, else None."""
        resumed = None
        label = load_label(self.opt)
        if not self.isTrain:
            self.load_networks(label)
        else:
            # The lambda schedule counts its epochs from the --epoch_count of the run that started it; a resumed
            # run keeps that origin here while its own opt.epoch_count says where it starts.
            self.schedule_opt = copy.copy(self.opt)
            self.schedulers = [get_scheduler(o, self.schedule_opt) for o in self.optimizers]
            if os.path.isdir(self.save_dir) and distributed.is_main():   # the process that writes checkpoints
                remove_leftovers(self.save_dir)
            if self.opt.continue_train:
                resumed = self.resume(label)
        for name, net in self.networks().items():
            n = sum(p.numel() for p in net.parameters())
            logger.info("network %s: %.3f M parameters", name, n / 1e6)
            if self.opt.verbose:
                logger.debug("%s", net)
        return resumed

    def eval(self) -> None:
        for net in self.networks().values():
            net.eval()

    def train(self) -> None:
        for net in self.networks().values():
            net.train()

    # -- several processes (util/distributed.py; all no-ops in one process) ---------------------------------------
    def broadcast_networks(self) -> None:
        """Every process takes process 0's weights and buffers: they start as one model."""
        distributed.broadcast_state(self.networks().values())

    def sync_gradients(self, nets: list[nn.Module], mean: bool = False) -> None:
        """Sum the gradients of `nets` over the processes before an optimiser step (`mean`: divided by their
        number, for losses that are means over equal local batches)."""
        distributed.sync_gradients([p for net in nets for p in net.parameters()],
                                   1.0 / distributed.world_size() if mean else 1.0)

    @staticmethod
    def share_buffers(nets: list[nn.Module], src: int = 0) -> None:
        """Every process takes process `src`'s buffers of `nets` (spectral norm's vectors, batch norm's
        statistics), which forwards update and which differ where processes ran different forwards."""
        distributed.broadcast_state(nets, src, params=False)

    @staticmethod
    def set_requires_grad(nets: list[nn.Module], requires_grad: bool) -> None:
        for net in nets:
            for p in net.parameters():
                p.requires_grad_(requires_grad)

    # -- running ------------------------------------------------------------------------------------------------
    def set_input(self, data: dict) -> None:
        raise NotImplementedError

    def forward(self) -> None:
        raise NotImplementedError

    def optimize_parameters(self) -> None:
        raise NotImplementedError

    def autocast(self) -> torch.autocast:
        """bfloat16 autocast of the networks with --amp (no loss scaling needed: bf16 has fp32's range)."""
        return torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.opt.amp)

    def test(self) -> None:
        with torch.no_grad(), self.autocast():
            self.forward()

    def update_learning_rate(self, metric: float = 0.0) -> float:
        for s in self.schedulers:
            s.step(metric) if isinstance(s, torch.optim.lr_scheduler.ReduceLROnPlateau) else s.step()
        lr = self.optimizers[0].param_groups[0]["lr"]
        logger.info("learning rate = %.7f", lr)
        return lr

    def get_current_visuals(self) -> OrderedDict:
        return OrderedDict((name, getattr(self, name)) for name in self.visual_names)

    def get_current_losses(self) -> OrderedDict:
        return OrderedDict((name, float(self.losses.get(name, 0.0))) for name in self.loss_names)

    def get_image_paths(self) -> list[str]:
        return self.image_paths

    # -- checkpoints --------------------------------------------------------------------------------------------
    def checkpoint_path(self, epoch: str | int, name: str) -> str:
        return os.path.join(self.save_dir, f"{epoch}_net_{name}.pth")

    def state_path(self, epoch: str | int) -> str:
        return os.path.join(self.save_dir, f"{epoch}_train_state.pth")

    def pools(self) -> dict[str, ImagePool]:
        """Every `ImagePool` attribute: found rather than declared, so that no model can leave one out of the
        training state."""
        return {name: value for name, value in vars(self).items() if isinstance(value, ImagePool)}

    def save_networks(self, epoch: str | int) -> None:
        """Plain CPU state dicts without a `module.` prefix, as the reference writes them (weights only)."""
        os.makedirs(self.save_dir, exist_ok=True)
        for name, net in self.networks().items():
            atomic_save(cpu_state_dict(net), self.checkpoint_path(epoch, name))

    def save_checkpoint(self, epoch: str | int, run_state: dict) -> None:
        """Save the networks and `{epoch}_train_state.pth` (training state and `run_state`) as one set.

        Every file goes to a temporary file first; only when all are on disk are they renamed into place, the
        training state last. A kill while writing leaves the previous set whole. The state records the
        SHA-256 of each network file, so a kill within the renames (some network files new, the state old)
        is caught on resuming instead of silently mixing two checkpoints. With several processes only process
        0 writes (they hold the same weights).
        """
        if not distributed.is_main():
            return
        os.makedirs(self.save_dir, exist_ok=True)
        paths, digests = [], {}
        for name, net in self.networks().items():
            paths.append(self.checkpoint_path(epoch, name))
            digests[name] = write_temporary(cpu_state_dict(net), paths[-1])
        state = self.state_path(epoch)
        write_temporary({"nets": digests, "model": self.training_state(), "run": run_state}, state)
        commit(paths + [state])

    def load_networks(self, epoch: str | int, digests: dict[str, str] | None = None, saved_with: str = "") -> None:
        """Load every network of checkpoint `epoch`; `digests` (from a training state) must match the files."""
        for name, net in self.networks().items():
            path = self.checkpoint_path(epoch, name)
            if not os.path.isfile(path):
                if not self.isTrain and name.startswith("D"):
                    continue  # testing needs the generators only (the authors released only those)
                raise UserError(f"checkpoint not found: {path}")
            state = read_checkpoint(path, self.device, digests[name] if digests else None, saved_with)
            load_state(unwrap(net), state, path)
            logger.info("loaded %s", path)

    def resume(self, epoch: str | int) -> dict | None:
        """Load checkpoint `epoch` to go on training: the networks and, when it has one, the training state
        (returning its `run_state`). Reference checkpoints hold weights only."""
        state_path = self.state_path(epoch)
        if not os.path.isfile(state_path):
            if not os.path.isfile(self.checkpoint_path(epoch, self.net_names[0])):
                raise UserError(f"--continue_train: no checkpoint '{epoch}' in {self.save_dir} (no "
                                f"{os.path.basename(state_path)}): train without --continue_train, or pick a "
                                f"saved one with --epoch or --load_iter")
            self.load_networks(epoch)
            logger.warning("no %s (a reference checkpoint?): weights only; optimisers, learning-rate schedules, "
                           "image pools and random streams start fresh at epoch %d", state_path, self.opt.epoch_count)
            return None
        state = read_checkpoint(state_path, self.device)
        if not isinstance(state, dict) or not {"nets", "model", "run"} <= state.keys():
            raise UserError(f"{state_path} is not a training state written by this program")
        self.load_networks(epoch, state["nets"], state_path)
        self.load_training_state(state["model"], state_path)
        logger.info("resumed the training state %s", state_path)
        return state["run"]

    def training_state(self) -> dict:
        """Optimisers, schedules and image pools: what training needs besides the weights to go on exactly."""
        return {"optimizers": [o.state_dict() for o in self.optimizers],
                "schedulers": [s.state_dict() for s in self.schedulers],
                "pools": {name: pool.state_dict() for name, pool in self.pools().items()},
                "lr_policy": self.opt.lr_policy,
                "schedule_origin": self.schedule_opt.epoch_count}

    def load_training_state(self, state: dict, path: str) -> None:
        asked = self._optimizer_settings()
        try:
            if state["lr_policy"] != self.opt.lr_policy:
                raise UserError(f"{path} was saved with --lr_policy {state['lr_policy']}, not {self.opt.lr_policy}")
            if len(state["optimizers"]) != len(self.optimizers) or state["pools"].keys() != self.pools().keys():
                raise ValueError("other optimisers or image pools")
            for optimizer, saved in zip(self.optimizers, state["optimizers"]):
                optimizer.load_state_dict(saved)
            for scheduler, saved in zip(self.schedulers, state["schedulers"]):
                scheduler.load_state_dict(saved)
            for name, pool in self.pools().items():
                pool.load_state_dict(state["pools"][name])
            self.schedule_opt.epoch_count = state["schedule_origin"]
        except KeyError as e:
            raise UserError(f"training state {path} lacks the entry {e}: it was not written by this program, or "
                            f"was damaged (delete it to resume the weights only)") from None
        except (ValueError, TypeError) as e:
            raise UserError(f"training state {path} does not fit the model built from the flags: {e}") from None
        if self._optimizer_settings() != asked:
            logger.warning("%s goes on with the learning rates and betas it was saved with: --lr, --lr_D and "
                           "--beta1 are ignored (delete it to resume the weights only)", path)

    def _optimizer_settings(self) -> list[tuple]:
        return [(g.get("initial_lr"), tuple(g["betas"])) for o in self.optimizers for g in o.param_groups]


def cpu_state_dict(net: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().cpu() for k, v in unwrap(net).state_dict().items()}


def load_state(net: nn.Module, state: dict[str, torch.Tensor], path: str) -> None:
    """Load a reference or own state dict strictly; a mismatch names the file and the flags to check."""
    if not isinstance(state, dict) or not all(isinstance(k, str) and torch.is_tensor(v) for k, v in state.items()):
        raise UserError(f"checkpoint {path} is not a state dict (names -> tensors) but a {type(state).__name__}")
    state = convert_torch_state_dict(state)
    own = net.state_dict()
    # checkpoints of old PyTorch versions carry running statistics for instance norms that have none
    state = {k: v for k, v in state.items()
             if k in own or not k.rsplit(".", 1)[-1] in ("running_mean", "running_var", "num_batches_tracked")}
    try:
        net.load_state_dict(state)
    except RuntimeError as e:
        first = str(e).strip().splitlines()
        detail = first[1].strip() if len(first) > 1 else first[0]
        raise UserError(f"checkpoint {path} does not fit the network built from the flags (check --ngf/--ndf/--netG/"
                        f"--netD/--n_layers_D/--n_blocks/--upsample/--norm/--input_nc): {detail}") from None
