"""BaseModel: what every model shares -- device, networks, optimisers, schedules, visuals, losses.

A subclass declares `loss_names`, `visual_names` and `net_names` (networks `self.net<name>`, checkpoint files
`{label}_net_{name}.pth`), builds its networks, optimisers and image pools in `__init__`, and implements
`set_input`, `forward` (inference, used by `test`) and `optimize_parameters`. What it must save to go on training
exactly besides its weights is `training_state`; the files themselves are models/run_state.py's.
"""
from __future__ import annotations

import argparse
import copy
import os
import warnings
from collections import OrderedDict

import torch
import torch.nn as nn

from util import distributed
from util.errors import UserError
from util.image_pool import ImagePool
from util.log import logger
from util.machine import native_cpu_bf16
from . import run_state
from .schedulers import get_scheduler


class BaseModel:
    loss_names: list[str] = []
    visual_names: list[str] = []
    net_names: list[str] = []
    # pytorch-CycleGAN-and-pix2pix steps the learning rate at the start of every epoch, 'plateau' with a metric that
    # stays 0; the InstaGAN and BicycleGAN references at the end, here 'plateau' with the epoch's mean G loss
    lr_step_at_epoch_start = False
    # BicycleGAN's, MUNIT's and UNIT's authors train on full batches only: an epoch's last, shorter batch is left out
    full_batches_only = False
    # the flags that a network's keys and shapes follow, named when a checkpoint does not fit
    architecture_flags: tuple[str, ...] = ("ngf", "ndf", "netG", "netD", "n_layers_D", "n_blocks", "upsample", "norm",
                                           "no_dropout", "input_nc")

    @staticmethod
    def modify_commandline_options(parser: argparse.ArgumentParser, is_train: bool) -> argparse.ArgumentParser:
        return parser

    @classmethod
    def config_defaults(cls, parser: argparse.ArgumentParser, opt: argparse.Namespace,
                        is_train: bool) -> dict[str, object]:
        """Defaults read from a file the flags name (MUNIT's and UNIT's --config); flags still win."""
        return {}

    @staticmethod
    def validate_options(opt: argparse.Namespace) -> None:
        """Raise OptionError for values this model cannot run with."""

    def __init__(self, opt: argparse.Namespace):
        self.opt = opt
        self.isTrain = opt.isTrain
        self.device = torch.device(f"cuda:{opt.gpu_ids[0]}") if opt.gpu_ids else torch.device("cpu")
        torch.backends.cudnn.benchmark = bool(opt.gpu_ids)  # fastest kernels per input shape (few shapes recur)
        self.save_dir = run_state.run_dir(opt)
        if opt.amp and self.device.type == "cpu" and not native_cpu_bf16():
            logger.warning("--amp: this CPU has no bfloat16 arithmetic (AVX512-BF16, AMX); emulated, bf16 is slower "
                           "than fp32 here (half the speed on a 2-core Xeon without it): leave --amp out")
        self.optimizers: list[torch.optim.Optimizer] = []
        self.losses: dict[str, float] = {}

    # -- networks -----------------------------------------------------------------------------------------------
    def place(self, net: nn.Module) -> nn.Module:
        """Move a network to the device (--channels_last: in that memory format); several GPU ids wrap it in
        DataParallel; --compile compiles it (`compile_network`)."""
        net = net.to(self.device, memory_format=torch.channels_last if self.opt.channels_last else None)
        if len(self.opt.gpu_ids) > 1:
            net = nn.DataParallel(net, self.opt.gpu_ids)
        if self.opt.compile:
            net = compile_network(net)
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

        Returns the run part of the training state (for `run_state.start_position`) when one was
        resumed, else None."""
        resumed = None
        label = run_state.load_label(self.opt)
        if not self.isTrain:
            self.load_for_test(label)
        else:
            # The lambda schedule counts its epochs from the --epoch_count of the run that started it; a resumed
            # run keeps that origin here while its own opt.epoch_count says where it starts.
            self.schedule_opt = copy.copy(self.opt)
            self.schedulers = [self.make_scheduler(o) for o in self.optimizers]
            if self.opt.continue_train:
                resumed = run_state.resume(self, label)
        for name, net in self.networks().items():
            n = sum(p.numel() for p in net.parameters())
            logger.info("network %s: %.3f M parameters", name, n / 1e6)
            if self.opt.verbose:
                logger.debug("%s", net)
        return resumed

    def make_scheduler(self, optimizer: torch.optim.Optimizer):
        """The learning-rate schedule of `optimizer` (--lr_policy, stepped per epoch by `update_learning_rate`)."""
        return get_scheduler(optimizer, self.schedule_opt)

    def load_for_test(self, label: str) -> None:
        """The networks test.py runs: checkpoint `label`'s."""
        run_state.load_networks(self, label)

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

    def results_subdir(self, epoch: str) -> str:
        """Where test.py writes its page under --results_dir."""
        return os.path.join(self.opt.name, f"{self.opt.phase}_{epoch}")

    def test(self) -> None:
        with torch.no_grad(), self.autocast():
            self.forward()

    def translate_held_out(self) -> OrderedDict:
        """--eval_freq, during training: the visuals of translating the set input as test.py would. The first
        `fake_B*` is scored by default; with paired data, `real_B*` of the same suffix is the target. Visuals that
        only training makes (CycleGAN's identity images) may be missing or stale: only fake_* and real_* are read."""
        self.test()
        return OrderedDict((name, getattr(self, name)) for name in self.visual_names if hasattr(self, name))

    def iterations_left(self) -> int | None:
        """Iterations (batches) before training ends whatever the epochs (MUNIT's and UNIT's --max_iter); None: the
        epochs decide."""
        return None

    def step_schedulers(self, metric: float = 0.0) -> None:
        """One step of every schedule (`metric` for 'plateau'), also before the first optimiser step, as the
        references do (torch warns about that)."""
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=r"Detected call of `lr_scheduler\.step\(\)`")
            for s in self.schedulers:
                s.step(metric) if isinstance(s, torch.optim.lr_scheduler.ReduceLROnPlateau) else s.step()

    def update_learning_rate(self, metric: float = 0.0) -> float:
        old = self.optimizers[0].param_groups[0]["lr"]
        self.step_schedulers(metric)
        lr = self.optimizers[0].param_groups[0]["lr"]
        logger.info("learning rate %.7f -> %.7f", old, lr)
        return lr

    def get_current_visuals(self) -> OrderedDict:
        return OrderedDict((name, getattr(self, name)) for name in self.visual_names)

    def get_current_losses(self) -> OrderedDict:
        return OrderedDict((name, float(self.losses.get(name, 0.0))) for name in self.loss_names)

    def get_image_paths(self) -> list[str]:
        return self.image_paths

    # -- what training needs besides the weights (saved by models/run_state.py) ------------------------------------
    def pools(self) -> dict[str, ImagePool]:
        """Every `ImagePool` attribute: found rather than declared, so that no model can leave one out of the
        training state."""
        return {name: value for name, value in vars(self).items() if isinstance(value, ImagePool)}

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
        self._rates_from_todays_schedule(path)
        if self._optimizer_settings() != asked:
            logger.warning("%s goes on with the learning rates and betas it was saved with: --lr, --lr_D and "
                           "--beta1 are ignored (delete it to resume the weights only)", path)

    def _rates_from_todays_schedule(self, path: str) -> None:
        """A rule schedule's (--lr_policy linear) rate where it stands, from today's --niter/--niter_decay: raised
        to train longer, the next epoch trains at the new schedule's rate, as a run started with them would, not
        at the saved one (0 at the end of a finished run). Unchanged flags give the saved rate, bit for bit."""
        for optimizer, scheduler in zip(self.optimizers, self.schedulers):
            if not isinstance(scheduler, torch.optim.lr_scheduler.LambdaLR):
                continue
            rates = [base * rule(scheduler.last_epoch) for base, rule in zip(scheduler.base_lrs, scheduler.lr_lambdas)]
            saved = [group["lr"] for group in optimizer.param_groups]
            if rates != saved:
                logger.info("%s: learning rate %.7f -> %.7f, where today's --niter/--niter_decay schedule stands",
                            path, saved[0], rates[0])
            for group, rate in zip(optimizer.param_groups, rates):
                group["lr"] = rate

    def _optimizer_settings(self) -> list[tuple]:
        return [(g.get("initial_lr"), tuple(g["betas"])) for o in self.optimizers for g in o.param_groups]


def compile_network(net: nn.Module) -> nn.Module:
    """torch.compile of a network, one graph per input shape; of a set network, only the parts it names in
    `compile_parts` (each part's forward, so its state-dict keys stay; not under DataParallel, whose replicas would
    run the original's forward): the code between them picks instances, whose number varies, and runs eagerly,
    and the instances' parts take any number with one graph (`blocks.run_on_instances`)."""
    torch._dynamo.config.recompile_limit = max(torch._dynamo.config.recompile_limit, 64)
    parts = getattr(net, "compile_parts", ())
    for name in parts:
        part = getattr(net, name)
        part.forward = torch.compile(part.forward, dynamic=False)
    return net if parts else torch.compile(net, dynamic=False)
