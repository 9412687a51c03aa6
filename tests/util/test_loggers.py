"""TensorBoard and W&B loggers, read back from what train.py wrote; a logger that cannot start costs one warning."""
import glob
import logging
import os
import sys
from collections import Counter
from pathlib import Path
from typing import Iterator

import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

import test as test_script
import train as train_script
from models.insta_gan_model import InstaGANModel
from tests.conftest import TINY, TINY_TRAIN
from util.cli import run_cli

ONE_ITERATION = [*TINY_TRAIN, "--max_dataset_size", "1", "--niter", "1", "--niter_decay", "0", "--print_freq", "1",
                 "--display_freq", "1", "--update_html_freq", "1", "--seed", "3"]


def train(data, ck, *flags):
    return train_script.main(["--dataroot", data, "--name", "run", "--checkpoints_dir", ck, *ONE_ITERATION, *flags])


def test_tensorboard_events_hold_every_loss_the_visuals_and_the_options(tiny_data, tmp_path):
    ck = str(tmp_path / "ck")
    assert train(tiny_data, ck, "--logger", "tensorboard,html") == 0
    events = EventAccumulator(os.path.join(ck, "run", "tensorboard"), size_guidance={"images": 0, "scalars": 0,
                                                                                    "tensors": 0})
    events.Reload()
    tags = events.Tags()
    assert {f"loss/{name}" for name in InstaGANModel.loss_names} | {"epoch"} == set(tags["scalars"])
    losses = [line for line in open(os.path.join(ck, "run", "loss_log.txt")) if line.startswith("(epoch")]
    logged = dict(zip(losses[0].split()[8::2], losses[0].split()[9::2]))   # "G_A:" -> "1.234"
    for name in InstaGANModel.loss_names:
        (event,) = events.Scalars(f"loss/{name}")
        assert event.step == 1 and f"{event.value:.3f}" == logged[f"{name}:"]
    assert events.Scalars("epoch")[0].value == 2.0    # the end of epoch 1 (epoch + fraction done)
    assert "visuals/fake_B_img" in tags["images"] and events.Images("visuals/fake_B_img")[0].width == 24
    (options,) = events.Tensors("options/text_summary")
    assert b"lambda_ctx: 1.0" in options.tensor_proto.string_val[0]
    assert os.path.isfile(os.path.join(ck, "run", "web", "index.html"))


@pytest.fixture
def wandb_home(tmp_path, monkeypatch) -> Iterator[Path]:
    """W&B offline, every file of it under the returned folder: no network, no account. W&B reads these
    settings once per process, so its state is torn down after the test."""
    import wandb

    home = tmp_path / "wandb_home"
    for name in ("DIR", "CACHE_DIR", "CONFIG_DIR", "DATA_DIR", "ARTIFACT_DIR"):
        monkeypatch.setenv(f"WANDB_{name}", str(home))
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    yield home
    wandb.teardown()


def test_wandb_offline_writes_its_run_without_network(tiny_data, tmp_path, wandb_home, log_records):
    assert train(tiny_data, str(tmp_path / "ck"), "--use_wandb", "--wandb_project_name", "tests") == 0
    (run,) = glob.glob(str(wandb_home / "wandb" / "offline-run-*"))
    (records,) = glob.glob(os.path.join(run, "run-*.wandb"))
    written = open(records, "rb").read()
    for key in [f"loss/{name}" for name in InstaGANModel.loss_names] + ["wandb_project_name", "tests"]:
        assert key.encode() in written, key
    images = {os.path.basename(p).rsplit("_", 2)[0] for p in glob.glob(os.path.join(run, "files", "media", "images",
                                                                                    "visuals", "*.png"))}
    assert {"fake_B_img", "real_A_img", "real_A_seg"} <= images
    assert f"W&B run run written offline to {run}" in [r.getMessage().split(" (`wandb")[0] for r in log_records]


def test_a_logger_that_cannot_start_warns_once_and_training_goes_on(tiny_data, tmp_path, monkeypatch, log_records):
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)     # as if tensorboard were not installed
    assert train(tiny_data, str(tmp_path / "ck"), "--logger", "tensorboard,html") == 0
    warnings = [r.getMessage() for r in log_records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1 and warnings[0].startswith("tensorboard could not start (ModuleNotFoundError")
    assert "training goes on without it (pip install tensorboard)" in warnings[0]
    assert os.path.isfile(tmp_path / "ck" / "run" / "latest_net_G_A.pth")


def run_test_py(data: str, tmp_path, *flags: str) -> int:
    return run_cli(test_script.main, ["--dataroot", data, "--name", "run", "--checkpoints_dir", str(tmp_path / "ck"),
                                      "--results_dir", str(tmp_path / "results"), *TINY, *flags])


def test_test_py_use_wandb_logs_every_saved_image(tiny_data, tmp_path, wandb_home):
    assert train(tiny_data, str(tmp_path / "ck")) == 0
    assert run_test_py(tiny_data, tmp_path, "--batch_size", "2", "--use_wandb", "--wandb_project_name", "tests") == 0
    (run,) = glob.glob(str(wandb_home / "wandb" / "offline-run-*"))
    saved = Counter(name[len("0000_"):-len(".png")] for name in os.listdir(tmp_path / "results" / "run" /
                                                                         "test_latest" / "images"))
    assert saved == {visual: 3 for visual in InstaGANModel.visual_names}     # 3 test images, every visual
    logged = Counter(os.path.basename(p).rsplit("_", 2)[0]                  # {visual}_{step}_{hash}.png
                     for p in glob.glob(os.path.join(run, "files", "media", "images", "results", "*.png")))
    assert logged == saved
    written = open(glob.glob(os.path.join(run, "run-*.wandb"))[0], "rb").read()
    captions = ['["0000","0001"]', '["0002"]']                                # the two batches' images
    for key in [f"results/{visual}" for visual in InstaGANModel.visual_names] + captions + ["num_test", "tests"]:
        assert key.encode() in written, key                                   # ... the options, the project


def test_test_py_use_wandb_without_the_package_is_one_line(tiny_data, tmp_path, monkeypatch, log_records):
    assert train(tiny_data, str(tmp_path / "ck")) == 0
    monkeypatch.setitem(sys.modules, "wandb", None)                       # as if wandb were not installed
    assert run_test_py(tiny_data, tmp_path, "--use_wandb") == 2
    (error,) = [r.getMessage() for r in log_records if r.levelno >= logging.ERROR]
    assert error.startswith("--use_wandb: W&B could not start (ModuleNotFoundError") and "pip install wandb" in error
    assert not os.path.exists(tmp_path / "results")
