"""CycleGAN (Zhu et al., ICCV 2017) and CycleGAN+Seg, the baselines of the paper's comparisons.

CycleGAN translates whole images; CycleGAN+Seg (`cycle_gan_seg`, the paper's ablation) adds the union of
the instance masks as one more input and output channel, so it sees where the instances are but not which
is which. On `unaligned_seg` data (CycleGAN+Seg's only mode) their result pages carry the input masks under the
same visual names as InstaGAN's (real_A_img, fake_B_img, rec_A_img, real_A_seg, ...), so one evaluator reads all;
on `unaligned` data (CycleGAN's default, pytorch-CycleGAN-and-pix2pix's layout) the visuals have that repository's
names (real_A, fake_B, rec_A, idt_B while training, ...), and so have the result images.
"""
from __future__ import annotations

import argparse

import torch

from util.errors import OptionError
from util.image_pool import ImagePool
from . import register_model
from .base_model import BaseModel
from .losses import GANLoss
from .masks import merge_masks
from .networks import DISCRIMINATORS, GENERATORS, define_D, define_G


@register_model("cycle_gan")
class CycleGANModel(BaseModel):
    with_seg = False     # CycleGAN+Seg: the merged mask is an extra image channel
    loss_names = ["D_A", "G_A", "cycle_A", "idt_A", "D_B", "G_B", "cycle_B", "idt_B"]     # the references' names
    lr_step_at_epoch_start = True

    @classmethod
    def modify_commandline_options(cls, parser: argparse.ArgumentParser, is_train: bool) -> argparse.ArgumentParser:
        """pytorch-CycleGAN-and-pix2pix's defaults: 9-block ResNet, 70x70 PatchGAN, instance norm, no dropout,
        286 -> 256 crops of unpaired folders (CycleGAN+Seg: with their masks), least squares GAN, pool of 50, visdom
        grids 4 images wide."""
        parser.set_defaults(no_dropout=True, netG="resnet_9blocks", netD="basic", norm="instance",
                            dataset_mode="unaligned_seg" if cls.with_seg else "unaligned", loadSizeH=286, loadSizeW=286,
                            fineSizeH=256, fineSizeW=256)
        parser.add_argument("--double_width", action="store_true",
                            help="double ngf and ndf: about as many parameters as InstaGAN's two-branch networks "
                                 "(the paper's equal-parameter comparison)")
        if is_train:
            parser.set_defaults(display_ncols=4)
            parser.add_argument("--lambda_A", type=float, default=10.0, help="weight of the A->B->A cycle loss")
            parser.add_argument("--lambda_B", type=float, default=10.0, help="weight of the B->A->B cycle loss")
            parser.add_argument("--lambda_idt", "--lambda_identity", type=float, default=0.5,
                                help="identity loss weight, relative to lambda_A/lambda_B")
        return parser

    @classmethod
    def validate_options(cls, opt: argparse.Namespace) -> None:
        if GENERATORS[opt.netG].family not in ("resnet", "unet") or DISCRIMINATORS[opt.netD].family != "patch":
            raise OptionError(f"--model {opt.model} needs image networks and a PatchGAN (e.g. --netG basic --netD "
                              f"basic)")
        modes = ("unaligned_seg",) if cls.with_seg else ("unaligned_seg", "unaligned")
        if opt.dataset_mode not in modes:
            raise OptionError(f"--model {opt.model} needs --dataset_mode {' or '.join(modes)}")
        if opt.isTrain:
            for name in ["lambda_A", "lambda_B", "lambda_idt"]:
                if getattr(opt, name) < 0:
                    raise OptionError(f"--{name} must be >= 0, got {getattr(opt, name)}")
            if opt.lambda_idt > 0 and opt.input_nc != opt.output_nc:       # G_A(B) needs B to be G_A's input
                raise OptionError(f"--lambda_identity {opt.lambda_idt} needs --input_nc == --output_nc, got "
                                  f"{opt.input_nc} and {opt.output_nc} (or --lambda_identity 0)")

    def __init__(self, opt: argparse.Namespace):
        super().__init__(opt)
        self.net_names = ["G_A", "G_B", "D_A", "D_B"] if self.isTrain else ["G_A", "G_B"]
        seg = int(self.with_seg)
        width = 2 if opt.double_width else 1
        if opt.dataset_mode == "unaligned_seg":
            names = ["real_A_img", "fake_B_img", "rec_A_img", "real_B_img", "fake_A_img", "rec_B_img", "real_A_seg",
                     "real_B_seg"] + (["fake_B_seg", "rec_A_seg", "fake_A_seg", "rec_B_seg"] if seg else [])
        else:
            idt = self.isTrain and opt.lambda_idt > 0
            names = ["real_A", "fake_B", "rec_A"] + ["idt_B"] * idt + ["real_B", "fake_A", "rec_B"] + ["idt_A"] * idt
        self.visual_names = names
        g = dict(netG=opt.netG, norm=opt.norm, use_dropout=not opt.no_dropout, n_blocks=opt.n_blocks,
                 init_type=opt.init_type, init_gain=opt.init_gain, upsample=opt.upsample,
                 output=opt.G_output)
        self.netG_A = self.place(define_G(opt.input_nc + seg, opt.output_nc + seg, opt.ngf * width, **g))
        self.netG_B = self.place(define_G(opt.output_nc + seg, opt.input_nc + seg, opt.ngf * width, **g))
        if self.isTrain:
            d = dict(netD=opt.netD, n_layers_D=opt.n_layers_D, norm=opt.norm, init_type=opt.init_type,
                     init_gain=opt.init_gain)
            self.netD_A = self.place(define_D(opt.output_nc + seg, opt.ndf * width, **d))
            self.netD_B = self.place(define_D(opt.input_nc + seg, opt.ndf * width, **d))
            self.fake_A_pool = ImagePool(opt.pool_size)
            self.fake_B_pool = ImagePool(opt.pool_size)
            self.criterionGAN = GANLoss(gan_mode=opt.gan_mode)
            self.criterionL1 = torch.nn.L1Loss()
            self.make_optimizers([self.netG_A, self.netG_B], [self.netD_A, self.netD_B])

    def set_input(self, data: dict) -> None:
        a, b = ("A", "B") if self.opt.direction == "AtoB" else ("B", "A")
        self.real_A_img = data[a].to(self.device)
        self.real_B_img = data[b].to(self.device)
        self.image_paths = data[a + "_paths"]
        if a + "_segs" in data:
            self.real_A_seg = merge_masks(data[a + "_segs"].to(self.device))
            self.real_B_seg = merge_masks(data[b + "_segs"].to(self.device))
        self.real_A = torch.cat([self.real_A_img, self.real_A_seg], 1) if self.with_seg else self.real_A_img
        self.real_B = torch.cat([self.real_B_img, self.real_B_seg], 1) if self.with_seg else self.real_B_img

    def forward(self, identity: bool = False) -> None:
        """Translate both ways and back, then (`identity`, training) G_A(B) and G_B(A), the references' order of
        calls. With instance norm and no dropout, where the order changes nothing, the identity calls are folded
        into the translations' (one batch each); batch norm's statistics and dropout's draws follow the calls."""
        if identity and self.opt.norm != "batch" and self.opt.no_dropout:
            n = self.real_A.shape[0]
            self.fake_B, self.idt_A = self.netG_A(torch.cat([self.real_A, self.real_B])).split([n, len(self.real_B)])
            self.fake_A, self.idt_B = self.netG_B(torch.cat([self.real_B, self.real_A])).split([len(self.real_B), n])
            self.rec_A, self.rec_B = self.netG_B(self.fake_B), self.netG_A(self.fake_A)
        else:
            self.fake_B = self.netG_A(self.real_A)
            self.rec_A = self.netG_B(self.fake_B)
            self.fake_A = self.netG_B(self.real_B)
            self.rec_B = self.netG_A(self.fake_A)
            if identity:
                self.idt_A, self.idt_B = self.netG_A(self.real_B), self.netG_B(self.real_A)
        nc_a, nc_b = self.real_A_img.shape[1], self.real_B_img.shape[1]
        self.fake_B_img, self.rec_A_img = self.fake_B[:, :nc_b], self.rec_A[:, :nc_a]
        self.fake_A_img, self.rec_B_img = self.fake_A[:, :nc_a], self.rec_B[:, :nc_b]
        if self.with_seg:
            self.fake_B_seg, self.rec_A_seg = self.fake_B[:, nc_b:], self.rec_A[:, nc_a:]
            self.fake_A_seg, self.rec_B_seg = self.fake_A[:, nc_a:], self.rec_B[:, nc_b:]

    def optimize_parameters(self) -> None:
        opt = self.opt
        self.forward(identity=opt.lambda_idt > 0)
        self.set_requires_grad([self.netD_A, self.netD_B], False)
        self.optimizer_G.zero_grad(set_to_none=True)
        losses = {"G_A": self.criterionGAN(self.netD_A(self.fake_B), True),
                  "G_B": self.criterionGAN(self.netD_B(self.fake_A), True),
                  "cycle_A": self.criterionL1(self.rec_A, self.real_A) * opt.lambda_A,
                  "cycle_B": self.criterionL1(self.rec_B, self.real_B) * opt.lambda_B}
        if opt.lambda_idt > 0:
            losses["idt_A"] = self.criterionL1(self.idt_A, self.real_B) * opt.lambda_B * opt.lambda_idt
            losses["idt_B"] = self.criterionL1(self.idt_B, self.real_A) * opt.lambda_A * opt.lambda_idt
        sum(losses.values()).backward()
        self.sync_gradients([self.netG_A, self.netG_B], mean=True)   # several processes: every sample counts
        self.optimizer_G.step()

        self.set_requires_grad([self.netD_A, self.netD_B], True)
        self.optimizer_D.zero_grad(set_to_none=True)
        losses["D_A"] = self._backward_D(self.netD_A, self.real_B, self.fake_B_pool.query(self.fake_B.detach()))
        losses["D_B"] = self._backward_D(self.netD_B, self.real_A, self.fake_A_pool.query(self.fake_A.detach()))
        self.sync_gradients([self.netD_A, self.netD_B], mean=True)
        self.optimizer_D.step()
        self.share_buffers(list(self.networks().values()))   # batch-norm statistics of process 0's batches
        self.losses = {k: float(v.detach()) for k, v in losses.items()}

    def _backward_D(self, D: torch.nn.Module, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        loss = 0.5 * (self.criterionGAN(D(real), True) + self.criterionGAN(D(fake), False))
        loss.backward()
        return loss
