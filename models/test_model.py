"""`--model test`: one generator, one direction, as pytorch-CycleGAN-and-pix2pix's test model.

Most released CycleGAN models are used this way: `test.py --dataroot datasets/horse2zebra/testA --name
horse2zebra_pretrained --model test --no_dropout` translates a folder of images (`single` data by default) with
`{epoch}_net_G{--model_suffix}.pth`, e.g. `latest_net_G_A.pth` of a CycleGAN run with `--model_suffix _A`. The
checkpoint is loaded unchanged (that repository's key names). Visuals: `real` and `fake`.
"""
from __future__ import annotations

import argparse

from util.errors import OptionError
from . import register_model
from .base_model import BaseModel
from .networks import GENERATORS, define_G

MODES = ("single", "unaligned", "aligned")


@register_model("test")
class TestModel(BaseModel):
    visual_names = ["real", "fake"]

    @staticmethod
    def modify_commandline_options(parser: argparse.ArgumentParser, is_train: bool) -> argparse.ArgumentParser:
        """That repository's defaults for its generators (9-block ResNet, instance norm, 256 pixels; dropout unless
        --no_dropout, as theirs: a checkpoint trained without dropout needs --no_dropout, its keys tell)."""
        if is_train:
            raise OptionError("--model test only runs in test.py (one generator, no losses): train e.g. --model "
                              "cycle_gan or pix2pix")
        parser.set_defaults(dataset_mode="single", netG="resnet_9blocks", netD="basic", norm="instance",
                            loadSizeH=256, loadSizeW=256, fineSizeH=256, fineSizeW=256)
        parser.add_argument("--model_suffix", type=str, default="",
                            help="load {epoch}_net_G{model_suffix}.pth, e.g. _A for a CycleGAN's G_A")
        return parser

    @staticmethod
    def validate_options(opt: argparse.Namespace) -> None:
        if opt.dataset_mode not in MODES:
            raise OptionError(f"--model test reads --dataset_mode {', '.join(MODES)}, got {opt.dataset_mode}")
        if GENERATORS[opt.netG].family not in ("resnet", "unet"):
            raise OptionError(f"--model test needs an image generator (ResNet or U-Net) --netG, got {opt.netG}")

    def __init__(self, opt: argparse.Namespace):
        super().__init__(opt)
        # `single` data reads a BtoA input with --output_nc channels; the other modes give it --input_nc
        swap = opt.direction == "BtoA" and opt.dataset_mode == "single"
        in_nc, out_nc = (opt.output_nc, opt.input_nc) if swap else (opt.input_nc, opt.output_nc)
        self.net_names = ["G" + opt.model_suffix]
        self.netG = self.place(define_G(in_nc, out_nc, opt.ngf, opt.netG, opt.norm, not opt.no_dropout, opt.n_blocks,
                                        opt.init_type, opt.init_gain, opt.upsample, opt.G_output))
        setattr(self, "netG" + opt.model_suffix, self.netG)   # the name the checkpoint file is found by

    def set_input(self, data: dict) -> None:
        """The --direction's input: `A` (single and aligned data put it there), or unaligned data's `B` for BtoA."""
        side = "B" if self.opt.direction == "BtoA" and self.opt.dataset_mode == "unaligned" else "A"
        self.real = data[side].to(self.device)
        self.image_paths = data[side + "_paths"]

    def forward(self) -> None:
        self.fake = self.netG(self.real)
