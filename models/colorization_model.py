"""Colorization (pytorch-CycleGAN-and-pix2pix's `--model colorization`): pix2pix from the lightness L of a picture
to its colour ab in CIE Lab (`--dataset_mode colorization`, 1 -> 2 channels); its visuals are shown in RGB."""
from __future__ import annotations

import argparse

import torch

from data.colorization_dataset import lab_to_rgb
from . import register_model
from .pix2pix_model import Pix2PixModel


@register_model("colorization")
class ColorizationModel(Pix2PixModel):
    """pix2pix's networks, losses and defaults; the ground truth and the translation are shown as the RGB pictures
    they make with the input's lightness (real_B_rgb, fake_B_rgb), the input as grey (real_A)."""

    visual_names = ["real_A", "real_B_rgb", "fake_B_rgb"]
    dataset_modes = {True: ("colorization",), False: ("colorization",)}

    @staticmethod
    def modify_commandline_options(parser: argparse.ArgumentParser, is_train: bool) -> argparse.ArgumentParser:
        """pix2pix's defaults on colorization data (which sets --input_nc 1 --output_nc 2 --direction AtoB)."""
        parser = Pix2PixModel.modify_commandline_options(parser, is_train)
        parser.set_defaults(dataset_mode="colorization")
        return parser

    @property
    def real_B_rgb(self) -> torch.Tensor:
        return lab_to_rgb(self.real_A, self.real_B)

    @property
    def fake_B_rgb(self) -> torch.Tensor:
        return lab_to_rgb(self.real_A, self.fake_B)
