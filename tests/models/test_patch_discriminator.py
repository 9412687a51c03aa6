"""`--netD pixel`, pytorch-CycleGAN-and-pix2pix's 1x1 PatchGAN: its keys, its output, its place in the table."""
import argparse

import pytest
import torch
import torch.nn as nn

from models.networks import DISCRIMINATORS, check_size, define_D, define_G
from options.train_options import TrainOptions
from util.errors import OptionError


@pytest.mark.parametrize("norm, shapes", [
    # theirs: conv (bias), LeakyReLU, conv, norm, LeakyReLU, conv; the last two convs with a bias only before an
    # instance norm, which has no parameters (so no net.3)
    ("batch", {"net.0.weight": (8, 6, 1, 1), "net.0.bias": (8,), "net.2.weight": (16, 8, 1, 1), "net.3.weight": (16,),
               "net.3.bias": (16,), "net.3.running_mean": (16,), "net.3.running_var": (16,),
               "net.3.num_batches_tracked": (), "net.5.weight": (1, 16, 1, 1)}),
    ("instance", {"net.0.weight": (8, 6, 1, 1), "net.0.bias": (8,), "net.2.weight": (16, 8, 1, 1), "net.2.bias": (16,),
                  "net.5.weight": (1, 16, 1, 1), "net.5.bias": (1,)}),
    ("none", {"net.0.weight": (8, 6, 1, 1), "net.0.bias": (8,), "net.2.weight": (16, 8, 1, 1),
              "net.5.weight": (1, 16, 1, 1)}),
])
def test_their_keys_and_one_decision_per_pixel(norm, shapes):
    D = define_D(6, 8, "pixel", norm=norm)
    assert {k: tuple(v.shape) for k, v in D.state_dict().items()} == shapes
    assert [type(m) for m in D.net][1::3] == [nn.LeakyReLU, nn.LeakyReLU]
    for h, w in ((5, 7), (32, 24)):
        assert D(torch.randn(2, 6, h, w)).shape == (2, 1, h, w)
    if norm != "instance":                    # (an instance norm needs, and mixes, the statistics of many pixels)
        assert D.eval()(torch.randn(1, 6, 1, 1)).shape == (1, 1, 1, 1)
        x = torch.randn(1, 6, 3, 3)
        y = D(x)
        x[..., 0, 0] += 1                                  # a 1x1 receptive field: other pixels do not move
        assert torch.equal(D(x)[..., 1:, :], y[..., 1:, :]) and torch.equal(D(x)[..., 0, 1:], y[..., 0, 1:])


def test_it_takes_any_size():
    assert DISCRIMINATORS["pixel"].size_rule() == (1, 1)
    check_size(argparse.Namespace(fineSizeH=1, fineSizeW=3, n_layers_D=3), "--netD pixel", DISCRIMINATORS["pixel"])
    with pytest.raises(OptionError, match=r"\(1x3\) do not fit --netD basic"):
        check_size(argparse.Namespace(fineSizeH=1, fineSizeW=3, n_layers_D=3), "--netD basic", DISCRIMINATORS["basic"])


@pytest.mark.parametrize("model, message", [("insta_gan", "--model insta_gan needs --netG set and --netD set"),
                                            ("munit", "--model munit needs --netG adain and --netD ms_image")])
def test_models_without_a_patchgan_refuse_it(tmp_path, model, message):
    with pytest.raises(OptionError, match=message):
        TrainOptions().parse(["--dataroot", str(tmp_path), "--model", model, "--netD", "pixel", "--gpu_ids", "-1"])


@pytest.mark.parametrize("build, biased", [
    # pytorch-CycleGAN-and-pix2pix's rule: a conv before a norm has a bias only before an instance norm; the first
    # (and the last) convs of the PatchGAN and the ResNet's output conv keep theirs
    (lambda norm: define_D(3, 4, "basic", norm=norm), {"model.0.bias", "model.11.bias"}),
    (lambda norm: define_G(3, 3, 4, "resnet_6blocks", norm=norm), {"model.23.bias"}),
    (lambda norm: define_G(3, 3, 4, "unet_64", norm=norm), {"model.model.3.bias"}),
])
def test_norm_none_convs_have_the_references_biases(build, biased):
    keys = {k for k in build("none").state_dict() if k.endswith(".bias")}
    assert keys == biased
    assert len({k for k in build("instance").state_dict() if k.endswith(".bias")}) > len(biased)
