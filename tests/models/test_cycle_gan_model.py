"""The CycleGAN and CycleGAN+Seg baselines: a short training run and test pages with InstaGAN's visual names."""
import os

import pytest
import torch

import test as test_script
import train as train_script
from models import create_model
from options.train_options import TrainOptions
from tests.conftest import TINY, TINY_TRAIN
from util.errors import OptionError



@pytest.mark.parametrize("model, segs", [("cycle_gan", False), ("cycle_gan_seg", True)])
def test_smoke_train_and_test(tiny_data, tmp_path, model, segs):
    flags = ["--dataroot", tiny_data, "--model", model, "--name", model, "--checkpoints_dir", str(tmp_path / "ck")]
    assert train_script.main(flags + TINY_TRAIN + ["--niter_decay", "0", "--batch_size", "2"]) == 0
    assert test_script.main(flags + TINY + ["--results_dir", str(tmp_path / "res")]) == 0
    images = set(os.listdir(tmp_path / "res" / model / "test_latest" / "images"))
    expected = {"real_A_img", "fake_B_img", "rec_A_img", "real_A_seg", "real_B_img", "fake_A_img", "rec_B_img",
                "real_B_seg"} | ({"fake_B_seg", "rec_A_seg", "fake_A_seg", "rec_B_seg"} if segs else set())
    assert images == {f"{stem}_{v}.png" for stem in ("0000", "0001", "0002") for v in expected}


def test_seg_variant_sees_the_union_of_masks(tiny_data, tmp_path):
    opt = TrainOptions().parse(["--dataroot", tiny_data, "--model", "cycle_gan_seg", *TINY_TRAIN])
    model = create_model(opt)
    assert model.netG_A.model[1].in_channels == 4 and model.netD_A.model[0].in_channels == 4
    segs = -torch.ones(1, 3, 32, 24)
    segs[0, 0, :4] = 1
    segs[0, 2, -4:] = 1
    model.set_input({"A": torch.zeros(1, 3, 32, 24), "B": torch.zeros(1, 3, 32, 24), "A_segs": segs, "B_segs": segs,
                     "A_paths": ["a"], "B_paths": ["b"]})
    assert model.real_A.shape == (1, 4, 32, 24) and int((model.real_A[0, 3] > 0).sum()) == 2 * 4 * 24


def test_double_width_doubles_the_first_layer(tiny_data):
    opt = TrainOptions().parse(["--dataroot", tiny_data, "--model", "cycle_gan", "--double_width", *TINY_TRAIN])
    model = create_model(opt)
    assert model.netG_A.model[1].out_channels == 8 and model.netD_A.model[0].out_channels == 8


def test_set_networks_are_refused(tiny_data):
    with pytest.raises(OptionError, match="needs image networks"):
        TrainOptions().parse(["--dataroot", tiny_data, "--model", "cycle_gan", "--netG", "set", *TINY_TRAIN])


def test_identity_folded_into_the_translation_calls_equals_separate_calls(tiny_data):
    """Training runs G_A on [A; B] as one batch: the same outputs as G_A(A) and G_A(B) apart."""
    opt = TrainOptions().parse(["--dataroot", tiny_data, "--model", "cycle_gan", "--seed", "0", *TINY_TRAIN])
    model = create_model(opt)
    g = torch.Generator().manual_seed(0)
    model.set_input({"A": torch.rand(2, 3, 32, 24, generator=g), "B": torch.rand(2, 3, 32, 24, generator=g),
                     "A_paths": ["a0", "a1"], "B_paths": ["b0", "b1"]})
    with torch.no_grad():
        model.forward(identity=True)
        for folded, separate in ((model.fake_B, model.netG_A(model.real_A)), (model.idt_A, model.netG_A(model.real_B)),
                                 (model.fake_A, model.netG_B(model.real_B)), (model.idt_B, model.netG_B(model.real_A))):
            torch.testing.assert_close(folded, separate, atol=1e-5, rtol=0)
