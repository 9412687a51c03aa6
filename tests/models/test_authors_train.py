"""The authors' train.py command of MUNIT and UNIT (models/authors_train.py) and their list-file configs: their
folder layout, --resume (exactly, from our own run; from their own run's files, as theirs), list files for
training and for test.py, and the one-line errors. Tiny networks on 32x32 images made here, run from the folder
that holds the data and the config, as the authors' README runs their commands."""
import os
import shutil

import numpy as np
import pytest
import torch
import yaml
from PIL import Image

import test as test_script
import train as train_script
from data import create_dataset
from options.test_options import TestOptions
from options.train_options import TrainOptions
from util.checkpoint import read_checkpoint
from util.cli import run_cli

FIXTURE = os.path.join(os.path.dirname(__file__), os.pardir, "fixtures", "munit")
OURS = ["--gpu_ids", "-1", "--seed", "3"]           # our flags, beside theirs
CONFIG = {"image_save_iter": 100, "image_display_iter": 100, "display_size": 2, "snapshot_save_iter": 2,
          "log_iter": 100, "max_iter": 2, "batch_size": 1, "weight_decay": 0.0001, "beta1": 0.5, "beta2": 0.999,
          "init": "kaiming", "lr": 0.0001, "lr_policy": "step", "step_size": 100000, "gamma": 0.5, "gan_w": 1,
          "recon_x_w": 10, "recon_s_w": 1, "recon_c_w": 1, "recon_x_cyc_w": 10, "recon_kl_w": 0.01,
          "recon_kl_cyc_w": 0.01, "vgg_w": 0,
          "gen": {"dim": 4, "mlp_dim": 8, "style_dim": 2, "activ": "relu", "n_downsample": 1, "n_res": 1,
                  "pad_type": "reflect"},
          "dis": {"dim": 4, "norm": "sn", "activ": "lrelu", "n_layer": 2, "gan_type": "lsgan", "num_scales": 2,
                  "pad_type": "reflect"},
          "input_dim_a": 3, "input_dim_b": 3, "num_workers": 0, "new_size": 32, "crop_image_height": 32,
          "crop_image_width": 32, "data_root": "./data/"}
LISTS = {"train_a": ["trainA/002.png", "trainA/000.png"], "train_b": ["trainB/001.png", "", "trainB/002.png"],
         "test_a": ["testA/001.png"], "test_b": ["testB/000.png"]}


@pytest.fixture
def folder(tmp_path, monkeypatch):
    """The working folder: data/{train,test}{A,B} (3 and 2 images), lists/ (LISTS), the config tiny.yaml."""
    rng = np.random.default_rng(0)
    for sub, n in (("trainA", 3), ("trainB", 3), ("testA", 2), ("testB", 2)):
        os.makedirs(tmp_path / "data" / sub)
        for i in range(n):
            img = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
            Image.fromarray(img).save(tmp_path / "data" / sub / f"{i:03d}.png")
    os.makedirs(tmp_path / "lists")
    for key, lines in LISTS.items():
        (tmp_path / "lists" / f"{key}.txt").write_text("\n".join(lines) + "\n")
    write_config(tmp_path)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def write_config(path, name="tiny.yaml", drop=(), **changes) -> str:
    config = {k: v for k, v in CONFIG.items() if k not in drop}
    config.update(changes)
    (path / name).write_text(yaml.safe_dump(config))
    return name


def list_config(path, drop=()) -> str:
    """tiny.yaml with the authors' list files instead of data_root."""
    keys = {f"data_{kind}_{key}": "./data/" if kind == "folder" else f"lists/{key}.txt"
            for key in LISTS for kind in ("folder", "list")}
    return write_config(path, "tiny_list.yaml", drop=("data_root", *drop), **{k: v for k, v in keys.items()
                                                                             if k not in drop})


def files(run, iterations):
    """The authors' files of run folder `run` at `iterations` (optimizer.pt: the last)."""
    names = {"gen": f"gen_{iterations:08d}.pt", "dis": f"dis_{iterations:08d}.pt", "optimizer": "optimizer.pt"}
    return {kind: torch.load(os.path.join(run, "checkpoints", name), weights_only=True) for kind, name in names.items()}


def assert_equal(a, b, where=""):
    if torch.is_tensor(a):
        assert torch.equal(a, b), where
    elif isinstance(a, dict):
        assert a.keys() == b.keys(), where
        for k in a:
            assert_equal(a[k], b[k], f"{where}/{k}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            assert_equal(x, y, f"{where}/{i}")
    else:
        assert a == b, where


def error_line(log_records):
    errors = [r.getMessage() for r in log_records if r.levelname == "ERROR"]
    assert len(errors) == 1 and "\n" not in errors[0], errors
    return errors[0]


@pytest.mark.parametrize("trainer", [None, "UNIT"])
def test_their_command_writes_their_layout_and_resumes_exactly(folder, trainer):
    """2 iterations, then --resume to 4 (the config's max_iter raised, as one would), equal a straight run to 4."""
    theirs = ["--config", "tiny.yaml"] + (["--trainer", trainer] if trainer else [])
    assert train_script.main([*theirs, "--output_path", "split", *OURS]) == 0
    run = os.path.join("split", "outputs", "tiny")
    assert sorted(os.listdir(os.path.join(run, "checkpoints"))) == ["dis_00000002.pt", "gen_00000002.pt",
                                                                     "optimizer.pt"]
    saved = TrainOptions.read_saved(os.path.join(run, "opt.txt"))
    assert (saved["model"], saved["name"], saved["dis_norm"]) == ((trainer or "MUNIT").lower(), "tiny", "sn")
    assert open(os.path.join(run, "config.yaml")).read() == open("tiny.yaml").read()     # copied in, as theirs
    write_config(folder, max_iter=4)
    assert train_script.main([*theirs, "--output_path", "split", "--resume", *OURS]) == 0
    assert train_script.main([*theirs, "--output_path", "whole", *OURS]) == 0
    split, whole = files(run, 4), files(os.path.join("whole", "outputs", "tiny"), 4)
    assert_equal(split, whole)
    assert not all(torch.equal(v, files(os.path.join("whole", "outputs", "tiny"), 2)["gen"]["a"][k])
                   for k, v in whole["gen"]["a"].items())
    state = read_checkpoint(os.path.join(run, "latest_train_state.pth"))
    assert [s["last_epoch"] for s in state["model"]["schedulers"]] == [4, 4]


def test_resume_from_the_authors_own_run_goes_on_from_its_iteration(tmp_path, monkeypatch, log_records):
    """Their train.py's folder (tests/fixtures/munit: gen_/dis_00000300.pt, no training state of ours): --resume
    loads their files and counts on from 300, as theirs."""
    checkpoints = tmp_path / "outputs" / "munit_tiny" / "checkpoints"
    os.makedirs(checkpoints)
    for kind in ("gen", "dis"):
        shutil.copy(os.path.join(FIXTURE, "checkpoints", f"{kind}_00000300.pt"), checkpoints)
    monkeypatch.chdir(FIXTURE)                          # its data_root is ./data/
    assert train_script.main(["--config", "munit_tiny.yaml", "--output_path", str(tmp_path), "--trainer", "MUNIT",
                              "--resume", "--max_iter", "301", "--snapshot_save_iter", "301", *OURS]) == 0
    assert any("going on from iteration 300" in r.getMessage() for r in log_records)
    assert sorted(os.listdir(checkpoints)) == ["dis_00000300.pt", "dis_00000301.pt", "gen_00000300.pt",
                                               "gen_00000301.pt", "optimizer.pt"]
    state = read_checkpoint(str(tmp_path / "outputs" / "munit_tiny" / "latest_train_state.pth"))
    assert [s["last_epoch"] for s in state["model"]["schedulers"]] == [301, 301]


def test_resume_takes_a_snapshot_further_than_our_state(folder, log_records):
    """Our training state gone (deleted to resume the weights only, as our errors suggest): --resume goes on from
    the newest snapshot of the run's own checkpoints/, beside our other files."""
    assert train_script.main(["--config", "tiny.yaml", "--output_path", "out", *OURS]) == 0
    os.remove(os.path.join("out", "outputs", "tiny", "latest_train_state.pth"))
    write_config(folder, max_iter=3, snapshot_save_iter=1)
    assert train_script.main(["--config", "tiny.yaml", "--output_path", "out", "--resume", *OURS]) == 0
    assert any("going on from iteration 2" in r.getMessage() for r in log_records)
    assert "gen_00000003.pt" in os.listdir(os.path.join("out", "outputs", "tiny", "checkpoints"))


def test_a_new_run_keeps_off_their_snapshots_unless_overwrite(folder, log_records):
    """Their run's snapshots alone (no file of ours) are another run's checkpoints: a new run without --resume is
    refused; with --overwrite they go, and the config file the new run reads in its place is taken as it is."""
    checkpoints = os.path.join("out", "outputs", "tiny", "checkpoints")
    os.makedirs(checkpoints)
    for name in ("gen_00000008.pt", "dis_00000008.pt", "optimizer.pt"):
        torch.save({}, os.path.join(checkpoints, name))
    assert run_cli(train_script.main, ["--config", "tiny.yaml", "--output_path", "out", *OURS]) == 2
    assert "holds the checkpoints of another run (gen_00000008.pt, 3 files)" in error_line(log_records)
    shutil.copy("tiny.yaml", os.path.join("out", "outputs", "tiny", "config.yaml"))
    assert train_script.main(["--config", os.path.join("out", "outputs", "tiny", "config.yaml"), "--output_path",
                              "out", *OURS, "--overwrite", "--name", "tiny"]) == 0
    assert sorted(os.listdir(checkpoints)) == ["dis_00000002.pt", "gen_00000002.pt", "optimizer.pt"]
    assert open(os.path.join("out", "outputs", "tiny", "config.yaml")).read() == open("tiny.yaml").read()


def test_list_file_configs_train_and_test(folder, log_records):
    config = list_config(folder)
    opt = TrainOptions().parse(["--model", "munit", "--config", config, *OURS])     # our command reads them too
    assert (opt.data_list_a, opt.data_folder_b, opt.dataroot) == ("lists/train_a.txt", "./data/", "./data/")
    dataset = create_dataset(opt)
    assert dataset.A_paths == [os.path.join("./data/", p) for p in LISTS["train_a"]]          # their order
    assert dataset.B_paths == [os.path.join("./data/", p) for p in LISTS["train_b"] if p]
    assert train_script.main(["--config", config, "--output_path", ".", *OURS, "--max_iter", "1"]) == 0
    assert any("was created: 2 items" in r.getMessage() for r in log_records)
    test_opt = TestOptions().parse(["--model", "munit", "--config", config, "--gpu_ids", "-1"])
    assert (test_opt.data_list_a, test_opt.data_list_b) == ("lists/test_a.txt", "lists/test_b.txt")
    assert run_cli(test_script.main, ["--model", "munit", "--config", config, "--checkpoints_dir", "outputs",
                                      "--name", "tiny_list", "--results_dir", "results", "--num_style", "2",
                                      "--gpu_ids", "-1"]) == 0
    images = sorted(os.listdir(os.path.join("results", "tiny_list", "test_latest", "images")))
    assert images == ["001_fake_A_01.png", "001_fake_A_02.png", "001_fake_B_01.png", "001_fake_B_02.png",
                      "001_real_A.png", "001_real_B.png"]


@pytest.mark.parametrize("case", ["no config", "no data", "resume without checkpoint", "list key missing",
                                  "listed file missing", "--model beside", "vgg16.weight missing",
                                  "vgg16.weight missing, --vgg_w"])
def test_their_command_errors_are_one_line(folder, log_records, case):
    argv = {"no config": lambda: ["--config", "nowhere.yaml"],
            "no data": lambda: ["--config", write_config(folder, "nodata.yaml", drop=("data_root",))],
            "resume without checkpoint": lambda: ["--config", "tiny.yaml", "--resume"],
            "list key missing": lambda: ["--config", list_config(folder, drop=("data_list_train_b",))],
            "listed file missing": lambda: ["--config", list_config(folder)],
            "--model beside": lambda: ["--config", "tiny.yaml", "--model", "munit"],
            "vgg16.weight missing": lambda: ["--config", write_config(folder, "vgg.yaml", vgg_w=1)],
            "vgg16.weight missing, --vgg_w": lambda: ["--config", "tiny.yaml", "--vgg_w", "1"]}[case]()
    with open(os.path.join("lists", "train_a.txt"), "a") as f:
        f.write("trainA/009.png\n")                  # not there
    assert run_cli(train_script.main, [*argv, "--output_path", "out", *OURS]) == 2
    expected = {"no config": "nowhere.yaml", "no data": "names no data",
                "resume without checkpoint": os.path.join("out", "outputs", "tiny", "checkpoints"),
                "list key missing": "data_list_train_b",
                "listed file missing": "data/trainA/009.png (line 3 of lists/train_a.txt)",
                "--model beside": "--trainer",
                "vgg16.weight missing": os.path.join("out", "models", "vgg16.weight"),    # where theirs reads it
                "vgg16.weight missing, --vgg_w": os.path.join("out", "models", "vgg16.weight")}
    assert expected[case] in error_line(log_records)
    assert not os.path.exists("out")                   # nothing written
