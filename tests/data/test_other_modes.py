import os
import random

import numpy as np
import pytest
import torch
from torchvision.transforms import CenterCrop

from data.aligned_dataset import AlignedDataset
from data.single_dataset import SingleDataset
from data.unaligned_dataset import UnalignedDataset
from tests.data.helpers import make_opt, random_rgb, save
from util.errors import DataError


def test_unaligned_item_needs_no_masks(tmp_path):
    for i in range(3):
        save(tmp_path / "trainA" / f"a{i}.png", random_rgb(24, 20, i))
    save(tmp_path / "trainB" / "b.jpg", random_rgb(30, 30))
    ds = UnalignedDataset(make_opt(tmp_path, "unaligned", input_nc=1))
    item = ds[2]
    assert set(item) == {"A", "B", "A_paths", "B_paths"} and len(ds) == 3
    assert item["A"].shape == (1, 16, 12) and item["B"].shape == (3, 16, 12)
    assert item["A_paths"].endswith("a2.png") and item["B_paths"].endswith("b.jpg")


def _write_pairs(folder, n=2):
    """A|B files whose right half is the left half with its channels rotated."""
    for i in range(n):
        left = random_rgb(24, 20, i)
        save(folder / f"{i}.png", np.concatenate([left, left[..., [1, 2, 0]]], axis=1))


def test_aligned_halves_share_crop_and_flip(tmp_path):
    _write_pairs(tmp_path / "train")
    ds = AlignedDataset(make_opt(tmp_path, "aligned"))
    assert len(ds) == 2
    torch.manual_seed(0)
    seen = set()
    for _ in range(30):
        item = ds[1]
        assert item["A"].shape == item["B"].shape == (3, 16, 12)
        assert torch.equal(item["B"], item["A"][[1, 2, 0]])
        assert item["A_paths"] == item["B_paths"] == str(tmp_path / "train" / "1.png")
        seen.add(item["A"].numpy().tobytes())
    assert len(seen) > 5


def test_aligned_center_crop_is_torchvisions(tmp_path):
    """BicycleGAN's --center_crop: the centre of the resized halves (20x16 -> 16x12), as torchvision's CenterCrop."""
    _write_pairs(tmp_path / "train", 1)
    item = AlignedDataset(make_opt(tmp_path, "aligned", center_crop=True, no_flip=True))[0]
    whole = AlignedDataset(make_opt(tmp_path, "aligned", resize_or_crop="resize", loadSizeH=20, loadSizeW=16,
                                    no_flip=True))[0]
    assert torch.equal(item["A"], CenterCrop((16, 12))(whole["A"]))
    assert torch.equal(item["B"], CenterCrop((16, 12))(whole["B"]))


def test_aligned_btoa_swaps_halves_and_channels(tmp_path):
    _write_pairs(tmp_path / "train", 1)
    item = AlignedDataset(make_opt(tmp_path, "aligned", direction="BtoA", resize_or_crop="none", output_nc=1))[0]
    assert item["A"].shape == (3, 24, 20) and item["B"].shape == (1, 24, 20)
    a_to_b = AlignedDataset(make_opt(tmp_path, "aligned", resize_or_crop="none", no_flip=True))[0]
    assert not torch.equal(item["A"], a_to_b["A"])
    assert torch.equal(torch.sort(item["A"].flatten())[0], torch.sort(a_to_b["B"].flatten())[0])


def test_aligned_draws_on_as_half_whatever_the_direction(tmp_path):
    """An odd width gives B's half one more column; as pix2pix's get_params the crop range is A's (the left) half's
    (20 - 12) in both directions. The left half's pixels hold their column (x 10), so a crop shows its offset."""
    left = np.broadcast_to((np.arange(20) * 10).astype(np.uint8)[None, :, None], (16, 20, 3))
    save(tmp_path / "train" / "0.png", np.concatenate([left, random_rgb(16, 21, 1)], axis=1))
    for direction, half in (("AtoB", "A"), ("BtoA", "B")):
        ds = AlignedDataset(make_opt(tmp_path, "aligned", direction=direction, resize_or_crop="crop", fineSizeW=12,
                                     fineSizeH=16, no_flip=True))
        random.seed(5)
        offsets = [round(float(ds[0][half][0, 0, 0] + 1) * 127.5 / 10) for _ in range(30)]
        random.seed(5)
        expected = [(random.randint(0, 8), random.randint(0, 0), random.random())[0] for _ in range(30)]
        assert offsets == expected, direction


def test_aligned_missing_phase_folder(tmp_path):
    with pytest.raises(DataError, match="image folder not found: .*" + os.path.join("", "train")):
        AlignedDataset(make_opt(tmp_path, "aligned"))


def test_single_reads_dataroot_itself(tmp_path):
    save(tmp_path / "x.png", random_rgb(24, 20))
    save(tmp_path / "sub" / "y.bmp", random_rgb(24, 20, 1))
    ds = SingleDataset(make_opt(tmp_path, "single", phase="test", isTrain=False, output_nc=1, direction="BtoA"))
    assert len(ds) == 2
    assert [os.path.relpath(p, tmp_path) for p in ds.A_paths] == [os.path.join("sub", "y.bmp"), "x.png"]
    item = ds[0]
    assert set(item) == {"A", "A_paths"} and item["A_paths"] == ds.A_paths[0]
    assert item["A"].shape == (1, 16, 12)  # BtoA: the domain read is fed as the model's output_nc side
