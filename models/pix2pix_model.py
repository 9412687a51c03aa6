"""pix2pix (Isola et al., CVPR 2017): paired translation A -> B with a conditional GAN and an L1 term.

G maps A to B; D is a PatchGAN that judges the pair [A; B] (real) or [A; G(A)] (fake), so G must stay
faithful to its input, and the L1 term pulls G(A) towards the ground truth B. In this project it learns
image -> instance-mask prediction for photos without masks (datasets/make_mask_pairs.py,
scripts/predict_masks.py).
"""
from __future__ import annotations

import argparse

import torch
import torch.nn as nn

from util.errors import OptionError
from util.image_pool import ImagePool
from . import register_model
from .base_model import BaseModel
from .losses import GANLoss
from .networks import DISCRIMINATORS, GENERATORS, define_D, define_G



@register_model("pix2pix")
class Pix2PixModel(BaseModel):
    loss_names = ["G_GAN", "G_L1", "D_real", "D_fake"]
    lr_step_at_epoch_start = True
    visual_names = ["real_A", "fake_B", "real_B"]
    dataset_modes = {True: ("aligned",), False: ("aligned", "single")}     # training, testing

    @staticmethod
    def modify_commandline_options(parser: argparse.ArgumentParser, is_train: bool) -> argparse.ArgumentParser:
        """pix2pix's defaults (pytorch-CycleGAN-and-pix2pix's): U-Net 256 with dropout, 70x70 PatchGAN, batch norm,
        paired data at 286 -> 256 crops, vanilla GAN, no pool, L1 x100, visdom grids 4 images wide."""
        parser.set_defaults(netG="unet_256", netD="basic", norm="batch", dataset_mode="aligned", loadSizeH=286,
                            loadSizeW=286, fineSizeH=256, fineSizeW=256)
        if is_train:
            parser.set_defaults(pool_size=0, gan_mode="vanilla", display_ncols=4)
            parser.add_argument("--lambda_L1", type=float, default=100.0, help="weight of the L1 loss")
        return parser

    @classmethod
    def validate_options(cls, opt: argparse.Namespace) -> None:
        modes = cls.dataset_modes[opt.isTrain]
        if opt.dataset_mode not in modes:
            raise OptionError(f"--model {opt.model} needs --dataset_mode {' or '.join(modes)}, got {opt.dataset_mode}")
        if GENERATORS[opt.netG].family not in ("unet", "resnet"):
            raise OptionError(f"--model {opt.model} needs a U-Net or ResNet --netG, got {opt.netG}")
        if DISCRIMINATORS[opt.netD].family != "patch":
            patches = ", ".join(name for name, net in DISCRIMINATORS.items() if net.family == "patch")
            raise OptionError(f"--model {opt.model} needs a PatchGAN --netD ({patches}), got {opt.netD}")
        if opt.isTrain and opt.lambda_L1 < 0:
            raise OptionError(f"--lambda_L1 must be >= 0, got {opt.lambda_L1}")

    def __init__(self, opt: argparse.Namespace):
        super().__init__(opt)
        self.net_names = ["G", "D"] if self.isTrain else ["G"]
        self.netG = self.place(define_G(opt.input_nc, opt.output_nc, opt.ngf, opt.netG, opt.norm, not opt.no_dropout,
                                        opt.n_blocks, opt.init_type, opt.init_gain, opt.upsample, opt.G_output))
        if self.isTrain:
            self.netD = self.place(define_D(opt.input_nc + opt.output_nc, opt.ndf, opt.netD, opt.n_layers_D, opt.norm,
                                            opt.init_type, opt.init_gain))
            self.fake_AB_pool = ImagePool(opt.pool_size)
            self.criterionGAN = GANLoss(gan_mode=opt.gan_mode)
            self.criterionL1 = nn.L1Loss()
            self.make_optimizers([self.netG], [self.netD])

    def set_input(self, data: dict) -> None:
        """A batch of `aligned` (A, B) or, for testing, `single` (A) items.

        The aligned mode already puts the --direction's input side in A (it swaps the halves for BtoA), so A
        is the input here whatever the direction; swapping again would undo it.
        """
        self.real_A = data["A"].to(self.device)
        self.image_paths = data["A_paths"]
        has_target = "B" in data
        if has_target:
            self.real_B = data["B"].to(self.device)
        self.visual_names = type(self).visual_names if has_target else ["real_A", "fake_B"]

    def forward(self) -> None:
        self.fake_B = self.netG(self.real_A)

    def optimize_parameters(self) -> None:
        """One D step on real [A; B] against a (pooled) fake [A; G(A)], then one G step on GAN + lambda * L1."""
        self.forward()
        fake_AB = torch.cat([self.real_A, self.fake_B], 1)

        self.set_requires_grad([self.netD], True)
        self.optimizer_D.zero_grad(set_to_none=True)
        loss_D_fake = self.criterionGAN(self.netD(self.fake_AB_pool.query(fake_AB.detach())), False)
        loss_D_real = self.criterionGAN(self.netD(torch.cat([self.real_A, self.real_B], 1)), True)
        (0.5 * (loss_D_fake + loss_D_real)).backward()
        self.sync_gradients([self.netD], mean=True)   # several processes: every sample counts
        self.optimizer_D.step()

        self.set_requires_grad([self.netD], False)
        self.optimizer_G.zero_grad(set_to_none=True)
        loss_G_GAN = self.criterionGAN(self.netD(fake_AB), True)
        loss_G_L1 = self.criterionL1(self.fake_B, self.real_B) * self.opt.lambda_L1
        (loss_G_GAN + loss_G_L1).backward()
        self.sync_gradients([self.netG], mean=True)
        self.optimizer_G.step()
        self.share_buffers([self.netG, self.netD])   # batch-norm statistics of process 0's batches

        losses = {"G_GAN": loss_G_GAN, "G_L1": loss_G_L1, "D_real": loss_D_real, "D_fake": loss_D_fake}
        self.losses = {name: float(value.detach()) for name, value in losses.items()}
