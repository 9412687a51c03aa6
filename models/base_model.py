"""BaseModel: what every model shares -- device, networks, optimisers, schedules, checkpoints, visuals, losses.

A subclass declares `loss_names`, `visual_names` and `net_names` (networks `self.net<name>`, checkpoint files
`{epoch}_net_{name}.pth`), builds its networks and optimisers in `__init__`, and implements `set_input`,
`forward` (inference, used by `test`) and `optimize_parameters`.
"""
from __future__ import annotations

import argparse
import os
from collections import OrderedDict

import torch
import torch.nn as nn

from util.errors import UserError
from util.log import logger
from .networks.set_discriminator import convert_reference_state_dict
from .schedulers import get_scheduler


def unwrap(net: nn.Module) -> nn.Module:
    """The network inside a DataParallel/DistributedDataParallel wrapper."""
    return net.module if isinstance(net, (nn.DataParallel, nn.parallel.DistributedDataParallel)) else net


def atomic_save(obj: object, path: str) -> None:
    """Write to a temporary file and rename it, so an interrupted save never leaves a broken checkpoint."""
    tmp = path + ".tmp"
    torch.save(obj, tmp)
    os.replace(tmp, path)


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
        self.save_dir = os.path.join(opt.checkpoints_dir, opt.name)
        self.optimizers: list[torch.optim.Optimizer] = []
        # Trained networks produce denormal floats that slow CPU convolutions and norms down ~40x; flushing them
        # to zero changes no result visibly (they are below 1e-38).
        torch.set_flush_denormal(True)
        self.losses: dict[str, float] = {}

    # -- networks -----------------------------------------------------------------------------------------------
    def place(self, net: nn.Module) -> nn.Module:
        """Move a network to the device; several GPU ids wrap it in DataParallel."""
        net = net.to(self.device)
        if len(self.opt.gpu_ids) > 1:
            net = nn.DataParallel(net, self.opt.gpu_ids)
        return net

    def networks(self) -> dict[str, nn.Module]:
        return {name: getattr(self, "net" + name) for name in self.net_names}

    def setup(self) -> None:
        """Schedulers for training; load checkpoints for testing or `--continue_train`."""
        if self.isTrain:
            self.schedulers = [get_scheduler(o, self.opt) for o in self.optimizers]
        if not self.isTrain or self.opt.continue_train:
            self.load_networks(f"iter_{self.opt.load_iter}" if self.opt.load_iter > 0 else self.opt.epoch)
        for name, net in self.networks().items():
            n = sum(p.numel() for p in net.parameters())
            logger.info("network %s: %.3f M parameters", name, n / 1e6)
            if self.opt.verbose:
                logger.debug("%s", net)

    def eval(self) -> None:
        for net in self.networks().values():
            net.eval()

    def train(self) -> None:
        for net in self.networks().values():
            net.train()

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

    def test(self) -> None:
        with torch.no_grad():
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

    def save_networks(self, epoch: str | int) -> None:
        """Plain CPU state dicts without a `module.` prefix, as the reference writes them."""
        os.makedirs(self.save_dir, exist_ok=True)
        for name, net in self.networks().items():
            state = {k: v.detach().cpu() for k, v in unwrap(net).state_dict().items()}
            atomic_save(state, self.checkpoint_path(epoch, name))

    def load_networks(self, epoch: str | int) -> None:
        for name, net in self.networks().items():
            path = self.checkpoint_path(epoch, name)
            if not os.path.isfile(path):
                if not self.isTrain and name.startswith("D"):
                    continue  # testing needs the generators only (the authors released only those)
                raise UserError(f"checkpoint not found: {path}")
            try:
                state = torch.load(path, map_location=self.device, weights_only=True)
            except Exception as e:
                raise UserError(f"cannot read checkpoint {path}: {e}") from None
            load_state(unwrap(net), state, path)
            logger.info("loaded %s", path)


def load_state(net: nn.Module, state: dict[str, torch.Tensor], path: str) -> None:
    """Load a reference or own state dict strictly; a mismatch names the file and the flags to check."""
    state = convert_reference_state_dict(state)
    own = net.state_dict()
    # checkpoints of old PyTorch versions carry running statistics for instance norms that have none
    state = {k: v for k, v in state.items()
             if k in own or not k.rsplit(".", 1)[-1] in ("running_mean", "running_var", "num_batches_tracked")}
    try:
        net.load_state_dict(state)
    except RuntimeError as e:
        first = str(e).strip().splitlines()
        detail = first[1].strip() if len(first) > 1 else first[0]
        raise UserError(f"checkpoint {path} does not fit the network built from the flags "
                        f"(check --ngf/--ndf/--netG/--netD/--n_blocks/--norm/--input_nc): {detail}") from None
