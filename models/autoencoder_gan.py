"""What MUNIT and UNIT share (the authors wrote both in one design): one auto-encoder per domain, `gen_a` and
`gen_b`, and one multi-scale discriminator per domain, `dis_a` judging domain A and `dis_b` domain B (the authors'
names, also of the checkpoint files: `{label}_net_gen_a.pth`, ...).

- Flags: the authors' hyper-parameters under their YAML names (`--gan_w`, `--recon_x_w`, `--n_downsample`,
  `--num_scales`, ...; nested keys `gen.dim`/`dis.dim` are `--ngf`/`--ndf`, `dis.n_layer` is `--n_layers_D`), and
  `--config FILE` reads the authors' YAML: its values become the defaults, flags still win (`config_defaults`);
  a config without data_root names list files (`--data_list_a/b`, `--data_folder_a/b` of the phase). Their
  train.py command is models/authors_train.py.
- Training, per batch: the discriminators' step, then the generators', each with codes of its own (as the
  authors'). Adam(lr, (beta1, beta2), weight_decay); the learning rate is halved every `--step_size` iterations
  (StepLR stepped at the start of each iteration, as theirs) and training ends after `--max_iter` iterations.
- The authors' checkpoints: `--checkpoint gen_XXXXXXXX.pt` loads a `{'a': ..., 'b': ...}` file unchanged, and
  `--snapshot_save_iter N` also writes gen_/dis_/optimizer.pt files in their layout every N iterations, into the
  run folder's checkpoints/ (models/run_state.py).
- test.py: per input, --num_style random styles (MUNIT; from a stream seeded by --seed) or the translation (UNIT),
  both directions; `--style IMAGE` translates in --direction with that image's style.
"""
from __future__ import annotations

import argparse
import math
import os
from collections import OrderedDict

import torch
import torch.nn as nn
from torchvision.models import VGG16_Weights

from options.base_options import BothSides
from util import distributed
from util.errors import OptionError, one_line
from util.log import logger
from . import run_state
from .base_model import BaseModel
from .losses import MultiScaleGANLoss, VGGPerceptualLoss
from .networks import DISCRIMINATORS, check_size, define_ms_image_D, define_translator
from .networks.conv_blocks import ACTIVATIONS, PAD_TYPES

# the authors' YAML keys -> the flags they set (train-only flags are skipped at test time); nested keys joined by '.'
CONFIG_KEYS: dict[str, tuple[str, ...]] = {
    "max_iter": ("max_iter",), "batch_size": ("batch_size",), "weight_decay": ("weight_decay",),
    "beta1": ("beta1",), "beta2": ("beta2",), "init": ("init_type",), "lr": ("lr",), "lr_policy": ("lr_policy",),
    "step_size": ("step_size",), "gamma": ("gamma",), "gan_w": ("gan_w",), "recon_x_w": ("recon_x_w",),
    "recon_s_w": ("recon_s_w",), "recon_c_w": ("recon_c_w",), "recon_x_cyc_w": ("recon_x_cyc_w",),
    "recon_kl_w": ("recon_kl_w",), "recon_kl_cyc_w": ("recon_kl_cyc_w",), "vgg_w": ("vgg_w",),
    "gen.dim": ("ngf",), "gen.mlp_dim": ("mlp_dim",), "gen.style_dim": ("style_dim",), "gen.activ": ("gen_activ",),
    "gen.n_downsample": ("n_downsample",), "gen.n_res": ("n_res",), "gen.pad_type": ("gen_pad_type",),
    "dis.dim": ("ndf",), "dis.norm": ("dis_norm",), "dis.activ": ("dis_activ",), "dis.n_layer": ("n_layers_D",),
    "dis.gan_type": ("gan_type",), "dis.num_scales": ("num_scales",), "dis.pad_type": ("dis_pad_type",),
    "input_dim_a": ("input_nc",), "input_dim_b": ("output_nc",), "num_workers": ("num_threads",),
    "new_size": ("loadSizeH", "loadSizeW"), "new_size_a": ("loadSizeH", "loadSizeW"), "new_size_b": ("new_size_b",),
    "crop_image_height": ("fineSizeH",), "crop_image_width": ("fineSizeW",),
    "data_root": ("dataroot",), "image_save_iter": ("update_html_freq",), "image_display_iter": ("display_freq",),
    "log_iter": ("print_freq",), "snapshot_save_iter": ("snapshot_save_iter",),
}
# keys the authors' configs carry that change nothing here: unread by their code (recon_h_w), or display-only
UNUSED_KEYS = ("recon_h_w", "display_size", "vgg_model_path")
INIT_TYPES = {"kaiming": "kaiming", "xavier": "xavier", "orthogonal": "orthogonal", "gaussian": "normal",
              "default": "default"}
DIS_NORMS = ("none", "in", "ln", "bn", "sn")     # sn: spectral normalisation of the convs, as theirs


def list_keys(phase: str) -> dict[str, tuple[str, ...]]:
    """The authors' list-file keys of `phase` (train, test) -> the flags they set: one folder and one list file per
    domain; --dataroot, which the data checks want, is A's folder."""
    keys: dict[str, tuple[str, ...]] = {}
    for d in "ab":
        keys[f"data_folder_{phase}_{d}"] = (f"data_folder_{d}",) + (("dataroot",) if d == "a" else ())
        keys[f"data_list_{phase}_{d}"] = (f"data_list_{d}",)
    return keys


def load_style_image(opt: argparse.Namespace, path: str) -> torch.Tensor:
    """--style: one image of the target domain (1, C, H, W), prepared as test.py prepares its inputs."""
    from data.base_dataset import load_picture

    return load_picture(opt, path, opt.output_nc if opt.direction == "AtoB" else opt.input_nc).unsqueeze(0)


def read_config(path: str) -> dict[str, object]:
    """The authors' YAML file as flat {'gen.dim': 64, ...}; a missing or broken file is one line naming it."""
    import yaml

    try:
        with open(path) as f:
            config = yaml.safe_load(f)
    except OSError as e:
        raise OptionError(f"--config {path}: {e.strerror}") from None
    except yaml.YAMLError as e:
        raise OptionError(f"--config {path} is not valid YAML: {one_line(e)}") from None
    if not isinstance(config, dict):
        raise OptionError(f"--config {path} is not a YAML mapping of the authors' keys")
    flat: dict[str, object] = {}
    for key, value in config.items():
        if isinstance(value, dict):
            flat.update({f"{key}.{k}": v for k, v in value.items()})
        else:
            flat[str(key)] = value
    return flat


def _config_value(path: str, key: str, value: object, action: argparse.Action) -> object:
    """A config's value for `action`'s flag, checked as the flag would be (a value outside its choices is one line)."""
    choices = INIT_TYPES if action.dest == "init_type" else action.choices
    if choices is not None and value not in choices:
        raise OptionError(f"--config {path}: {key} {value!r} is not one of {', '.join(map(str, choices))}")
    return INIT_TYPES[value] if action.dest == "init_type" else value


class AutoEncoderGANModel(BaseModel):
    """The shared part of MUNIT and UNIT; a subclass builds `gen_a`/`gen_b` (`netG`), and defines `gen_losses`,
    `translate` and its own flags."""

    netG = ""
    architecture_flags = ("ngf", "n_downsample", "n_res", "gen_activ", "input_nc", "output_nc", "ndf", "n_layers_D",
                          "num_scales", "dis_norm")
    full_batches_only = True      # the authors' data loaders drop the last, shorter batch (drop_last)
    cycle_losses: tuple[str, ...] = ()     # the loss names of the cycle L1, computed when recon_x_cyc_w > 0

    @staticmethod
    def modify_commandline_options(parser: argparse.ArgumentParser, is_train: bool) -> argparse.ArgumentParser:
        """The authors' flags and defaults (their configs' values; edges2shoes_folder.yaml's sizes, and their loaders'
        Resize(new_size): the shorter side to new_size, then a random crop in training, none at test time)."""
        parser.set_defaults(dataset_mode="unaligned", netD="ms_image", ngf=64, ndf=64, n_layers_D=4,
                            loadSizeH=256, loadSizeW=256, fineSizeH=256, fineSizeW=256, init_type="kaiming",
                            init_gain=None,
                            resize_or_crop="shorter_side_and_crop" if is_train else "shorter_side")
        p = parser
        p.add_argument("--config", type=str, default=None,
                       help="the authors' YAML config: its values become the defaults of the flags they name")
        p.add_argument("--checkpoint", type=str, default=None,
                       help="an authors' gen_XXXXXXXX.pt ({'a': gen_a, 'b': gen_b}): test.py translates with it "
                            "instead of --epoch's files; train.py goes on from it (with dis_XXXXXXXX.pt and "
                            "optimizer.pt beside it), at iteration XXXXXXXX")
        p.add_argument("--n_downsample", type=int, default=2, help="stride-2 convs of the content encoder")
        p.add_argument("--n_res", type=int, default=4, help="residual blocks of the encoder and of the decoder")
        p.add_argument("--gen_activ", type=str, default="relu", choices=ACTIVATIONS, help="generators' activation")
        p.add_argument("--gen_pad_type", type=str, default="reflect", choices=PAD_TYPES, help="generators' padding")
        for flag in ("--new_size", "--new_size_a"):
            p.add_argument(flag, type=int, action=BothSides, dest="loadSize", default=argparse.SUPPRESS,
                           help=f"the authors' {flag[2:]}: --loadSizeH and --loadSizeW")
        p.add_argument("--new_size_b", type=int, default=None,
                       help="the authors' new_size_b: the shorter side B's images are resized to (default: as A's, "
                            "--loadSizeW)")
        phase = "train" if is_train else "test"
        for d in "ab":
            p.add_argument(f"--data_list_{d}", type=str, default=None,
                           help=f"a file naming the images of {d.upper()}, one a line, relative to --data_folder_{d} "
                                f"(instead of {{dataroot}}/{{phase}}{d.upper()}; the authors' data_list_{phase}_{d})")
            p.add_argument(f"--data_folder_{d}", type=str, default="",
                           help=f"the folder of --data_list_{d}'s paths (the authors' data_folder_{phase}_{d})")
        if is_train:
            parser.set_defaults(lr=1e-4, lr_policy="step", niter=1000000, niter_decay=0, pool_size=0,
                                display_freq=1000, update_html_freq=1000, print_freq=10)
            p.add_argument("--max_iter", type=int, default=1000000, help="iterations (batches) to train")
            p.add_argument("--step_size", type=int, default=100000, help="iterations between learning-rate decays")
            p.add_argument("--gamma", type=float, default=0.5, help="learning-rate decay factor")
            p.add_argument("--beta2", type=float, default=0.999, help="Adam's second moment decay")
            p.add_argument("--weight_decay", type=float, default=1e-4, help="Adam's weight decay")
            p.add_argument("--gan_w", type=float, default=1.0, help="weight of the adversarial losses")
            p.add_argument("--recon_x_w", type=float, default=10.0, help="weight of the image reconstruction L1")
            p.add_argument("--vgg_w", type=float, default=0.0,
                           help="weight of the VGG perceptual loss (needs --vgg_weights: the authors' vgg16.weight or "
                                "VGG-16 in torchvision's key layout, taken with the authors' Caffe preprocessing)")
            p.add_argument("--dis_norm", type=str, default="none", choices=DIS_NORMS,
                           help="discriminators' norm (sn: spectral normalisation, one power iteration per call)")
            p.add_argument("--dis_activ", type=str, default="lrelu", choices=ACTIVATIONS,
                           help="discriminators' activation")
            p.add_argument("--dis_pad_type", type=str, default="reflect", choices=PAD_TYPES,
                           help="discriminators' padding")
            p.add_argument("--num_scales", type=int, default=3, help="scales of the multi-scale discriminators")
            p.add_argument("--gan_type", type=str, default="lsgan", choices=["lsgan", "nsgan"],
                           help="least squares, or the non-saturating cross-entropy GAN loss")
            p.add_argument("--snapshot_save_iter", type=int, default=0,
                           help="also write the authors' gen_/dis_XXXXXXXX.pt and optimizer.pt every N iterations")
        else:
            p.add_argument("--num_style", type=int, default=10, help="random styles per input (MUNIT)")
            p.add_argument("--style", type=str, default="",
                           help="an image whose style every input takes, translated in --direction (MUNIT)")
            p.add_argument("--synchronized", action="store_true", help="the same random styles for every input")
        return parser

    @classmethod
    def config_defaults(cls, parser: argparse.ArgumentParser, opt: argparse.Namespace,
                        is_train: bool) -> dict[str, object]:
        """--config's values as parser defaults, for the flags this run has; other keys are named once. At test
        time images are resized to new_size and not cropped, as the authors' test.py. Without data_root, the list
        files of the phase (train.py: train, test.py: test) are read, as theirs: all four, or none."""
        if not opt.config:
            return {}
        config = read_config(opt.config)
        actions = {action.dest: action for action in parser._actions}
        dests = actions.keys()
        keys = dict(CONFIG_KEYS)
        if "new_size" in config:     # the authors read new_size_a/b only without it
            keys.update({"new_size_a": (), "new_size_b": ()})
        if not is_train:     # test.py resizes to new_size and does not crop
            keys.update({key: keys[key] + ("fineSizeH", "fineSizeW") for key in ("new_size", "new_size_a")})
            keys.update({"crop_image_height": (), "crop_image_width": ()})
        phase = "train" if is_train else "test"
        for listed in ("train", "test"):
            keys.update({key: flags if listed == phase and "data_root" not in config else ()
                         for key, flags in list_keys(listed).items()})
        missing = sorted(list_keys(phase).keys() - config.keys())
        if "data_root" not in config and 0 < len(missing) < 4:
            raise OptionError(f"--config {opt.config} has list files but not {', '.join(missing)} (a folder and a "
                              f"list file per domain)")
        # their get_scheduler: no lr_policy is a constant rate
        defaults: dict[str, object] = {"lr_policy": "constant"} if "lr_policy" in dests else {}
        unknown = []
        for key, value in config.items():
            if key in keys:
                for dest in keys[key]:
                    if dest in dests:
                        defaults[dest] = _config_value(opt.config, key, value, actions[dest])
            elif key not in UNUSED_KEYS:
                unknown.append(key)
        if unknown:
            logger.warning("--config %s: ignored keys %s", opt.config, ", ".join(unknown))
        return defaults

    @classmethod
    def validate_options(cls, opt: argparse.Namespace) -> None:
        if opt.dataset_mode not in ("unaligned", "single"):
            raise OptionError(f"--model {opt.model} needs --dataset_mode unaligned (or single), got {opt.dataset_mode}")
        if opt.netG != cls.netG or DISCRIMINATORS[opt.netD].family != "ms_image":
            raise OptionError(f"--model {opt.model} needs --netG {cls.netG} and --netD ms_image")
        if opt.init_gain is None:    # the authors' weights_init: N(0, 0.02), gain sqrt(2) for xavier and orthogonal
            opt.init_gain = math.sqrt(2) if opt.init_type in ("xavier", "orthogonal") else 0.02
        if opt.new_size_b is not None and opt.new_size_b < 1:
            raise OptionError(f"--new_size_b must be >= 1, got {opt.new_size_b}")
        for name in ("n_downsample", "n_res") + (("num_scales", "max_iter", "step_size") if opt.isTrain else
                                                  ("num_style",)):
            low = 0 if name in ("n_downsample", "n_res") else 1
            if getattr(opt, name) < low:
                raise OptionError(f"--{name} must be >= {low}, got {getattr(opt, name)}")
        if not opt.isTrain:
            return
        if opt.lr_policy not in ("step", "constant"):
            raise OptionError(f"--model {opt.model} schedules its learning rate per iteration: --lr_policy step "
                              f"(with --step_size and --gamma) or constant, got {opt.lr_policy}")
        weights = sorted(name for name in vars(opt) if name.endswith("_w"))     # the loss weights, theirs included
        for name in weights + ["weight_decay", "snapshot_save_iter"]:
            if getattr(opt, name) < 0:
                raise OptionError(f"--{name} must be >= 0, got {getattr(opt, name)}")
        if not 0 <= opt.beta2 < 1:
            raise OptionError(f"--beta2 must be in [0, 1), got {opt.beta2}")
        if opt.vgg_w > 0 and not opt.vgg_weights:
            raise OptionError(f"--vgg_w > 0 needs --vgg_weights FILE: the authors' vgg16.weight, or torchvision's "
                              f"VGG-16 ({VGG16_Weights.IMAGENET1K_V1.url})")
        if opt.vgg_w > 0 and not os.path.isfile(opt.vgg_weights):
            raise OptionError(f"--vgg_weights {opt.vgg_weights}: no such file")
        check_size(opt, f"--netD {opt.netD}", DISCRIMINATORS[opt.netD])
        if opt.resize_or_crop == "shorter_side_and_crop" and opt.new_size_b is not None and max(
                opt.fineSizeH, opt.fineSizeW) > opt.new_size_b:
            raise OptionError(f"--fineSizeH/W ({opt.fineSizeH}x{opt.fineSizeW}) must not exceed --new_size_b "
                              f"{opt.new_size_b} (the shorter side B's images are resized to)")

    def __init__(self, opt: argparse.Namespace):
        super().__init__(opt)
        self.net_names = ["gen_a", "gen_b"] + (["dis_a", "dis_b"] if self.isTrain else [])
        gen_a, gen_b = (self.build_generator(nc) for nc in (opt.input_nc, opt.output_nc))
        self.tie(gen_a, gen_b)
        self.netgen_a, self.netgen_b = self.place(gen_a), self.place(gen_b)
        if not self.isTrain:
            return
        # the losses this run computes: the authors skip the cycle with weight 0, the VGG loss is theirs with vgg_w
        self.loss_names = [n for n in self.loss_names if opt.recon_x_cyc_w > 0 or n not in self.cycle_losses]
        self.loss_names += ["gen_vgg_a", "gen_vgg_b"] * (opt.vgg_w > 0)
        self.netdis_a, self.netdis_b = (self.place(define_ms_image_D(
            nc, opt.ndf, opt.n_layers_D, opt.num_scales, opt.dis_norm, opt.dis_activ, opt.dis_pad_type))
            for nc in (opt.input_nc, opt.output_nc))
        self.criterionGAN = MultiScaleGANLoss(opt.gan_type)
        self.vgg = VGGPerceptualLoss(opt.vgg_weights).to(self.device) if opt.vgg_w > 0 else None
        adam = dict(lr=opt.lr, betas=(opt.beta1, opt.beta2), weight_decay=opt.weight_decay)
        # the authors' two Adams, dis first; a parameter shared by both generators is listed once
        self.optimizer_D = torch.optim.Adam(_unique(self.netdis_a, self.netdis_b), **adam)
        self.optimizer_G = torch.optim.Adam(_unique(self.netgen_a, self.netgen_b), **adam)
        self.optimizers = [self.optimizer_D, self.optimizer_G]
        self.visual_names = ["real_A", "rec_A", "fake_B", "real_B", "rec_B", "fake_A"]

    def build_generator(self, nc: int) -> nn.Module:
        opt = self.opt
        return define_translator(opt.netG, nc, opt.ngf, opt.n_downsample, opt.n_res, opt.gen_activ, opt.gen_pad_type,
                                 getattr(opt, "style_dim", 8), getattr(opt, "mlp_dim", 256), opt.init_type,
                                 opt.init_gain)

    def tie(self, gen_a: nn.Module, gen_b: nn.Module) -> None:
        """Share layers between the two generators before they are placed (UNIT's --shared_layers)."""

    @property
    def decay(self) -> float:
        """The learning rate's factor every --step_size iterations: --gamma, or 1 for --lr_policy constant."""
        return 1.0 if self.opt.lr_policy == "constant" else self.opt.gamma

    def make_scheduler(self, optimizer: torch.optim.Optimizer) -> torch.optim.lr_scheduler.StepLR:
        """The authors' schedule counts iterations: stepped in `optimize_parameters`, never per epoch."""
        return torch.optim.lr_scheduler.StepLR(optimizer, self.opt.step_size, self.decay)

    def load_for_test(self, label: str) -> None:
        """--checkpoint: an authors' generator file; else checkpoint `label`'s files."""
        if self.opt.checkpoint:
            run_state.load_authors_generators(self.netgen_a, self.netgen_b, self.opt.checkpoint,
                                              self.architecture_flags)
        else:
            super().load_for_test(label)

    def setup(self) -> dict | None:
        resumed = super().setup()
        if self.isTrain and self.opt.checkpoint and not self.opt.continue_train:
            self.start_at(run_state.resume_from_authors(self, self.opt.checkpoint))
        if not self.isTrain:
            self.eval()        # the authors' test.py tests in eval mode (the norms use instance statistics anyway)
        return resumed

    def start_at(self, iterations: int) -> None:
        """Set the schedules as after `iterations` (an authors' checkpoint's)."""
        for scheduler in self.schedulers:
            scheduler.last_epoch = iterations
            for group in scheduler.optimizer.param_groups:
                group["lr"] = group["initial_lr"] * self.decay ** (iterations // self.opt.step_size)
        logger.info("going on from iteration %d of the authors' checkpoint", iterations)

    @property
    def iterations(self) -> int:
        """Training iterations done (the schedule's step count, saved with it)."""
        return self.schedulers[0].last_epoch

    def iterations_left(self) -> int:
        return max(self.opt.max_iter - self.iterations, 0)

    def update_learning_rate(self, metric: float = 0.0) -> float:
        """Per epoch: nothing to step (the schedule is per iteration); says the rate."""
        lr = self.optimizers[0].param_groups[0]["lr"]
        logger.info("learning rate = %.7f (iteration %d)", lr, self.iterations)
        return lr

    def set_input(self, data: dict) -> None:
        self.real_A = data["A"].to(self.device)
        self.real_B = data["B"].to(self.device) if "B" in data else None
        self.image_paths = data["A_paths"]

    # -- training ---------------------------------------------------------------------------------------------------
    def optimize_parameters(self) -> None:
        """One iteration of the authors: the learning rates' step, the discriminators' update, the generators'."""
        self.step_schedulers()
        losses: dict[str, torch.Tensor] = {}
        self.set_requires_grad([self.netdis_a, self.netdis_b], True)
        self.optimizer_D.zero_grad(set_to_none=True)
        with torch.no_grad():
            fake_A, fake_B = self.translate_random(self.real_A, self.real_B)
        for name, dis, fake, real in (("dis_a", self.netdis_a, fake_A, self.real_A),
                                      ("dis_b", self.netdis_b, fake_B, self.real_B)):
            losses[name] = self.criterionGAN(dis(fake), False) + self.criterionGAN(dis(real), True)
        (self.opt.gan_w * (losses["dis_a"] + losses["dis_b"])).backward()
        self.sync_gradients([self.netdis_a, self.netdis_b], mean=True)
        self.optimizer_D.step()

        self.set_requires_grad([self.netdis_a, self.netdis_b], False)
        self.optimizer_G.zero_grad(set_to_none=True)
        gen_losses = self.gen_losses()
        weights = self.loss_weights()
        sum(weights[name] * value for name, value in gen_losses.items()).backward()
        self.sync_gradients([self.netgen_a, self.netgen_b], mean=True)
        self.optimizer_G.step()
        losses.update(gen_losses)
        self.losses = {name: float(value.detach()) for name, value in losses.items()}
        if self.opt.snapshot_save_iter and self.iterations % self.opt.snapshot_save_iter == 0 and \
                distributed.is_main():
            run_state.save_authors_checkpoint(self, self.iterations)

    def adversarial_and_vgg(self, fake_A: torch.Tensor, fake_B: torch.Tensor) -> dict[str, torch.Tensor]:
        """The generators' GAN losses on the translations, and the VGG losses (vgg_w > 0) against their inputs."""
        losses = {"gen_adv_a": self.criterionGAN(self.netdis_a(fake_A), True),
                  "gen_adv_b": self.criterionGAN(self.netdis_b(fake_B), True)}
        if self.vgg is not None:
            losses["gen_vgg_a"] = self.vgg(fake_A, self.real_B)     # the authors': vgg(x_ba, x_b), vgg(x_ab, x_a)
            losses["gen_vgg_b"] = self.vgg(fake_B, self.real_A)
        return losses

    def loss_weights(self) -> dict[str, float]:
        """The weights of the losses both models have; a subclass adds its own."""
        opt = self.opt
        return {"gen_adv_a": opt.gan_w, "gen_adv_b": opt.gan_w, "gen_vgg_a": opt.vgg_w, "gen_vgg_b": opt.vgg_w,
                "gen_recon_x_a": opt.recon_x_w, "gen_recon_x_b": opt.recon_x_w}

    def translate_random(self, real_A: torch.Tensor, real_B: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B -> A, A -> B) as the discriminators' step makes them."""
        raise NotImplementedError

    def gen_losses(self) -> dict[str, torch.Tensor]:
        """The generators' losses, unweighted, under the authors' names without `loss_` (weights: `loss_weights`);
        sets the training visuals."""
        raise NotImplementedError

    # -- testing ----------------------------------------------------------------------------------------------------
    def test_visuals(self, real: torch.Tensor, source: str) -> OrderedDict:
        """The visuals of translating `real` of domain `source` ('A' or 'B') to the other domain."""
        raise NotImplementedError

    def forward(self) -> None:
        """Both directions (one --direction with --style), a row per input."""
        visuals = OrderedDict()
        if self.opt.style:
            source = "A" if self.opt.direction == "AtoB" else "B"
            visuals.update(self.test_visuals(self.real_A if source == "A" else self.real_B, source))
        else:
            visuals.update(self.test_visuals(self.real_A, "A"))
            if self.real_B is not None:
                visuals.update(self.test_visuals(self.real_B, "B"))
        self.visuals = visuals

    def get_current_visuals(self) -> OrderedDict:
        return self.visuals if not self.isTrain else super().get_current_visuals()


def _unique(*nets: nn.Module) -> list[nn.Parameter]:
    """The parameters of `nets`, each once (UNIT's shared layers belong to both generators)."""
    seen: dict[int, nn.Parameter] = {}
    for net in nets:
        for p in net.parameters():
            seen.setdefault(id(p), p)
    return list(seen.values())
