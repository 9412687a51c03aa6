"""MUNIT against the authors' code (tests/fixtures/munit, made with it): their checkpoints load with their keys,
every recorded tensor is reproduced, their test.py's images are written again (also through their command line),
and our test.py's styles are repeatable."""
import os

import numpy as np
import pytest
import torch
import yaml
from PIL import Image

import test as test_script
from models.losses import MultiScaleGANLoss
from models.networks import define_ms_image_D, define_translator
from models.single_image_test import build_networks
from models.autoencoder_gan import read_config
from util.cli import run_cli

FIXTURE = os.path.join(os.path.dirname(__file__), os.pardir, "fixtures", "munit")
CONFIG = os.path.join(FIXTURE, "munit_tiny.yaml")
GEN, DIS = (os.path.join(FIXTURE, "checkpoints", f"{kind}_00000300.pt") for kind in ("gen", "dis"))
CLOSE = dict(atol=1e-5, rtol=0)


def fixture_networks() -> dict[str, torch.nn.Module]:
    """gen_a, gen_b, dis_a, dis_b of the tiny config, loaded strictly, in eval mode."""
    gens, dises = (torch.load(path, weights_only=True) for path in (GEN, DIS))
    nets = {}
    for d in ("a", "b"):
        nets[f"gen_{d}"] = define_translator("adain", 3, 8, 2, 2, "relu", "reflect", style_dim=8, mlp_dim=16)
        nets[f"gen_{d}"].load_state_dict(gens[d])
        nets[f"dis_{d}"] = define_ms_image_D(3, 8, 3, 3, "none", "lrelu", "reflect")
        nets[f"dis_{d}"].load_state_dict(dises[d])
    return {name: net.eval() for name, net in nets.items()}


def keys_of(section: str) -> list[tuple[str, str]]:
    """(key, shape) rows of one `## gen['a']`-style section of state_dict_keys.txt."""
    rows, inside = [], False
    for line in open(os.path.join(FIXTURE, "state_dict_keys.txt")):
        if line.startswith("#"):
            inside = line.startswith(f"## {section}")
        elif inside and "\t" in line:
            key, shape = line.split("\t")[:2]
            rows.append((key, shape))
    return rows


def test_the_authors_checkpoints_load_with_their_keys_in_their_order():
    nets = fixture_networks()
    for kind in ("gen", "dis"):
        for d in ("a", "b"):
            ours = [(k, str(tuple(v.shape))) for k, v in nets[f"{kind}_{d}"].state_dict().items()]
            assert ours == keys_of(f"{kind}['{d}']")


def decoder_activations(gen: torch.nn.Module, decode, prefix: str) -> dict[str, torch.Tensor]:
    """The fixtures' two decoder activations (after the residual blocks, after the first up block) of `decode()`."""
    found = {}
    hooks = [gen.dec.model[index].register_forward_hook(lambda m, i, o, name=name: found.update({name: o}))
             for index, name in ((0, "after_resblocks"), (2, "after_up1_ln_relu"))]
    decode()
    for hook in hooks:
        hook.remove()
    return {f"{prefix}/{name}": value for name, value in found.items()}


def discriminator_maps(dis_a, dis_b, x_a, x_b, fake_b) -> dict[str, torch.Tensor]:
    """Every scale's map of the fixtures' four discriminator calls."""
    calls = (("dis_a(x_a)", dis_a, x_a), ("dis_b(x_a)", dis_b, x_a), ("dis_b(x_b)", dis_b, x_b),
             ("dis_b(fake_b)", dis_b, fake_b))
    return {f"{name}/scale{k}": out for name, dis, x in calls for k, out in enumerate(dis(x))}


def test_forward_reproduces_the_authors_tensors():
    ref = torch.load(os.path.join(FIXTURE, "munit_forward.pt"), weights_only=True)
    nets = fixture_networks()
    gen_a, gen_b, dis_a, dis_b = (nets[n] for n in ("gen_a", "gen_b", "dis_a", "dis_b"))
    gan = MultiScaleGANLoss()
    with torch.no_grad():          # a batch of 2 against the authors' one image at a time
        c_a, s_a = gen_a.encode(ref["x_a"])
        c_b, s_b = gen_b.encode(ref["x_b"])
        x_ab = gen_b.decode(c_a, s_b)
        x_ba = gen_a.decode(c_b, s_a)
        n, k = len(c_a), len(ref["style_rand"])
        styles = ref["style_rand"].repeat(n, 1, 1, 1)
        got = {"c_a": c_a, "s_a": s_a, "c_b": c_b, "s_b": s_b, "x_ab_guided": x_ab, "x_ba_guided": x_ba,
               "adain_params_b(s_b)": gen_b.mlp(s_b), "adain_params_a(s_a)": gen_a.mlp(s_a),
               "x_aa_recon": gen_a.decode(c_a, s_a), "x_bb_recon": gen_b.decode(c_b, s_b),
               "x_ab_rand": gen_b.decode(c_a.repeat_interleave(k, 0), styles).unflatten(0, (n, k)),
               "x_ba_rand": gen_a.decode(c_b.repeat_interleave(k, 0), styles).unflatten(0, (n, k)),
               "loss/dis_a.calc_dis_loss(fake_a, x_a)": gan(dis_a(x_ba), False) + gan(dis_a(ref["x_a"]), True),
               "loss/dis_b.calc_gen_loss(fake_b)": gan(dis_b(x_ab), True)}
        got.update(decoder_activations(gen_b, lambda: gen_b.decode(c_a[:1], s_b[:1]), "dec_b(x_ab_guided[0])"))
        got.update(discriminator_maps(dis_a, dis_b, ref["x_a"], ref["x_b"], x_ab))
    assert set(got) == set(ref) - {"x_a", "x_b", "style_rand", "test_py_style_rand_seed10"}
    for name, value in got.items():
        torch.testing.assert_close(value, ref[name], **CLOSE, msg=name)


def test_the_authors_random_styles_are_replayed():
    """Their test.py seeds torch, builds its trainer, then draws the styles: the same codes come out here."""
    ref = torch.load(os.path.join(FIXTURE, "munit_forward.pt"), weights_only=True)
    torch.manual_seed(10)
    _, style_dim = build_networks(read_config(CONFIG), munit=True)
    assert torch.equal(torch.randn(3, style_dim, 1, 1), ref["test_py_style_rand_seed10"])


def test_batch_norm_discriminators_draw_nothing_before_the_styles():
    """Their weights_init leaves batch norms alone (it initialises Conv* and Linear* only), so a config with
    dis.norm bn draws the same numbers before the styles as one with none; the norms stay at (1, 0)."""
    config = read_config(CONFIG)
    styles = []
    for norm in ("none", "bn"):
        torch.manual_seed(10)
        nets, style_dim = build_networks({**config, "dis.norm": norm}, munit=True)
        styles.append(torch.randn(3, style_dim, 1, 1))
    assert torch.equal(*styles)
    norms = [m for m in nets[2].modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert norms and all(torch.equal(m.weight, torch.ones_like(m.weight)) and not m.bias.any() for m in norms)


def test_a_vgg_loss_config_draws_their_vgg16s_initial_weights_before_the_styles():
    """With vgg_w > 0 their trainer also builds its VGG-16 (13 3x3 convs, PyTorch's uniform initialisation of each
    weight, then bias) before test.py draws the styles; only the draws count, the weights are never read."""
    config = read_config(CONFIG)
    torch.manual_seed(10)
    build_networks(config, munit=True)
    widths = [3, 64, 64, 128, 128, 256, 256, 256, 512, 512, 512, 512, 512, 512]
    for c_in, c_out in zip(widths, widths[1:]):
        torch.empty(c_out * c_in * 9).uniform_(), torch.empty(c_out).uniform_()
    expected = torch.randn(3, 8, 1, 1)
    torch.manual_seed(10)
    build_networks({**config, "vgg_w": 1}, munit=True)
    assert torch.equal(torch.randn(3, 8, 1, 1), expected)


def read(path: str) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB")).astype(int)


def authors_command(line: str, out: str, fixture: str = FIXTURE) -> list[str]:
    """A line of `fixture`'s test_py/commands.txt as arguments: its paths in `fixture` (the images in MUNIT's, which
    UNIT's fixture shares), its output folder `out`."""
    args = line.split()[2:]
    for i, arg in enumerate(args):
        if args[i - 1] in ("--config", "--checkpoint"):
            args[i] = os.path.join(fixture, arg)
        elif args[i - 1] in ("--input", "--style"):
            args[i] = os.path.join(FIXTURE, arg)
        elif args[i - 1] == "--output_folder":
            args[i] = out
    return args


@pytest.mark.parametrize("fmt", ["png", "jpg"])
def test_the_authors_test_commands_write_their_images(tmp_path, fmt):
    """Every command of theirs through our test.py: the PNGs equal their lossless images (<= 2/255); as JPEG
    (--format jpg) the files are theirs byte for byte."""
    lines = open(os.path.join(FIXTURE, "test_py", "commands.txt")).read().split("\n")
    lines = [line for line in lines if line.strip()]
    if fmt == "jpg":
        lines = lines[:2]     # one guided, one random: the byte-for-byte check
    for line in lines:
        rel = line.split("--output_folder ")[1].split()[0]          # test_py/guided/a2b_000
        out = str(tmp_path / rel)
        assert run_cli(test_script.main, authors_command(line, out) + ["--format", fmt]) == 0
        kind, name = rel.split("/")[1:]
        outputs = sorted(f for f in os.listdir(out) if f.startswith("output"))
        assert outputs == [f"output{j:03d}.{fmt}" for j in range(3 if kind.startswith("random") else 1)]
        assert os.path.isfile(os.path.join(out, f"input.{fmt}"))
        for f in outputs:
            if fmt == "png":
                lossless = os.path.join(FIXTURE, "lossless", f"{kind}_{name}_{f}")
                assert np.abs(read(os.path.join(out, f)) - read(lossless)).max() <= 2, (rel, f)
            else:
                with open(os.path.join(out, f), "rb") as ours, \
                        open(os.path.join(FIXTURE, rel, f), "rb") as theirs:
                    assert ours.read() == theirs.read(), (rel, f)


@pytest.mark.parametrize("flags, message", [
    (["--input", "missing.png"], "missing.png"),
    (["--checkpoint", DIS.replace("dis_", "nothing_")], "nothing_00000300.pt"),
    (["--num_style", "0"], "--num_style must be >= 1, got 0"),
    (["--a2b", "2"], "--a2b: invalid choice: 2"),
])
def test_single_image_errors_are_one_line(tmp_path, log_records, flags, message):
    args = ["--config", CONFIG, "--checkpoint", GEN, "--output_folder", str(tmp_path / "o"), "--input",
            os.path.join(FIXTURE, "data", "testA", "000.png"), *flags]
    assert run_cli(test_script.main, args) == 2
    errors = [r.getMessage() for r in log_records if r.levelname == "ERROR"]
    assert len(errors) == 1 and message in errors[0] and "\n" not in errors[0], errors
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("a2b", [1, 0])
def test_single_image_route_reads_a_grey_domain_as_our_data(tmp_path, a2b):
    """input_dim_a 1 (where their test.py fails: it feeds RGB): the input in grey, as our data reads it."""
    config = {**read_config(CONFIG), "input_dim_a": 1}
    (tmp_path / "grey.yaml").write_text(yaml.safe_dump(config))
    (gen_a, gen_b, _, _), _ = build_networks(config, munit=True)
    torch.save({"a": gen_a.state_dict(), "b": gen_b.state_dict()}, tmp_path / "gen_00000001.pt")
    picture = os.path.join(FIXTURE, "data", "testA", "000.png")
    out = tmp_path / "out"
    assert run_cli(test_script.main, ["--config", str(tmp_path / "grey.yaml"), "--checkpoint",
                                      str(tmp_path / "gen_00000001.pt"), "--input", picture, "--output_folder",
                                      str(out), "--a2b", str(a2b), "--num_style", "1"]) == 0
    pixels = np.array(Image.open(picture).convert("L" if a2b else "RGB"))          # 64x64: new_size resizes nothing
    x = torch.from_numpy(pixels).float().div(255).sub(0.5).div(0.5)
    x = x[None, None] if a2b else x.permute(2, 0, 1)[None]
    encoder, decoder = (gen_a, gen_b) if a2b else (gen_b, gen_a)
    with torch.no_grad():
        torch.manual_seed(10)
        build_networks(config, munit=True)          # the draws before the style, as the route makes them
        expected = decoder.eval().decode(encoder.eval().encode(x)[0], torch.randn(1, 8, 1, 1))[0]
    expected = ((expected - expected.min()) / (expected.max() - expected.min())).expand(3, -1, -1)
    written = torch.from_numpy(np.array(Image.open(out / "output000.png").convert("RGB"))).permute(2, 0, 1)
    assert (written.float() / 255 - expected).abs().max() <= 0.5 / 255 + 1e-6


def our_test(tmp_path, name: str, *extra: str) -> str:
    """test.py --model munit on the fixture's test split with the authors' checkpoint; returns the images folder."""
    results = str(tmp_path / name)
    args = ["--model", "munit", "--dataroot", os.path.join(FIXTURE, "data"), "--config", CONFIG, "--checkpoint",
            GEN, "--name", "fixture", "--results_dir", results, "--gpu_ids", "-1", "--num_threads", "0", *extra]
    assert run_cli(test_script.main, args) == 0
    return os.path.join(results, "fixture", "test_latest", "images")


def test_our_test_py_styles_repeat_with_the_seed_at_any_batch_size(tmp_path):
    one = our_test(tmp_path, "one", "--num_style", "2", "--seed", "3")
    three = our_test(tmp_path, "three", "--num_style", "2", "--seed", "3", "--batch_size", "3")
    other = our_test(tmp_path, "other", "--num_style", "2", "--seed", "4")
    names = sorted(os.listdir(one))
    assert names == sorted(f"{i:03d}_{v}.png" for i in range(4) for v in
                           ("real_A", "fake_B_01", "fake_B_02", "real_B", "fake_A_01", "fake_A_02"))
    # the same codes; batched convolutions may round a pixel the other way
    assert max(np.abs(read(os.path.join(one, f)) - read(os.path.join(three, f))).max() for f in names) <= 1
    first = "000_fake_B_01.png"
    assert not np.array_equal(read(os.path.join(one, first)), read(os.path.join(other, first)))
    page = open(os.path.join(os.path.dirname(one), "index.html")).read()
    assert page.count("000_fake_B_02.png") >= 1 and page.count("003_real_A.png") >= 1


def test_synchronized_styles_are_the_same_for_every_input(tmp_path):
    images = our_test(tmp_path, "sync", "--num_style", "2", "--synchronized", "--seed", "1")
    gen = fixture_networks()["gen_b"]
    ref = torch.load(os.path.join(FIXTURE, "munit_forward.pt"), weights_only=True)
    with torch.no_grad():
        styles = []
        for i in range(2):
            img = torch.from_numpy(read(os.path.join(images, f"{i:03d}_fake_B_01.png"))).permute(2, 0, 1)
            styles.append(gen.encode(img[None].float() / 127.5 - 1)[1])
    # the same code decoded from two contents: the re-encoded styles agree far better than two random codes do
    assert (styles[0] - styles[1]).abs().max() < 0.5 * (ref["style_rand"][0] - ref["style_rand"][1]).abs().max()


def test_our_test_py_takes_a_style_image(tmp_path):
    style = os.path.join(FIXTURE, "data", "testB", "001.png")
    images = our_test(tmp_path, "guided", "--style", style)
    assert sorted(os.listdir(images))[:3] == ["000_fake_B.png", "000_real_A.png", "000_style.png"]
    # input 0 with test image B 1's style: the authors' guided image of input 0 took B 0's, so compare with the
    # tensors instead: decode(c_a[0], s_b[1])
    ref = torch.load(os.path.join(FIXTURE, "munit_forward.pt"), weights_only=True)
    nets = fixture_networks()
    with torch.no_grad():
        expected = nets["gen_b"].decode(nets["gen_a"].encode(ref["x_a"][:1])[0], ref["s_b"][1:2])
    pixels = ((expected[0].permute(1, 2, 0) + 1) / 2 * 255).clamp(0, 255).numpy().astype(int)
    assert np.abs(read(os.path.join(images, "000_fake_B.png")) - pixels).max() <= 1
