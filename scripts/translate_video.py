"""Translate a video with a trained InstaGAN, frame by frame, with instance masks predicted for every frame
(the paper's video translation, Appendix).

    python scripts/translate_video.py VIDEO --name sheep_giraffe --category sheep \\
        [--weights maskrcnn_resnet50_fpn_v2_coco-73cbd019.pth --output OUT.mp4 --batch_size 8 --gpu_ids 0
         --loadSizeH 200 --loadSizeW 200 --fineSizeH 200 --fineSizeW 200 --ins_per 2 --ins_max 20 ...]

VIDEO is a video file (.mp4, .webm, .avi, .mov, .gif, ...; any FFmpeg reads) or a folder of frames (image files in
natural order, at --fps, default 25). Each frame's instances are predicted by Mask R-CNN (--predictor maskrcnn, the
default: --category, --weights, --score_thresh, --mask_thresh, --detect_size, --proposals as in
predict_masks.py, keeping the --ins_max largest) or by a pix2pix mask model (--predictor pix2pix --mask_name NAME
[--mask_flags "--netG unet_256 --epoch 20" --threshold 0.5]; from --checkpoints_dir). Frames are resized to
--fineSizeH x --fineSizeW with their masks (as test.py's data when --loadSize equals --fineSize, as the README's
test commands), translated --batch_size at a time by model.test() (sequential over the masks, --ins_per per
step, like test.py) in the --direction of the model, and resized back to the frame size.

Writes OUTPUT (default RESULTS_DIR/NAME/video_EPOCH/STEM.mp4) at the video's frame rate and size, and, unless
--side_by_side none, input | masks | output side by side (default: OUTPUT with _side_by_side before its extension).
The extension picks the format: .mp4 (H.264), .webm (VP9) or .gif. --save_frames DIR also writes the translated
frames as lossless PNGs (000000.png, ...). Everything is written aside and takes the place of earlier files only
when every frame is done.
"""
from __future__ import annotations

import argparse
import os
import shlex
import sys
from contextlib import ExitStack
from pathlib import Path
from typing import Callable, Iterator, Sequence

if __package__ in (None, ""):  # run as `python scripts/X.py`: import from the repo root, not scripts/
    sys.path[0] = str(Path(__file__).resolve().parents[1])

import numpy as np
import torch
from PIL import Image
from tqdm import tqdm
from tqdm.contrib.logging import logging_redirect_tqdm

from data.transforms import RESAMPLE, at_network_size, image_to_tensor, luma, normalise
from models import create_model
from models.run_state import load_label
from options.test_options import TestOptions
from scripts.predict_masks import PREDICTORS, Pix2PixMasks, check_predictor_flags
from util.checkpoint import written_aside
from util.cli import run_cli
from util.errors import OptionError
from util.image import tensor2im
from util.log import logger
from util.maskrcnn import MaskRCNNMasks, add_maskrcnn_flags
from util.seed import seed_all
from util.video import VIDEO_EXTENSIONS, VideoWriter, read_video

Predictor = Callable[[Sequence[np.ndarray]], list[np.ndarray]]   # frames -> (N, H, W) bool masks per frame
# instance colours of the masks panel, largest instance first (then repeating)
COLOURS = np.array([[230, 25, 75], [60, 180, 75], [255, 225, 25], [0, 130, 200], [245, 130, 48], [145, 30, 180],
                    [70, 240, 240], [240, 50, 230], [210, 245, 60], [250, 190, 212]], np.float32)


def parse_args(argv: Sequence[str] | None) -> tuple[argparse.Namespace, argparse.Namespace]:
    """This script's flags, and the test options of the InstaGAN model from the remaining flags."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("video", help="a video file, or a folder of frames")
    p.add_argument("--output", default=None,
                   help=f"the translated video ({', '.join(VIDEO_EXTENSIONS)}); default "
                        "RESULTS_DIR/NAME/video_EPOCH/STEM.mp4")
    p.add_argument("--side_by_side", default=None,
                   help="the input | masks | output video; default OUTPUT's name + _side_by_side; none: not written")
    p.add_argument("--save_frames", default=None, help="also write the translated frames as PNGs into this folder")
    p.add_argument("--fps", type=float, default=None, help="frame rate of a folder of frames (25)")
    p.add_argument("--predictor", default="maskrcnn", choices=PREDICTORS, help="the mask predictor (maskrcnn)")
    p.add_argument("--min_area", type=int, default=100, help="drop instances smaller than this many pixels")
    p.add_argument("--threshold", type=float, default=None, help="pix2pix: mask threshold of its prediction (0.5)")
    p.add_argument("--mask_name", default=None, help="pix2pix: the mask model's --name (in --checkpoints_dir)")
    p.add_argument("--mask_flags", default=None,
                   help="pix2pix: the mask model's other test.py flags, quoted, e.g. \"--netG unet_256 --epoch 20\"")
    add_maskrcnn_flags(p, max_instances=False)
    args, rest = p.parse_known_args(argv)
    check_predictor_flags(args)
    if args.predictor == "pix2pix" and not args.mask_name:
        raise OptionError("--predictor pix2pix needs --mask_name: the pix2pix mask model's --name")
    if args.predictor != "pix2pix" and (args.mask_name or args.mask_flags):
        raise OptionError(f"--{'mask_name' if args.mask_name else 'mask_flags'} is a flag of --predictor pix2pix")
    if args.fps is not None and not (np.isfinite(args.fps) and args.fps > 0):
        raise OptionError(f"--fps must be a positive number, got {args.fps}")
    for flag in ("output", "side_by_side"):
        path = getattr(args, flag)
        if path and path != "none" and os.path.splitext(path)[1].lower() not in VIDEO_EXTENSIONS:
            raise OptionError(f"--{flag} {path}: the extension must be one of {', '.join(VIDEO_EXTENSIONS)}")
    opt = TestOptions().parse([*rest, "--dataroot", args.video, "--model", "insta_gan",
                               "--dataset_mode", "unaligned_seg"])
    return args, opt


def output_paths(args: argparse.Namespace, opt: argparse.Namespace) -> tuple[str, str | None]:
    """The translated video and the side-by-side one (None: not written)."""
    stem = Path(os.path.normpath(args.video)).stem
    out = args.output or os.path.join(opt.results_dir, opt.name, f"video_{load_label(opt)}", stem + ".mp4")
    if args.side_by_side == "none":
        return out, None
    base, ext = os.path.splitext(out)
    return out, args.side_by_side or f"{base}_side_by_side{ext}"


def mask_predictor(args: argparse.Namespace, opt: argparse.Namespace, device: torch.device) -> Predictor:
    """The chosen predictor, loaded (a missing weights file or checkpoint fails here, before any frame)."""
    if args.predictor == "maskrcnn":
        return MaskRCNNMasks(args.weights, args.category, device, args.score_thresh, args.mask_thresh,
                             args.min_area, opt.ins_max, args.detect_size, args.proposals)
    gpu_ids = ",".join(map(str, opt.gpu_ids)) or "-1"
    mask_opt = TestOptions().parse(["--checkpoints_dir", opt.checkpoints_dir, "--gpu_ids", gpu_ids, "--seed",
                                    str(opt.seed), *shlex.split(args.mask_flags or ""), "--name", args.mask_name,
                                    "--dataroot", args.video, "--model", "pix2pix", "--dataset_mode", "single",
                                    "--resize_or_crop", "resize_and_crop"])
    at_network_size(mask_opt)
    return Pix2PixMasks(mask_opt, args.threshold, args.min_area)


def model_input(frames: Sequence[np.ndarray], masks: Sequence[np.ndarray], opt: argparse.Namespace) -> dict:
    """A batch for InstaGAN's `set_input`, as from `unaligned_seg`: frames and masks resized to the network's size
    (bicubic by default, as its data), in [-1, 1]; the --ins_max largest masks (the predictors give them largest
    first) in --ins_max slots, which `select_masks` ranks as it ranks the data's; the other domain's side is an
    empty batch, so the model translates the frames only."""
    size = (opt.fineSizeW, opt.fineSizeH)
    images = torch.stack([image_to_tensor(Image.fromarray(frame).resize(size, Image.Resampling.BICUBIC))
                          for frame in frames])
    if opt.input_nc == 1:
        images = luma(images)
    segs = torch.full((len(frames), opt.ins_max, opt.fineSizeH, opt.fineSizeW), -1.0)
    for i, found in enumerate(masks):
        found = found[: opt.ins_max]
        if len(found):
            segs[i, : len(found)] = normalise(np.stack([
                np.asarray(Image.fromarray(m.astype(np.uint8) * 255).resize(size, RESAMPLE[opt.mask_resize]))
                for m in found]))
    a, b = ("A", "B") if opt.direction == "AtoB" else ("B", "A")
    return {a: images, a + "_segs": segs, a + "_paths": [""] * len(frames),
            b: images[:0], b + "_segs": segs[:0], b + "_paths": []}


def translate(model, frames: Sequence[np.ndarray], masks: Sequence[np.ndarray], opt) -> list[np.ndarray]:
    """The translated frames, each at its input's size. A frame without instances is InstaGAN's identity: it
    comes back as it was (grey for a grey model), not through the network's size and back."""
    model.set_input(model_input(frames, masks, opt))
    model.test()
    out = []
    for frame, found, fake in zip(frames, masks, model.fake_B_img):
        if not len(found):
            out.append(frame if opt.input_nc == 3 else tensor2im(luma(image_to_tensor(Image.fromarray(frame)))))
            continue
        picture = Image.fromarray(tensor2im(fake))
        size = (frame.shape[1], frame.shape[0])
        out.append(np.asarray(picture if picture.size == size else picture.resize(size, Image.Resampling.BICUBIC)))
    return out


def masks_panel(frame: np.ndarray, masks: np.ndarray) -> np.ndarray:
    """The frame dimmed, each instance in its own colour over it (a smaller one over a larger)."""
    panel = frame.astype(np.float32) * 0.4
    for k, mask in enumerate(masks):
        panel[mask] = frame[mask] * 0.4 + COLOURS[k % len(COLOURS)] * 0.6
    return panel.round().astype(np.uint8)


def batches(frames: Iterator[np.ndarray], size: int) -> Iterator[list[np.ndarray]]:
    batch = []
    for frame in frames:
        batch.append(frame)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def main(argv: Sequence[str] | None = None) -> int:
    args, opt = parse_args(argv)
    frames, fps, count = read_video(args.video, args.fps)        # a missing or corrupt video fails here
    out_path, side_path = output_paths(args, opt)
    seed_all(opt.seed)
    model = create_model(opt)
    model.setup()                                                  # a missing checkpoint fails here
    if opt.eval:
        model.eval()
    predictor = mask_predictor(args, opt, model.device)
    done = n_masks = without = 0
    with ExitStack() as stack, logging_redirect_tqdm(loggers=[logger]), \
            tqdm(total=count, unit="frame", disable=None) as bar:
        out = stack.enter_context(VideoWriter(out_path, fps))
        side = stack.enter_context(VideoWriter(side_path, fps)) if side_path else None
        pngs = stack.enter_context(written_aside(args.save_frames)) if args.save_frames else None
        for batch in batches(frames, opt.batch_size):
            masks = [m[: opt.ins_max] for m in predictor(batch)]
            for frame, found, fake in zip(batch, masks, translate(model, batch, masks, opt)):
                out.write(fake)
                if side is not None:
                    side.write(np.concatenate([frame, masks_panel(frame, found), fake], axis=1))
                if pngs is not None:
                    Image.fromarray(fake).save(os.path.join(pngs, f"{done:06d}.png"))
                done += 1
                n_masks += len(found)
                without += not len(found)
            bar.update(len(batch))
    logger.info("%d frames (%dx%d, %.4g fps) translated into %s%s; %d masks, %d frames without any instance "
                "(InstaGAN leaves them unchanged)", done, out.size[1], out.size[0], fps, out_path,
                f" and {side_path}" if side_path else "", n_masks, without)
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
