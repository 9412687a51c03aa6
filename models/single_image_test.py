"""The authors' test.py of MUNIT and UNIT, one image at a time, with their flags (test.py takes this route when
given --config and --input without --dataroot):

    python test.py --config CONFIG.yaml --checkpoint gen_XXXXXXXX.pt --input IMAGE --a2b 1 --output_folder OUT
        [--style IMAGE] [--num_style 10] [--seed 10] [--trainer MUNIT|UNIT] [--output_only] [--format png|jpg]

As theirs: the input is resized (shorter side to the config's new_size, bilinear), `--a2b 1` translates A -> B and
0 B -> A; MUNIT writes `output{j:03d}` for --num_style random styles, or for the style of `--style IMAGE`; UNIT
writes `output`; `input` too unless --output_only. Every image is min-max stretched as their `save_image(...,
normalize=True)` does. PNG by default (theirs: JPEG, `--format jpg`).

The random styles equal the authors' for the same --seed: their test.py seeds torch, builds its trainer (whose
module construction, two display codes, weight initialisation and, with vgg_w > 0, VGG-16 draw from that generator)
and only then draws the styles; `build_networks` makes the same draws in the same order.
"""
from __future__ import annotations

import argparse
import os
from typing import Sequence

import torch
import torch.nn as nn
from torchvision import transforms
from torchvision.models.vgg import cfgs as vgg_cfgs
from torchvision.utils import save_image

from data.image_folder import load_image
from data.transforms import image_to_tensor, with_channels
from options.base_options import OptionParser
from util.errors import OptionError
from util.log import logger
from . import run_state
from .autoencoder_gan import INIT_TYPES, read_config
from .networks import define_ms_image_D, define_translator
from .networks.init import init_weights


def is_single_image_command(argv: Sequence[str]) -> bool:
    """The authors' interface: --config and --input, no --dataroot."""
    flags = {a.split("=", 1)[0] for a in argv}
    return "--config" in flags and "--input" in flags and "--dataroot" not in flags


def parse(argv: Sequence[str]) -> argparse.Namespace:
    p = OptionParser(description="MUNIT/UNIT: translate one image as the authors' test.py",
                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--config", required=True, help="the authors' YAML config of the checkpoint")
    p.add_argument("--input", required=True, help="the image to translate")
    p.add_argument("--output_folder", required=True, help="where the images go (made if needed)")
    p.add_argument("--checkpoint", required=True, help="gen_XXXXXXXX.pt: {'a': gen_a, 'b': gen_b}")
    p.add_argument("--style", default="", help="an image of the other domain whose style to take (MUNIT)")
    p.add_argument("--a2b", type=int, default=1, choices=[0, 1], help="1: A -> B, 0: B -> A")
    p.add_argument("--seed", type=int, default=10, help="random seed (the random styles)")
    p.add_argument("--num_style", type=int, default=10, help="random styles (MUNIT; 1 with --style)")
    p.add_argument("--synchronized", action="store_true", help="accepted, as by the authors' test.py (unused)")
    p.add_argument("--output_only", action="store_true", help="do not write the input")
    p.add_argument("--output_path", default=".", help="accepted, as by the authors' test.py (unused)")
    p.add_argument("--trainer", default="MUNIT", choices=["MUNIT", "UNIT"], help="the model of the checkpoint")
    p.add_argument("--format", default="png", choices=["png", "jpg"], help="png (lossless) or jpg (the authors')")
    p.add_argument("--gpu_ids", type=int, default=-1, help="a GPU id, or -1 for the CPU")
    opt = p.parse_args(argv)
    if opt.num_style < 1:
        raise OptionError(f"--num_style must be >= 1, got {opt.num_style}")
    if opt.style and opt.trainer == "UNIT":
        raise OptionError("--style is MUNIT's: UNIT translates without a style")
    return opt


def build_networks(config: dict, munit: bool) -> tuple[list[nn.Module], int]:
    """The authors' trainer's networks, built and initialised as it does, drawing the same random numbers in the
    same order: gen_a, gen_b, dis_a, dis_b constructed; MUNIT's two display codes; the config's `init` for every
    network, then N(0, 0.02) for the discriminators; with vgg_w > 0 their VGG-16's construction (its weights, read
    from a file afterwards, are not needed here). Returns (networks, style_dim)."""
    def value(key: str, default=None):
        if key not in config and default is None:
            raise OptionError(f"--config has no '{key}'")
        return config.get(key, default)

    style_dim = int(value("gen.style_dim", 8))
    gens = [define_translator("adain" if munit else "vae", int(value(f"input_dim_{d}")), int(value("gen.dim")),
                              int(value("gen.n_downsample")), int(value("gen.n_res")), value("gen.activ"),
                              value("gen.pad_type"), style_dim, int(value("gen.mlp_dim", 256)), init_type=None)
            for d in ("a", "b")]
    dises = [define_ms_image_D(int(value(f"input_dim_{d}")), int(value("dis.dim")), int(value("dis.n_layer")),
                               int(value("dis.num_scales")), value("dis.norm"), value("dis.activ"),
                               value("dis.pad_type"), init_type=None) for d in ("a", "b")]
    if munit:
        display = int(value("display_size", 16))
        torch.randn(display, style_dim, 1, 1), torch.randn(display, style_dim, 1, 1)
    init = value("init", "kaiming")
    if init not in INIT_TYPES:
        raise OptionError(f"--config: init {init!r} is not one of {', '.join(INIT_TYPES)}")
    for net in gens + dises:
        init_weights(net, INIT_TYPES[init], batch_norms=False)
    for net in dises:
        init_weights(net, "normal", 0.02, batch_norms=False)
    if float(value("vgg_w", 0)) > 0:
        channels = [3] + [c for c in vgg_cfgs["D"] if c != "M"]      # VGG-16's 13 convs, PyTorch's init
        for c_in, c_out in zip(channels, channels[1:]):
            nn.Conv2d(c_in, c_out, 3, padding=1)
    return gens + dises, style_dim


def main(argv: Sequence[str]) -> int:
    opt = parse(argv)
    config = read_config(opt.config)
    munit = opt.trainer == "MUNIT"
    device = torch.device("cpu")
    if opt.gpu_ids >= 0 and torch.cuda.is_available():
        device = torch.device(f"cuda:{opt.gpu_ids}")
    elif opt.gpu_ids >= 0:
        logger.warning("--gpu_ids %d asked for a GPU but CUDA is not available: running on the CPU", opt.gpu_ids)
    torch.manual_seed(opt.seed)
    (gen_a, gen_b, _, _), style_dim = build_networks(config, munit)
    run_state.load_authors_generators(gen_a, gen_b, opt.checkpoint)
    for gen in (gen_a, gen_b):
        gen.to(device).eval()
    encoder, decoder = (gen_a, gen_b) if opt.a2b else (gen_b, gen_a)
    source, target = ("a", "b") if opt.a2b else ("b", "a")
    new_size = config.get("new_size") or config.get("new_size_a" if opt.a2b else "new_size_b")
    if new_size is None:
        raise OptionError(f"--config {opt.config} has no new_size (nor new_size_a/new_size_b)")
    resize = transforms.Resize(int(new_size))

    def prepare(path: str, domain: str) -> torch.Tensor:
        """Theirs (ToTensor, Normalize); a grey domain (input_dim 1), where theirs fails, as our data reads it."""
        grey_or_rgb = with_channels(load_image(path, "RGB"), int(config[f"input_dim_{domain}"]))
        return image_to_tensor(resize(grey_or_rgb))[None].to(device)

    image = prepare(opt.input, source)
    os.makedirs(opt.output_folder, exist_ok=True)
    ext = opt.format
    with torch.no_grad():
        content = encoder.encode(image)[0]
        if munit:
            num_style = 1 if opt.style else opt.num_style
            styles = torch.randn(num_style, style_dim, 1, 1).to(device)      # after the encoding, as theirs
            if opt.style:
                styles = decoder.encode(prepare(opt.style, target))[1]
            for j in range(num_style):
                output = decoder.decode(content, styles[j:j + 1])
                write(output, os.path.join(opt.output_folder, f"output{j:03d}.{ext}"))
        else:
            write(decoder.decode(content), os.path.join(opt.output_folder, f"output.{ext}"))
        if not opt.output_only:
            write(image, os.path.join(opt.output_folder, f"input.{ext}"))
    logger.info("wrote %s", opt.output_folder)
    return 0


def write(image: torch.Tensor, path: str) -> None:
    """(1, C, H, W) in [-1, 1], min-max stretched over the image (torchvision's normalize=True, as theirs)."""
    save_image((image + 1) / 2, path, padding=0, normalize=True)
