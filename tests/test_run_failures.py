"""What a user (or a cluster) can do to a run: output places that refuse files, a second run on the same folder,
a new run over an old one, a run that fails early, a data set that shrank, SIGTERM. Each ends in one line with
exit code 2 (143 for SIGTERM), and leaves the files already written byte-identical."""
import os
import resource
import shutil
import signal
import subprocess
import sys
import time

import pytest
import torch

import train as train_script
from models import run_state
from models.losses import ContextPreservingLoss
from options.train_options import TrainOptions
from tests.conftest import TINY, TINY_TRAIN, write_shapes
from util.cli import run_cli

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NETS = ("G_A", "G_B", "D_A", "D_B")


def flags(data, ck, *extra):
    return ["--dataroot", data, "--name", "run", "--checkpoints_dir", ck, "--seed", "3", *TINY_TRAIN,
            "--save_epoch_freq", "1", "--no_html", *extra]


def snapshot(folder):
    """Every file under `folder` (relative path -> bytes)."""
    out = {}
    for here, _, files in os.walk(folder):
        for name in files:
            path = os.path.join(here, name)
            out[os.path.relpath(path, folder)] = open(path, "rb").read()
    return out


def error_line(log_records):
    errors = [r.getMessage() for r in log_records if r.levelname == "ERROR"]
    assert len(errors) == 1 and "\n" not in errors[0], errors
    return errors[0]


def script(name, args, limit_bytes=None, **kw):
    """Run train.py or test.py in its own process, optionally with a file-size limit (`ulimit -f`)."""
    def limit():
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit_bytes, limit_bytes))

    return subprocess.run([sys.executable, os.path.join(ROOT, name), *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=300, preexec_fn=limit if limit_bytes else None,
                          env=dict(os.environ, OMP_NUM_THREADS="1"), **kw)


def one_error(proc):
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert "Traceback" not in proc.stderr, proc.stderr
    errors = [line for line in lines if " ERROR " in line]
    assert errors == [lines[-1]], proc.stderr
    return lines[-1]


# -- output places -----------------------------------------------------------------------------------------------------
def test_checkpoints_dir_through_a_file(tiny_data, tmp_path, log_records):
    (tmp_path / "afile").write_text("mine")
    ck = str(tmp_path / "afile" / "ck")
    assert run_cli(train_script.main, flags(tiny_data, ck)) == 2
    line = error_line(log_records)
    assert os.path.join(ck, "run") in line and "is a file, not a folder" in line
    assert (tmp_path / "afile").read_text() == "mine"


def test_file_size_limit_while_saving_keeps_the_earlier_checkpoint(tiny_data, tmp_path):
    ck = str(tmp_path / "ck")
    assert train_script.main(flags(tiny_data, ck, "--niter", "1", "--niter_decay", "0")) == 0
    before = snapshot(ck)
    proc = script("train.py", flags(tiny_data, ck, "--continue_train", "--niter", "2", "--niter_decay", "0"),
                  limit_bytes=60_000)               # a network file of the tiny run is about 140 kB
    assert proc.returncode == 2
    line = one_error(proc)
    assert "cannot write" in line and "2_net_G_A.pth" in line and "File too large" in line, line
    after = snapshot(ck)
    assert {k: v for k, v in after.items() if k in before and not k.endswith((".txt", ".jsonl"))} == \
        {k: v for k, v in before.items() if not k.endswith((".txt", ".jsonl"))}
    assert not [name for name in after if name.endswith(".tmp")] and ".lock" not in os.listdir(ck + "/run")


def test_test_results_through_a_file_or_over_the_size_limit(tiny_data, tiny_checkpoints, tmp_path):
    (tmp_path / "afile").write_text("mine")
    args = ["--dataroot", tiny_data, "--name", "tiny", "--checkpoints_dir", tiny_checkpoints, *TINY]
    proc = script("test.py", args + ["--results_dir", str(tmp_path / "afile" / "res")])
    assert proc.returncode == 2 and str(tmp_path / "afile") in one_error(proc)

    res = tmp_path / "res"
    assert script("test.py", args + ["--results_dir", str(res)]).returncode == 0
    before = snapshot(res)
    proc = script("test.py", args + ["--results_dir", str(res)], limit_bytes=300)
    assert proc.returncode == 2 and "File too large" in one_error(proc)
    assert snapshot(res) == before and os.listdir(res / "tiny") == ["test_latest"]


# -- runs that meet other runs ----------------------------------------------------------------------------------------
def test_a_second_train_py_on_the_same_folder_is_refused(tiny_data, tmp_path, log_records):
    ck = str(tmp_path / "ck")
    holder = run_state.RunFolder(TrainOptions().parse(flags(tiny_data, ck)))
    holder.open()
    try:
        assert run_cli(train_script.main, flags(tiny_data, ck)) == 2
    finally:
        holder.close()
    line = error_line(log_records)
    assert f"is in use by train.py process {os.getpid()}" in line and os.path.join(ck, "run") in line
    assert not os.path.exists(os.path.join(ck, "run"))      # made for the lock, left empty: removed


def test_a_new_run_never_replaces_another_runs_checkpoints_unless_asked(tiny_data, tmp_path, log_records):
    ck = str(tmp_path / "ck")
    one_epoch = ["--niter", "1", "--niter_decay", "0"]
    assert train_script.main(flags(tiny_data, ck, *one_epoch)) == 0
    before = snapshot(ck)
    log_records.clear()
    assert run_cli(train_script.main, flags(tiny_data, ck, *one_epoch, "--seed", "4")) == 2
    line = error_line(log_records)
    assert "holds the checkpoints of another run" in line and "--continue_train" in line and "--overwrite" in line
    assert snapshot(ck) == before
    assert train_script.main(flags(tiny_data, ck, "--niter", "2", "--niter_decay", "0", "--seed", "4",
                                   "--overwrite", "--save_epoch_freq", "2")) == 0
    after = snapshot(ck)
    assert "1_net_G_A.pth" not in str(sorted(after)) and after["run/latest_net_G_A.pth"] != before[
        "run/latest_net_G_A.pth"]
    assert open(os.path.join(ck, "run", "loss_log.txt")).read().count("Training Loss") == 1


def test_a_run_that_fails_before_training_touches_no_log(tiny_data, tmp_path, monkeypatch, log_records):
    ck = str(tmp_path / "ck")
    assert train_script.main(flags(tiny_data, ck, "--niter", "1", "--niter_decay", "0")) == 0
    before = snapshot(ck)
    # a bad flag on resume
    assert run_cli(train_script.main, flags(tiny_data, ck, "--continue_train", "--ngf", "8")) == 2
    # a NaN in the first iteration of the resumed run
    real = ContextPreservingLoss.forward
    monkeypatch.setattr(ContextPreservingLoss, "forward", lambda self, *a: real(self, *a) * float("nan"))
    assert run_cli(train_script.main, flags(tiny_data, ck, "--continue_train", "--niter", "2")) == 2
    assert snapshot(ck) == before


def test_resume_after_the_data_set_shrank_mid_epoch(tmp_path, monkeypatch, log_records):
    data, ck = str(tmp_path / "data"), str(tmp_path / "ck")
    write_shapes(data, "train", "A", [1, 2, 1], seed=1)
    write_shapes(data, "train", "B", [1], seed=2)
    extra = ["--save_latest_freq", "2", "--niter", "1", "--niter_decay", "0"]

    class Killed(Exception):
        pass

    real_save = run_state.save_checkpoint

    def save_then_die(model, label, position, shuffle):
        real_save(model, label, position, shuffle)
        raise Killed

    with monkeypatch.context() as patch, pytest.raises(Killed):
        patch.setattr(run_state, "save_checkpoint", save_then_die)
        train_script.main(flags(data, ck, *extra))          # saved after 2 of 3 batches
    for name in ("0001", "0002"):
        os.remove(os.path.join(data, "trainA", f"{name}.png"))
    before = snapshot(ck)
    assert run_cli(train_script.main, flags(data, ck, *extra, "--continue_train")) == 2
    line = error_line(log_records)
    assert "stopped after 2 batches of epoch 1, but the data set now makes 1 per epoch" in line
    assert snapshot(ck) == before


# -- signals -----------------------------------------------------------------------------------------------------------
def test_sigterm_mid_epoch_saves_and_resumes_to_the_same_weights(tmp_path):
    data = str(tmp_path / "data")
    write_shapes(data, "train", "A", [1, 2, 3, 1, 2, 0], seed=1)
    write_shapes(data, "train", "B", [2, 1, 3, 1], seed=2)
    run_flags = ["--niter", "2", "--niter_decay", "0", "--print_freq", "1", "--pool_size", "2"]
    whole, stopped = str(tmp_path / "whole"), str(tmp_path / "stopped")
    assert script("train.py", flags(data, whole, *run_flags)).returncode == 0

    log = os.path.join(stopped, "run", "loss_log.txt")
    with open(tmp_path / "out.txt", "w") as out:
        proc = subprocess.Popen([sys.executable, "train.py", *flags(data, stopped, *run_flags)], cwd=ROOT,
                                env=dict(os.environ, OMP_NUM_THREADS="1"), stdout=out, stderr=subprocess.STDOUT)
        while proc.poll() is None and not (os.path.exists(log) and "iters: 2," in open(log).read()):
            time.sleep(0.005)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=120) == 143
    out = (tmp_path / "out.txt").read_text()
    assert "SIGTERM received at epoch 1" in out and "--continue_train goes on from here" in out, out
    position = torch.load(os.path.join(stopped, "run", "latest_train_state.pth"), weights_only=True)["run"]["position"]
    assert position["epoch"] == 1 and 2 <= position["batches_done"] < 6     # mid-epoch
    assert script("train.py", flags(data, stopped, *run_flags, "--continue_train")).returncode == 0
    for net in NETS:
        a = torch.load(os.path.join(whole, "run", f"latest_net_{net}.pth"), weights_only=True)
        b = torch.load(os.path.join(stopped, "run", f"latest_net_{net}.pth"), weights_only=True)
        assert all(torch.equal(a[k], b[k]) for k in a), net


def test_sigterm_during_test_py_keeps_earlier_results_and_no_partial_folder(tiny_data, tiny_checkpoints, tmp_path):
    res = tmp_path / "res"
    (res / "tiny" / "test_latest").mkdir(parents=True)
    (res / "tiny" / "test_latest" / "index.html").write_text("earlier results")
    args = ["--dataroot", tiny_data, "--name", "tiny", "--checkpoints_dir", tiny_checkpoints, *TINY,
            "--results_dir", str(res)]
    proc = subprocess.Popen([sys.executable, "test.py", *args], cwd=ROOT, stderr=subprocess.PIPE, text=True,
                            env=dict(os.environ, OMP_NUM_THREADS="1"))
    while proc.poll() is None and len(os.listdir(res / "tiny")) < 2:     # the partial folder exists
        time.sleep(0.002)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 143, proc.stderr.read()
    assert "terminated (SIGTERM)" in proc.stderr.read()
    assert os.listdir(res / "tiny") == ["test_latest"]
    assert (res / "tiny" / "test_latest" / "index.html").read_text() == "earlier results"
    shutil.rmtree(res)


def test_sigterm_to_the_whole_process_group_with_loading_workers(tiny_data, tmp_path):
    """Schedulers signal every process of a job: the loading workers ignore it, train.py saves and stops."""
    ck = str(tmp_path / "ck")
    log = os.path.join(ck, "run", "loss_log.txt")
    proc = subprocess.Popen([sys.executable, "train.py", *flags(tiny_data, ck, "--num_threads", "1", "--niter", "50",
                                                               "--print_freq", "1")],
                            cwd=ROOT, env=dict(os.environ, OMP_NUM_THREADS="1"), stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    while proc.poll() is None and not (os.path.exists(log) and "iters: 2," in open(log).read()):
        time.sleep(0.005)
    os.killpg(proc.pid, signal.SIGTERM)
    assert proc.wait(timeout=120) == 143
    err = proc.stderr.read()
    assert "Traceback" not in err and "SIGTERM received at epoch" in err, err
    assert os.path.isfile(os.path.join(ck, "run", "latest_train_state.pth"))
