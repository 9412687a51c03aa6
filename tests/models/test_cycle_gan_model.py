"""The CycleGAN and CycleGAN+Seg baselines: pytorch-CycleGAN-and-pix2pix's defaults and names on its data layout,
InstaGAN's visual names on InstaGAN's."""
import copy
import os

import numpy as np
import pytest
import torch
from PIL import Image

import test as test_script
import train as train_script
from models import create_model
from options.train_options import TrainOptions
from tests.conftest import TINY, TINY_TRAIN
from util.errors import OptionError

BASIC = ["--netG", "basic"]   # the ResNet generator with TINY's --n_blocks 1


def write_unaligned(root, size=(24, 32), n=(2, 3)) -> str:
    """pytorch-CycleGAN-and-pix2pix's layout: {train,test}{A,B}/ image folders, nothing else."""
    rng = np.random.default_rng(0)
    for phase in ("train", "test"):
        for domain, count in zip("AB", n):
            os.makedirs(root / f"{phase}{domain}")
            for i in range(count):
                Image.fromarray(rng.integers(0, 256, (*size[::-1], 3), dtype=np.uint8)).save(
                    root / f"{phase}{domain}" / f"{domain}{i}.jpg")
    return str(root)


def test_defaults_are_pytorch_cyclegan_and_pix2pix_ones(tmp_path):
    opt = TrainOptions().parse(["--dataroot", str(tmp_path), "--model", "cycle_gan", "--gpu_ids", "-1"])
    assert (opt.dataset_mode, opt.netG, opt.netD, opt.norm, opt.no_dropout, opt.gan_mode, opt.pool_size) == (
        "unaligned", "resnet_9blocks", "basic", "instance", True, "lsgan", 50)
    assert (opt.loadSizeH, opt.loadSizeW, opt.fineSizeH, opt.fineSizeW) == (286, 286, 256, 256)
    assert (opt.lambda_A, opt.lambda_B, opt.lambda_idt) == (10.0, 10.0, 0.5)
    seg = TrainOptions().parse(["--dataroot", str(tmp_path), "--model", "cycle_gan_seg", "--gpu_ids", "-1"])
    assert seg.dataset_mode == "unaligned_seg"
    with pytest.raises(OptionError, match="--n_blocks 1 does not apply to --netG resnet_9blocks, which has 9 blocks: "
                                          "use --netG basic"):
        TrainOptions().parse(["--dataroot", str(tmp_path), "--model", "cycle_gan", "--n_blocks", "1"])


def test_their_layout_without_dataset_mode_trains_and_tests_with_their_names(tmp_path):
    data = write_unaligned(tmp_path / "horse2zebra")
    flags = ["--dataroot", data, "--model", "cycle_gan", "--name", "h2z", "--checkpoints_dir", str(tmp_path / "ck"),
             "--crop_size", "32", "--ngf", "4", "--ndf", "4", "--netG", "resnet_6blocks", "--gpu_ids", "-1",
             "--num_threads", "0"]
    assert train_script.main(flags + ["--load_size", "36", "--display_id", "0", "--niter", "1", "--niter_decay", "0",
                                      "--lambda_identity", "0.5", "--max_dataset_size", "1",
                                      "--update_html_freq", "1"]) == 0
    page = (tmp_path / "ck" / "h2z" / "web" / "images")
    assert {p.name for p in page.iterdir()} >= {f"epoch001_{v}.png" for v in ("real_A", "fake_B", "rec_A", "idt_B",
                                                                              "real_B", "fake_A", "rec_B", "idt_A")}
    assert test_script.main(flags + ["--results_dir", str(tmp_path / "res")]) == 0
    images = tmp_path / "res" / "h2z" / "test_latest" / "images"
    assert {p.name for p in images.iterdir()} == {f"{stem}_{v}.png" for stem in ("A0", "A1")
                                                  for v in ("real_A", "fake_B", "rec_A", "real_B", "fake_A", "rec_B")}
    with Image.open(images / "A0_fake_B.png") as img:
        assert img.size == (32, 32)            # test time: resized to the crop size, not cropped



@pytest.mark.parametrize("model, segs", [("cycle_gan", False), ("cycle_gan_seg", True)])
def test_smoke_train_and_test_on_instagan_data(tiny_data, tmp_path, model, segs):
    flags = ["--dataroot", tiny_data, "--model", model, "--name", model, "--checkpoints_dir", str(tmp_path / "ck"),
             "--dataset_mode", "unaligned_seg", *BASIC]
    assert train_script.main(flags + TINY_TRAIN + ["--niter_decay", "0", "--batch_size", "2"]) == 0
    assert test_script.main(flags + TINY + ["--results_dir", str(tmp_path / "res")]) == 0
    images = set(os.listdir(tmp_path / "res" / model / "test_latest" / "images"))
    expected = {"real_A_img", "fake_B_img", "rec_A_img", "real_A_seg", "real_B_img", "fake_A_img", "rec_B_img",
                "real_B_seg"} | ({"fake_B_seg", "rec_A_seg", "fake_A_seg", "rec_B_seg"} if segs else set())
    assert images == {f"{stem}_{v}.png" for stem in ("0000", "0001", "0002") for v in expected}


def test_seg_variant_sees_the_union_of_masks(tiny_data, tmp_path):
    opt = TrainOptions().parse(["--dataroot", tiny_data, "--model", "cycle_gan_seg", *TINY_TRAIN, *BASIC])
    model = create_model(opt)
    assert model.netG_A.model[1].in_channels == 4 and model.netD_A.model[0].in_channels == 4
    segs = -torch.ones(1, 3, 32, 24)
    segs[0, 0, :4] = 1
    segs[0, 2, -4:] = 1
    model.set_input({"A": torch.zeros(1, 3, 32, 24), "B": torch.zeros(1, 3, 32, 24), "A_segs": segs, "B_segs": segs,
                     "A_paths": ["a"], "B_paths": ["b"]})
    assert model.real_A.shape == (1, 4, 32, 24) and int((model.real_A[0, 3] > 0).sum()) == 2 * 4 * 24


def test_double_width_doubles_the_first_layer(tiny_data):
    opt = TrainOptions().parse(["--dataroot", tiny_data, "--model", "cycle_gan", "--double_width", *TINY_TRAIN, *BASIC])
    model = create_model(opt)
    assert model.netG_A.model[1].out_channels == 8 and model.netD_A.model[0].out_channels == 8


def test_pixel_discriminator_trains_a_step(tiny_data):
    opt = TrainOptions().parse(["--dataroot", tiny_data, "--model", "cycle_gan", "--netD", "pixel", "--seed", "0",
                                *TINY_TRAIN, *BASIC])
    model = create_model(opt)
    assert [type(D.net[-1]) for D in (model.netD_A, model.netD_B)] == [torch.nn.Conv2d] * 2
    g = torch.Generator().manual_seed(0)
    a, b = torch.rand(2, 1, 3, 32, 24, generator=g) * 2 - 1
    model.set_input({"A": a, "B": b, "A_paths": ["a"], "B_paths": ["b"]})
    before = model.netD_A.net[0].weight.detach().clone()
    model.optimize_parameters()
    assert all(np.isfinite(v) and v > 0 for v in model.get_current_losses().values())
    assert not torch.equal(before, model.netD_A.net[0].weight)
    assert model.netD_A(model.fake_B).shape == (1, 1, 32, 24)     # a decision per pixel


def test_set_networks_are_refused(tiny_data):
    with pytest.raises(OptionError, match="needs image networks"):
        TrainOptions().parse(["--dataroot", tiny_data, "--model", "cycle_gan", "--netG", "set", *TINY_TRAIN])


def test_identity_folded_into_the_translation_calls_equals_separate_calls(tiny_data):
    """Training runs G_A on [A; B] as one batch: the same outputs as G_A(A) and G_A(B) apart."""
    opt = TrainOptions().parse(["--dataroot", tiny_data, "--model", "cycle_gan", "--seed", "0", *TINY_TRAIN, *BASIC])
    model = create_model(opt)
    g = torch.Generator().manual_seed(0)
    model.set_input({"A": torch.rand(2, 3, 32, 24, generator=g), "B": torch.rand(2, 3, 32, 24, generator=g),
                     "A_paths": ["a0", "a1"], "B_paths": ["b0", "b1"]})
    with torch.no_grad():
        model.forward(identity=True)
        for folded, separate in ((model.fake_B, model.netG_A(model.real_A)), (model.idt_A, model.netG_A(model.real_B)),
                                 (model.fake_A, model.netG_B(model.real_B)), (model.idt_B, model.netG_B(model.real_A))):
            torch.testing.assert_close(folded, separate, atol=1e-5, rtol=0)


@pytest.mark.parametrize("variant", ["batch norm", "dropout"])
def test_batch_norm_and_dropout_see_the_references_order_of_calls(tiny_data, variant):
    """G_A(A), G_B(G_A(A)), G_B(B), G_A(G_B(B)), then G_A(B), G_B(A): batch-norm statistics and dropout draws
    follow the calls, so they are made one by one in that order (dropout: only settable in code, as theirs)."""
    opt = TrainOptions().parse(["--dataroot", tiny_data, "--model", "cycle_gan", "--seed", "0", *TINY_TRAIN, *BASIC,
                                *(["--norm", "batch"] if variant == "batch norm" else [])])
    opt.no_dropout = variant != "dropout"
    model = create_model(opt)
    g = torch.Generator().manual_seed(0)
    A, B = torch.rand(2, 2, 3, 32, 24, generator=g)
    model.set_input({"A": A, "B": B, "A_paths": ["a0", "a1"], "B_paths": ["b0", "b1"]})
    start = {name: copy.deepcopy(net.state_dict()) for name, net in (("A", model.netG_A), ("B", model.netG_B))}
    torch.manual_seed(1)
    with torch.no_grad():
        model.forward(identity=True)
    ours = [model.fake_B, model.rec_A, model.fake_A, model.rec_B, model.idt_A, model.idt_B]
    stats = [copy.deepcopy(net.state_dict()) for net in (model.netG_A, model.netG_B)]
    model.netG_A.load_state_dict(start["A"])
    model.netG_B.load_state_dict(start["B"])
    torch.manual_seed(1)
    with torch.no_grad():
        fake_B = model.netG_A(A)
        theirs = [fake_B, model.netG_B(fake_B)]
        fake_A = model.netG_B(B)
        theirs += [fake_A, model.netG_A(fake_A), model.netG_A(B), model.netG_B(A)]
    assert all(torch.equal(o, t) for o, t in zip(ours, theirs))
    for before, net in zip(stats, (model.netG_A, model.netG_B)):
        assert all(torch.equal(v, net.state_dict()[k]) for k, v in before.items())     # running statistics too
