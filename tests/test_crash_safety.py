"""Checkpoints survive a kill while saving; a torn checkpoint set or a non-finite loss stops with one clear line."""
import os
import re
import signal
import subprocess
import sys
import time

import pytest
import torch

import train as train_script
from models import create_model, run_state
from models.insta_gan_model import InstaGANModel
from models.losses import ContextPreservingLoss
from options.train_options import TrainOptions
from tests.conftest import TINY_TRAIN
from util.errors import UserError

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Saves checkpoint 'latest', then saves it again with other weights, stalling once the first temporary file
# is on disk (the harness's own hook: train.py has no such flag). The test kills it there.
SLOW_SECOND_SAVE = """
import os, sys, time
from models import create_model, run_state
from options.train_options import TrainOptions

model = create_model(TrainOptions().parse(sys.argv[2:]))
model.setup()
run_state.save_checkpoint(model, "latest", run_state.Position(1), None)
for p in model.netG_A.parameters():
    p.data.fill_(7.0)

def stall(fd):
    open(sys.argv[1], "w").close()
    time.sleep(120)

os.fsync = stall
run_state.save_checkpoint(model, "latest", run_state.Position(2), None)
"""


def train_flags(data, ck, *extra):
    return ["--dataroot", data, "--name", "run", "--checkpoints_dir", ck, "--seed", "2", *TINY_TRAIN,
            "--save_epoch_freq", "1", *extra]


def resumed_model(data, ck):
    """The model resumed from `latest`, as train.py does it: in the locked run folder, whose opening removes the
    leftovers of an interrupted save."""
    opt = TrainOptions().parse(train_flags(data, ck, "--continue_train"))
    folder = run_state.RunFolder(opt)
    folder.open()
    try:
        model = create_model(opt)
        return model, model.setup()
    finally:
        folder.close()


def test_kill_during_save_keeps_the_previous_checkpoint(tiny_data, tmp_path):
    ck, stalled = str(tmp_path / "ck"), tmp_path / "stalled"
    proc = subprocess.Popen([sys.executable, "-c", SLOW_SECOND_SAVE, str(stalled), *train_flags(tiny_data, ck)],
                            cwd=ROOT, env=dict(os.environ, OMP_NUM_THREADS="1"), stderr=subprocess.PIPE, text=True)
    try:
        while not stalled.exists() and proc.poll() is None:
            time.sleep(0.01)
    finally:
        proc.send_signal(signal.SIGKILL)
    assert proc.wait() == -signal.SIGKILL, proc.stderr.read()
    run = tmp_path / "ck" / "run"
    assert (run / "latest_net_G_A.pth.tmp").exists()   # the second save was under way

    model, saved = resumed_model(tiny_data, ck)        # loads with weights_only=True, checks the set
    assert saved["position"]["epoch"] == 1
    assert all((p != 7.0).any() for p in model.netG_A.parameters())
    assert not list(run.glob("*.tmp"))                 # leftovers of the interrupted save are removed


def test_torn_checkpoint_set_is_detected(tiny_data, tmp_path, monkeypatch):
    """A kill between the renames leaves some network files newer than the training state."""
    ck = str(tmp_path / "ck")
    model = create_model(TrainOptions().parse(train_flags(tiny_data, ck)))
    model.setup()
    run_state.save_checkpoint(model, "latest", run_state.Position(1), None)
    real_replace, renamed = os.replace, []

    def die_after_two(src, dst):      # G_A and G_B are renamed, D_A, D_B and the state are not
        if len(renamed) == 2:
            raise KeyboardInterrupt
        renamed.append(dst)
        real_replace(src, dst)

    for p in model.netG_A.parameters():
        p.data.add_(1.0)
    monkeypatch.setattr(os, "replace", die_after_two)
    with pytest.raises(KeyboardInterrupt):
        run_state.save_checkpoint(model, "latest", run_state.Position(1), None)
    monkeypatch.undo()

    with pytest.raises(UserError, match=r"latest_net_G_A\.pth is not the file saved together with .*latest_train_"
                                        r"state\.pth \(a save was interrupted between its files"):
        resumed_model(tiny_data, ck)


def test_non_finite_loss_stops_before_anything_is_saved(tiny_data, tmp_path, monkeypatch):
    ck = str(tmp_path / "ck")
    iterations = []
    real_optimize, real_ctx = InstaGANModel.optimize_parameters, ContextPreservingLoss.forward

    def counting(self):
        iterations.append(1)
        real_optimize(self)

    def nan_in_iteration_5(self, *args):
        loss = real_ctx(self, *args)
        return loss * float("nan") if len(iterations) == 5 else loss

    monkeypatch.setattr(InstaGANModel, "optimize_parameters", counting)
    monkeypatch.setattr(ContextPreservingLoss, "forward", nan_in_iteration_5)
    latest = re.escape(os.path.join(ck, "run", "latest_net_*.pth"))
    with pytest.raises(UserError, match=rf"^non-finite loss \w+ = nan at epoch 2, iteration 5: stopping; the last "
                                        rf"good checkpoint is {latest}$"):
        train_script.main(train_flags(tiny_data, ck))       # 3 batches an epoch: iteration 5 is in epoch 2
    assert not os.path.exists(os.path.join(ck, "run", "2_net_G_A.pth"))
    good = torch.load(os.path.join(ck, "run", "latest_net_G_A.pth"), weights_only=True)
    first = torch.load(os.path.join(ck, "run", "1_net_G_A.pth"), weights_only=True)
    assert all(torch.isfinite(v).all() and torch.equal(v, first[k]) for k, v in good.items())
