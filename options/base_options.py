"""Options shared by train.py and test.py.

Flag names and defaults follow the reference implementation so that its commands run unchanged.
Models (`models/<name>_model.py`) and data modes (`data/<mode>_dataset.py`) add their own flags through
a `modify_commandline_options(parser, is_train)` static method. Invalid values raise `OptionError`
before anything is read or written.
"""
from __future__ import annotations

import argparse
import math
import os
import random
from typing import Sequence

import torch

from data.transforms import PREPROCESS
from models.networks import DISCRIMINATORS, GENERATORS, check_size, describe
from models.networks.blocks import OUTPUTS, UPSAMPLING
from models.networks.unet_z_generator import Z_UPSAMPLING
from util import distributed
from util.errors import OptionError
from util.log import logger


def _remember(parser: argparse.ArgumentParser, dests: Sequence[str], option_string: str | None, value) -> None:
    """Note which spelling set `dests` on the command line (see `OptionParser.given`)."""
    if option_string is not None and isinstance(parser, OptionParser):
        for dest in dests:
            parser.given.setdefault(dest, []).append((option_string, value))


def _remembering(action: type[argparse.Action]) -> type[argparse.Action]:
    """`action`, noting the spelling and the value it stored."""
    class Remembering(action):  # type: ignore[valid-type, misc]
        def __call__(self, parser, namespace, values, option_string=None):
            super().__call__(parser, namespace, values, option_string)
            _remember(parser, [self.dest], option_string, getattr(namespace, self.dest))
    return Remembering


class OptionParser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are `OptionError`s (one line, no usage dump).

    Many options have two or three spellings (the InstaGAN reference's of 2018, pytorch-CycleGAN-and-pix2pix's
    current ones, some of 2017). Every store action of this parser, the models' included, notes in `given` which
    spelling set which option in the last parse: `settle_spellings` then tells a user who gave two of them which
    one counts, and the options can tell a flag given from a default.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.given: dict[str, list[tuple[str, object]]] = {}
        for name in (None, "store", "store_const", "store_true", "store_false"):
            self.register("action", name, _remembering(self._registry_get("action", name)))

    def parse_known_args(self, args=None, namespace=None):  # type: ignore[override]
        self.given = {}
        return super().parse_known_args(args, namespace)

    def error(self, message: str):  # type: ignore[override]
        raise OptionError(message)


def settle_spellings(given: dict[str, list[tuple[str, object]]]) -> None:
    """Two spellings of one option on one command line: with the same value, one log line says so; with different
    values, an `OptionError` (which one was meant cannot be guessed)."""
    same: dict[tuple[tuple[str, ...], str], list[str]] = {}
    for dest, uses in given.items():
        spellings = tuple(dict.fromkeys(spelling for spelling, _ in uses))
        if len(spellings) < 2:
            continue
        values = dict(uses)                      # the last value of each spelling
        if len({str(v) for v in values.values()}) > 1:
            said = " and ".join(f"{spelling} {value}" for spelling, value in values.items())
            raise OptionError(f"{said} set one option ({dest}) to different values: give one of them")
        same.setdefault((spellings, str(uses[-1][1])), []).append(dest)
    for (spellings, value), dests in same.items():
        logger.info("%s are spellings of one option: %s = %s", " and ".join(spellings), ", ".join(dests), value)


class BothSides(argparse.Action):
    """`--load_size N` / `--crop_size N` (the current pix2pix/CycleGAN/BicycleGAN spelling): both sides N, stored
    in the reference's --loadSizeH/W or --fineSizeH/W (the names opt.txt shows)."""

    def __call__(self, parser, namespace, values, option_string=None):
        for side in ("H", "W"):
            setattr(namespace, self.dest + side, values)
        _remember(parser, [self.dest + "H", self.dest + "W"], option_string, values)


def _gpu_ids(text: str) -> list[int]:
    try:
        ids = [int(x) for x in text.split(",") if x.strip() != ""]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got '{text}'")
    return [i for i in ids if i >= 0]


class BaseOptions:
    """Builds the parser, lets the chosen model and data mode extend it, then validates."""

    is_train = False
    epilog: str | None = None     # what --help says after the flags

    def initialize(self, parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
        from data import dataset_modes
        from models import model_names

        p = parser
        # not required=True: `--model M --help` must show M's flags without a --dataroot (checked in `parse`)
        p.add_argument("--dataroot", help="(required) folder with {phase}A, {phase}B (and _seg) subfolders")
        p.add_argument("--batch_size", "--batchSize", type=int, default=1, help="input batch size")
        p.add_argument("--loadSizeW", type=int, default=220,
                       help="resize images to this width (test.py: to --fineSizeW unless given)")
        p.add_argument("--loadSizeH", type=int, default=220,
                       help="resize images to this height (test.py: to --fineSizeH unless given)")
        p.add_argument("--fineSizeW", type=int, default=200, help="then crop to this width")
        p.add_argument("--fineSizeH", type=int, default=200, help="then crop to this height")
        p.add_argument("--load_size", "--loadSize", dest="loadSize", type=int, action=BothSides,
                       default=argparse.SUPPRESS, help="--loadSizeH and --loadSizeW at once")
        p.add_argument("--crop_size", "--fineSize", dest="fineSize", type=int, action=BothSides,
                       default=argparse.SUPPRESS, help="--fineSizeH and --fineSizeW at once")
        p.add_argument("--display_winsize", type=int, default=256, help="display window size (visdom and HTML)")
        p.add_argument("--input_nc", type=int, default=3, help="# of input image channels")
        p.add_argument("--output_nc", type=int, default=3, help="# of output image channels")
        p.add_argument("--ngf", type=int, default=64, help="# of generator filters in the first conv layer")
        p.add_argument("--ndf", type=int, default=64, help="# of discriminator filters in the first conv layer")
        p.add_argument("--netG", "--which_model_netG", type=str, default="set", choices=list(GENERATORS),
                       help=describe(GENERATORS))
        p.add_argument("--netD", "--which_model_netD", type=str, default="set", choices=list(DISCRIMINATORS),
                       help=describe(DISCRIMINATORS))
        p.add_argument("--n_layers_D", type=int, default=3,
                       help="strided convs of the set and n_layers discriminators (basic: always 3)")
        p.add_argument("--n_blocks", type=int, default=9, help="residual blocks in set/basic generators")
        p.add_argument("--upsample", type=str, default="transpose", choices=UPSAMPLING + Z_UPSAMPLING,
                       help="x2 upsampling. ResNet decoders: transposed conv (the reference's) or nearest + conv "
                            "(no checkerboard artefacts; other checkpoint keys). BicycleGAN's U-Nets: basic "
                            "(transposed conv) or bilinear + conv")
        p.add_argument("--G_output", type=str, default="generate", choices=OUTPUTS,
                       help="what ResNet generators output: a new image (the reference's); residual: their input "
                            "changed, tanh(atanh(input) + decoder output), images and masks; paste (--netG set): "
                            "the new image inside the translated masks on the input's background, filled in where an "
                            "instance left")
        p.add_argument("--gpu_ids", type=_gpu_ids, default="0", help="gpu ids: e.g. 0  0,1,2  -1 for CPU")
        p.add_argument("--name", type=str, default="experiment_name", help="name of the experiment")
        p.add_argument("--dataset_mode", type=str, default="unaligned_seg", choices=dataset_modes(),
                       help="how the data set is read")
        p.add_argument("--model", type=str, default="insta_gan", choices=model_names(), help="which model to use")
        p.add_argument("--direction", "--which_direction", type=str, default="AtoB", choices=["AtoB", "BtoA"])
        p.add_argument("--epoch", "--which_epoch", type=str, default="latest", help="which epoch to load")
        p.add_argument("--load_iter", type=int, default=0,
                       help="if > 0, load the checkpoint saved at this iteration (iter_N) instead of --epoch")
        p.add_argument("--num_threads", "--nThreads", type=int, default=4, help="# data loading workers")
        p.add_argument("--checkpoints_dir", type=str, default="./checkpoints", help="models are saved here")
        p.add_argument("--norm", type=str, default="instance", choices=["instance", "batch", "none"],
                       help="instance, batch or no normalization")
        p.add_argument("--serial_batches", action="store_true",
                       help="take images in order (B paired with A by index) instead of shuffling")
        p.add_argument("--no_dropout", action="store_true", help="no dropout in the generator")
        p.add_argument("--max_dataset_size", type=float, default=float("inf"),
                       help="use at most this many images per domain")
        p.add_argument("--resize_or_crop", "--preprocess", type=str, default="resize_and_crop", choices=PREPROCESS,
                       help="preprocessing: resize to loadSize then crop to fineSize, or a part of it; scale_width"
                            "(_and_crop): to loadSizeW wide, the aspect ratio kept (at least fineSizeH tall), (then "
                            "crop); shorter_side(_and_crop): the shorter side to loadSizeW, bilinearly, as MUNIT's "
                            "and UNIT's authors, (then crop); none: each side rounded to a multiple of 4")
        p.add_argument("--no_flip", action="store_true", help="do not flip images for augmentation")
        p.add_argument("--init_type", type=str, default="normal",
                       choices=["normal", "xavier", "kaiming", "orthogonal", "default"],
                       help="weight initialisation (default: PyTorch's weights, zero biases, as MUNIT's and UNIT's "
                            "'default')")
        p.add_argument("--init_gain", type=float, default=0.02, help="scale for normal, xavier and orthogonal init")
        p.add_argument("--verbose", action="store_true", help="print network details and debug logs")
        p.add_argument("--suffix", type=str, default="",
                       help="customized suffix appended to --name, e.g. {model}_{netG}_size{loadSizeW}")
        p.add_argument("--amp", action="store_true",
                       help="bfloat16 autocast for the networks (CPU with bf16 support, or CUDA); weights stay fp32")
        p.add_argument("--channels_last", action="store_true",
                       help="keep the networks' weights and activations in channels-last memory format")
        p.add_argument("--compile", action="store_true",
                       help="torch.compile the networks (the first iterations of each input shape compile)")
        p.add_argument("--seed", type=int, default=None,
                       help="random seed for torch, numpy and python (drawn and logged if not given)")
        p.add_argument("--use_wandb", action="store_true",
                       help="a W&B run named --name: train.py adds wandb to --logger, test.py logs its result images")
        p.add_argument("--wandb_project_name", type=str, default="CycleGAN-and-pix2pix", help="the W&B project")
        return p

    def gather_options(self, argv: Sequence[str] | None) -> argparse.Namespace:
        from data import get_dataset_class
        from models import get_model_class

        # -h is answered by the last parse only, once the model and data mode have added their flags and defaults
        parser = self.initialize(OptionParser(formatter_class=argparse.ArgumentDefaultsHelpFormatter,
                                              add_help=False, epilog=self.epilog))
        opt, _ = parser.parse_known_args(argv)
        model_class = get_model_class(opt.model)
        parser = model_class.modify_commandline_options(parser, self.is_train)
        opt, _ = parser.parse_known_args(argv)
        parser.set_defaults(**model_class.config_defaults(parser, opt, self.is_train))
        opt, _ = parser.parse_known_args(argv)
        parser = get_dataset_class(opt.dataset_mode).modify_commandline_options(parser, self.is_train)
        parser.add_argument("-h", "--help", action="help",
                            help="show the flags and defaults of this --model and --dataset_mode, then exit")
        self.parser = parser
        return parser.parse_args(argv)

    def complete(self, opt: argparse.Namespace) -> None:
        """Set the values that follow from other flags, before they are checked (see the subclasses)."""

    def validate(self, opt: argparse.Namespace) -> None:
        """Reject impossible values with one readable line."""
        for name, value in sorted(vars(opt).items()):    # every number flag of every model: nan is never meant
            if isinstance(value, float) and not math.isfinite(value) and not (name == "max_dataset_size"
                                                                               and value == math.inf):
                raise OptionError(f"--{name} must be a finite number, got {value}")
        if not 0 <= opt.seed < 2**63:
            raise OptionError(f"--seed must be in [0, 2**63), got {opt.seed}")
        if opt.load_iter < 0:
            raise OptionError(f"--load_iter must be >= 0, got {opt.load_iter}")
        if opt.init_gain is not None and opt.init_gain <= 0:     # None: the model's rule (MUNIT/UNIT)
            raise OptionError(f"--init_gain must be > 0, got {opt.init_gain}")
        positive = ["batch_size", "loadSizeW", "loadSizeH", "fineSizeW", "fineSizeH", "input_nc", "output_nc",
                    "ngf", "ndf", "display_winsize"]
        for name in positive:
            if getattr(opt, name) < 1:
                raise OptionError(f"--{name} must be >= 1, got {getattr(opt, name)}")
        least_layers = 0 if DISCRIMINATORS[opt.netD].family == "ms_image" else 1     # MUNIT's dis.n_layer may be 0
        if opt.n_layers_D < least_layers:
            raise OptionError(f"--n_layers_D must be >= {least_layers}, got {opt.n_layers_D}")
        if opt.n_blocks < 0:
            raise OptionError(f"--n_blocks must be >= 0, got {opt.n_blocks}")
        if opt.num_threads < 0:
            raise OptionError(f"--num_threads must be >= 0, got {opt.num_threads}")
        if opt.max_dataset_size < 1:
            raise OptionError(f"--max_dataset_size must be >= 1, got {opt.max_dataset_size}")
        generator = GENERATORS[opt.netG]
        if "n_blocks" in self.given and generator.family == "resnet" and generator.depth not in (None, opt.n_blocks):
            raise OptionError(f"--n_blocks {opt.n_blocks} does not apply to --netG {opt.netG}, which has "
                              f"{generator.depth} blocks: use --netG basic for --n_blocks blocks")
        check_size(opt, f"--netG {opt.netG}", generator)
        if generator.family in ("set", "resnet") and opt.upsample not in UPSAMPLING and "upsample" in self.given:
            raise OptionError(f"--netG {opt.netG} is not one of BicycleGAN's U-Nets: it takes --upsample "
                              f"{' or '.join(UPSAMPLING)}, not {opt.upsample}")
        if opt.G_output not in generator.outputs:
            raise OptionError(f"--G_output {opt.G_output} is not offered by --netG {opt.netG} (it offers "
                              f"{', '.join(generator.outputs)})")
        if opt.G_output != "generate" and opt.input_nc != opt.output_nc:
            raise OptionError(f"--G_output {opt.G_output} needs --input_nc == --output_nc, got {opt.input_nc} and "
                              f"{opt.output_nc}")
        if opt.isTrain:
            check_size(opt, f"--netD {opt.netD}", DISCRIMINATORS[opt.netD])
        if opt.resize_or_crop == "resize_and_crop" and (
                opt.fineSizeH > opt.loadSizeH or opt.fineSizeW > opt.loadSizeW):
            raise OptionError(f"--fineSizeH/W ({opt.fineSizeH}x{opt.fineSizeW}) must not exceed "
                              f"--loadSizeH/W ({opt.loadSizeH}x{opt.loadSizeW})")
        if opt.resize_or_crop == "scale_width_and_crop" and opt.fineSizeW > opt.loadSizeW:
            raise OptionError(f"--fineSizeW {opt.fineSizeW} must not exceed --loadSizeW {opt.loadSizeW} (the width "
                              f"scale_width_and_crop scales to)")
        if opt.resize_or_crop == "shorter_side_and_crop" and max(opt.fineSizeH, opt.fineSizeW) > opt.loadSizeW:
            raise OptionError(f"--fineSizeH/W ({opt.fineSizeH}x{opt.fineSizeW}) must not exceed --loadSizeW "
                              f"{opt.loadSizeW} (the shorter side shorter_side_and_crop scales to)")

    def parse(self, argv: Sequence[str] | None = None) -> argparse.Namespace:
        """Parse, validate and complete the options; writes nothing."""
        opt = self.gather_options(argv)
        if opt.dataroot is None:
            raise OptionError("the following arguments are required: --dataroot")
        settle_spellings(self.parser.given)
        self.given = set(self.parser.given)      # the options set on the command line (not defaults)
        opt.isTrain = self.is_train
        self.complete(opt)
        if opt.seed is None:
            opt.seed = random.SystemRandom().randrange(2**31)
        if opt.suffix:
            try:
                opt.name = opt.name + "_" + opt.suffix.format(**self.suffix_fields(opt))
            except (KeyError, IndexError, ValueError, AttributeError) as e:
                raise OptionError(f"--suffix '{opt.suffix}' names no option ({type(e).__name__}: {e}): use "
                                  f"{{name}} fields of the options, e.g. {{model}}_{{netG}}") from None
        self.validate(opt)
        from data import get_dataset_class
        from models import get_model_class

        get_model_class(opt.model).validate_options(opt)
        get_dataset_class(opt.dataset_mode).validate_options(opt)
        distributed.check_gpu_ids(opt.gpu_ids, distributed.env_world_size())
        if opt.gpu_ids and not torch.cuda.is_available():
            logger.warning("--gpu_ids %s asked for a GPU but CUDA is not available: running on the CPU",
                           ",".join(map(str, opt.gpu_ids)))
            opt.gpu_ids = []
        elif opt.gpu_ids and max(opt.gpu_ids) >= torch.cuda.device_count():
            raise OptionError(f"--gpu_ids {','.join(map(str, opt.gpu_ids))}: only "
                              f"{torch.cuda.device_count()} GPU(s) visible")
        self.opt = opt
        return opt

    def suffix_fields(self, opt: argparse.Namespace) -> dict[str, object]:
        """The options by every spelling, for --suffix: {load_size} (as the authors' help example) is
        --loadSizeW, {n_epochs} --niter, {no_lsgan} whether --gan_mode is vanilla, ..."""
        fields = {}
        for action in self.parser._actions:
            side = "W" if isinstance(action, BothSides) else ""
            if hasattr(opt, action.dest + side):
                value = getattr(opt, action.dest + side)
                if isinstance(action, argparse._StoreConstAction):      # --no_lsgan: given or not
                    value = value == action.const
                fields.update({flag.lstrip("-"): value for flag in action.option_strings})
        return {**fields, **vars(opt)}

    def format_options(self, opt: argparse.Namespace) -> str:
        """The options as a table, marking values that differ from the defaults."""
        lines = ["----------------- Options ---------------"]
        for key, value in sorted(vars(opt).items()):
            default = self.parser.get_default(key)
            note = f"\t[default: {default}]" if default is not None and value != default else ""
            lines.append(f"{key:>25}: {str(value):<30}{note}")
        lines.append("----------------- End -------------------")
        return "\n".join(lines)

    @staticmethod
    def read_saved(path: str) -> dict[str, str]:
        """The option values (as text) of a table that `save` wrote; {} if there is no such file."""
        if not os.path.isfile(path):
            return {}
        with open(path, errors="replace") as f:          # a damaged file reads as what it still says
            rows = [line.split(": ", 1) for line in f if ": " in line]
        return {key.strip(): value.split("\t")[0].strip() for key, value in rows}

    def save(self, opt: argparse.Namespace, folder: str, filename: str = "opt.txt") -> str:
        """Write the options table into `folder/filename` (called once the run has started)."""
        os.makedirs(folder, exist_ok=True)
        path = os.path.join(folder, filename)
        with open(path, "w") as f:
            f.write(self.format_options(opt) + "\n")
        return path
