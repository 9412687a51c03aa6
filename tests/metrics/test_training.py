"""train.py --eval_freq in a tiny run: scores of the held-out split, their plot, and best_net_* with its score in
the training state; and the run trains exactly as without --eval_freq."""
import json
import os

import pytest
import torch

import train as train_script
from tests.conftest import TINY_TRAIN
from util.checkpoint import read_checkpoint
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
