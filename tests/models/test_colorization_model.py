"""`--model colorization`: pix2pix from L to ab, trained and tested end to end, its visuals in RGB."""
import os

import numpy as np
import pytest
import torch
from PIL import Image
from skimage import color

import test as test_script
import train as train_script
from options.train_options import TrainOptions
from util.errors import OptionError

TINY = ["--model", "colorization", "--netG", "unet_64", "--crop_size", "64", "--load_size", "64", "--ngf", "4",
        "--ndf", "4", "--gpu_ids", "-1", "--num_threads", "0"]


@pytest.fixture
def pictures(tmp_path) -> str:
    """Two 64x64 colour pictures per phase (their size: test.py's resize changes nothing)."""
    rng = np.random.default_rng(0)
    for phase in ("train", "test"):
        os.makedirs(tmp_path / "colour" / phase)
        for i in range(2):
            picture = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
            Image.fromarray(picture).save(tmp_path / "colour" / phase / f"{i}.png")
    return str(tmp_path / "colour")


def test_defaults_are_theirs(pictures):
    opt = TrainOptions().parse(["--dataroot", pictures, "--model", "colorization", "--gpu_ids", "-1"])
    assert (opt.dataset_mode, opt.input_nc, opt.output_nc, opt.direction) == ("colorization", 1, 2, "AtoB")
    assert (opt.netG, opt.netD, opt.norm, opt.gan_mode, opt.lambda_L1) == ("unet_256", "basic", "batch", "vanilla", 100)
    with pytest.raises(OptionError, match="^--model colorization needs --dataset_mode colorization, got aligned$"):
        TrainOptions().parse(["--dataroot", pictures, *TINY, "--dataset_mode", "aligned"])


def test_train_then_test_shows_rgb_visuals(pictures, tmp_path):
    flags = ["--dataroot", pictures, "--name", "colour", "--checkpoints_dir", str(tmp_path / "ck"), *TINY]
    assert train_script.main([*flags, "--display_id", "0", "--niter", "1", "--niter_decay", "0"]) == 0
    assert test_script.main([*flags, "--results_dir", str(tmp_path / "res")]) == 0
    images = tmp_path / "res" / "colour" / "test_latest" / "images"
    assert {p.name for p in images.iterdir()} == {f"{i}_{v}.png" for i in (0, 1)
                                                  for v in ("real_A", "real_B_rgb", "fake_B_rgb")}
    with Image.open(images / "0_real_B_rgb.png") as shown, Image.open(os.path.join(pictures, "test", "0.png")) as real:
        shown, real = np.asarray(shown, int), np.asarray(real)
    assert np.abs(shown - real).max() <= 1     # L and ab give the picture back, to the authors' truncation:
    lab = torch.from_numpy(color.rgb2lab(real)).float()             # their items (float32), and their lab2rgb:
    L, ab = lab[..., :1] / 50 - 1, lab[..., 1:] / 110               # float64, x 255, truncated
    theirs = color.lab2rgb(torch.cat([(L + 1) * 50, ab * 110], -1).numpy().astype(np.float64)) * 255
    assert np.array_equal(shown, theirs.astype(np.uint8))
