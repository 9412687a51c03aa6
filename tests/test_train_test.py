"""train.py and test.py end to end on a tiny generated data set, and their handling of user mistakes."""
import os
import shutil
import subprocess
import sys

import pytest
from PIL import Image

import test as test_script
import train as train_script
from tests.conftest import TINY, TINY_TRAIN
from util.checkpoint import read_checkpoint
from util.errors import OptionError

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_train_then_test(tiny_data, tmp_path):
    ck, res = str(tmp_path / "ck"), str(tmp_path / "res")
    flags = ["--dataroot", tiny_data, "--name", "tiny", "--checkpoints_dir", ck, "--seed", "1"]
    assert train_script.main(flags + TINY_TRAIN + ["--batch_size", "2", "--save_epoch_freq", "1", "--print_freq", "2",
                                                    "--display_freq", "2", "--update_html_freq", "2"]) == 0
    run = os.path.join(ck, "tiny")
    for epoch in ("1", "2", "latest"):
        for net in ("G_A", "G_B", "D_A", "D_B"):
            assert os.path.isfile(os.path.join(run, f"{epoch}_net_{net}.pth"))
    log = open(os.path.join(run, "loss_log.txt")).read().splitlines()
    assert log[0].startswith("================ Training Loss") and log[1].startswith("(epoch: 1, iters: 2,")
    assert "ctx_A:" in log[1] and "opt.txt" in os.listdir(run)
    assert os.path.isfile(os.path.join(run, "web", "index.html"))

    assert test_script.main(flags + TINY + ["--results_dir", res]) == 0
    page = os.path.join(res, "tiny", "test_latest")
    images = sorted(os.listdir(os.path.join(page, "images")))
    assert len(images) == 3 * 12 and "0002_fake_B_seg.png" in images
    assert Image.open(os.path.join(page, "images", "0000_fake_B_img.png")).size == (24, 32)
    html = open(os.path.join(page, "index.html")).read()
    assert html.count("<img") == 36

    # --continue_train picks the checkpoints up and goes on
    assert train_script.main(flags + TINY_TRAIN + ["--continue_train", "--epoch_count", "3", "--niter", "3",
                                                    "--niter_decay", "0"]) == 0
    assert os.path.isfile(os.path.join(run, "3_net_G_A.pth"))


def test_a_short_run_has_its_page_and_losses(tiny_data, tmp_path):
    """The default frequencies (100s of samples) are never crossed in 6 iterations: the last one pages and logs."""
    ck = tmp_path / "ck"
    assert train_script.main(["--dataroot", tiny_data, "--name", "tiny", "--checkpoints_dir", str(ck), "--seed", "1",
                              *TINY_TRAIN]) == 0
    log = (ck / "tiny" / "loss_log.txt").read_text().splitlines()
    assert len(log) == 2 and log[1].startswith("(epoch: 2, iters: 3,")
    assert (ck / "tiny" / "web" / "images" / "loss.png").is_file()
    assert "epoch002_fake_B_img.png" in (ck / "tiny" / "web" / "index.html").read_text()


def test_time_limit_stops_after_the_iteration_and_saves_latest(tiny_data, tmp_path, log_records):
    ck = str(tmp_path / "ck")
    flags = ["--dataroot", tiny_data, "--name", "tiny", "--checkpoints_dir", ck, "--seed", "1", *TINY_TRAIN]
    assert train_script.main(flags + ["--time_limit", "1e-6"]) == 0     # any first iteration takes longer
    run = os.path.join(ck, "tiny")
    saved = sorted(f for f in os.listdir(run) if f.endswith(".pth"))
    assert saved == sorted([f"latest_net_{n}.pth" for n in ("G_A", "G_B", "D_A", "D_B")] + ["latest_train_state.pth"])
    position = read_checkpoint(os.path.join(run, "latest_train_state.pth"))["run"]["position"]
    assert (position["epoch"], position["batches_done"], position["total_steps"]) == (1, 1, 1)
    assert [r.getMessage() for r in log_records if "time limit" in r.getMessage()] == [
        "time limit of 1e-06 minutes reached at epoch 1, iteration 1: saved the latest model; "
        "the same command with --continue_train goes on from here"]

    # --continue_train goes on within epoch 1: two epochs of three images make six iterations in all
    assert train_script.main(flags + ["--continue_train"]) == 0
    position = read_checkpoint(os.path.join(run, "latest_train_state.pth"))["run"]["position"]
    assert (position["epoch"], position["total_steps"]) == (3, 6)
    assert os.path.isfile(os.path.join(run, "2_net_G_A.pth"))


def test_negative_time_limit_is_an_option_error(tiny_data):
    with pytest.raises(OptionError, match="--time_limit must be >= 0 minutes, got -1$"):
        train_script.main(["--dataroot", tiny_data, *TINY_TRAIN, "--time_limit", "-1"])


def run_cli(script, args):
    proc = subprocess.run([sys.executable, os.path.join(ROOT, script), *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)
    return proc.returncode, proc.stderr


def break_missing_seg(root):
    import shutil
    shutil.rmtree(os.path.join(root, "testA_seg"))
    return os.path.join(root, "testA_seg")


def break_empty_domain(root):
    for f in os.listdir(os.path.join(root, "testB")):
        os.remove(os.path.join(root, "testB", f))
    return os.path.join(root, "testB")


def break_truncated_mask(root):
    path = os.path.join(root, "testA_seg", "0001_1.png")
    data = open(path, "rb").read()
    open(path, "wb").write(data[: len(data) // 2])
    return path


def break_mask_number(root):
    path = os.path.join(root, "testB_seg", "0001_03.png")      # beside 0001_3.png: two masks 3
    Image.new("L", Image.open(os.path.join(root, "testB", "0001.png")).size).save(path)
    return path


def break_unreadable_mask(root):
    path = os.path.join(root, "testA_seg", "0000_0.png")
    open(path, "w").write("not an image")
    return path


@pytest.mark.parametrize("damage, workers", [
    (break_missing_seg, "0"), (break_empty_domain, "0"), (break_mask_number, "0"), (break_unreadable_mask, "0"),
    (break_truncated_mask, "0"),
    (break_truncated_mask, "1"),      # found while loading, inside a worker process
])
def test_bad_data_one_line_error_and_nothing_lost(tiny_data, tiny_checkpoints, tmp_path, damage, workers):
    res = tmp_path / "res"
    page = res / "tiny" / "test_latest" / "index.html"
    (page.parent / "images").mkdir(parents=True)
    page.write_text("earlier results")
    (page.parent / "images" / "0000_fake_B_img.png").write_text("earlier image")
    culprit = damage(tiny_data)
    code, err = run_cli("test.py", ["--dataroot", tiny_data, "--name", "tiny", "--results_dir", str(res),
                                    "--checkpoints_dir", tiny_checkpoints, *TINY, "--num_threads", workers])
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2 and "Traceback" not in err, err
    assert "ERROR" in lines[-1] and culprit in lines[-1], err
    assert [line for line in lines if "ERROR" in line] == [lines[-1]]
    assert page.read_text() == "earlier results"
    assert (page.parent / "images" / "0000_fake_B_img.png").read_text() == "earlier image"
    assert os.listdir(res / "tiny") == ["test_latest"]       # no partial results left behind


def test_load_iter_results_go_to_pix2pixs_folder(tiny_data, tiny_checkpoints, tmp_path):
    run = os.path.join(tiny_checkpoints, "tiny")
    for net in ("G_A", "G_B"):
        shutil.copy(os.path.join(run, f"latest_net_{net}.pth"), os.path.join(run, f"iter_7_net_{net}.pth"))
    res = tmp_path / "res"
    assert test_script.main(["--dataroot", tiny_data, "--name", "tiny", "--checkpoints_dir", tiny_checkpoints,
                             "--results_dir", str(res), "--load_iter", "7", *TINY]) == 0
    assert os.listdir(res / "tiny") == ["test_latest_iter7"]


def test_missing_dataroot_and_bad_option(tmp_path):
    code, err = run_cli("train.py", ["--dataroot", str(tmp_path / "nowhere"), *TINY_TRAIN])
    assert code == 2 and "Traceback" not in err and str(tmp_path / "nowhere") in err.strip().splitlines()[-1]
    code, err = run_cli("train.py", ["--dataroot", str(tmp_path), *TINY_TRAIN, "--ins_per", "0"])
    assert code == 2 and err.strip().splitlines()[-1].endswith("--ins_per must be >= 1, got 0")


def test_missing_checkpoint_fails_before_writing(tiny_data, tmp_path):
    code, err = run_cli("test.py", ["--dataroot", tiny_data, "--name", "nothing", "--results_dir", str(tmp_path / "r"),
                                    "--checkpoints_dir", str(tmp_path / "ck"), *TINY])
    assert code == 2 and "checkpoint not found" in err and "latest_net_G_A.pth" in err
    assert not (tmp_path / "r").exists()


def test_test_warns_when_the_generators_were_trained_with_another_output(tiny_data, tmp_path, log_records):
    """--G_output changes no checkpoint key: only training's opt.txt tells that the flag is missing at test time."""
    ck, res = str(tmp_path / "ck"), str(tmp_path / "res")
    flags = ["--dataroot", tiny_data, "--name", "tiny", "--checkpoints_dir", ck, "--seed", "1", *TINY]
    assert train_script.main(flags + TINY_TRAIN[len(TINY):] + ["--G_output", "paste", "--time_limit", "1e-6"]) == 0
    assert test_script.main(flags + ["--results_dir", res, "--G_output", "paste"]) == 0
    assert not [r for r in log_records if "trained with" in r.getMessage()]
    assert test_script.main(flags + ["--results_dir", res]) == 0
    assert [r.getMessage() for r in log_records if "trained with" in r.getMessage()] == [
        "tiny was trained with --G_output paste but is tested with --G_output generate"]
    log_records.clear()
    unseeded = ["--dataroot", tiny_data, "--name", "tiny", "--checkpoints_dir", ck, *TINY, "--results_dir", res]
    assert test_script.main(unseeded + ["--G_output", "paste"]) == 0
    drawn = [r.getMessage() for r in log_records if r.getMessage().startswith("testing tiny, seed ")]
    assert len(drawn) == 1 and drawn[0].split()[-1].isdigit()           # a drawn seed is logged
