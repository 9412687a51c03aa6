"""Paired data: each file of `{dataroot}/{phase}` holds A (left half) and B (right half) side by side."""
from __future__ import annotations

import argparse

from data import register_dataset
from data.base_dataset import BaseDataset
from data.image_folder import list_images, load_image
from data.transforms import apply, draw_params, image_to_tensor, with_channels


@register_dataset("aligned")
class AlignedDataset(BaseDataset):
    """Both halves share one crop and flip; BtoA swaps them here (as pix2pix does), so A is always the input."""

    def __init__(self, opt: argparse.Namespace) -> None:
        super().__init__(opt)
        self.AB_paths = list_images(self.folder(opt.phase), opt.max_dataset_size)

    def __len__(self) -> int:
        return len(self.AB_paths)

    def __getitem__(self, index: int) -> dict:
        path = self.AB_paths[index]
        AB = load_image(path, "RGB")
        w, h = AB.size
        left, right = AB.crop((0, 0, w // 2, h)), AB.crop((w // 2, 0, w, h))
        params = draw_params(self.opt, left.size, path, python_random=True)     # pix2pix's get_params, on A's half
        if self.opt.direction == "BtoA":
            left, right = right, left
        A = image_to_tensor(apply(with_channels(left, self.opt.input_nc), params))
        B = image_to_tensor(apply(with_channels(right, self.opt.output_nc), params))
        return {"A": A, "B": B, "A_paths": path, "B_paths": path}
