"""One domain, for running a trained generator: the images of `--dataroot` itself."""
from __future__ import annotations

import argparse

from data import register_dataset
from data.base_dataset import BaseDataset
from data.image_folder import list_images


@register_dataset("single")
class SingleDataset(BaseDataset):
    def __init__(self, opt: argparse.Namespace) -> None:
        super().__init__(opt)
        self.A_paths = list_images(opt.dataroot, opt.max_dataset_size)

    def __len__(self) -> int:
        return len(self.A_paths)

    def __getitem__(self, index: int) -> dict:
        path = self.A_paths[index]
        return {"A": self.load(path, self.nc("A")), "A_paths": path}
