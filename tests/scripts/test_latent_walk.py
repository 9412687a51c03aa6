"""scripts/latent_walk.py: the codes of the walk, and the video it writes from the BicycleGAN fixture's G."""
import os
import shutil

import numpy as np
import pytest
import torch

from scripts import latent_walk
from util.cli import run_cli
from util.video import read_video

FIXTURE = os.path.join(os.path.dirname(__file__), os.pardir, "fixtures", "bicyclegan")


def test_slerp_runs_along_the_great_circle_between_the_codes():
    z0, z1 = torch.tensor([2.0, 0.0]), torch.tensor([0.0, 2.0])
    path = latent_walk.slerp(z0, z1, 5)
    assert torch.allclose(path[0], z0) and torch.allclose(path[-1], z1)
    assert torch.allclose(path.norm(dim=1), torch.full((5,), 2.0))                # equal norms: stays on the circle
    assert torch.allclose(path[2], torch.tensor([2 ** 0.5, 2 ** 0.5]))
    assert torch.allclose(latent_walk.slerp(z0, 3 * z0, 3)[1], 2 * z0)           # parallel: a straight line
    codes = latent_walk.walk_codes(4, n_samples=3, num_frames=2, seed=5)
    assert codes.shape == (6, 4) and torch.equal(codes[1], codes[2])              # legs meet at their ends
    assert torch.equal(codes, latent_walk.walk_codes(4, 3, 2, seed=5))


@pytest.mark.parametrize("fmt", ["gif", "mp4"])
def test_the_walk_is_written_as_a_video(tmp_path, fmt):
    shutil.copytree(os.path.join(FIXTURE, "checkpoints"), tmp_path / "ckpt" / "bicyclegan")
    out = tmp_path / "video"
    code = run_cli(latent_walk.main, [
        "--dataroot", os.path.join(FIXTURE, "data"), "--name", "bicyclegan", "--model", "bicycle_gan",
        "--checkpoints_dir", str(tmp_path / "ckpt"), "--results_dir", str(out), "--gpu_ids", "-1",
        "--load_size", "128", "--crop_size", "128", "--netG", "unet_128", "--ngf", "4", "--nz", "8",
        "--n_samples", "2", "--num_frames", "3", "--num_test", "2", "--border", "1", "--format", fmt])
    assert code == 0
    frames, fps, _ = read_video(str(out / f"morphing_video_seed0050_fps8.{fmt}"))
    frames = list(frames)
    # 2 legs of 3 frames; both legs hold z_1, and a GIF stores the repeated frame once, for twice as long
    assert len(frames) == (5 if fmt == "gif" else 6)
    if fmt == "mp4":                  # (a GIF keeps durations in 1/100 s: 8 fps is stored as 12 or 13)
        assert fps == pytest.approx(8)
    assert frames[0].shape == (2 * 129, 2 * 129, 3)            # 2 inputs side by side, each input over its output
    stills = sorted(os.listdir(out / "frames_seed0050"))
    assert stills == [f"frame_{k:04d}.png" for k in range(6)]
    assert np.all(frames[0][0, :, :] > 240)                     # the white border row above the inputs
