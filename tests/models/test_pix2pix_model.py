"""pix2pix: the U-Net generator, the model's defaults and checks, its losses, and train.py/test.py end to end."""
import os

import numpy as np
import pytest
import torch
import torch.nn as nn
from PIL import Image

import test as test_script
import train as train_script
from data import create_dataloader
from models import create_model, run_state
from models.networks import define_G
from options.test_options import TestOptions
from options.train_options import TrainOptions
from util.cli import run_cli
from util.errors import OptionError
from util.seed import seed_all

SIZE = ["--loadSizeH", "128", "--loadSizeW", "128", "--fineSizeH", "128", "--fineSizeW", "128"]
TINY_P2P = ["--model", "pix2pix", "--netG", "unet_128", "--ngf", "4", "--ndf", "4", "--gpu_ids", "-1",
            "--num_threads", "0", *SIZE]


@pytest.fixture
def aligned_data(tmp_path) -> str:
    """Two 40x20 A|B files per phase: B (right) is A (left) inverted, so the halves can be told apart."""
    root = tmp_path / "pairs"
    rng = np.random.default_rng(0)
    for phase in ("train", "test"):
        os.makedirs(root / phase)
        for i in range(2):
            a = rng.integers(0, 256, (20, 20, 3), dtype=np.uint8)
            Image.fromarray(np.concatenate([a, 255 - a], 1)).save(root / phase / f"{i}.png")
    return str(root)


def train_model(dataroot, tmp_path, extra=()):
    opt = TrainOptions().parse(["--dataroot", dataroot, "--checkpoints_dir", str(tmp_path / "ck"), "--seed", "0",
                                "--display_id", "0", "--serial_batches", *TINY_P2P, *extra])
    seed_all(opt.seed)
    model = create_model(opt)
    model.setup()
    return opt, model


@pytest.mark.parametrize("netG, downs, dropouts", [("unet_256", 8, 3), ("unet_128", 7, 2)])
def test_unet_depth_dropout_and_pix2pix_key_layout(netG, downs, dropouts):
    G = define_G(3, 2, 4, netG, norm="batch", use_dropout=True)
    keys = G.state_dict().keys()
    assert {"model.model.0.weight", "model.model.3.weight", "model.model.3.bias",
            "model.model.1.model.1.weight", "model.model.1.model.5.weight", "model.model.1.model.6.running_mean",
            } <= keys
    innermost = "model.model.1.model." + "3.model." * (downs - 2)
    assert {innermost + "1.weight", innermost + "3.weight", innermost + "4.weight"} <= keys   # down, up, norm
    convs = [m for m in G.modules() if isinstance(m, nn.Conv2d)]
    assert len(convs) == downs and sum(isinstance(m, nn.Dropout) for m in G.modules()) == dropouts
    assert not any(isinstance(m, nn.Dropout) for m in define_G(3, 3, 4, netG, use_dropout=False).modules())
    side = 2 ** downs
    assert G.eval()(torch.rand(1, 3, side, 2 * side)).shape == (1, 2, side, 2 * side)
    with pytest.raises(ValueError, match=f"divisible by {side}"):
        G(torch.rand(1, 3, side, side + 8))


def test_unet_skip_connections_pass_the_input_on():
    G = define_G(3, 3, 4, "unet_128", norm="instance").eval()
    block = G.model.model[1]                         # the level below the outermost one
    x = torch.rand(1, 4, 64, 64)
    with torch.no_grad():
        out = block(x)
    assert out.shape == (1, 8, 64, 64) and torch.equal(out[:, :4], x)


def test_pix2pix_defaults(aligned_data):
    opt = TrainOptions().parse(["--dataroot", aligned_data, "--model", "pix2pix", "--gpu_ids", "-1"])
    assert (opt.netG, opt.netD, opt.norm, opt.dataset_mode) == ("unet_256", "basic", "batch", "aligned")
    assert (opt.pool_size, opt.gan_mode, opt.lambda_L1, opt.no_dropout) == (0, "vanilla", 100.0, False)
    assert (opt.loadSizeH, opt.loadSizeW, opt.fineSizeH, opt.fineSizeW) == (286, 286, 256, 256)


@pytest.mark.parametrize("bad, message", [
    (["--netG", "set"], "needs a U-Net or ResNet --netG, got set"),
    (["--netD", "set"], "needs a PatchGAN --netD"),
    (["--netD", "basic_128_multi"], "needs a PatchGAN --netD"),
    (["--dataset_mode", "unaligned"], "needs --dataset_mode aligned, got unaligned"),
    (["--dataset_mode", "single"], "needs --dataset_mode aligned, got single"),   # no targets to train on
    (["--fineSizeH", "96", "--loadSizeH", "128"], r"\(96x128\) do not fit --netG unet_128: at least 128 pixels per side, multiples of 128"),
    (["--lambda_L1", "-1"], "--lambda_L1 must be >= 0"),
])
def test_invalid_options_fail_at_parse_time(aligned_data, bad, message):
    with pytest.raises(OptionError, match=message):
        TrainOptions().parse(["--dataroot", aligned_data, *TINY_P2P, *bad])


def test_conditional_discriminator_and_losses(aligned_data, tmp_path):
    opt, model = train_model(aligned_data, tmp_path, ["--lambda_L1", "7"])
    assert model.netD.model[0].in_channels == 6          # judges [A; B]
    assert model.net_names == ["G", "D"]
    model.set_input(next(iter(create_dataloader(opt))))
    model.optimize_parameters()
    losses = model.get_current_losses()
    assert list(losses) == ["G_GAN", "G_L1", "D_real", "D_fake"]
    # the L1 term of the step: lambda * mean |G(A) - B| with the G(A) of that step
    assert losses["G_L1"] == pytest.approx(7 * float((model.fake_B - model.real_B).detach().abs().mean()), rel=1e-5)
    assert all(np.isfinite(v) and v > 0 for v in losses.values())


def test_pixel_discriminator_and_wgangp_train_a_step(aligned_data, tmp_path):
    """pytorch-CycleGAN-and-pix2pix's --netD pixel judges [A; B] pixel by pixel; wgangp's D losses are -mean D(real)
    and mean D(fake)."""
    opt, model = train_model(aligned_data, tmp_path, ["--netD", "pixel", "--gan_mode", "wgangp"])
    assert model.netD.net[0].in_channels == 6 and set(model.netD.state_dict()) >= {"net.0.weight", "net.5.weight"}
    model.set_input(next(iter(create_dataloader(opt))))
    before = [p.detach().clone() for p in model.netD.parameters()]
    with torch.no_grad():
        expected_real = -float(model.netD(torch.cat([model.real_A, model.real_B], 1)).mean())
    model.optimize_parameters()
    losses = model.get_current_losses()
    assert losses["D_real"] == pytest.approx(expected_real, rel=1e-5)   # batch norm: the same batch, the same D
    assert all(np.isfinite(v) for v in losses.values())
    assert any(not torch.equal(b, p) for b, p in zip(before, model.netD.parameters()))


@pytest.mark.parametrize("direction, input_half", [("AtoB", 0), ("BtoA", 1)])
def test_direction_picks_the_input_half(aligned_data, tmp_path, direction, input_half):
    opt, model = train_model(aligned_data, tmp_path, ["--direction", direction, "--no_flip"])
    model.set_input(next(iter(create_dataloader(opt))))
    with Image.open(os.path.join(aligned_data, "train", "0.png")) as pair:
        half = pair.convert("RGB").crop((20 * input_half, 0, 20 * (input_half + 1), 20)).resize((128, 128),
                                                                                              Image.BICUBIC)
    expected = torch.from_numpy(np.asarray(half, np.float32)).permute(2, 0, 1) / 127.5 - 1
    torch.testing.assert_close(model.real_A[0], expected, atol=1e-6, rtol=0)


def test_train_then_test_end_to_end(aligned_data, tmp_path):
    ck, results = str(tmp_path / "ck"), str(tmp_path / "results")
    flags = ["--dataroot", aligned_data, "--name", "p2p", "--checkpoints_dir", ck, *TINY_P2P]
    assert run_cli(train_script.main, [*flags, "--display_id", "0", "--niter", "1", "--niter_decay", "0",
                                       "--print_freq", "1"]) == 0
    assert {"latest_net_G.pth", "latest_net_D.pth", "1_net_G.pth", "1_net_D.pth"} <= set(os.listdir(f"{ck}/p2p"))
    assert "G_L1:" in open(f"{ck}/p2p/loss_log.txt").read()

    assert run_cli(test_script.main, [*flags, "--results_dir", results]) == 0
    images = set(os.listdir(f"{results}/p2p/test_latest/images"))
    assert images == {f"{i}_{v}.png" for i in (0, 1) for v in ("real_A", "fake_B", "real_B")}
    assert os.path.isfile(f"{results}/p2p/test_latest/index.html")

    # photos without targets: the single mode gives the input and the translation only
    single = str(tmp_path / "single")
    assert run_cli(test_script.main, [*flags, "--results_dir", single, "--dataset_mode", "single",
                                      "--dataroot", f"{aligned_data}/test"]) == 0
    images = set(os.listdir(f"{single}/p2p/test_latest/images"))
    assert images == {f"{i}_{v}.png" for i in (0, 1) for v in ("real_A", "fake_B")}


def test_checkpoint_loads_into_a_test_model(aligned_data, tmp_path):
    _, trained = train_model(aligned_data, tmp_path)
    run_state.save_networks(trained, "latest")
    opt = TestOptions().parse(["--dataroot", aligned_data, "--checkpoints_dir", str(tmp_path / "ck"), *TINY_P2P])
    model = create_model(opt)
    model.setup()
    assert model.net_names == ["G"]
    for key, value in trained.netG.state_dict().items():
        assert torch.equal(model.netG.state_dict()[key], value), key


def test_test_py_resizes_to_the_crop_size_so_seeds_do_not_matter(aligned_data, tmp_path):
    """Training crops 128 of 286 at random; test.py resizes to 128 (no crop, no flip): another --seed, the same
    images (--eval: dropout, active in train mode as in that repository's test.py, would draw from the seed)."""
    ck = str(tmp_path / "ck")
    opt = TrainOptions().parse(["--dataroot", aligned_data, "--checkpoints_dir", ck, "--name", "p2p", "--model",
                                "pix2pix", "--netG", "unet_128", "--crop_size", "128", "--ngf", "4", "--ndf", "4",
                                "--gpu_ids", "-1"])
    assert (opt.loadSizeH, opt.fineSizeH) == (286, 128)
    run_state.save_networks(create_model(opt), "latest")
    pages = []
    for seed in ("1", "2"):
        res = str(tmp_path / f"res{seed}")
        assert test_script.main(["--dataroot", aligned_data, "--checkpoints_dir", ck, "--name", "p2p", "--model",
                                 "pix2pix", "--netG", "unet_128", "--crop_size", "128", "--ngf", "4", "--gpu_ids", "-1",
                                 "--num_threads", "0", "--eval", "--seed", seed, "--results_dir", res]) == 0
        pages.append(os.path.join(res, "p2p", "test_latest", "images"))
    names = sorted(os.listdir(pages[0]))
    assert names == sorted(os.listdir(pages[1])) == sorted(f"{i}_{v}.png" for i in (0, 1)
                                                           for v in ("real_A", "fake_B", "real_B"))
    for name in names:
        assert open(os.path.join(pages[0], name), "rb").read() == open(os.path.join(pages[1], name), "rb").read()
    with Image.open(os.path.join(pages[0], "0_real_A.png")) as real, Image.open(
            os.path.join(aligned_data, "test", "0.png")) as pair:
        whole = pair.convert("RGB").crop((0, 0, 20, 20)).resize((128, 128), Image.BICUBIC)
        assert np.abs(np.asarray(real, int) - np.asarray(whole, int)).max() <= 1   # the whole half, not a crop


def test_the_learning_rate_steps_as_each_epoch_starts_as_theirs(aligned_data, tmp_path, log_records):
    """pytorch-CycleGAN-and-pix2pix steps its schedules before an epoch's first batch: with --niter 1
    --niter_decay 1, epoch 1 trains at lr/2 and epoch 2 at 0."""
    flags = ["--dataroot", aligned_data, "--name", "p2p", "--checkpoints_dir", str(tmp_path / "ck"), *TINY_P2P,
             "--display_id", "0", "--niter", "1", "--niter_decay", "1", "--lr", "0.0002", "--print_freq", "1"]
    assert run_cli(train_script.main, flags) == 0
    events = [m for m in (r.getMessage() for r in log_records)
              if m.startswith(("learning rate", "(epoch", "end of epoch"))]
    rates = [m for m in events if m.startswith("learning rate")]
    assert rates == ["learning rate 0.0002000 -> 0.0001000", "learning rate 0.0001000 -> 0.0000000"]
    assert events.index(rates[0]) < min(i for i, m in enumerate(events) if m.startswith("(epoch: 1"))
    assert events.index(rates[1]) < min(i for i, m in enumerate(events) if m.startswith("(epoch: 2"))


def test_test_py_translates_one_image_at_a_time_with_batch_statistics(aligned_data, log_records):
    """pix2pix's batch norm in training mode (no --eval) normalises by the batch: test.py takes one image at a
    time, as theirs; with --eval, or instance norm, --batch_size stays."""
    base = ["--dataroot", aligned_data, *TINY_P2P, "--batch_size", "2"]
    assert TestOptions().parse(base).batch_size == 1
    assert any("one image at a time" in r.getMessage() for r in log_records)
    assert TestOptions().parse([*base, "--eval"]).batch_size == 2
    assert TestOptions().parse([*base, "--norm", "instance"]).batch_size == 2
