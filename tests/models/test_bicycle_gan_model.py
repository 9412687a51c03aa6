"""BicycleGAN: the authors' checkpoints and test images (tests/fixtures/bicyclegan, made with their code), the
networks beyond their sizes, every loss on small hand-checked tensors, the step's gradients, odd batches, test.py's
samples and options."""
import copy
import math
import os
import shutil

import numpy as np
import pytest
import torch
from PIL import Image

import test as test_script
import train as train_script
from models import create_model, run_state
from models.losses import MultiScaleGANLoss, kl_divergence_sum
from models.networks import define_D, define_E, define_latent_G
from options.test_options import TestOptions
from options.train_options import TrainOptions
from util.cli import run_cli
from util.checkpoint import read_checkpoint
from util.errors import DataError, OptionError, UserError
from util.seed import seed_all

FIXTURE = os.path.join(os.path.dirname(__file__), os.pardir, "fixtures", "bicyclegan")
# the fixture's networks (its README's flags)
FIXTURE_NETS = ["--netG", "unet_128", "--netE", "resnet_128", "--netD", "basic_128_multi", "--netD2",
                "basic_128_multi", "--ngf", "4", "--nef", "8", "--ndf", "8", "--nz", "8", "--where_add", "all"]
# tiny networks at 64 pixels for training tests
TINY = ["--model", "bicycle_gan", "--netG", "unet_64", "--netE", "conv_128", "--netD", "basic_128_multi",
        "--netD2", "basic_128", "--ngf", "2", "--nef", "2", "--ndf", "2", "--nz", "3", "--load_size", "64",
        "--crop_size", "64", "--gpu_ids", "-1", "--num_threads", "0"]


def fixture_networks() -> dict[str, torch.nn.Module]:
    nets = {"G": define_latent_G(3, 3, 8, 4, "unet_128", "instance", "relu", False, "xavier", 0.02, "all", "basic"),
            "E": define_E(3, 8, 8, "resnet_128", "instance", "xavier", 0.02),
            "D": define_D(3, 8, "basic_128_multi", num_Ds=2),
            "D2": define_D(3, 8, "basic_128_multi", num_Ds=2)}
    for name, net in nets.items():
        net.load_state_dict(torch.load(os.path.join(FIXTURE, "checkpoints", f"latest_net_{name}.pth"),
                                       weights_only=True))
        net.eval()
    return nets


def test_the_authors_checkpoints_load_with_their_keys_in_their_order():
    rows = [line.split("\t") for line in open(os.path.join(FIXTURE, "state_dict_keys.txt")) if "\t" in line]
    for name, net in fixture_networks().items():
        expected = [(key, shape) for net_name, key, shape in (r[:3] for r in rows) if net_name == name]
        assert [(k, str(tuple(v.shape))) for k, v in net.state_dict().items()] == [
            (k, s.strip()) for k, s in expected]


def test_forward_reproduces_the_authors_tensors():
    ref = torch.load(os.path.join(FIXTURE, "forward.pt"), weights_only=True)
    nets = fixture_networks()
    A, B = ((ref[k].float() / 255 - 0.5) / 0.5 for k in ("A_uint8", "B_uint8"))
    close = dict(atol=1e-5, rtol=0)
    with torch.no_grad():
        mu, logvar = nets["E"](B)
        torch.testing.assert_close(mu, ref["mu"], **close)
        torch.testing.assert_close(logvar, ref["logvar"], **close)
        torch.testing.assert_close(nets["G"](A, ref["mu"]), ref["fake_B_encoded"], **close)
        for k, z in enumerate(ref["z"]):
            torch.testing.assert_close(nets["G"](A, z.expand(2, -1)), ref["fake_B_random"][k], **close)
        for key, D, x in [("D_real", "D", B), ("D2_real", "D2", B), ("D_fake_encoded", "D", ref["fake_B_encoded"]),
                          ("D2_fake_random0", "D2", ref["fake_B_random"][0])]:
            maps = nets[D](x)
            assert len(maps) == 2
            for out, expected in zip(maps, ref[key]):
                torch.testing.assert_close(out, expected, **close)


def run_test_py(tmp_path, *extra: str) -> str:
    """The fixture README's test command through test.py; returns the images folder."""
    ckpt = tmp_path / "ckpt" / "bicyclegan"
    if not ckpt.exists():
        shutil.copytree(os.path.join(FIXTURE, "checkpoints"), ckpt)
    results = tmp_path / "res"
    code = run_cli(test_script.main, [
        "--dataroot", os.path.join(FIXTURE, "data"), "--name", "bicyclegan", "--model", "bicycle_gan",
        "--checkpoints_dir", str(tmp_path / "ckpt"), "--results_dir", str(results), "--gpu_ids", "-1",
        "--load_size", "128", "--crop_size", "128", "--netG", "unet_128", "--netE", "resnet_128", "--ngf", "4",
        "--nef", "8", "--nz", "8", "--where_add", "all", "--no_flip", "--n_samples", "3", *extra])
    assert code == 0
    return str(results / ("val_sync" if "--sync" in extra else "val") / "images")


def pixels(path: str) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB")).astype(int)


def test_test_py_writes_the_authors_images_and_names(tmp_path):
    images = run_test_py(tmp_path, "--seed", "3")
    reference = os.path.join(FIXTURE, "test_images")
    assert sorted(os.listdir(images)) == sorted(os.listdir(reference))          # 4 inputs x (3 + 3) names
    for name in os.listdir(reference):
        if "random_sample" in name:          # random in the authors' code: only the size can be compared
            assert pixels(os.path.join(images, name)).shape == (128, 128, 3)
        else:                                 # input, ground truth, encoded
            assert np.abs(pixels(os.path.join(images, name)) - pixels(os.path.join(reference, name))).max() <= 2
    page = open(os.path.join(images, os.pardir, "index.html")).read()
    assert page.count("<h3>input_") == 4 and "input_003_random_sample03.png" in page     # a row per input


def test_random_samples_repeat_with_the_seed_at_any_batch_size(tmp_path):
    first = run_test_py(tmp_path / "a", "--seed", "7")
    batched = run_test_py(tmp_path / "b", "--seed", "7", "--batch_size", "3")
    other = run_test_py(tmp_path / "c", "--seed", "8")
    name = "input_002_random_sample02.png"
    assert np.array_equal(pixels(os.path.join(first, name)), pixels(os.path.join(batched, name)))
    assert not np.array_equal(pixels(os.path.join(first, name)), pixels(os.path.join(other, name)))


def test_sync_draws_one_set_of_codes_for_all_inputs(tmp_path):
    opt = TestOptions().parse(["--dataroot", os.path.join(FIXTURE, "data"), "--model", "bicycle_gan", "--sync",
                               "--gpu_ids", "-1", "--seed", "1", "--n_samples", "2", *FIXTURE_NETS])
    model = create_model(opt)
    codes = []
    model.netG.forward = lambda x, z: codes.append(z) or x       # record the codes G is given
    for _ in range(2):
        model.set_input({"A": torch.zeros(2, 3, 128, 128), "A_paths": ["a", "b"]})
        model.test()
    z = torch.cat(codes).view(4, 3, 8)
    assert torch.equal(z, z[:1].expand_as(z)) and not torch.equal(z[0, 1], z[0, 2])
    assert model.get_image_paths() == ["input_002", "input_003"]
    assert list(model.get_current_visuals()) == ["input", "random_sample01", "random_sample02"]   # no B to encode


def test_networks_take_other_sizes_than_the_authors():
    G = define_latent_G(3, 3, 4, 2, "unet_128", "instance", "relu", False, "xavier", 0.02, "all", "bilinear")
    assert G(torch.rand(2, 3, 128, 256) * 2 - 1, torch.randn(2, 4)).shape == (2, 3, 128, 256)
    E = define_E(3, 4, 2, "resnet_128", "instance", "xavier", 0.02)
    assert [t.shape for t in E(torch.rand(1, 3, 96, 160))] == [(1, 4), (1, 4)]
    with pytest.raises(ValueError, match="divisible by 128"):
        G(torch.rand(1, 3, 64, 128), torch.randn(1, 4))
    inputs_only = define_latent_G(3, 3, 4, 2, "unet_64", "none", "elu", True, "xavier", 0.02, "input", "basic")
    assert "model.model.0.weight" in inputs_only.state_dict()
    assert inputs_only.model.model[0].in_channels == 7                              # 3 image + 4 code channels


@pytest.mark.parametrize("netE, first", [("resnet_128", "fc.0.weight"), ("conv_256", "conv.0.weight")])
def test_encoders_list_their_keys_in_the_authors_order(netE, first):
    """Their ResNet encoder registers fc, fcVar, then conv; their conv encoder conv first."""
    keys = list(define_E(3, 4, 2, netE, "instance", "xavier", 0.02).state_dict())
    heads = [k for k in keys if k.startswith(("fc.", "fcVar."))]
    assert keys[0] == first and heads == ["fc.0.weight", "fc.0.bias", "fcVar.0.weight", "fcVar.0.bias"]


def test_encoders_pool_as_the_authors_where_theirs_works():
    """Their last step is nn.AvgPool2d(8): on a last map of 8 to 15 pixels a side, the top-left 8x8 window's
    mean (a 192-pixel image to resnet_128); at other sizes, where theirs fails, the whole map's mean."""
    E = define_E(3, 4, 2, "resnet_128", "instance", "xavier", 0.02).eval()
    features = {}
    E.conv[-2].register_forward_hook(lambda module, args, out: features.update(last=out))   # before the pool
    for size in (128, 192, 256, 160):
        x = torch.rand(2, 3, size, size) * 2 - 1
        with torch.no_grad():
            mu, logvar = E(x)
        last = features["last"]
        pooled = torch.nn.AvgPool2d(8)(last) if last.shape[-1] < 16 else last.mean((2, 3), keepdim=True)
        assert pooled.shape[-2:] == (1, 1)
        torch.testing.assert_close(mu, E.fc(pooled.flatten(1)), atol=1e-6, rtol=0)
        torch.testing.assert_close(logvar, E.fcVar(pooled.flatten(1)), atol=1e-6, rtol=0)
    assert features["last"].shape[-1] == 10          # 160: a window of the map, not its mean
    assert not torch.allclose(features["last"][..., :8, :8].mean((2, 3)), features["last"].mean((2, 3)))


def test_gan_loss_sums_scales_and_a_single_map_image_by_image():
    loss = MultiScaleGANLoss("lsgan")
    maps = [torch.full((2, 1, 2, 2), 0.5), torch.zeros(2, 1, 1, 1)]
    assert loss(maps, True).item() == pytest.approx(0.25 + 1.0)
    assert loss(maps, False).item() == pytest.approx(0.25 + 0.0)
    single = torch.tensor([0.0, 1.0, 1.0, 1.0]).view(2, 1, 1, 2)   # image 0: (0-1)^2, 0 -> mean 0.5; image 1: 0
    assert loss(single, True).item() == pytest.approx(0.5)
    assert loss(torch.cat([single, single]), True).item() == pytest.approx(1.0)          # a sum over images
    vanilla = MultiScaleGANLoss("vanilla")
    assert vanilla([torch.zeros(1, 1, 2, 2)], True).item() == pytest.approx(math.log(2))


def test_kl_is_a_sum_over_batch_and_latent():
    mu, logvar = torch.tensor([[1.0, 0.0], [0.0, 0.0]]), torch.tensor([[0.0, math.log(2)], [0.0, 0.0]])
    # -0.5 * [(1 + 0 - 1 - 1) + (1 + log 2 - 0 - 2) + 0 + 0]
    assert kl_divergence_sum(mu, logvar).item() == pytest.approx(1 - 0.5 * math.log(2))


@pytest.fixture
def pairs(tmp_path) -> str:
    """Five 128x64 A|B files: B is A inverted."""
    root = tmp_path / "pairs" / "train"
    os.makedirs(root)
    rng = np.random.default_rng(0)
    for i in range(5):
        a = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
        Image.fromarray(np.concatenate([a, 255 - a], 1)).save(root / f"{i}.png")
    return str(root.parent)


def tiny_model(pairs, tmp_path, *extra: str):
    opt = TrainOptions().parse(["--dataroot", pairs, "--checkpoints_dir", str(tmp_path / "ck"), "--seed", "0",
                                "--display_id", "0", *TINY, *extra])
    seed_all(opt.seed)
    model = create_model(opt)
    model.setup()
    return model


def batch(n: int) -> dict:
    g = torch.Generator().manual_seed(n)
    A = torch.rand(n, 3, 64, 64, generator=g) * 2 - 1
    return {"A": A, "B": -A, "A_paths": [f"{i}.png" for i in range(n)]}


@pytest.mark.parametrize("n", [2, 3])
def test_every_logged_loss_is_the_authors_formula(pairs, tmp_path, n):
    model = tiny_model(pairs, tmp_path, "--batch_size", str(n))
    before = copy.deepcopy(model.networks())                    # the weights each loss was computed with
    model.set_input(batch(n))
    model.optimize_parameters()
    h = (n + 1) // 2
    real_B = batch(n)["B"]
    assert torch.equal(model.real_B_encoded, real_B[:h]) and torch.equal(model.real_B_random, real_B[n - h:])
    lsgan = lambda maps, target: sum(((m - target) ** 2).mean() for m in (maps if isinstance(maps, list) else maps))
    with torch.no_grad():
        fake_enc, fake_rand = model.fake_B_encoded, model.fake_B_random
        mu2 = before["E"](fake_rand)[0]
        expected = {
            "G_GAN": lsgan(before["D"](fake_enc), 1),
            "G_GAN2": lsgan(before["D2"](fake_rand), 1),
            "G_L1": 10 * (fake_enc - real_B[:h]).abs().mean(),
            "kl": 0.01 * -0.5 * (1 + model.logvar - model.mu ** 2 - model.logvar.exp()).sum(),
            "z_L1": 0.5 * (mu2 - model.z_random).abs().mean(),
            "D": lsgan(before["D"](fake_enc), 0) + lsgan(before["D"](real_B[:h]), 1),
            "D2": lsgan(before["D2"](fake_rand), 0) + lsgan(before["D2"](real_B[n - h:]), 1),
        }
        torch.testing.assert_close(model.mu, before["E"](real_B[:h])[0])
    for name, value in expected.items():
        assert model.get_current_losses()[name] == pytest.approx(float(value), rel=1e-5), name


@pytest.mark.parametrize("variant, E_learns", [("bicycle", False), ("clr_gan", True)])
def test_the_latent_l1_reaches_G_and_only_in_clr_gan_alone_E(pairs, tmp_path, variant, E_learns):
    # every other loss off: only |E(G(A, z)) - z| moves anything
    model = tiny_model(pairs, tmp_path, "--variant", variant, "--lambda_GAN", "0", "--lambda_GAN2", "0",
                       "--lambda_L1", "0", "--lambda_kl", "0")
    assert model.net_names == ["G", "E"]
    before = copy.deepcopy(model.networks())
    model.set_input(batch(2))
    model.optimize_parameters()
    moved = {name: any(not torch.equal(p, q) for p, q in zip(net.parameters(), before[name].parameters()))
             for name, net in model.networks().items()}
    assert moved == {"G": True, "E": E_learns}
    assert model.get_current_losses()["z_L1"] > 0


def test_variants_drop_the_other_cycle(pairs, tmp_path):
    cvae = tiny_model(pairs, tmp_path, "--variant", "cvae_gan")
    assert cvae.net_names == ["G", "E", "D"] and "fake_B_random" not in cvae.visual_names
    clr = tiny_model(pairs, tmp_path, "--variant", "clr_gan")
    assert clr.net_names == ["G", "E", "D2"] and "fake_B_encoded" not in clr.visual_names
    same = tiny_model(pairs, tmp_path, "--use_same_D", "--conditional_D")
    assert same.net_names == ["G", "E", "D"] and same.netD.model_0[0].in_channels == 6
    same.set_input(batch(2))
    same.optimize_parameters()
    assert set(same.losses) == {"G_GAN", "G_GAN2", "G_L1", "kl", "z_L1", "D", "D2"}
    # as the authors': the shared D learns from the random branch whatever --lambda_GAN2 (its G loss is then off)
    same = tiny_model(pairs, tmp_path, "--use_same_D", "--lambda_GAN2", "0")
    same.set_input(batch(2))
    same.optimize_parameters()
    assert set(same.losses) == {"G_GAN", "G_L1", "kl", "z_L1", "D", "D2"}


@pytest.mark.parametrize("batch_size, trained", [(1, 5), (2, 4), (3, 3)])
def test_train_py_trains_any_batch_size_and_test_py_reads_it(pairs, tmp_path, batch_size, trained):
    """Of the 5 pairs, an epoch trains the full batches only, as the authors' train.py (a last, shorter batch is
    left out)."""
    ck = str(tmp_path / "ck")
    common = ["--dataroot", pairs, "--name", "b", "--checkpoints_dir", ck, *TINY]
    assert run_cli(train_script.main, [*common, "--display_id", "0", "--no_html", "--niter", "1", "--niter_decay",
                                       "0", "--batch_size", str(batch_size), "--seed", "0"]) == 0
    assert {f"latest_net_{n}.pth" for n in ("G", "E", "D", "D2")} <= set(os.listdir(os.path.join(ck, "b")))
    position = read_checkpoint(os.path.join(ck, "b", "latest_train_state.pth"))["run"]["position"]
    assert (position["epoch"], position["total_steps"]) == (2, trained)
    shutil.copytree(os.path.join(pairs, "train"), os.path.join(pairs, "val"))
    assert run_cli(test_script.main, [*common, "--results_dir", str(tmp_path / "res"), "--n_samples", "2"]) == 0
    assert len(os.listdir(tmp_path / "res" / "val" / "images")) == 5 * 5


def test_a_data_set_without_a_full_batch_fails_in_one_line(pairs, tmp_path):
    with pytest.raises(DataError, match=r"5 training items, fewer than --batch_size 6; --model bicycle_gan trains on "
                                        r"full batches only, as its authors: lower --batch_size"):
        train_script.main(["--dataroot", pairs, "--name", "b", "--checkpoints_dir", str(tmp_path / "ck"), *TINY,
                           "--display_id", "0", "--batch_size", "6"])
    assert not os.path.exists(tmp_path / "ck")


@pytest.mark.parametrize("flags, message", [
    (["--netG", "basic", "--upsample", "basic"], "--netG basic is not one of BicycleGAN's U-Nets"),
    (["--netG", "basic", "--upsample", "transpose"], "needs a U-Net --netG"),
    (["--netG", "resnet_9blocks"], r"--model bicycle_gan needs a U-Net --netG \(unet_64, unet_128, unet_256\), got "
                                   "resnet_9blocks"),
    (["--where_add", "middle"], "--where_add middle is offered by the authors' help but not built"),
    (["--upsample", "transpose"], "needs --upsample basic or bilinear"),
    (["--netD2", "set"], "needs a PatchGAN --netD2"),
    (["--lambda_z", "-1"], "--lambda_z must be >= 0"),
    (["--nz", "-1"], "--nz must be >= 0"),
    (["--crop_size", "32", "--load_size", "32", "--netG", "unet_256"], "do not fit --netG unet_256"),
    (["--netE", "resnet_256", "--netG", "unet_64", "--crop_size", "16", "--load_size", "16"], "do not fit --netG"),
    (["--dataset_mode", "unaligned"], "needs --dataset_mode aligned"),
])
def test_bad_options_fail_in_one_line(pairs, flags, message):
    with pytest.raises(OptionError, match=message):
        TrainOptions().parse(["--dataroot", pairs, *TINY, *flags])


def test_the_authors_flags_and_defaults():
    opt = TrainOptions().parse(["--dataroot", FIXTURE, "--model", "bicycle_gan", "--gpu_ids", "-1",
                                "--n_epochs", "20", "--n_epochs_decay", "10"])
    assert (opt.netG, opt.netD, opt.netD2, opt.netE, opt.nz, opt.nef, opt.num_Ds) == (
        "unet_256", "basic_256_multi", "basic_256_multi", "resnet_256", 8, 64, 2)
    assert (opt.batch_size, opt.lr_policy, opt.init_type, opt.upsample, opt.where_add, opt.dataset_mode) == (
        2, "linear", "xavier", "basic", "all", "aligned")
    assert (opt.lambda_L1, opt.lambda_kl, opt.lambda_z, opt.lambda_GAN, opt.lambda_GAN2) == (10, 0.01, 0.5, 1, 1)
    assert (opt.loadSizeH, opt.loadSizeW, opt.fineSizeH, opt.fineSizeW, opt.niter, opt.niter_decay) == (
        286, 286, 256, 256, 20, 10)
    test_opt = TestOptions().parse(["--dataroot", FIXTURE, "--model", "bicycle_gan", "--gpu_ids", "-1"])
    assert (test_opt.phase, test_opt.n_samples, test_opt.sync, test_opt.no_encode) == ("val", 5, False, False)


def test_a_killed_run_resumes_exactly(pairs, tmp_path, monkeypatch):
    """Killed after a 'latest' save in the middle of epoch 2, then --continue_train: the same weights as a run
    that never stopped (eps and z_random come from the saved random states)."""
    from models import run_state

    def flags(ck: str, *extra: str) -> list[str]:
        return ["--dataroot", pairs, "--name", "r", "--checkpoints_dir", ck, "--seed", "4", "--display_id", "0",
                "--no_html", "--niter", "2", "--niter_decay", "0", "--save_latest_freq", "4", "--batch_size", "2",
                *TINY, *extra]

    class Killed(Exception):
        pass

    real_save = run_state.save_checkpoint

    def save_then_die(model, label, position, *rest):
        real_save(model, label, position, *rest)
        if position.epoch == 2:                  # 'latest' every 4 images: saved inside epoch 2
            raise Killed

    whole, broken = str(tmp_path / "whole"), str(tmp_path / "broken")
    assert run_cli(train_script.main, flags(whole)) == 0
    with monkeypatch.context() as patch, pytest.raises(Killed):
        patch.setattr(run_state, "save_checkpoint", save_then_die)
        train_script.main(flags(broken))
    assert run_cli(train_script.main, flags(broken, "--continue_train")) == 0
    for net in ("G", "E", "D", "D2"):
        a, b = (torch.load(os.path.join(ck, "r", f"latest_net_{net}.pth"), weights_only=True) for ck in (whole, broken))
        assert all(torch.equal(a[k], b[k]) for k in a), net


def test_a_checkpoint_that_does_not_fit_names_bicycle_gans_flags(pairs, tmp_path):
    model = tiny_model(pairs, tmp_path)
    run_state.save_networks(model, "latest")
    other = tiny_model(pairs, tmp_path, "--nz", "4")
    with pytest.raises(UserError, match=r"latest_net_G\.pth does not fit the network built from the flags "
                                        r"\(check --netG/--ngf/--nz/--where_add/"):
        run_state.load_networks(other, "latest")
