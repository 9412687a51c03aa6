"""Options of test.py. Test runs take images in order, without flipping or visdom, and by default (no load size
given) without a random crop."""
import argparse

from .base_options import BaseOptions
from util.errors import OptionError
from util.log import logger


class TestOptions(BaseOptions):
    is_train = False
    epilog = ("MUNIT and UNIT also take their authors' single-image command: test.py --config CONFIG.yaml --input "
              "IMAGE --output_folder DIR --checkpoint gen_XXXXXXXX.pt [--a2b 1|0] [--style IMAGE] ...; its flags: "
              "test.py --config CONFIG.yaml --input IMAGE --help.")

    def initialize(self, parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
        p = super().initialize(parser)
        p.add_argument("--results_dir", type=str, default="./results/", help="results are saved here")
        p.add_argument("--aspect_ratio", type=float, default=1.0, help="aspect ratio of saved result images")
        p.add_argument("--phase", type=str, default="test", help="train, val, test, ...")
        p.add_argument("--eval", action="store_true", help="put the networks in eval mode")
        p.add_argument("--num_test", "--how_many", type=int, default=50, help="how many test images to run")
        return p

    def complete(self, opt: argparse.Namespace) -> None:
        """As pytorch-CycleGAN-and-pix2pix's test.py: images are resized to the crop size unless a load size is
        given, so that nothing is cropped at random (models' training defaults, e.g. 286 -> 256, do not apply)."""
        for side in ("H", "W"):
            if "loadSize" + side not in self.given:
                setattr(opt, "loadSize" + side, getattr(opt, "fineSize" + side))

    def validate(self, opt: argparse.Namespace) -> None:
        super().validate(opt)
        if opt.num_test < 1:
            raise OptionError(f"--num_test must be >= 1, got {opt.num_test}")
        if opt.aspect_ratio <= 0:
            raise OptionError(f"--aspect_ratio must be > 0, got {opt.aspect_ratio}")

    def parse(self, argv=None):
        opt = super().parse(argv)
        # As the reference: images in order, no flipping, no visdom. Any --batch_size gives the same images, but for
        # batch norms that normalise by the batch (training mode, no --eval): one image at a time, as theirs.
        opt.serial_batches = True
        opt.no_flip = True
        opt.display_id = 0
        if getattr(opt, "norm", "") == "batch" and not opt.eval and opt.batch_size > 1:
            logger.warning("--norm batch without --eval normalises by the batch: translating one image at a time "
                           "(as pytorch-CycleGAN-and-pix2pix's test.py), not --batch_size %d", opt.batch_size)
            opt.batch_size = 1
        return opt
