"""predict_masks: components -> instance masks, and photos -> a data set that test.py --model insta_gan reads;
a failing run leaves earlier predictions as they were."""
import errno
import os
import re
import shutil

import numpy as np
import pytest
import torch
import torch.nn as nn
from PIL import Image

import test as test_script
from models import create_model, run_state
from options.test_options import TestOptions
from scripts import predict_masks
from scripts.predict_masks import main, predicted_masks
from util.components import split_instances
from tests.conftest import TINY
from tests.datasets.conftest import files
from util.cli import run_cli
from util.errors import OptionError

NET = ["--model", "pix2pix", "--netG", "unet_128", "--ngf", "4", "--gpu_ids", "-1", "--num_threads", "0",
       "--fineSizeH", "128", "--fineSizeW", "128", "--loadSizeH", "128", "--loadSizeW", "128"]
PHOTOS = {"a": (30, 20), "b": (25, 40), os.path.join("sub", "c"): (16, 16)}   # name: (width, height)


def test_components_become_instances_largest_first_and_specks_are_dropped():
    mask = np.zeros((8, 10), bool)
    mask[0:3, 0:4] = True                       # 12 pixels
    mask[5, 5] = mask[6, 6] = mask[7, 7] = True  # a diagonal line: one 8-connected instance of 3 pixels
    mask[4:7, 1:3] = True                       # 6 pixels
    mask[0, 9] = True                           # a speck
    instances = split_instances(mask, min_area=2)
    assert instances.shape == (3, 8, 10) and instances.dtype == bool
    assert [int(m.sum()) for m in instances] == [12, 6, 3]
    assert instances[0, 0:3, 0:4].all() and instances[1, 4:7, 1:3].all() and instances[2, 5, 5]
    assert np.array_equal(instances.any(0), mask & ~np.eye(8, 10, k=9, dtype=bool))
    assert split_instances(mask, min_area=13).shape == (0, 8, 10)


def test_prediction_is_scaled_to_the_photo_then_thresholded():
    prediction = -torch.ones(3, 8, 8)
    prediction[:, :, :4] = 1                    # left half white
    prediction[:, 6:, 6:] = 1                   # and a small square at the bottom right
    masks = predicted_masks(prediction, (16, 4), threshold=0.5, min_area=1)
    assert masks.shape == (2, 4, 16)
    assert masks[0, :, :8].all() and not masks[0, :, 8:].any()
    assert masks[1, 3, 13:].all() and not masks[1, :2].any()


@pytest.fixture
def photos(tmp_path):
    root = tmp_path / "photos"
    rng = np.random.default_rng(0)
    for name, (w, h) in PHOTOS.items():
        os.makedirs(root / os.path.dirname(name), exist_ok=True)
        Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(root / f"{name}.png")
    return str(root)


@pytest.fixture
def checkpoints(photos, tmp_path):
    """A pix2pix generator whose output is constant: white (`latest`) or black (`dark`)."""
    ck = str(tmp_path / "ck")
    opt = TestOptions().parse(["--dataroot", photos, "--dataset_mode", "single", "--checkpoints_dir", ck,
                               "--name", "masker", *NET])
    model = create_model(opt)
    last = [m for m in model.netG.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))][-1]
    for epoch, bias in (("latest", 5.0), ("dark", -5.0)):
        nn.init.zeros_(last.weight)
        nn.init.constant_(last.bias, bias)
        run_state.save_networks(model, epoch)
    return ck


def predict(photos, ck, save_root, *flags):
    return run_cli(main, ["--images", photos, "--save_root", str(save_root), "--checkpoints_dir", ck,
                          "--name", "masker", "--min_area", "1", *NET, *flags])


def test_predicted_data_set_runs_through_insta_gan(photos, checkpoints, tmp_path):
    data = tmp_path / "data"
    assert predict(photos, checkpoints, data, "--domain", "A") == 0
    assert predict(photos, checkpoints, data, "--domain", "B") == 0
    for name, (w, h) in PHOTOS.items():
        with Image.open(data / "testA" / f"{name}.png") as img, Image.open(f"{photos}/{name}.png") as photo:
            assert np.array_equal(np.asarray(img), np.asarray(photo))
        with Image.open(data / "testB_seg" / f"{name}_0.png") as mask:
            assert mask.mode == "L" and mask.size == (w, h) and np.asarray(mask).min() == 255
    assert sorted(os.listdir(data / "testA_seg")) == ["a_0.png", "b_0.png", "sub"]

    ig = TestOptions().parse(["--dataroot", str(data), "--checkpoints_dir", checkpoints, "--name", "ig", *TINY])
    run_state.save_networks(create_model(ig), "latest")
    results = tmp_path / "results"
    assert run_cli(test_script.main, ["--dataroot", str(data), "--checkpoints_dir", checkpoints, "--name", "ig",
                                      "--results_dir", str(results), *TINY]) == 0
    images = os.listdir(results / "ig" / "test_latest" / "images")
    assert {"a_fake_B_img.png", "b_real_A_seg.png", "c_fake_A_seg.png"} <= set(images)


def test_photos_without_instances_are_written_and_counted(photos, checkpoints, tmp_path, log_records):
    data = tmp_path / "data"
    assert predict(photos, checkpoints, data, "--epoch", "dark") == 0
    assert sorted(os.listdir(data / "testA")) == ["a.png", "b.png", "sub"]
    assert os.listdir(data / "testA_seg") == []
    assert any("3 without any predicted instance" in r.getMessage() for r in log_records)

    with pytest.raises(OptionError, match="already hold files; pass --overwrite"):
        main(["--images", photos, "--save_root", str(data), "--checkpoints_dir", checkpoints, "--name", "masker",
              *NET])
    (data / "testA_seg" / "stale_0.png").write_bytes(b"")
    assert predict(photos, checkpoints, data, "--overwrite") == 0
    assert sorted(os.listdir(data / "testA_seg")) == ["a_0.png", "b_0.png", "sub"]
    assert sorted(os.listdir(data)) == ["testA", "testA_seg"]     # the folders written aside took their place


@pytest.mark.parametrize("error, exit_code", [
    (RuntimeError("a bug"), None),
    (KeyboardInterrupt(), 130),
    (OSError(errno.ENOSPC, "No space left on device", "disk"), 2),
], ids=["exception", "interrupted", "disk full"])
def test_failing_overwrite_leaves_the_earlier_predictions(photos, checkpoints, tmp_path, monkeypatch, error,
                                                          exit_code):
    data = tmp_path / "data"
    assert predict(photos, checkpoints, data) == 0
    before = files(data)
    calls = []

    def fail_at_the_second_photo(*args, **kwargs):
        calls.append(args)
        if len(calls) == 2:
            raise error
        return predicted_masks(*args, **kwargs)

    monkeypatch.setattr(predict_masks, "predicted_masks", fail_at_the_second_photo)
    if exit_code is None:
        with pytest.raises(RuntimeError, match="a bug"):
            predict(photos, checkpoints, data, "--overwrite", "--epoch", "dark")
    else:
        assert predict(photos, checkpoints, data, "--overwrite", "--epoch", "dark") == exit_code
    assert len(calls) == 2                                         # the first photo was written, aside
    assert files(data) == before
    assert sorted(os.listdir(data)) == ["testA", "testA_seg"]     # no partial folder left


def test_save_root_that_is_a_file_is_one_line(photos, checkpoints, tmp_path, log_records):
    notes = tmp_path / "notes.txt"
    notes.write_text("keep me")
    assert predict(photos, checkpoints, notes, "--overwrite") == 2
    errors = [r.getMessage() for r in log_records if r.levelname == "ERROR"]
    assert len(errors) == 1 and re.search(r"output folder \S+testA lies under \S+notes\.txt, which exists and is "
                                          "not a folder", errors[0]), errors
    assert notes.read_text() == "keep me"


def test_output_overlapping_the_photos_is_refused(photos, checkpoints, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(photos, data / "testA")
    for images in (data / "testA", data):      # the output folder itself, or a folder holding it
        with pytest.raises(OptionError, match="overlaps the output folder"):
            main(["--images", str(images), "--save_root", str(data), "--overwrite", *NET])
    assert sorted(os.listdir(data / "testA")) == ["a.png", "b.png", "sub"]


@pytest.mark.parametrize("flags, message", [
    (["--images", "missing"], "--images folder not found: .*missing"),
    (["--name", "untrained"], "checkpoint not found: .*untrained.latest_net_G.pth"),
    (["--threshold", "1"], "--threshold must be between 0 and 1"),
    (["--netG", "set"], "needs a U-Net or ResNet --netG, got set"),
])
def test_user_mistakes_are_one_line_errors(photos, checkpoints, tmp_path, log_records, flags, message):
    assert predict(photos, checkpoints, tmp_path / "data", *flags) == 2
    errors = [r.getMessage() for r in log_records if r.levelname == "ERROR"]
    assert len(errors) == 1 and re.search(message, errors[0]), errors
    assert not (tmp_path / "data").exists()
