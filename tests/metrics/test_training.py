"""train.py --eval_freq in a tiny run: scores of the held-out split, their plot, and best_net_* with its score in
the training state; and the run trains exactly as without --eval_freq."""
import json
import os

import numpy as np
import pytest
import torch
from PIL import Image

import train as train_script
from data import create_dataset
from metrics.training import held_out_options
from options.train_options import TrainOptions
from tests.conftest import TINY_TRAIN
from util.checkpoint import read_checkpoint
from util.cli import run_cli
from util.errors import OptionError, UserError


def train(tiny_data, ck, *flags):
    args = ["--dataroot", tiny_data, "--name", "tiny", "--checkpoints_dir", ck, "--seed", "1", *TINY_TRAIN,
            "--save_epoch_freq", "1", *flags]
    assert train_script.main(args) == 0
    return os.path.join(ck, "tiny")


def test_eval_freq_scores_plots_and_keeps_the_best(tiny_data, tmp_path, inception_file):
    run = train(tiny_data, str(tmp_path / "ck"), "--eval_freq", "1", "--eval_phase", "test", "--eval_metrics",
                "kid,is", "--inception_weights", inception_file)
    history = [json.loads(line) for line in open(os.path.join(run, "scores_history.jsonl"))]
    assert [e["epoch"] for e in history] == [1, 2]
    for entry in history:
        assert set(entry["scores"]) == {"kid", "is"}
        assert entry["results"]["kid_x100"]["n_fake"] == 3 and entry["results"]["kid_x100"]["n_real"] == 2
    kids = [e["scores"]["kid"] for e in history]
    assert kids[0] != kids[1]
    best_epoch = 1 + kids.index(min(kids))      # the first metric by default; lower is better
    for net in ("G_A", "G_B", "D_A", "D_B"):
        assert os.path.isfile(os.path.join(run, f"best_net_{net}.pth"))
    best = read_checkpoint(os.path.join(run, "best_train_state.pth"))["run"]
    assert best["scores"]["best"]["metric"] == "kid" and best["scores"]["best"]["epoch"] == best_epoch
    assert best["scores"]["best"]["value"] == min(kids) and best["position"]["epoch"] == best_epoch + 1
    weights = torch.load(os.path.join(run, "best_net_G_A.pth"), weights_only=True)
    numbered = torch.load(os.path.join(run, f"{best_epoch}_net_G_A.pth"), weights_only=True)
    assert all(torch.equal(weights[k], numbered[k]) for k in weights)
    latest = read_checkpoint(os.path.join(run, "latest_train_state.pth"))["run"]
    assert latest["scores"] == best["scores"]
    assert os.path.isfile(os.path.join(run, "web", "images", "scores.png"))
    assert "scores.png" in open(os.path.join(run, "web", "index.html")).read()

    # resumed, it goes on with the history and the best score of its training state
    train(tiny_data, str(tmp_path / "ck"), "--eval_freq", "1", "--eval_phase", "test", "--eval_metrics", "kid,is",
          "--inception_weights", inception_file, "--continue_train", "--niter", "2")
    history = [json.loads(line) for line in open(os.path.join(run, "scores_history.jsonl"))]
    assert [e["epoch"] for e in history] == [1, 2, 3]
    kids = [e["scores"]["kid"] for e in history]
    latest = read_checkpoint(os.path.join(run, "latest_train_state.pth"))["run"]
    assert latest["scores"]["best"]["epoch"] == 1 + kids.index(min(kids))

    # the same run without --eval_freq ends with the same weights: scoring changes no random stream
    plain = train(tiny_data, str(tmp_path / "plain"))
    a = torch.load(os.path.join(run, "2_net_G_A.pth"), weights_only=True)
    b = torch.load(os.path.join(plain, "latest_net_G_A.pth"), weights_only=True)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not os.path.exists(os.path.join(plain, "best_net_G_A.pth"))


def test_the_last_epoch_is_scored_once_whatever_eval_freq(tiny_data, tmp_path, inception_file):
    """Every --eval_freq epochs and after the last: 3 epochs with N = 2 are scored after 2 and 3; resumed to 4
    epochs, the last is also a multiple of N and scored once."""
    flags = ["--eval_freq", "2", "--eval_phase", "test", "--eval_metrics", "is", "--inception_weights",
             inception_file, "--niter", "2"]
    run = train(tiny_data, str(tmp_path / "ck"), *flags, "--niter_decay", "1")
    scored = lambda: [json.loads(line)["epoch"] for line in open(os.path.join(run, "scores_history.jsonl"))]
    assert scored() == [2, 3]
    train(tiny_data, str(tmp_path / "ck"), *flags, "--niter_decay", "2", "--continue_train")
    assert scored() == [2, 3, 4]


def test_eval_options_fail_at_parse_time(tiny_data, tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    base = ["--dataroot", tiny_data, *TINY_TRAIN, "--eval_freq", "1"]
    with pytest.raises(UserError, match="weights-inception-2015-12-05"):
        train_script.main(base)
    with pytest.raises(OptionError, match="lpips_diversity needs several outputs"):
        train_script.main(base + ["--eval_metrics", "lpips_diversity"])
    with pytest.raises(OptionError, match="--eval_best is is not one of"):
        train_script.main(base + ["--eval_metrics", "fid", "--eval_best", "is"])


@pytest.mark.parametrize("content", ["text", "other keys"])
def test_a_weight_file_of_the_wrong_kind_fails_before_training(tiny_data, tmp_path, log_records, content):
    """Not after the epochs before the first scoring: one line naming the file, and no checkpoint written."""
    path = tmp_path / "weights.pth"
    if content == "text":
        path.write_text("not weights\n")
    else:
        torch.save({"conv.weight": torch.zeros(1)}, path)
    flags = ["--dataroot", tiny_data, "--name", "tiny", "--checkpoints_dir", str(tmp_path / "ck"), *TINY_TRAIN,
             "--eval_freq", "1", "--eval_phase", "test", "--eval_metrics", "fid", "--inception_weights", str(path)]
    assert run_cli(train_script.main, flags) == 2
    errors = [r.getMessage() for r in log_records if r.levelname == "ERROR"]
    assert len(errors) == 1 and "\n" not in errors[0] and f"cannot load the Inception-v3 weights {path}" in errors[0]
    if content == "other keys":
        assert "Missing key(s)" in errors[0]
    assert not (tmp_path / "ck" / "tiny").exists()


# tiny networks for the models whose held-out translations are their own (models' translate_held_out)
AE = ["--gpu_ids", "-1", "--num_threads", "0", "--ngf", "4", "--ndf", "4", "--n_res", "1", "--n_layers_D", "2",
      "--num_scales", "2", "--load_size", "36", "--crop_size", "32", "--display_id", "0"]
PAIRED = ["--gpu_ids", "-1", "--num_threads", "0", "--ngf", "4", "--ndf", "4", "--netG", "unet_64", "--load_size",
          "64", "--crop_size", "64", "--display_id", "0", "--niter", "1", "--niter_decay", "0"]
MODELS = {"munit": ["--model", "munit", *AE, "--mlp_dim", "8", "--style_dim", "2", "--max_iter", "4"],
          "unit": ["--model", "unit", *AE, "--max_iter", "4"],
          "cycle_gan": ["--model", "cycle_gan", "--dataset_mode", "unaligned", "--netG", "basic", *TINY_TRAIN, "--niter_decay", "0"],
          "pix2pix": ["--model", "pix2pix", *PAIRED],
          "bicycle_gan": ["--model", "bicycle_gan", *PAIRED, "--netD", "basic_128", "--netD2", "basic_128",
                          "--netE", "resnet_128", "--nz", "2"]}
SCORED = {"munit": "fake_B", "unit": "fake_B", "cycle_gan": "fake_B", "pix2pix": "fake_B",
          "bicycle_gan": "fake_B_random"}


@pytest.fixture
def paired_data(tmp_path) -> str:
    """pix2pix's layout: 3 train and 2 test A|B files of 64x64 halves, and no testB folder."""
    root = tmp_path / "pairs"
    rng = np.random.default_rng(0)
    for phase, n in (("train", 3), ("test", 2)):
        os.makedirs(root / phase)
        for i in range(n):
            a = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
            Image.fromarray(np.concatenate([a, 255 - a], 1)).save(root / phase / f"{i}.png")
    return str(root)


@pytest.mark.parametrize("model", list(MODELS))
def test_every_model_is_scored_on_its_own_translations(model, tiny_data, paired_data, tmp_path, inception_file,
                                                       log_records):
    """Each model's default visual is scored: against DATA/testB, or for pix2pix's paired layout (no testB)
    against the pairs' B halves. MUNIT and UNIT end at --max_iter 4, one iteration into their second epoch
    (of 3), and that finished model is scored."""
    data = paired_data if model in ("pix2pix", "bicycle_gan") else tiny_data
    flags = ["--dataroot", data, "--name", "m", "--checkpoints_dir", str(tmp_path / "ck"), "--seed", "1",
             *MODELS[model], "--eval_freq", "5", "--eval_phase", "test", "--eval_metrics", "kid",
             "--inception_weights", inception_file]
    assert train_script.main(flags) == 0
    history = [json.loads(line) for line in open(tmp_path / "ck" / "m" / "scores_history.jsonl")]
    assert [e["epoch"] for e in history] == [2 if model in ("munit", "unit") else 1]
    kid = history[0]["results"]["kid_x100"]
    assert (kid["n_fake"], kid["n_real"]) == ((3, 2) if data == tiny_data else (2, 2))
    assert any(f"{SCORED[model]} images of test" in r.getMessage() for r in log_records)


def test_scoring_leaves_batch_norm_statistics_as_they_were(paired_data, tmp_path, inception_file):
    """pix2pix's batch norm translates the held-out images in training mode, as its test.py: its running
    statistics are put back, so the checkpoints equal those of a run without --eval_freq, buffers included."""
    def run(name, *extra):
        flags = ["--dataroot", paired_data, "--name", name, "--checkpoints_dir", str(tmp_path), "--seed", "1",
                 *MODELS["pix2pix"], *extra]
        assert train_script.main(flags) == 0
        return torch.load(tmp_path / name / "latest_net_G.pth", weights_only=True)

    scored = run("scored", "--eval_freq", "1", "--eval_phase", "test", "--eval_metrics", "is", "--inception_weights",
                 inception_file)
    plain = run("plain")
    assert any("running_mean" in k for k in plain)
    assert scored.keys() == plain.keys() and all(torch.equal(scored[k], plain[k]) for k in plain)


def test_a_visual_the_model_does_not_make_fails_before_training(tiny_data, tmp_path, inception_file):
    flags = ["--dataroot", tiny_data, "--name", "m", "--checkpoints_dir", str(tmp_path / "ck"), *MODELS["unit"],
             "--eval_freq", "1", "--eval_phase", "test", "--eval_metrics", "is", "--inception_weights",
             inception_file]
    with pytest.raises(OptionError, match="--eval_visual fake_B_img is not a held-out translation of --model unit, "
                                          "which makes fake_B, fake_A"):
        train_script.main(flags + ["--eval_visual", "fake_B_img"])
    assert not os.path.exists(tmp_path / "ck" / "m")


@pytest.mark.parametrize("mode", ["crop", "scale_width_and_crop"])
def test_the_held_out_split_is_cropped_at_the_centre_whatever_the_seed(tiny_data, tmp_path, inception_file,
                                                                       mode):
    """Every evaluation scores the same pixels: where the training crops at random, the held-out images are cropped
    at their centre (36x28 pictures, crop 24x24 within a load width of 28)."""
    opt = TrainOptions().parse(["--dataroot", tiny_data, "--name", "m", "--checkpoints_dir", str(tmp_path),
                                "--model", "cycle_gan", "--dataset_mode", "unaligned", "--resize_or_crop", mode,
                                "--loadSizeW", "28", "--loadSizeH", "36", "--fineSizeW", "24", "--fineSizeH", "24",
                                "--eval_freq", "1", "--eval_phase", "test", "--inception_weights", inception_file])
    items = []
    for seed in (0, 1):
        torch.manual_seed(seed)
        items.append(create_dataset(held_out_options(opt))[0]["A"])
    picture = np.array(Image.open(os.path.join(tiny_data, "testA", "0000.png")))    # 36x28 (HxW): no resize
    centre = torch.from_numpy(picture[6:30, 2:26]).permute(2, 0, 1).float() / 127.5 - 1
    assert torch.equal(items[0], items[1]) and torch.allclose(items[0], centre, atol=1e-6)


@pytest.mark.parametrize("mode, size", [("resize_and_crop", (24, 24)), ("resize", (32, 28))])
def test_the_held_out_split_is_at_the_networks_training_size(tiny_data, tmp_path, inception_file, mode, size):
    """resize_and_crop trains on crops: the held-out pictures are resized whole to the crop size; resize trains on
    whole pictures at the load size, and so is the held-out split."""
    opt = TrainOptions().parse(["--dataroot", tiny_data, "--name", "m", "--checkpoints_dir", str(tmp_path),
                                "--model", "cycle_gan", "--dataset_mode", "unaligned", "--resize_or_crop", mode,
                                "--loadSizeW", "28", "--loadSizeH", "32", "--fineSizeW", "24", "--fineSizeH", "24",
                                "--eval_freq", "1", "--eval_phase", "test", "--inception_weights", inception_file])
    assert create_dataset(held_out_options(opt))[0]["A"].shape[1:] == size
