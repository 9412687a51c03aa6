"""UNIT against the authors' code (tests/fixtures/unit, made with it): their checkpoints load with their keys, every
recorded tensor is reproduced, and their test.py's images are written again through their command line."""
import os

import numpy as np
import torch

import test as test_script
from models.losses import MultiScaleGANLoss
from models.networks import define_ms_image_D, define_translator
from tests.models.test_munit_model import authors_command, decoder_activations, discriminator_maps, read
from util.cli import run_cli

FIXTURE = os.path.join(os.path.dirname(__file__), os.pardir, "fixtures", "unit")
DATA = os.path.join(os.path.dirname(__file__), os.pardir, "fixtures", "munit", "data")   # the same images
CLOSE = dict(atol=1e-5, rtol=0)


def fixture_networks() -> dict[str, torch.nn.Module]:
    gens, dises = (torch.load(os.path.join(FIXTURE, "checkpoints", f"{kind}_00000300.pt"), weights_only=True)
                   for kind in ("gen", "dis"))
    nets = {}
    for d in ("a", "b"):
        nets[f"gen_{d}"] = define_translator("vae", 3, 8, 2, 2, "relu", "reflect")
        nets[f"gen_{d}"].load_state_dict(gens[d])
        nets[f"dis_{d}"] = define_ms_image_D(3, 8, 3, 3, "none", "lrelu", "reflect")
        nets[f"dis_{d}"].load_state_dict(dises[d])
    return {name: net.eval() for name, net in nets.items()}


def test_the_authors_checkpoints_load_with_their_keys_in_their_order():
    text = open(os.path.join(FIXTURE, "state_dict_keys.txt")).read()
    nets = fixture_networks()
    for kind in ("gen", "dis"):
        for d in ("a", "b"):
            section = text.split(f"## {kind}['{d}']")[1].split("\n#")[0]
            rows = [tuple(line.split("\t")[:2]) for line in section.splitlines() if "\t" in line]
            assert [(k, str(tuple(v.shape))) for k, v in nets[f"{kind}_{d}"].state_dict().items()] == rows


def test_forward_reproduces_the_authors_tensors():
    ref = torch.load(os.path.join(FIXTURE, "unit_forward.pt"), weights_only=True)
    nets = fixture_networks()
    gen_a, gen_b, dis_a, dis_b = (nets[n] for n in ("gen_a", "gen_b", "dis_a", "dis_b"))
    gan = MultiScaleGANLoss()
    with torch.no_grad():           # a batch of 4 against the authors' one image at a time
        h_a, h_b = gen_a.encode(ref["x_a"])[0], gen_b.encode(ref["x_b"])[0]
        x_ab, x_ba = gen_b.decode(h_a), gen_a.decode(h_b)
        got = {"h_a": h_a, "h_b": h_b, "x_ab": x_ab, "x_ba": x_ba, "x_aa_recon": gen_a.decode(h_a),
               "x_bb_recon": gen_b.decode(h_b),
               "loss/dis_a.calc_dis_loss(fake_a, x_a)": gan(dis_a(x_ba), False) + gan(dis_a(ref["x_a"]), True),
               "loss/dis_b.calc_gen_loss(fake_b)": gan(dis_b(x_ab), True)}
        got.update(decoder_activations(gen_b, lambda: gen_b.decode(h_a[:1]), "dec_b(x_ab[0])"))
        got.update(discriminator_maps(dis_a, dis_b, ref["x_a"], ref["x_b"], x_ab))
    assert set(got) == set(ref) - {"x_a", "x_b"}
    for name, value in got.items():
        torch.testing.assert_close(value, ref[name], **CLOSE, msg=name)


def test_the_authors_test_commands_write_their_images(tmp_path):
    """Their documented UNIT command (--trainer UNIT) on every test image: within 2/255 of their lossless
    images; as JPEG, their files byte for byte."""
    lines = [line for line in open(os.path.join(FIXTURE, "test_py", "commands.txt")) if line.strip()]
    assert len(lines) == 8
    for line in lines:
        rel = line.split("--output_folder ")[1].split()[0]              # test_py/a2b_000
        name = rel.split("/")[1]
        for fmt in ("png", "jpg"):
            out = str(tmp_path / fmt / name)
            assert run_cli(test_script.main, authors_command(line, out, FIXTURE) + ["--format", fmt]) == 0
            assert sorted(os.listdir(out)) == [f"input.{fmt}", f"output.{fmt}"]
        ours = read(str(tmp_path / "png" / name / "output.png"))
        assert np.abs(ours - read(os.path.join(FIXTURE, "lossless", f"{name}_output.png"))).max() <= 2
        with open(tmp_path / "jpg" / name / "output.jpg", "rb") as f, open(os.path.join(FIXTURE, rel, "output.jpg"),
                                                                              "rb") as g:
            assert f.read() == g.read(), name


def test_our_test_py_translates_both_ways(tmp_path):
    results = str(tmp_path / "r")
    args = ["--model", "unit", "--dataroot", DATA, "--config", os.path.join(FIXTURE, "unit_tiny.yaml"),
            "--checkpoint", os.path.join(FIXTURE, "checkpoints", "gen_00000300.pt"), "--name", "fixture",
            "--results_dir", results, "--gpu_ids", "-1", "--num_threads", "0"]
    assert run_cli(test_script.main, args) == 0
    images = os.path.join(results, "fixture", "test_latest", "images")
    assert sorted(os.listdir(images)) == sorted(f"{i:03d}_{v}.png" for i in range(4)
                                                for v in ("real_A", "fake_B", "real_B", "fake_A"))
    ref = torch.load(os.path.join(FIXTURE, "unit_forward.pt"), weights_only=True)
    pixels = ((ref["x_ab"][2].permute(1, 2, 0) + 1) / 2 * 255).clamp(0, 255).numpy().astype(int)
    assert np.abs(read(os.path.join(images, "002_fake_B.png")) - pixels).max() <= 1
    assert run_cli(test_script.main, args + ["--style", os.path.join(DATA, "testB", "000.png")]) == 2
