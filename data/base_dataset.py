"""The interface every data mode implements, and the loading steps they share."""
from __future__ import annotations

import argparse
import os

import torch
import torch.utils.data

from data.image_folder import load_image, require_dir
from data.transforms import apply, draw_params, image_to_tensor, with_channels
from util.errors import OptionError


class BaseDataset(torch.utils.data.Dataset):
    """A data mode: its own flags, a check of them, and items as dicts of tensors and paths."""

    def __init__(self, opt: argparse.Namespace) -> None:
        self.opt = opt
        require_dir(opt.dataroot, "--dataroot")

    @staticmethod
    def modify_commandline_options(parser: argparse.ArgumentParser, is_train: bool) -> argparse.ArgumentParser:
        return parser

    @staticmethod
    def validate_options(opt: argparse.Namespace) -> None:
        """Every mode reads RGB files, so only 1 (grey) or 3 channels can be given to the networks."""
        for name in ("input_nc", "output_nc"):
            if getattr(opt, name) not in (1, 3):
                raise OptionError(f"--{name} must be 1 or 3 for image data, got {getattr(opt, name)}")

    def folder(self, name: str) -> str:
        return os.path.join(self.opt.dataroot, name)

    def nc(self, domain: str) -> int:
        """Channels of domain 'A' or 'B': the model swaps roles for BtoA, so B then feeds its input."""
        a_is_input = self.opt.direction == "AtoB"
        return self.opt.input_nc if (domain == "A") == a_is_input else self.opt.output_nc

    def load(self, path: str, nc: int) -> torch.Tensor:
        return load_picture(self.opt, path, nc)

    def __len__(self) -> int:
        raise NotImplementedError

    def __getitem__(self, index: int) -> dict:
        raise NotImplementedError


def load_picture(opt: argparse.Namespace, path: str, nc: int) -> torch.Tensor:
    """Read, augment and normalise one picture on its own (no masks to keep in step): (nc, H, W)."""
    img = load_image(path, "RGB")
    return image_to_tensor(apply(with_channels(img, nc), draw_params(opt, img.size, path)))
