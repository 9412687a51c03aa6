"""Two unpaired domains: `{dataroot}/{phase}A` and `{dataroot}/{phase}B` (or a list file per domain)."""
from __future__ import annotations

import argparse
import random

from data import register_dataset
from data.base_dataset import BaseDataset, load_picture
from data.image_folder import list_images, read_image_list


@register_dataset("unaligned")
class UnalignedDataset(BaseDataset):
    """Item i pairs A[i % |A|] with B[i % |B|] (serial_batches) or with a random B image."""

    def __init__(self, opt: argparse.Namespace) -> None:
        super().__init__(opt)
        self.dir_A = self.folder(opt.phase + "A")
        self.dir_B = self.folder(opt.phase + "B")
        self.A_paths, self.B_paths = self.image_paths("A", self.dir_A), self.image_paths("B", self.dir_B)
        # MUNIT's and UNIT's --new_size_b: B's pictures resized to a size of their own, as the authors' loaders
        size_b = getattr(opt, "new_size_b", None)
        self.opt_B = opt if size_b is None else argparse.Namespace(**{**vars(opt), "loadSizeH": size_b,
                                                                      "loadSizeW": size_b})

    def image_paths(self, domain: str, folder: str) -> list[str]:
        """The images under `folder`, or those the domain's list file names: MUNIT's and UNIT's `--data_list_a/b`
        (relative to `--data_folder_a/b`), the authors' list configs (models/autoencoder_gan.py)."""
        listed = getattr(self.opt, f"data_list_{domain.lower()}", None)
        if listed:
            return read_image_list(listed, getattr(self.opt, f"data_folder_{domain.lower()}"),
                                   self.opt.max_dataset_size)
        return list_images(folder, self.opt.max_dataset_size)

    def __len__(self) -> int:
        return max(len(self.A_paths), len(self.B_paths))

    def pair(self, index: int) -> tuple[str, str]:
        """Python's `random` for the B draw: the DataLoader reseeds it in every worker."""
        a = self.A_paths[index % len(self.A_paths)]
        b_index = index % len(self.B_paths) if self.opt.serial_batches else random.randint(0, len(self.B_paths) - 1)
        return a, self.B_paths[b_index]

    def __getitem__(self, index: int) -> dict:
        a, b = self.pair(index)
        return {"A": self.load(a, self.nc("A")), "B": load_picture(self.opt_B, b, self.nc("B")), "A_paths": a,
                "B_paths": b}
