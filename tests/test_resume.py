"""--continue_train: a stopped run goes on exactly as if it had never stopped; bad resumes fail in one line."""
import os
import pickle
import signal
import subprocess
import sys
import threading
import time

import pytest
import torch

import train as train_script
from models import run_state
from tests.conftest import TINY_TRAIN, write_shapes
from util.checkpoint import read_checkpoint
from util.cli import run_cli

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NETS = ("G_A", "G_B", "D_A", "D_B")


def flags(data, ck, *extra):
    """A tiny run whose result depends on every random stream: shuffled batches, random B partners, crops and
    flips, a non-empty image pool (`--pool_size 2`)."""
    return ["--dataroot", data, "--name", "run", "--checkpoints_dir", ck, "--seed", "5", *TINY_TRAIN,
            "--pool_size", "2", "--save_epoch_freq", "1", "--no_html", *extra]


def weights(ck, label="latest"):
    return {n: torch.load(os.path.join(ck, "run", f"{label}_net_{n}.pth"), weights_only=True) for n in NETS}


def max_diff(a, b):
    return max((a[n][k] - b[n][k]).abs().max().item() for n in NETS for k in a[n])


def test_killed_run_resumes_to_the_same_weights(tmp_path):
    data = str(tmp_path / "data")
    write_shapes(data, "train", "A", [1, 2, 3, 1, 2, 0], seed=1)   # 6 batches an epoch: the kill lands in time
    write_shapes(data, "train", "B", [2, 1, 3, 1], seed=2)
    three_epochs = ["--niter", "2", "--niter_decay", "1"]
    whole, killed = str(tmp_path / "whole"), str(tmp_path / "killed")

    def start(log, *extra):
        """train.py in its own process, one thread as the uninterrupted run here (the same kernels)."""
        with open(log, "w") as out:
            return subprocess.Popen([sys.executable, "train.py", *flags(data, killed, *three_epochs, *extra)],
                                    cwd=ROOT, env=dict(os.environ, OMP_NUM_THREADS="1"), stdout=out,
                                    stderr=subprocess.STDOUT)

    def kill_after_first_save(run):
        first_save = os.path.join(killed, "run", "latest_train_state.pth")   # written last, after 1_*
        while not os.path.exists(first_save) and run.poll() is None:
            time.sleep(0.005)
        run.send_signal(signal.SIGKILL)
        run.wait()

    first_log, resumed_log = tmp_path / "first.log", tmp_path / "resumed.log"
    run = start(first_log)
    killer = threading.Thread(target=kill_after_first_save, args=(run,))
    killer.start()
    assert train_script.main(flags(data, whole, *three_epochs)) == 0   # the uninterrupted run, meanwhile
    killer.join()
    assert run.returncode == -signal.SIGKILL, first_log.read_text()
    assert not os.path.exists(os.path.join(killed, "run", "3_train_state.pth"))   # stopped before the end

    resumed = start(resumed_log, "--continue_train")
    assert resumed.wait(timeout=120) == 0, resumed_log.read_text()
    assert "resumed the training state" in resumed_log.read_text()
    assert max_diff(weights(whole), weights(killed)) <= 1e-6
    state = read_checkpoint(os.path.join(killed, "run", "latest_train_state.pth"))   # weights_only=True
    assert state["run"]["position"] == {"epoch": 4, "batches_done": 0, "epoch_iter": 0, "total_steps": 18,
                                        "g_loss_sum": 0.0}


def test_resume_in_the_middle_of_an_epoch(tiny_data, tmp_path, monkeypatch):
    """A 'latest' save within epoch 2 (--save_latest_freq): the resumed run skips the batches it trained on."""
    # 3 batches an epoch: 'latest' is saved after 2 batches of epoch 2, then 4 batches remain
    extra = ["--save_latest_freq", "5", "--lr_policy", "plateau", "--niter", "3", "--niter_decay", "0"]
    whole, broken = str(tmp_path / "whole"), str(tmp_path / "broken")
    assert train_script.main(flags(tiny_data, whole, *extra)) == 0

    class Killed(Exception):
        pass

    real_save = run_state.save_checkpoint

    def save_then_die(model, label, position, shuffle):
        real_save(model, label, position, shuffle)
        if position.total_steps == 5:
            raise Killed

    with monkeypatch.context() as patch, pytest.raises(Killed):
        patch.setattr(run_state, "save_checkpoint", save_then_die)
        train_script.main(flags(tiny_data, broken, *extra))
    position = read_checkpoint(os.path.join(broken, "run", "latest_train_state.pth"))["run"]["position"]
    assert (position["epoch"], position["batches_done"]) == (2, 2)

    assert train_script.main(flags(tiny_data, broken, *extra, "--continue_train")) == 0
    assert max_diff(weights(whole), weights(broken)) == 0


def test_reference_checkpoint_resumes_weights_only(tiny_data, tmp_path, log_records):
    """Without a training state (the reference's checkpoints), --epoch_count says where to go on."""
    ck = str(tmp_path / "ck")
    assert train_script.main(flags(tiny_data, ck, "--niter", "1", "--niter_decay", "0")) == 0
    os.remove(os.path.join(ck, "run", "latest_train_state.pth"))
    assert train_script.main(flags(tiny_data, ck, "--continue_train", "--epoch_count", "2")) == 0
    assert os.path.isfile(os.path.join(ck, "run", "2_net_G_A.pth"))
    warnings = [r.getMessage() for r in log_records if r.levelname == "WARNING" and "weights only" in r.getMessage()]
    assert len(warnings) == 1 and "start fresh at epoch 2" in warnings[0]


def error_line(log_records):
    errors = [r.getMessage() for r in log_records if r.levelname == "ERROR"]
    assert len(errors) == 1 and "\n" not in errors[0]
    return errors[0]


def test_continue_without_checkpoint_fails_in_one_line(tiny_data, tmp_path, log_records):
    assert run_cli(train_script.main, flags(tiny_data, str(tmp_path / "ck"), "--continue_train")) == 2
    assert "no checkpoint 'latest'" in error_line(log_records)
    assert not os.path.exists(tmp_path / "ck" / "run" / "opt.txt")   # fails before anything is written


def test_continue_with_other_architecture_fails_in_one_line(tiny_data, tmp_path, log_records):
    ck = str(tmp_path / "ck")
    assert train_script.main(flags(tiny_data, ck, "--niter", "1", "--niter_decay", "0")) == 0
    assert run_cli(train_script.main, flags(tiny_data, ck, "--continue_train", "--ngf", "8")) == 2
    line = error_line(log_records)
    assert "latest_net_G_A.pth does not fit the network built from the flags" in line and "--ngf" in line


def test_resume_keeps_the_saved_optimisers_and_says_which_flags_it_ignores(tiny_data, tmp_path, log_records):
    ck = str(tmp_path / "ck")
    assert train_script.main(flags(tiny_data, ck)) == 0
    assert train_script.main(flags(tiny_data, ck, "--continue_train", "--niter", "3", "--niter_decay", "0",
                                   "--lr", "0.001", "--epoch_count", "5")) == 0
    state = read_checkpoint(os.path.join(ck, "run", "3_train_state.pth"))
    assert state["model"]["optimizers"][0]["param_groups"][0]["initial_lr"] == 0.0002
    warnings = " | ".join(r.getMessage() for r in log_records if r.levelname == "WARNING")
    assert "--lr, --lr_D and --beta1 are ignored" in warnings and "--epoch_count 5 ignored" in warnings


def test_a_raised_niter_goes_on_at_the_new_schedules_rate(tiny_data, tmp_path, log_records):
    """--niter raised on resuming a finished run (lr 0 at its end): the next epoch trains at the rate a run started
    with the new flags has there, not at the saved 0."""
    ck = str(tmp_path / "ck")
    assert train_script.main(flags(tiny_data, ck)) == 0            # --niter 1 --niter_decay 1: 2 epochs, lr -> 0

    def lr(label):
        return read_checkpoint(os.path.join(ck, "run", f"{label}_train_state.pth"))["model"]["optimizers"][0][
            "param_groups"][0]["lr"]
    assert lr(2) == 0.0
    assert train_script.main(flags(tiny_data, ck, "--continue_train", "--niter", "3", "--niter_decay", "1")) == 0
    rates = [r.getMessage() for r in log_records if r.getMessage().startswith("learning rate")]
    assert rates[-2:] == ["learning rate 0.0002000 -> 0.0001000", "learning rate 0.0001000 -> 0.0000000"]
    assert (lr(3), lr(4)) == (0.0001, 0.0)
    assert any("learning rate 0.0000000 -> 0.0002000, where today's --niter/--niter_decay schedule stands" in
               r.getMessage() for r in log_records)


class Runs:
    """Unpickling this runs `touch PATH`: what a checkpoint with code in it would do if it were loaded."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (os.system, (f"touch {self.path}",))


def list_in_generator(run, tmp_path):
    torch.save([torch.zeros(1)], os.path.join(run, "latest_net_G_A.pth"))
    os.remove(os.path.join(run, "latest_train_state.pth"))       # weights only: no checksum to trip first
    return "latest_net_G_A.pth is not a state dict (names -> tensors) but a list"


def code_in_generator(run, tmp_path):
    torch.save({"x": Runs(tmp_path / "ran")}, os.path.join(run, "latest_net_G_A.pth"))
    os.remove(os.path.join(run, "latest_train_state.pth"))
    return "latest_net_G_A.pth is not a plain state dict"


def text_as_generator(run, tmp_path):
    with open(os.path.join(run, "latest_net_G_A.pth"), "w") as f:
        f.write("import os\n")
    os.remove(os.path.join(run, "latest_train_state.pth"))
    return "latest_net_G_A.pth: not a file that torch.save wrote"


def foreign_pickle_with_code(run, tmp_path):
    """Not torch.save's: a pickle of protocol 4, whose notice torch would print before our line."""
    with open(os.path.join(run, "latest_net_G_A.pth"), "wb") as f:
        pickle.dump({"x": Runs(tmp_path / "ran")}, f, protocol=4)
    os.remove(os.path.join(run, "latest_train_state.pth"))
    return "latest_net_G_A.pth is not a plain state dict"


def state_without(*keys):
    def damage(run, tmp_path):
        path = os.path.join(run, "latest_train_state.pth")
        state = torch.load(path, weights_only=True)
        entry = state
        for key in keys[:-1]:
            entry = entry[key]
        del entry[keys[-1]]
        torch.save(state, path)
        return "latest_train_state.pth"
    return damage


@pytest.mark.parametrize("damage, message", [
    (list_in_generator, None), (code_in_generator, None), (text_as_generator, None), (foreign_pickle_with_code, None),
    (state_without("model", "lr_policy"), "lacks the entry 'lr_policy'"),
    (state_without("model", "pools"), "lacks the entry 'pools'"),
    (state_without("run", "position"), "has no valid position"),
], ids=["list", "code", "text", "pickle", "no-lr_policy", "no-pools", "no-position"])
def test_damaged_checkpoints_fail_in_one_line_and_touch_nothing(tiny_data, tmp_path, log_records, recwarn, damage,
                                                               message):
    ck = str(tmp_path / "ck")
    assert train_script.main(flags(tiny_data, ck, "--niter", "1", "--niter_decay", "0")) == 0
    run = os.path.join(ck, "run")
    names = damage(run, tmp_path)
    before = {name: open(os.path.join(run, name), "rb").read() for name in os.listdir(run)
              if os.path.isfile(os.path.join(run, name))}
    log_records.clear()
    assert run_cli(train_script.main, flags(tiny_data, ck, "--continue_train")) == 2
    line = error_line(log_records)
    assert names in line and (message is None or message in line), line
    assert "weights_only" not in line and not (tmp_path / "ran").exists()
    assert not [w for w in recwarn if "pickle protocol" in str(w.message)]
    assert {name: open(os.path.join(run, name), "rb").read() for name in before} == before
