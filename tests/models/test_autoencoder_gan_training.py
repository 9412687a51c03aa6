"""MUNIT and UNIT training (models/autoencoder_gan.py, munit_model.py, unit_model.py): batch 1 and 3 train, a run
resumes exactly, --config equals its flags, every loss checked by hand (and the weighted total by its gradient),
the VGG loss, UNIT's --shared_layers, the authors' snapshot files and the per-iteration learning-rate schedule.
Tiny networks on 32x32 crops of images made here, a few iterations each."""
import copy
import json
import math
import os

import numpy as np
import pytest
import torch
import torch.nn.functional as F
import yaml
from PIL import Image

import test as test_script
import train as train_script
from data import create_dataset
from models import create_model
from models.autoencoder_gan import INIT_TYPES, AutoEncoderGANModel
from models.losses import VGGPerceptualLoss
from models.networks.init import init_weights
from models.networks.spectral_norm import SpectralNorm
from options.test_options import TestOptions
from options.train_options import TrainOptions
from util.checkpoint import read_checkpoint
from util.cli import run_cli
from util.errors import OptionError, UserError
from util.seed import seed_all

NETS = ("gen_a", "gen_b", "dis_a", "dis_b")
NETS_FLAGS = ["--gpu_ids", "-1", "--num_threads", "0", "--ngf", "4", "--ndf", "4", "--n_res", "1"]
TINY = [*NETS_FLAGS, "--display_id", "0", "--n_layers_D", "2", "--num_scales", "2", "--loadSizeH", "36",
        "--loadSizeW", "36", "--fineSizeH", "32", "--fineSizeW", "32"]
TEST_SIZE = ["--loadSizeH", "32", "--loadSizeW", "32", "--fineSizeH", "32", "--fineSizeW", "32"]
MODEL = {"munit": ["--model", "munit", "--mlp_dim", "8", "--style_dim", "2"], "unit": ["--model", "unit"]}
LOSSES = {"munit": ["dis_a", "dis_b", "gen_adv_a", "gen_adv_b", "gen_recon_x_a", "gen_recon_x_b", "gen_recon_s_a",
                    "gen_recon_s_b", "gen_recon_c_a", "gen_recon_c_b"],              # the cycle's: off by default
          "unit": ["dis_a", "dis_b", "gen_adv_a", "gen_adv_b", "gen_recon_x_a", "gen_recon_x_b", "gen_recon_kl_a",
                   "gen_recon_kl_b", "gen_cyc_x_a", "gen_cyc_x_b", "gen_recon_kl_cyc_aba", "gen_recon_kl_cyc_bab"]}


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> str:
    """36x36 unpaired images: 4 in trainA, 5 in trainB (5 samples an epoch), 2 per test domain."""
    root = str(tmp_path_factory.mktemp("munit_unit") / "data")
    rng = np.random.default_rng(0)
    for folder, n in (("trainA", 4), ("trainB", 5), ("testA", 2), ("testB", 2)):
        os.makedirs(os.path.join(root, folder))
        for i in range(n):
            img = np.full((36, 36, 3), rng.integers(40, 200, 3), np.uint8)
            y, x = rng.integers(0, 24, 2)
            img[y:y + 12, x:x + 12] = rng.integers(0, 256, 3)
            img = np.clip(img + rng.normal(0, 8, img.shape), 0, 255).astype(np.uint8)
            Image.fromarray(img).save(os.path.join(root, folder, f"{i:03d}.png"))
    return root


def run_flags(model, data, ck, *extra):
    return ["--dataroot", data, "--name", "run", "--checkpoints_dir", str(ck), "--seed", "3", *MODEL[model], *TINY,
            *extra]


def train_opt(model, data, *extra):
    return TrainOptions().parse(["--dataroot", data, *MODEL[model], *TINY, *extra])


def weights(ck, label="latest"):
    return {n: torch.load(os.path.join(ck, "run", f"{label}_net_{n}.pth"), weights_only=True) for n in NETS}


def error_line(log_records):
    errors = [r.getMessage() for r in log_records if r.levelname == "ERROR"]
    assert len(errors) == 1 and "\n" not in errors[0], errors
    return errors[0]


def batch(n=2, seed=0):
    g = torch.Generator().manual_seed(seed)
    return {"A": torch.rand(n, 3, 32, 32, generator=g) * 2 - 1, "B": torch.rand(n, 3, 32, 32, generator=g) * 2 - 1,
            "A_paths": [f"a{i}" for i in range(n)]}


# -- 1. batch 1 and batch 3 train --------------------------------------------------------------------------------------
@pytest.mark.parametrize("model", ["munit", "unit"])
@pytest.mark.parametrize("batch_size", [1, 3])
def test_trains_at_batch_1_and_3_and_stops_at_max_iter(data, tmp_path, monkeypatch, log_records, model, batch_size):
    initial = {}
    setup = AutoEncoderGANModel.setup

    def keep_initial(self):
        out = setup(self)
        initial.update({n: copy.deepcopy(getattr(self, f"net{n}").state_dict()) for n in NETS})
        return out

    monkeypatch.setattr(AutoEncoderGANModel, "setup", keep_initial)
    ck = tmp_path / "ck"
    assert train_script.main(run_flags(model, data, ck, "--max_iter", "2", "--batch_size", str(batch_size),
                                       "--print_freq", "1")) == 0
    assert any("--max_iter reached" in r.getMessage() for r in log_records)
    run = ck / "run"
    state = read_checkpoint(str(run / "latest_train_state.pth"))
    assert [s["last_epoch"] for s in state["model"]["schedulers"]] == [2, 2]          # stopped at --max_iter
    # (epoch, its batches, samples): batch 3 makes one batch of the 5 images per epoch, the authors' drop_last
    # leaving out the last 2
    position = state["run"]["position"]
    assert (position["epoch"], position["batches_done"], position["total_steps"]) == {1: (1, 2, 2),
                                                                                        3: (2, 1, 6)}[batch_size]
    assert sorted(p.name for p in run.glob("*.pth")) == sorted(
        [f"latest_net_{n}.pth" for n in NETS] + ["latest_train_state.pth"])             # nothing after --max_iter
    # every loss, finite, in the log and the history
    lines = [line for line in (run / "loss_log.txt").read_text().splitlines() if line.startswith("(epoch")]
    assert len(lines) == 2 and all(f"{name}: " in line for line in lines for name in LOSSES[model])
    history = [json.loads(line) for line in (run / "loss_history.jsonl").read_text().splitlines()]
    assert len(history) == 2
    for entry in history:
        assert list(entry["losses"]) == LOSSES[model]
        assert all(math.isfinite(v) for v in entry["losses"].values())
        assert all(v > 0 for v in entry["losses"].values())
    # every parameter moved (the AdaIN layers' running statistics are never used, as the authors')
    trained = weights(ck)
    for name in NETS:
        assert trained[name].keys() == initial[name].keys()
        for key, value in trained[name].items():
            if "running_" not in key:
                assert not torch.equal(value, initial[name][key]), (name, key)


# -- 2. exact resume -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("model", ["munit", "unit"])
def test_run_resumes_exactly(data, tmp_path, model):
    """4 iterations of batch 2 (3 batches an epoch, so the run crosses an epoch) straight, or 2 then 2 more."""
    whole, split = tmp_path / "whole", tmp_path / "split"
    extra = ["--batch_size", "2", "--print_freq", "100"]
    assert train_script.main(run_flags(model, data, whole, *extra, "--max_iter", "4")) == 0
    assert train_script.main(run_flags(model, data, split, *extra, "--max_iter", "2")) == 0
    halfway = weights(split)
    assert train_script.main(run_flags(model, data, split, *extra, "--max_iter", "4", "--continue_train")) == 0
    a, b = weights(whole), weights(split)
    for name in NETS:
        assert a[name].keys() == b[name].keys()
        assert all(torch.equal(a[name][k], b[name][k]) for k in a[name]), name
        assert not all(torch.equal(a[name][k], halfway[name][k]) for k in a[name])
    sa, sb = (read_checkpoint(str(ck / "run" / "latest_train_state.pth"))["model"] for ck in (whole, split))
    assert [s["last_epoch"] for s in sa["schedulers"]] == [4, 4] and sa["schedulers"] == sb["schedulers"]
    for oa, ob in zip(sa["optimizers"], sb["optimizers"]):
        assert oa["param_groups"] == ob["param_groups"]
        assert oa["state"].keys() == ob["state"].keys() and len(oa["state"]) > 0
        for i in oa["state"]:
            for k, v in oa["state"][i].items():
                assert torch.equal(v, ob["state"][i][k]), (i, k)


@pytest.mark.parametrize("model", ["munit", "unit"])
def test_no_downsampling_and_no_middle_discriminator_layers_train(data, model):
    """Their code builds gen.n_downsample 0 and dis.n_layer 0 (a 4x4 conv, then the 1x1 one): ours too."""
    net = create_model(train_opt(model, data, "--n_downsample", "0", "--n_layers_D", "0"))
    net.setup()
    net.set_input(batch(1))
    net.optimize_parameters()
    assert all(math.isfinite(v) for v in net.get_current_losses().values())
    assert net.fake_B.shape == (1, 3, 32, 32)
    with pytest.raises(OptionError, match="--n_layers_D must be >= 1, got 0"):
        TrainOptions().parse(["--dataroot", data, "--model", "cycle_gan", "--n_layers_D", "0"])


# -- 3. --config FILE ------------------------------------------------------------------------------------------------
CONFIG = {"image_save_iter": 100, "image_display_iter": 100, "display_size": 4, "snapshot_save_iter": 0,
          "log_iter": 1, "max_iter": 3, "batch_size": 2, "weight_decay": 0.001, "beta1": 0.4, "beta2": 0.99,
          "init": "gaussian", "lr": 0.0002, "lr_policy": "step", "step_size": 7, "gamma": 0.3, "gan_w": 2,
          "recon_x_w": 5, "recon_s_w": 0.5, "recon_c_w": 0.7, "recon_x_cyc_w": 3, "vgg_w": 0, "recon_h_w": 0,
          "gen": {"dim": 6, "mlp_dim": 8, "style_dim": 3, "activ": "lrelu", "n_downsample": 1, "n_res": 1,
                  "pad_type": "zero"},
          "dis": {"dim": 4, "norm": "none", "activ": "lrelu", "n_layer": 2, "gan_type": "lsgan", "num_scales": 2,
                  "pad_type": "reflect"},
          "input_dim_a": 3, "input_dim_b": 3, "num_workers": 0, "new_size": 36, "crop_image_height": 32,
          "crop_image_width": 32}
EQUIVALENT = ["--update_html_freq", "100", "--display_freq", "100", "--print_freq", "1",
              "--max_iter", "3", "--batch_size", "2", "--weight_decay", "0.001", "--beta1", "0.4", "--beta2", "0.99",
              "--init_type", "normal", "--lr", "0.0002", "--lr_policy", "step", "--step_size", "7", "--gamma", "0.3",
              "--gan_w", "2", "--recon_x_w", "5", "--recon_s_w", "0.5", "--recon_c_w", "0.7", "--recon_x_cyc_w", "3",
              "--vgg_w", "0", "--ngf", "6", "--mlp_dim", "8", "--style_dim", "3", "--gen_activ", "lrelu",
              "--n_downsample", "1", "--n_res", "1", "--gen_pad_type", "zero", "--ndf", "4", "--dis_norm", "none",
              "--dis_activ", "lrelu", "--n_layers_D", "2", "--gan_type", "lsgan", "--num_scales", "2",
              "--dis_pad_type", "reflect", "--input_nc", "3", "--output_nc", "3", "--num_threads", "0",
              "--loadSizeH", "36", "--loadSizeW", "36", "--fineSizeH", "32", "--fineSizeW", "32"]
COMPARED = ["ngf", "ndf", "n_layers_D", "num_scales", "style_dim", "mlp_dim", "n_downsample", "n_res", "gen_activ",
            "gen_pad_type", "dis_norm", "dis_activ", "dis_pad_type", "gan_type", "lr", "lr_policy", "step_size",
            "gamma", "gan_w", "recon_x_w", "recon_s_w", "recon_c_w", "recon_x_cyc_w", "vgg_w", "loadSizeH", "loadSizeW",
            "fineSizeH", "fineSizeW", "max_iter", "batch_size", "beta1", "beta2", "weight_decay", "init_type",
            "input_nc", "output_nc", "num_threads", "print_freq", "display_freq", "update_html_freq"]


def write_config(tmp_path, name="tiny.yaml", drop=(), **changes) -> str:
    config = {k: v for k, v in copy.deepcopy(CONFIG).items() if k not in drop}
    for key, value in changes.items():
        if "." in key:
            outer, inner = key.split(".")
            config[outer][inner] = value
        else:
            config[key] = value
    path = tmp_path / name
    path.write_text(yaml.safe_dump(config))
    return str(path)


def test_config_file_equals_its_flags(data, tmp_path, log_records):
    base = ["--dataroot", data, "--model", "munit", "--gpu_ids", "-1", "--display_id", "0"]
    by_config = TrainOptions().parse([*base, "--config", write_config(tmp_path)])
    by_flags = TrainOptions().parse([*base, *EQUIVALENT])
    assert [getattr(by_config, k) for k in COMPARED] == [getattr(by_flags, k) for k in COMPARED]
    assert (by_config.ngf, by_config.init_type, by_config.loadSizeW, by_config.recon_c_w) == (6, "normal", 36, 0.7)
    assert not [r for r in log_records if r.levelname == "WARNING"]   # recon_h_w and display_size are known
    models = []
    for opt in (by_config, by_flags):
        seed_all(4)
        models.append(create_model(opt))
    for name in NETS:
        a, b = (getattr(m, f"net{name}").state_dict() for m in models)
        assert [(k, v.shape) for k, v in a.items()] == [(k, v.shape) for k, v in b.items()]
        assert all(torch.equal(a[k], b[k]) for k in a)
    assert models[0].netgen_a.enc_content.model[0].conv.in_channels == 3
    assert models[0].optimizer_G.defaults["weight_decay"] == 0.001
    assert models[0].optimizer_G.defaults["betas"] == (0.4, 0.99)


def test_a_flag_wins_over_the_config_and_unknown_keys_warn_once(data, tmp_path, log_records):
    path = write_config(tmp_path, foo=1, **{"gen.bar": 2})
    opt = TrainOptions().parse(["--dataroot", data, "--model", "munit", "--gpu_ids", "-1", "--config", path,
                                "--ngf", "5", "--lr", "0.0005", "--max_iter", "9", "--fineSizeH", "24"])
    assert (opt.ngf, opt.lr, opt.max_iter, opt.fineSizeH) == (5, 0.0005, 9, 24)
    assert (opt.ndf, opt.step_size, opt.style_dim, opt.fineSizeW) == (4, 7, 3, 32)      # the rest from the file
    warnings = [r.getMessage() for r in log_records if r.levelname == "WARNING"]
    assert len(warnings) == 1 and "foo" in warnings[0] and "gen.bar" in warnings[0] and path in warnings[0]


@pytest.mark.filterwarnings("ignore:Detected call of")      # the schedules stepped without training steps
def test_their_initialisations_and_constant_rate(data, tmp_path):
    """Their weights_init: gain sqrt(2) for xavier and orthogonal, N(0, 0.02) for gaussian, PyTorch's weights and
    zero biases for default; their get_scheduler: a config without lr_policy (or constant) keeps the rate."""
    base = ["--dataroot", data, *MODEL["munit"], "--gpu_ids", "-1", "--display_id", "0"]
    for init, gain in (("xavier", math.sqrt(2)), ("orthogonal", math.sqrt(2)), ("gaussian", 0.02),
                       ("kaiming", 0.02)):
        opt = TrainOptions().parse([*base, "--config", write_config(tmp_path, f"{init}.yaml", init=init)])
        assert (opt.init_type, opt.init_gain) == (INIT_TYPES[init], gain)
    assert TrainOptions().parse([*base, "--init_type", "xavier", "--init_gain", "0.5"]).init_gain == 0.5
    default = TrainOptions().parse([*base, "--config", write_config(tmp_path, "default.yaml", init="default")])
    assert default.init_type == "default"
    net = torch.nn.Sequential(torch.nn.Conv2d(2, 2, 3), torch.nn.BatchNorm2d(2), torch.nn.Linear(2, 2))
    before = copy.deepcopy(net.state_dict())
    init_weights(net, "default")
    for key, value in net.state_dict().items():
        zeroed = key in ("0.bias", "2.bias")
        assert torch.equal(value, torch.zeros_like(value) if zeroed else before[key]), key
    opt = TrainOptions().parse([*base, *TINY, "--config", write_config(tmp_path, drop=("lr_policy",))])
    assert (opt.lr_policy, opt.step_size) == ("constant", 7)
    model = create_model(opt)
    model.setup()
    for _ in range(15):
        for scheduler in model.schedulers:
            scheduler.step()
    assert [group["lr"] for o in model.optimizers for group in o.param_groups] == [opt.lr] * 2


@pytest.mark.parametrize("key, value", [("gen.pad_type", "bogus"), ("dis.norm", "group"), ("init", "he"),
                                        ("lr_policy", "poly")])
def test_a_config_value_outside_the_choices_is_one_line(data, tmp_path, key, value):
    path = write_config(tmp_path, **{key: value})
    with pytest.raises(OptionError, match=f"--config {path}: {key} '{value}' is not one of"):
        TrainOptions().parse(["--dataroot", data, "--model", "munit", "--gpu_ids", "-1", "--config", path])


@pytest.mark.parametrize("content", [None, "gen: [1, 2\n", "- just\n- a list\n"])
def test_missing_or_broken_config_is_one_line(data, tmp_path, log_records, content):
    path = tmp_path / "bad.yaml"
    if content is not None:
        path.write_text(content)
    code = run_cli(train_script.main, run_flags("munit", data, tmp_path / "ck", "--config", str(path)))
    assert code == 2
    assert str(path) in error_line(log_records)
    assert not (tmp_path / "ck").exists()
    with pytest.raises(OptionError):
        TrainOptions().parse(["--dataroot", data, "--model", "munit", "--config", str(path)])


def test_their_resize_keeps_the_aspect_ratio(tmp_path):
    """Their loaders' Resize(new_size) (the shorter side, tests/data/test_transforms.py), then a random crop in
    training and none at test time, are the defaults: a 64x48 (WxH) picture is 48x36 before the 32x32 crop."""
    for sub in ("trainA", "trainB", "testA", "testB"):
        os.makedirs(tmp_path / sub)
        Image.fromarray(np.zeros((48, 64, 3), np.uint8)).save(tmp_path / sub / "0.png")
    train = TrainOptions().parse(["--dataroot", str(tmp_path), *MODEL["munit"], *TINY])
    assert train.resize_or_crop == "shorter_side_and_crop"
    assert create_dataset(train)[0]["A"].shape == (3, 32, 32)
    test = TestOptions().parse(["--dataroot", str(tmp_path), *MODEL["munit"], *NETS_FLAGS, "--new_size", "36"])
    assert test.resize_or_crop == "shorter_side"
    assert create_dataset(test)[0]["A"].shape == (3, 36, 48)


def test_new_size_a_and_b_resize_each_domain(tmp_path, log_records):
    """The authors' gta2city configs give new_size_a and new_size_b (read only without new_size): each domain's
    shorter side goes to its own size, in training before the crop, at test time without one."""
    for sub in ("trainA", "trainB", "testA", "testB"):
        os.makedirs(tmp_path / sub)
        Image.fromarray(np.zeros((48, 64, 3), np.uint8)).save(tmp_path / sub / "0.png")
    path = write_config(tmp_path, drop=("new_size",), new_size_a=42, new_size_b=36)
    train = TrainOptions().parse(["--dataroot", str(tmp_path), *MODEL["munit"], *NETS_FLAGS, "--config", path,
                                  "--no_flip", "--serial_batches"])
    assert (train.loadSizeW, train.new_size_b) == (42, 36)
    assert not [r for r in log_records if r.levelname == "WARNING"]
    # no crop: the picture's whole resized size shows (flags win over the config)
    full = TrainOptions().parse(["--dataroot", str(tmp_path), *MODEL["munit"], *NETS_FLAGS, "--config", path,
                                 "--preprocess", "shorter_side", "--n_layers_D", "1", "--num_scales", "1"])
    item = create_dataset(full)[0]
    assert (item["A"].shape, item["B"].shape) == ((3, 42, 56), (3, 36, 48))
    test = TestOptions().parse(["--dataroot", str(tmp_path), *MODEL["munit"], *NETS_FLAGS, "--config", path])
    item = create_dataset(test)[0]
    assert (item["A"].shape, item["B"].shape) == ((3, 42, 56), (3, 36, 48))
    both = write_config(tmp_path, "both.yaml", new_size_a=40, new_size_b=24)        # new_size (36) wins, as theirs
    assert TrainOptions().parse(["--dataroot", str(tmp_path), *MODEL["munit"], "--config", both]).new_size_b is None
    with pytest.raises(OptionError, match="--new_size_b 24"):
        TrainOptions().parse(["--dataroot", str(tmp_path), *MODEL["munit"], "--config", path, "--new_size_b", "24"])


# -- 4. the losses by hand ---------------------------------------------------------------------------------------------
def l1(a, b):
    return (a - b).abs().mean()


def lsgan(maps, real):
    return sum(((m - (1.0 if real else 0.0)) ** 2).mean() for m in maps)


def step_without_updates(model):
    """One iteration whose optimiser steps do nothing: the weights stay, the gradients stay for the test to read."""
    for optimizer in model.optimizers:
        optimizer.step = lambda *args, **kwargs: None
    model.optimize_parameters()
    model.set_requires_grad([model.netdis_a, model.netdis_b], True)       # for the test's own D gradients


def grads(params):
    return [p.grad.clone() if p.grad is not None else torch.zeros_like(p) for p in params]


WEIGHTS = ["--gan_w", "2", "--recon_x_w", "3", "--recon_x_cyc_w", "4"]


@pytest.mark.filterwarnings("ignore:Seems like `optimizer.step\\(\\)` has been overridden")
def test_munit_losses_and_step_by_hand(data):
    opt = train_opt("munit", data, *WEIGHTS, "--recon_s_w", "0.5", "--recon_c_w", "0.25")
    model = create_model(opt)
    model.setup()
    x = batch(2)
    x_a, x_b = x["A"], x["B"]
    model.set_input(x)
    gen_a, gen_b, dis_a, dis_b = model.netgen_a, model.netgen_b, model.netdis_a, model.netdis_b

    def by_hand():
        s_a, s_b = torch.randn(2, 2, 1, 1), torch.randn(2, 2, 1, 1)       # s_a then s_b, on the CPU
        c_a, s_a_prime = gen_a.encode(x_a)
        c_b, s_b_prime = gen_b.encode(x_b)
        x_ba, x_ab = gen_a.decode(c_b, s_a), gen_b.decode(c_a, s_b)
        c_b_recon, s_a_recon = gen_a.encode(x_ba)
        c_a_recon, s_b_recon = gen_b.encode(x_ab)
        return {"gen_recon_x_a": l1(gen_a.decode(c_a, s_a_prime), x_a),
                "gen_recon_x_b": l1(gen_b.decode(c_b, s_b_prime), x_b),
                "gen_recon_s_a": l1(s_a_recon, s_a), "gen_recon_s_b": l1(s_b_recon, s_b),
                "gen_recon_c_a": l1(c_a_recon, c_a), "gen_recon_c_b": l1(c_b_recon, c_b),
                "gen_cycrecon_x_a": l1(gen_a.decode(c_a_recon, s_a_prime), x_a),
                "gen_cycrecon_x_b": l1(gen_b.decode(c_b_recon, s_b_prime), x_b),
                "gen_adv_a": lsgan(dis_a(x_ba), True), "gen_adv_b": lsgan(dis_b(x_ab), True)}

    torch.manual_seed(7)
    losses = model.gen_losses()
    torch.manual_seed(7)
    expected = by_hand()
    assert losses.keys() == expected.keys() and set(model.loss_names) == {"dis_a", "dis_b", *expected}
    for name in expected:
        torch.testing.assert_close(losses[name], expected[name], atol=1e-6, rtol=1e-6, msg=name)

    # one iteration, the steps left out: D's and G's gradients are those of the weighted sums computed here
    torch.manual_seed(8)
    step_without_updates(model)
    torch.manual_seed(8)
    with torch.no_grad():
        s_a, s_b = torch.randn(2, 2, 1, 1), torch.randn(2, 2, 1, 1)        # the discriminators' own codes
        fake_a, fake_b = gen_a.decode(gen_b.encode(x_b)[0], s_a), gen_b.decode(gen_a.encode(x_a)[0], s_b)
    dis_loss = {"dis_a": lsgan(dis_a(fake_a), False) + lsgan(dis_a(x_a), True),
                "dis_b": lsgan(dis_b(fake_b), False) + lsgan(dis_b(x_b), True)}
    gen = by_hand()
    for name, value in {**dis_loss, **gen}.items():
        assert model.losses[name] == pytest.approx(value.item(), abs=1e-6, rel=1e-6), name
    w = {"gen_adv": 2, "gen_recon_x": 3, "gen_recon_s": 0.5, "gen_recon_c": 0.25, "gen_cycrecon_x": 4}
    gen_total = sum(w[name[:-2]] * value for name, value in gen.items())
    for total, nets in ((2 * (dis_loss["dis_a"] + dis_loss["dis_b"]), (dis_a, dis_b)), (gen_total, (gen_a, gen_b))):
        params = [p for net in nets for p in net.parameters()]
        expected_grads = torch.autograd.grad(total, params, allow_unused=True)
        for p, got, want in zip(params, grads(params), expected_grads):
            torch.testing.assert_close(got, torch.zeros_like(p) if want is None else want, atol=1e-6, rtol=1e-5)


def test_munit_without_cycle_loss_skips_it(data):
    model = create_model(train_opt("munit", data))
    model.setup()
    model.set_input(batch(1))
    assert not any("cycrecon" in k for k in [*model.gen_losses(), *model.loss_names])
    assert model.loss_weights()["gen_recon_x_a"] == 10 and model.opt.recon_x_cyc_w == 0      # the authors' defaults


@pytest.mark.filterwarnings("ignore:Seems like `optimizer.step\\(\\)` has been overridden")
def test_unit_losses_and_step_by_hand(data):
    opt = train_opt("unit", data, *WEIGHTS, "--recon_kl_w", "0.5", "--recon_kl_cyc_w", "0.25")
    model = create_model(opt)
    model.setup()
    x = batch(2)
    x_a, x_b = x["A"], x["B"]
    model.set_input(x)
    gen_a, gen_b, dis_a, dis_b = model.netgen_a, model.netgen_b, model.netdis_a, model.netdis_b

    def encode(gen, image):
        h = gen.enc(image)
        return h, torch.randn(h.shape)              # the noise: std 1, drawn on the CPU at each encode

    def kl(h):
        return (h ** 2).mean()

    def by_hand():
        h_a, n_a = encode(gen_a, x_a)
        h_b, n_b = encode(gen_b, x_b)
        x_ba, x_ab = gen_a.dec(h_b + n_b), gen_b.dec(h_a + n_a)
        h_b_recon, n_b_recon = encode(gen_a, x_ba)
        h_a_recon, n_a_recon = encode(gen_b, x_ab)
        return {"gen_recon_x_a": l1(gen_a.dec(h_a + n_a), x_a), "gen_recon_x_b": l1(gen_b.dec(h_b + n_b), x_b),
                "gen_recon_kl_a": kl(h_a), "gen_recon_kl_b": kl(h_b),
                "gen_cyc_x_a": l1(gen_a.dec(h_a_recon + n_a_recon), x_a),
                "gen_cyc_x_b": l1(gen_b.dec(h_b_recon + n_b_recon), x_b),
                "gen_recon_kl_cyc_aba": kl(h_a_recon), "gen_recon_kl_cyc_bab": kl(h_b_recon),
                "gen_adv_a": lsgan(dis_a(x_ba), True), "gen_adv_b": lsgan(dis_b(x_ab), True)}

    torch.manual_seed(7)
    losses = model.gen_losses()
    torch.manual_seed(7)
    expected = by_hand()
    assert losses.keys() == expected.keys()
    for name in expected:
        torch.testing.assert_close(losses[name], expected[name], atol=1e-6, rtol=1e-6, msg=name)

    torch.manual_seed(8)
    step_without_updates(model)
    torch.manual_seed(8)
    with torch.no_grad():
        h_a, n_a = encode(gen_a, x_a)
        h_b, n_b = encode(gen_b, x_b)
        fake_a, fake_b = gen_a.dec(h_b + n_b), gen_b.dec(h_a + n_a)
    dis_loss = {"dis_a": lsgan(dis_a(fake_a), False) + lsgan(dis_a(x_a), True),
                "dis_b": lsgan(dis_b(fake_b), False) + lsgan(dis_b(x_b), True)}
    gen = by_hand()
    for name, value in {**dis_loss, **gen}.items():
        assert model.losses[name] == pytest.approx(value.item(), abs=1e-6, rel=1e-6), name
    w = {"gen_adv": 2, "gen_recon_x": 3, "gen_recon_kl": 0.5, "gen_cyc_x": 4, "gen_recon_kl_cyc": 0.25}
    gen_total = sum(w[name.rsplit("_", 1)[0]] * value for name, value in gen.items())
    for total, nets in ((2 * (dis_loss["dis_a"] + dis_loss["dis_b"]), (dis_a, dis_b)), (gen_total, (gen_a, gen_b))):
        params = [p for net in nets for p in net.parameters()]
        expected_grads = torch.autograd.grad(total, params, allow_unused=True)
        for p, got, want in zip(params, grads(params), expected_grads):
            torch.testing.assert_close(got, torch.zeros_like(p) if want is None else want, atol=1e-6, rtol=1e-5)


# -- 5. the VGG perceptual loss ----------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def vgg_file(tmp_path_factory) -> str:
    """A random torchvision VGG-16 (its features; a classifier key too, which the loss ignores)."""
    from torchvision.models import vgg16

    torch.manual_seed(0)
    state = {f"features.{k}": v for k, v in vgg16(weights=None).features.state_dict().items()}
    state["classifier.0.weight"] = torch.zeros(2, 2)
    path = str(tmp_path_factory.mktemp("vgg") / "vgg16.pth")
    torch.save(state, path)
    return path


def test_vgg_loss_is_the_authors_computation(vgg_file):
    state = torch.load(vgg_file, weights_only=True)
    loss = VGGPerceptualLoss(vgg_file)
    g = torch.Generator().manual_seed(1)
    x, target = (torch.rand(1, 3, 32, 32, generator=g) * 2 - 1 for _ in range(2))

    def features(img):
        bgr = (img.flip(1) + 1) * 127.5 - torch.tensor([103.939, 116.779, 123.680]).view(1, 3, 1, 1)
        h, conv = bgr, 0
        # conv1_1 .. conv5_3 at torchvision's indices; max-pools after conv1_2, conv2_2, conv3_3, none after conv4_3
        for index in (0, 2, "M", 5, 7, "M", 10, 12, 14, "M", 17, 19, 21, 24, 26, 28):
            if index == "M":
                h = F.max_pool2d(h, 2, 2)
            else:
                h = F.relu(F.conv2d(h, state[f"features.{index}.weight"], state[f"features.{index}.bias"], padding=1))
                conv += 1
        assert conv == 13 and h.shape == (1, 512, 4, 4)          # relu5_3 at 1/8 size
        mean, var = h.mean((2, 3), keepdim=True), h.var((2, 3), unbiased=False, keepdim=True)
        return (h - mean) / torch.sqrt(var + 1e-5)

    expected = ((features(x) - features(target)) ** 2).mean()
    with torch.no_grad():
        torch.testing.assert_close(loss(x, target), expected, atol=1e-5, rtol=1e-4)
        assert loss(x, x).item() == 0
    assert not any(p.requires_grad for p in loss.parameters())


def test_vgg_loss_reads_the_authors_weight_file(vgg_file, tmp_path):
    """Their vgg16.weight names the convs conv1_1 ... conv5_3 (torchvision's features 0, 2, 5, ..., 28)."""
    names = ["conv1_1", "conv1_2", "conv2_1", "conv2_2", "conv3_1", "conv3_2", "conv3_3", "conv4_1", "conv4_2",
             "conv4_3", "conv5_1", "conv5_2", "conv5_3"]
    indices = [0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28]
    state = torch.load(vgg_file, weights_only=True)
    theirs = {f"{name}.{p}": state[f"features.{i}.{p}"] for name, i in zip(names, indices) for p in ("weight", "bias")}
    torch.save(theirs, tmp_path / "vgg16.weight")
    g = torch.Generator().manual_seed(2)
    x, target = (torch.rand(1, 3, 32, 32, generator=g) * 2 - 1 for _ in range(2))
    with torch.no_grad():
        assert torch.equal(VGGPerceptualLoss(str(tmp_path / "vgg16.weight"))(x, target),
                           VGGPerceptualLoss(vgg_file)(x, target))
    del theirs["conv5_3.bias"]
    torch.save(theirs, tmp_path / "cut.weight")
    with pytest.raises(UserError, match="not VGG-16 in torchvision's or the authors' layout: .*28.bias"):
        VGGPerceptualLoss(str(tmp_path / "cut.weight"))


def test_training_with_vgg_adds_its_losses(data, tmp_path, vgg_file):
    ck = tmp_path / "ck"
    assert train_script.main(run_flags("unit", data, ck, "--max_iter", "1", "--print_freq", "1", "--vgg_w", "1",
                                       "--vgg_weights", vgg_file)) == 0
    losses = json.loads((ck / "run" / "loss_history.jsonl").read_text().splitlines()[0])["losses"]
    assert list(losses) == LOSSES["unit"] + ["gen_vgg_a", "gen_vgg_b"]
    assert all(math.isfinite(v) and v > 0 for v in losses.values())
    model = create_model(train_opt("munit", data, "--vgg_w", "1", "--vgg_weights", vgg_file))
    model.setup()
    model.set_input(batch(1))
    losses = model.gen_losses()
    assert {"gen_vgg_a", "gen_vgg_b"} <= losses.keys() and model.loss_names[-2:] == ["gen_vgg_a", "gen_vgg_b"]
    with torch.no_grad():                                   # the authors' names: vgg_a = vgg(x_ba, x_b)
        torch.testing.assert_close(losses["gen_vgg_a"], model.vgg(model.fake_A, model.real_B))
        torch.testing.assert_close(losses["gen_vgg_b"], model.vgg(model.fake_B, model.real_A))


def test_vgg_needs_its_weights_file(data, tmp_path, log_records):
    assert run_cli(train_script.main, run_flags("munit", data, tmp_path / "ck", "--vgg_w", "1")) == 2
    assert "--vgg_weights" in error_line(log_records)
    with pytest.raises(OptionError):
        train_opt("munit", data, "--vgg_w", "1")
    log_records.clear()
    missing = str(tmp_path / "nowhere" / "vgg16.pth")
    assert run_cli(train_script.main, run_flags("munit", data, tmp_path / "ck", "--vgg_w", "1",
                                                "--vgg_weights", missing)) == 2
    assert missing in error_line(log_records) and not (tmp_path / "ck").exists()
    with pytest.raises(UserError, match="cannot read checkpoint .*vgg16.pth"):
        VGGPerceptualLoss(missing)


# -- 6. UNIT's --shared_layers -----------------------------------------------------------------------------------------
def shared_pairs(model):
    enc_a, enc_b = model.netgen_a.enc.model[-1].model, model.netgen_b.enc.model[-1].model
    dec_a, dec_b = model.netgen_a.dec.model[0].model, model.netgen_b.dec.model[0].model
    return [(enc_a[-1], enc_b[-1]), (dec_a[0], dec_b[0])]


def test_unit_shared_layers(data, tmp_path):
    opt = train_opt("unit", data, "--shared_layers", "1")
    model = create_model(opt)
    model.setup()
    for block_a, block_b in shared_pairs(model):
        assert block_a is block_b
        assert all(p is q for p, q in zip(block_a.parameters(), block_b.parameters()))
    shared = {id(p) for a, _ in shared_pairs(model) for p in a.parameters()}
    listed = [p for group in model.optimizer_G.param_groups for p in group["params"]]
    assert len({id(p) for p in listed}) == len(listed)                              # each parameter once
    assert shared <= {id(p) for p in listed}
    assert len(listed) == len(list(model.netgen_a.parameters())) + len(list(model.netgen_b.parameters())) - len(shared)
    # not shared: the first encoder blocks, the decoders' other layers
    assert model.netgen_a.enc.model[0] is not model.netgen_b.enc.model[0]
    before = [p.detach().clone() for a, _ in shared_pairs(model) for p in a.parameters()]
    model.set_input(batch(2))
    model.optimize_parameters()
    after = [p for a, _ in shared_pairs(model) for p in a.parameters()]
    assert any(not torch.equal(p, q) for p, q in zip(before, after))
    a_state, b_state = model.netgen_a.state_dict(), model.netgen_b.state_dict()
    for key in a_state:
        if key.startswith(("enc.model.3.model.0.", "dec.model.0.model.0.")):
            assert torch.equal(a_state[key], b_state[key]), key

    # the checkpoints of a run reload, shared still, for training on and for testing
    ck = tmp_path / "ck"
    flags = run_flags("unit", data, ck, "--shared_layers", "1", "--print_freq", "100")
    assert train_script.main([*flags, "--max_iter", "1"]) == 0
    saved = weights(ck)
    assert torch.equal(saved["gen_a"]["dec.model.0.model.0.model.0.conv.weight"],
                       saved["gen_b"]["dec.model.0.model.0.model.0.conv.weight"])
    assert train_script.main([*flags, "--max_iter", "2", "--continue_train"]) == 0
    test_opt = TestOptions().parse(["--dataroot", data, "--name", "run", "--checkpoints_dir", str(ck), *MODEL["unit"],
                                    *NETS_FLAGS, *TEST_SIZE, "--shared_layers", "1"])
    tested = create_model(test_opt)
    tested.setup()
    for block_a, block_b in shared_pairs(tested):
        assert block_a is block_b
    resaved = weights(ck)
    for name in ("gen_a", "gen_b"):
        state = getattr(tested, f"net{name}").state_dict()
        assert all(torch.equal(state[k], resaved[name][k]) for k in state)


def test_unit_shared_layers_beyond_n_res_is_an_option_error(data):
    with pytest.raises(OptionError, match="--shared_layers"):
        train_opt("unit", data, "--shared_layers", "2")                         # --n_res 1


# -- 7. the authors' snapshot files ------------------------------------------------------------------------------------
def test_snapshots_in_the_authors_layout_load_in_test_py(data, tmp_path):
    ck = tmp_path / "ck"
    assert train_script.main(run_flags("munit", data, ck, "--max_iter", "3", "--snapshot_save_iter", "2",
                                       "--print_freq", "100")) == 0
    run = ck / "run" / "checkpoints"                                                    # as in their output folder
    assert sorted(p.name for p in run.iterdir()) == ["dis_00000002.pt", "gen_00000002.pt", "optimizer.pt"]
    gen, dis = (torch.load(run / f"{kind}_00000002.pt", weights_only=True) for kind in ("gen", "dis"))
    latest = weights(ck)
    assert gen.keys() == dis.keys() == {"a", "b"}
    for files, kind in ((gen, "gen"), (dis, "dis")):
        for d in "ab":
            assert list(files[d]) == list(latest[f"{kind}_{d}"])                        # our networks' keys
    assert not all(torch.equal(gen["a"][k], latest["gen_a"][k]) for k in gen["a"])     # iteration 2, not 3
    optimizer = torch.load(run / "optimizer.pt", weights_only=True)
    assert optimizer.keys() == {"gen", "dis"}
    assert len(optimizer["gen"]["state"]) == sum(len([k for k in latest[n] if "running_" not in k])
                                                 for n in ("gen_a", "gen_b"))

    results = tmp_path / "results"
    assert run_cli(test_script.main, ["--dataroot", data, "--name", "snap", "--checkpoints_dir", str(tmp_path / "x"),
                                      "--results_dir", str(results), *MODEL["munit"], *NETS_FLAGS,
                                      *TEST_SIZE, "--checkpoint", str(run / "gen_00000002.pt"),
                                      "--num_style", "2"]) == 0
    images = sorted(os.listdir(results / "snap" / "test_latest" / "images"))
    assert len(images) == 2 * 2 * 3 and any("fake_B_02" in name for name in images)     # 2 inputs a side, 2 styles
    opt = TestOptions().parse(["--dataroot", data, *MODEL["munit"], *NETS_FLAGS, *TEST_SIZE, "--checkpoint",
                               str(run / "gen_00000002.pt")])
    model = create_model(opt)
    model.setup()
    for d in "ab":
        state = getattr(model, f"netgen_{d}").state_dict()
        assert all(torch.equal(state[k], gen[d][k]) for k in gen[d])


# -- 8. --dis_norm sn --------------------------------------------------------------------------------------------------
def unit_vector(x):
    return x / (x.norm() + 1e-12)


def test_sn_discriminators_train_their_weights_and_iterate_u_once_per_call(data):
    model = create_model(train_opt("munit", data, "--dis_norm", "sn"))
    model.setup()
    wrapped = [m.module for d in (model.netdis_a, model.netdis_b) for m in d.modules() if isinstance(m, SpectralNorm)]
    assert len(wrapped) == 2 * 2                                        # per D: 2 scales x (--n_layers_D 2 - 1)
    trained = [p for group in model.optimizer_D.param_groups for p in group["params"]]
    assert len(trained) == sum(1 for d in (model.netdis_a, model.netdis_b) for _ in d.parameters())
    assert {id(conv.weight_bar) for conv in wrapped} <= {id(p) for p in trained}
    assert not {id(t) for conv in wrapped for t in (conv.weight_u, conv.weight_v)} & {id(p) for p in trained}
    before = [(conv.weight_bar.detach().clone(), conv.weight_u.clone()) for conv in wrapped]
    model.set_input(batch(2))
    model.optimize_parameters()
    assert all(math.isfinite(v) for v in model.losses.values())
    for conv, (w_before, u) in zip(wrapped, before):
        assert not torch.equal(conv.weight_bar, w_before)               # trained
        # D's step calls each D twice (fake, real) with the old W, G's step once with the new: three iterations
        for w in (w_before, w_before, conv.weight_bar.detach()):
            w = w.flatten(1)
            v = unit_vector(w.t() @ u)
            u = unit_vector(w @ v)
        torch.testing.assert_close(conv.weight_u, u)


# -- 9. the learning-rate schedule -------------------------------------------------------------------------------------
def test_only_the_step_schedule(data):
    with pytest.raises(OptionError, match="--lr_policy step"):
        train_opt("munit", data, "--lr_policy", "linear")


def test_learning_rate_halves_every_step_size_iterations(data):
    model = create_model(train_opt("unit", data, "--step_size", "2", "--lr", "0.001"))
    model.setup()
    model.set_input(batch(1))
    rates = []
    for _ in range(5):
        model.optimize_parameters()
        rates.append([group["lr"] for o in model.optimizers for group in o.param_groups])
    # the rate of iteration k (stepped before it, as the authors') is lr * 0.5 ** (k // step_size)
    assert rates == [[pytest.approx(0.001 * 0.5 ** (k // 2))] * 2 for k in range(1, 6)]
    assert model.iterations == 5 and model.iterations_left() == 1000000 - 5
