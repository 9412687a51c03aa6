"""Faithfulness: the reference's own checkpoints give the reference's own results.

The fixture (tests/fixtures/parity) was made with the reference implementation: a tiny data set, generators
after 2 epochs of its training, every image its test.py wrote, and one forward pass of G_A.
"""
import os

import numpy as np
import pytest
import torch
from PIL import Image

import test as test_script
from models.networks import define_G
from tests.conftest import FIXTURE

FLAGS = ["--dataroot", os.path.join(FIXTURE, "dataset"), "--model", "insta_gan", "--name", "tinyparity",
         "--loadSizeH", "64", "--loadSizeW", "48", "--fineSizeH", "64", "--fineSizeW", "48", "--ins_per", "2",
         "--ins_max", "6", "--ngf", "8", "--gpu_ids", "-1", "--checkpoints_dir", os.path.join(FIXTURE, "checkpoints"),
         "--num_threads", "0"]
EXPECTED = os.path.join(FIXTURE, "expected_images")


def test_generator_forward_matches_reference():
    ref = torch.load(os.path.join(FIXTURE, "set_generator_forward.pt"), weights_only=True)
    G = define_G(3, 3, 8, "set")
    G.load_state_dict(torch.load(os.path.join(FIXTURE, "checkpoints", "tinyparity", "latest_net_G_A.pth"),
                                 weights_only=True))
    with torch.no_grad():
        out = G.eval().forward_concat(ref["input"])
    assert (out - ref["output"]).abs().max().item() < 1e-5
    assert torch.equal(out[:, 4], ref["input"][:, 4])     # the empty middle slot passes through


@pytest.mark.parametrize("batch_size", ["1", "3"])
def test_test_py_reproduces_reference_images(tmp_path, batch_size):
    assert test_script.main(FLAGS + ["--results_dir", str(tmp_path), "--batch_size", batch_size]) == 0
    out = tmp_path / "tinyparity" / "test_latest"
    expected = sorted(os.listdir(EXPECTED))
    assert len(expected) == 48 and sorted(os.listdir(out / "images")) == expected
    for name in expected:
        ref = np.asarray(Image.open(os.path.join(EXPECTED, name)), dtype=np.int16)
        ours = np.asarray(Image.open(out / "images" / name), dtype=np.int16)
        assert ours.shape == ref.shape, name
        assert np.abs(ours - ref).max() <= 2, name
    assert (out / "index.html").is_file()
