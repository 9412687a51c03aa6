"""Colorization data (pytorch-CycleGAN-and-pix2pix's `--dataset_mode colorization`): the RGB images of
`{dataroot}/{phase}`, each split in CIE Lab into its lightness (A, the input) and its colour (B, the target)."""
from __future__ import annotations

import argparse

import numpy as np
import torch
from skimage import color

from data import register_dataset
from data.base_dataset import BaseDataset
from data.image_folder import list_images, load_image
from data.transforms import apply, draw_params
from util.errors import OptionError

L_SCALE, AB_SCALE = 50.0, 110.0      # L in [0, 100] -> A = L / 50 - 1 in [-1, 1]; ab in about [-110, 110] -> ab / 110


def lab_to_rgb(A: torch.Tensor, B: torch.Tensor) -> torch.Tensor:
    """(N, 1, H, W) lightness and (N, 2, H, W) colour, scaled as the items are, back to (N, 3, H, W) RGB in [-1, 1]
    (colours outside sRGB clipped, as scikit-image does), for display: on the CPU in float64, as the authors'
    lab2rgb, so that the written pixels are theirs (a float32 round trip moves some by one level)."""
    lab = torch.cat([(A.float() + 1) * L_SCALE, B.float() * AB_SCALE], 1).detach().cpu().double().numpy()
    return torch.from_numpy(color.lab2rgb(lab, channel_axis=1)) * 2 - 1


@register_dataset("colorization")
class ColorizationDataset(BaseDataset):
    """Items: A (1, H, W) = L / 50 - 1 and B (2, H, W) = ab / 110 of one picture, resized, cropped and flipped as
    --resize_or_crop says before the conversion; A_paths = B_paths."""

    @staticmethod
    def modify_commandline_options(parser: argparse.ArgumentParser, is_train: bool) -> argparse.ArgumentParser:
        parser.set_defaults(input_nc=1, output_nc=2, direction="AtoB")
        return parser

    @staticmethod
    def validate_options(opt: argparse.Namespace) -> None:
        """Lightness in, colour out: nothing else can be taken from or given to these items."""
        if (opt.input_nc, opt.output_nc, opt.direction) != (1, 2, "AtoB"):
            raise OptionError(f"--dataset_mode colorization gives 1 input channel (L) and 2 output channels (ab), "
                              f"AtoB: got --input_nc {opt.input_nc} --output_nc {opt.output_nc} --direction "
                              f"{opt.direction}")

    def __init__(self, opt: argparse.Namespace) -> None:
        super().__init__(opt)
        self.paths = list_images(self.folder(opt.phase), opt.max_dataset_size)

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> dict:
        path = self.paths[index]
        img = load_image(path, "RGB")
        lab = torch.from_numpy(color.rgb2lab(np.asarray(apply(img, draw_params(self.opt, img.size, path))))).float()
        lab = lab.permute(2, 0, 1)
        return {"A": lab[:1] / L_SCALE - 1, "B": lab[1:] / AB_SCALE, "A_paths": path, "B_paths": path}
