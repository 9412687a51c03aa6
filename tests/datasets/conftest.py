"""Helpers shared by the generator tests: what a generator wrote, and the area of one mask."""
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
from PIL import Image


@pytest.fixture
def layout() -> Callable[[Path], dict[str, list[str]]]:
    """SAVE_ROOT -> {folder: sorted file names} for every folder under it."""

    def listing(save_root: Path) -> dict[str, list[str]]:
        return {d.name: sorted(f.name for f in d.iterdir()) for d in sorted(save_root.iterdir()) if d.is_dir()}

    return listing


@pytest.fixture
def mask_area() -> Callable[[Path], int]:
    """Pixel count of a written mask, after checking it is a single-channel 0/255 PNG."""

    def area(path: Path) -> int:
        with Image.open(path) as img:
            assert img.mode == "L", path
            values = np.asarray(img)
        assert set(np.unique(values).tolist()) <= {0, 255}, path
        return int((values == 255).sum())

    return area


def train_one_iteration(save_root: Path, tmp_path: Path, height: int, width: int,
                        crop: tuple[int, int] | None = None) -> None:
    """train.py runs one InstaGAN iteration on a generated data set (the layout train.py reads)."""
    import train
    from tests.conftest import TINY_TRAIN

    crop_h, crop_w = crop or (height, width)
    size = ["--loadSizeH", str(height), "--loadSizeW", str(width), "--fineSizeH", str(crop_h), "--fineSizeW", str(crop_w)]
    ck = tmp_path / "ck"
    assert train.main(["--dataroot", str(save_root), "--name", "gen", "--checkpoints_dir", str(ck), *TINY_TRAIN,
                       *size, "--niter", "1", "--niter_decay", "0", "--max_dataset_size", "1", "--seed", "0"]) == 0
    assert (ck / "gen" / "latest_net_G_A.pth").is_file()
