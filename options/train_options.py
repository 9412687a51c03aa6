"""Options of train.py: display, saving, schedule and optimiser flags of the reference, and the loggers."""
import argparse

from .base_options import BaseOptions
from metrics import training as held_out
from models.losses import GAN_MODES
from util.errors import OptionError

LOGGERS = ("visdom", "html", "tensorboard", "wandb")


def _logger_list(text: str) -> list[str]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in LOGGERS]
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown logger {unknown[0]} (choose among {', '.join(LOGGERS)})")
    return list(dict.fromkeys(names))


class TrainOptions(BaseOptions):
    is_train = True
    epilog = ("MUNIT and UNIT also take their authors' command: train.py --config CONFIG.yaml [--output_path PATH] "
              "[--trainer MUNIT|UNIT] [--resume] (README, MUNIT and UNIT).")

    def initialize(self, parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
        p = super().initialize(parser)
        p.add_argument("--display_freq", type=int, default=400, help="show results every N iterations")
        p.add_argument("--display_ncols", type=int, default=6, help="images per row in visdom (0: one window each)")
        p.add_argument("--display_id", type=int, default=1, help="visdom window id; 0 disables visdom")
        p.add_argument("--display_server", type=str, default="http://localhost", help="visdom server")
        p.add_argument("--display_env", type=str, default="main", help="visdom environment")
        p.add_argument("--display_port", type=int, default=8097, help="visdom port")
        p.add_argument("--update_html_freq", type=int, default=1000, help="save results to HTML every N iterations")
        p.add_argument("--print_freq", type=int, default=100, help="print losses every N iterations")
        p.add_argument("--save_latest_freq", type=int, default=5000, help="save 'latest' every N iterations")
        p.add_argument("--save_epoch_freq", type=int, default=5, help="save checkpoints every N epochs")
        p.add_argument("--save_by_iter", action="store_true", help="name periodic checkpoints by iteration")
        p.add_argument("--continue_train", action="store_true", help="load the --epoch checkpoint and go on")
        p.add_argument("--overwrite", action="store_true",
                       help="start anew on a --name that holds another run's checkpoints: they, its logs and pages "
                            "are removed once this run's first iteration has trained")
        p.add_argument("--epoch_count", type=int, default=1, help="the first epoch's number")
        p.add_argument("--phase", type=str, default="train", help="train, val, test, ...")
        p.add_argument("--niter", "--n_epochs", type=int, default=100, help="# epochs at the starting learning rate")
        p.add_argument("--niter_decay", "--n_epochs_decay", type=int, default=100,
                       help="# epochs of linear decay to zero")
        p.add_argument("--beta1", type=float, default=0.5, help="Adam momentum term")
        p.add_argument("--lr", type=float, default=0.0002, help="initial learning rate (generators)")
        p.add_argument("--lr_D", type=float, default=None,
                       help="discriminators' learning rate (default: --lr, as the reference; the paper used 0.0001)")
        p.add_argument("--gan_mode", type=str, default="lsgan", choices=GAN_MODES,
                       help="least squares, the original cross-entropy GAN loss, or the Wasserstein critic's "
                            "-mean D(real) + mean D(fake) (pytorch-CycleGAN-and-pix2pix's wgangp: no gradient penalty)")
        p.add_argument("--no_lsgan", dest="gan_mode", action="store_const", const="vanilla", default=argparse.SUPPRESS,
                       help="--gan_mode vanilla (the InstaGAN reference's spelling)")
        p.add_argument("--pool_size", type=int, default=50, help="size of the buffer of generated images")
        p.add_argument("--no_html", action="store_true", help="do not save training results to web/")
        p.add_argument("--logger", type=_logger_list, default=None,
                       help=f"where training reports, any of {','.join(LOGGERS)} (comma-separated; default: visdom "
                            "unless --display_id 0, and html unless --no_html)")
        p.add_argument("--log_interval_s", type=float, default=60,
                       help="when stderr is not a terminal (no progress bars): a progress line every this many seconds")
        p.add_argument("--lr_policy", type=str, default="lambda",
                       choices=["lambda", "linear", "step", "plateau", "cosine", "constant"],
                       help="lambda (the InstaGAN reference's name) and linear (the current pix2pix/BicycleGAN name): "
                            "--niter epochs at --lr, then --niter_decay epochs of linear decay to 0; constant: --lr "
                            "throughout (MUNIT's and UNIT's configs without lr_policy)")
        p.add_argument("--lr_decay_iters", type=int, default=50, help="epochs between decays (step policy)")
        p.add_argument("--time_limit", type=float, default=0,
                       help="stop after the iteration in which this many minutes of training (counted from the "
                            "first iteration) ran out, saving 'latest' for --continue_train; 0: no limit")
        held_out.add_options(p)    # --eval_freq and its metrics (metrics/training.py)
        return p

    def complete(self, opt: argparse.Namespace) -> None:
        """--logger is the loggers' one record in opt.txt: by default it follows --display_id (visdom when > 0;
        pytorch-CycleGAN-and-pix2pix's notebooks pass -1) and --no_html, and --use_wandb adds wandb; --display_id
        and --no_html are then set to agree with it."""
        given = opt.logger is not None
        loggers = opt.logger if given else [name for name, on in (("visdom", opt.display_id > 0),
                                                                  ("html", not opt.no_html)) if on]
        if given and "visdom" in loggers and opt.display_id <= 0:
            raise OptionError(f"--display_id {opt.display_id} switches visdom off but --logger names it: give one of "
                              f"them")
        if given and "html" in loggers and opt.no_html:
            raise OptionError("--no_html switches the HTML page off but --logger names html: give one of them")
        opt.logger = loggers + (["wandb"] if opt.use_wandb and "wandb" not in loggers else [])
        del opt.use_wandb
        if "visdom" not in opt.logger:
            opt.display_id = 0
        opt.no_html = "html" not in opt.logger

    def validate(self, opt: argparse.Namespace) -> None:
        super().validate(opt)
        for name in ["display_freq", "update_html_freq", "print_freq", "save_latest_freq", "save_epoch_freq",
                     "lr_decay_iters"]:
            if getattr(opt, name) < 1:
                raise OptionError(f"--{name} must be >= 1, got {getattr(opt, name)}")
        if opt.niter < 0 or opt.niter_decay < 0 or opt.niter + opt.niter_decay < 1:
            raise OptionError("--niter and --niter_decay must be >= 0 with at least one epoch in all")
        if opt.epoch_count < 1:
            raise OptionError(f"--epoch_count must be >= 1, got {opt.epoch_count}")
        if not opt.time_limit >= 0:
            raise OptionError(f"--time_limit must be >= 0 minutes, got {opt.time_limit:g}")
        if not 0 <= opt.beta1 < 1:
            raise OptionError(f"--beta1 must be in [0, 1), got {opt.beta1}")
        if opt.display_ncols < 0:
            raise OptionError(f"--display_ncols must be >= 0, got {opt.display_ncols}")
        if not 0 < opt.display_port < 65536:
            raise OptionError(f"--display_port must be in 1..65535, got {opt.display_port}")
        if not opt.log_interval_s >= 0:
            raise OptionError(f"--log_interval_s must be >= 0, got {opt.log_interval_s:g}")
        if opt.pool_size < 0:
            raise OptionError(f"--pool_size must be >= 0, got {opt.pool_size}")
        if opt.lr <= 0:
            raise OptionError(f"--lr must be > 0, got {opt.lr}")
        if opt.lr_D is None:
            opt.lr_D = opt.lr
        elif opt.lr_D <= 0:
            raise OptionError(f"--lr_D must be > 0, got {opt.lr_D}")
        held_out.validate_options(opt)
