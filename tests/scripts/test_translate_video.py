"""translate_video: a synthetic video through Mask R-CNN and the parity fixture's InstaGAN keeps its frame count,
size and rate, and each frame is translated as test.py translates it alone."""
import os
import re

import numpy as np
import pytest
from PIL import Image

import test as test_script
from scripts.predict_masks import main as predict_main
from models import create_model
from scripts.translate_video import COLOURS, main, parse_args, translate as translate_frames
from tests.scripts import test_predict_masks
from tests.scripts.test_predict_masks import FAST, NET, PARITY, sheep_weights
from util.cli import run_cli
from util.video import read_video, write_video

photos, checkpoints = test_predict_masks.photos, test_predict_masks.checkpoints   # its pix2pix fixtures
H, W = 64, 48                     # the parity generator's size, so test.py's resizing leaves a frame as it is


def moving_disks(n: int, h: int = H, w: int = W) -> list[np.ndarray]:
    """`n` frames of two light disks crossing a grey background."""
    yy, xx = np.mgrid[:h, :w]
    frames = []
    for i in range(n):
        frame = np.full((h, w, 3), 90, np.uint8)
        for cx, cy, colour in ((8 + 5 * i, h // 3, (230, 200, 200)), (w - 8 - 4 * i, 2 * h // 3, (200, 230, 200))):
            frame[(yy - cy) ** 2 + (xx - cx) ** 2 < 49] = colour
        frames.append(frame)
    return frames


@pytest.fixture
def weights(tmp_path_factory):
    return sheep_weights(tmp_path_factory)


def maskrcnn(weights):
    return ["--predictor", "maskrcnn", "--category", "sheep", "--weights", weights, *FAST]


def translate(video, weights, *flags):
    return run_cli(main, [str(video), *PARITY, *maskrcnn(weights), *flags])


def test_video_keeps_count_size_rate_and_each_frame_is_translated_as_alone(tmp_path, weights):
    video = tmp_path / "disks.mp4"
    write_video(str(video), moving_disks(5), 12)
    out, side = tmp_path / "out" / "sheep.mp4", tmp_path / "out" / "side.mp4"
    assert translate(video, weights, "--output", str(out), "--side_by_side", str(side), "--batch_size", "3",
                     "--save_frames", str(tmp_path / "frames")) == 0
    frames_in, fps_in, count_in = read_video(str(video))
    frames_in = list(frames_in)
    frames_out, fps_out, count_out = read_video(str(out))
    frames_out = list(frames_out)
    assert (len(frames_out), count_out, fps_out) == (5, 5, fps_in) == (5, count_in, 12)
    assert all(f.shape == (H, W, 3) for f in frames_out)
    sides = list(read_video(str(side))[0])
    assert len(sides) == 5 and sides[0].shape == (H, 3 * W, 3)
    pngs = [np.asarray(Image.open(tmp_path / "frames" / f"{i:06d}.png")) for i in range(5)]
    # the encoded video shows the translated frames: each is closest to its own
    errors = np.array([[np.abs(o.astype(int) - p.astype(int)).mean() for p in pngs] for o in frames_out])
    assert (errors.argmin(axis=1) == np.arange(5)).all()
    assert np.abs(sides[3][:, 2 * W:].astype(int) - frames_out[3].astype(int)).mean() < 8

    # frame 4 (the second batch, alone in it) and frame 1 (inside the first): masks by predict_masks.py and
    # translation by test.py, one photo each, give the same pixels
    photos = tmp_path / "photos"
    photos.mkdir()
    for i in (1, 4):
        Image.fromarray(frames_in[i]).save(photos / f"frame{i}.png")
    data = tmp_path / "data"
    for domain in ("A", "B"):
        assert run_cli(predict_main, ["--predictor", "maskrcnn", "--images", str(photos), "--save_root", str(data),
                                      "--domain", domain, "--category", "sheep", "--weights", weights, "--max_instances",
                                      "6", *FAST]) == 0
    assert len(os.listdir(data / "testA_seg")) > 2
    results = tmp_path / "results"
    assert run_cli(test_script.main, ["--dataroot", str(data), "--results_dir", str(results), *PARITY]) == 0
    for i in (1, 4):
        alone = np.asarray(Image.open(results / "tinyparity" / "test_latest" / "images" / f"frame{i}_fake_B_img.png"))
        assert np.abs(alone.astype(int) - pngs[i].astype(int)).max() <= 1
    assert np.abs(pngs[1].astype(int) - pngs[4].astype(int)).mean() > 10     # frames that do differ


def test_a_frame_without_instances_comes_back_as_it_was(tmp_path, weights):
    """InstaGAN's identity, at the frame's own size (not through the network's 64x48 and back), grey for a grey
    model; a frame with an instance is translated at its own size."""
    _, opt = parse_args([str(tmp_path / "v.mp4"), *PARITY, *maskrcnn(weights)])
    model = create_model(opt)
    model.setup()
    frames = moving_disks(2, 70, 50)
    disk = np.all(frames[1] != 90, axis=-1)[None]
    out = translate_frames(model, frames, [np.zeros((0, 70, 50), bool), disk], opt)
    assert np.array_equal(out[0], frames[0])
    assert out[1].shape == frames[1].shape and np.abs(out[1].astype(int) - frames[1]).mean() > 1
    opt.input_nc = opt.output_nc = 1                   # no step runs the generator: its channels do not matter
    grey = translate_frames(model, frames[:1], [np.zeros((0, 70, 50), bool)], opt)[0]
    luma = frames[0].astype(float) @ [0.299, 0.587, 0.114]
    assert grey.shape == frames[0].shape and (grey == grey[..., :1]).all()
    assert np.abs(grey[..., 0] - luma).max() <= 1


def test_folder_of_frames_with_the_pix2pix_predictor_to_a_gif(tmp_path, checkpoints):
    folder = tmp_path / "clip"
    folder.mkdir()
    frames = moving_disks(3, 20, 30)
    for i, frame in enumerate(frames):
        Image.fromarray(frame).save(folder / f"f{i}.png")
    mask_flags = " ".join([*NET[2:], "--checkpoints_dir", checkpoints])     # the mask model's own folder
    assert run_cli(main, [str(folder), *PARITY, "--predictor", "pix2pix", "--mask_name", "masker", "--mask_flags",
                          mask_flags, "--min_area", "1", "--fps", "12.5", "--output", str(tmp_path / "out" / "clip.gif")]) == 0
    back, fps, _ = read_video(str(tmp_path / "out" / "clip.gif"))
    assert fps == 12.5 and [f.shape for f in back] == [(20, 30, 3)] * 3
    side = list(read_video(str(tmp_path / "out" / "clip_side_by_side.gif"))[0])
    # the white pix2pix predictor masks the whole frame: the middle panel is the first colour over the frame
    expected = (frames[0] * 0.4 + COLOURS[0] * 0.6).round()
    assert np.abs(side[0][:20, 30:60].astype(int) - expected).mean() < 6


def test_corrupt_video_is_one_line_naming_it(tmp_path, weights, log_records):
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"garbage" * 100)
    assert translate(bad, weights, "--results_dir", str(tmp_path / "res")) == 2
    errors = [r.getMessage() for r in log_records if r.levelname == "ERROR"]
    assert len(errors) == 1 and re.fullmatch(f"cannot read video {re.escape(str(bad))}: [^\n]+", errors[0]), errors
    assert not (tmp_path / "res").exists()


@pytest.mark.parametrize("flags, message", [
    (["MASKRCNN", "--output", "out.avi"], "^--output out.avi: the extension must be one of .mp4, .webm, .gif$"),
    (["--predictor", "pix2pix"], "^--predictor pix2pix needs --mask_name"),
    (["--predictor", "pix2pix", "--mask_name", "m", "--category", "sheep"],
     "^--category is a flag of --predictor maskrcnn$"),
    (["MASKRCNN", "--mask_name", "m"], "^--mask_name is a flag of --predictor pix2pix$"),
    (["MASKRCNN", "--fps", "0"], "^--fps must be a positive number"),
    (["MASKRCNN", "--ins_per", "9"], r"^--ins_per \(9\) must not exceed --ins_max \(6\)$"),
    (["--category", "sheep", "--weights", "none.pth"], "^Mask R-CNN weights not found: none.pth "
     r"\(torchvision's maskrcnn_resnet50_fpn_v2_coco-73cbd019.pth: https://"),
])
def test_flag_mistakes_are_one_line_errors(tmp_path, weights, log_records, flags, message):
    video = tmp_path / "v.gif"
    write_video(str(video), moving_disks(2), 10)
    flags = [g for f in flags for g in (maskrcnn(weights) if f == "MASKRCNN" else [f])]
    assert run_cli(main, [str(video), *PARITY, "--results_dir", str(tmp_path / "res"), *flags]) == 2
    errors = [r.getMessage() for r in log_records if r.levelname == "ERROR"]
    assert len(errors) == 1 and re.search(message, errors[0]), errors
    assert not (tmp_path / "res").exists()
