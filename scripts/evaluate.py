"""Score test.py's translations: FID, KID and IS (torch-fidelity), LPIPS diversity (lpips) and the InstaGAN paper's
classification score.

    python scripts/evaluate.py RESULTS_DIR --real DATA/testB [--metrics fid,kid,is,lpips_diversity,cls]
        [--visual fake_B_img] [--inception_weights PATH] [--classifier PATH --vgg_weights PATH] ...

RESULTS_DIR is test.py's `{phase}_{epoch}` folder, its `images/` folder, or the NAME folder above them (when it
holds one result). The translated images are its `images/{stem}_{visual}.png`; the real images are every image
under --real (the real target test set). The numbers, with their sample counts, are printed and written to
`metrics.json` and as a table at the top of `index.html` in the result folder.

- fid, kid, is: torch-fidelity's Inception-v3 on each image at its own size (it resizes to 299x299 as the
  TensorFlow reference does); KID is reported x100 (mean and std over --kid_subsets subsets), as papers do.
- lpips_diversity: BicycleGAN's protocol, the mean LPIPS distance between outputs of one input under different
  latent samples: --diversity_pairs random pairs of each of the first --diversity_inputs inputs, outputs grouped
  by --diversity_pattern (default: BicycleGAN's `input_{i}_random_sample{k}` files).
- cls: the fraction of translated images that the classifier of scripts/train_classifier.py takes for the target
  domain (B for fake_B_*); a masked classifier is given the images multiplied by the translated masks
  (--mask_visual, default the visual's `_seg` twin: Table 2's masked score). With --real, the same score of the
  real target images is reported too (the tables' "Real" row).

Nothing is downloaded: the weight files come from the flags or from torch's cache folder (README, "Measuring
translations"); a missing one ends with one line naming the file to get and where to put it (exit code 2).
"""
from __future__ import annotations

import argparse
import logging
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Sequence

if __package__ in (None, ""):  # run as `python scripts/X.py`: import from the repo root, not scripts/
    sys.path[0] = str(Path(__file__).resolve().parents[1])

from metrics import options
from metrics.evaluate import Settings, format_table, pick_device, score, write_report
from metrics.images import find_images_dir, real_files, visual_files
from util.cli import run_cli
from util.errors import DataError, OptionError
from util.log import logger


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = options.Parser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("results_dir", help="test.py's result folder")
    p.add_argument("--real", default=None, help="folder of the real target images (e.g. DATA/testB)")
    p.add_argument("--metrics", type=options.metric_list, default=["fid", "kid", "is"],
                   help=f"comma-separated, of {','.join(options.METRICS)}")
    p.add_argument("--visual", default="fake_B_img", help="the visual to score (test.py's file suffix)")
    p.add_argument("--mask_visual", default=None,
                   help="the translated masks, for a masked classifier (default: the visual with _img -> _seg)")
    p.add_argument("--diversity_pattern", type=options.group_pattern, default=options.DEFAULT_GROUPS,
                   help="regular expression on the file stems with a group (?P<input>...): files with one input "
                        "are outputs of that input under different latent samples")
    p.add_argument("--diversity_inputs", type=options.positive_int, default=100, help="LPIPS diversity: inputs")
    p.add_argument("--diversity_pairs", type=options.positive_int, default=19,
                   help="LPIPS diversity: random pairs of outputs per input")
    options.add_weight_flags(p)
    options.add_protocol_flags(p)
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    p.add_argument("--seed", type=int, default=0, help="KID subsets, IS shuffling, LPIPS pairs")
    p.add_argument("--verbose", action="store_true", help="debug logs")
    args = p.parse_args(argv)
    if isinstance(args.diversity_pattern, str):      # argparse does not convert a default
        args.diversity_pattern = options.group_pattern(args.diversity_pattern)
    if args.mask_visual is None:
        args.mask_visual = args.visual[: -len("_img")] + "_seg" if args.visual.endswith("_img") else None
    return args


def target_domain(visual: str) -> str:
    """B for fake_B_* (A -> B), A for fake_A_*: the classifier's target."""
    for domain in ("A", "B"):
        if f"_{domain}_" in f"_{visual}_":
            return domain
    raise OptionError(f"--visual {visual}: cannot tell its domain (A or B) for the classification score")


@contextmanager
def warnings_held() -> Iterator[list[logging.LogRecord]]:
    """The warnings logged inside, collected instead of shown: the metrics log theirs as they compute, and the
    table shows them again, so that the script shows each once."""
    held: list[logging.LogRecord] = []

    def hold(record: logging.LogRecord) -> bool:
        if record.levelno == logging.WARNING:
            held.append(record)
            return False
        return True

    logger.addFilter(hold)
    try:
        yield held
    finally:
        logger.removeFilter(hold)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    settings = Settings.from_options(args)
    settings.check_weights(args.metrics)                      # before any work
    device = pick_device(args.device)
    image_metrics = [m for m in args.metrics if m != "lpips_diversity"]
    images_dir = find_images_dir(args.results_dir, f"_{args.visual}.png" if image_metrics else ".png")
    fake = visual_files(images_dir, args.visual)
    if image_metrics and not fake:
        raise DataError(f"no images *_{args.visual}.png in {images_dir}")
    masks = None
    if "cls" in args.metrics and args.mask_visual:
        found = visual_files(images_dir, args.mask_visual)
        masks = [found[stem] for stem in fake] if set(fake) <= set(found) else None
    real = real_files(args.real) if args.real else []
    if image_metrics:                                         # LPIPS diversity reads its own files
        against = f" against {len(real)} real images of {args.real}" if args.real else ""
        logger.info("scoring %d %s images of %s%s", len(fake), args.visual, images_dir, against)
    with warnings_held() as held:
        results = score(args.metrics, settings, device, list(fake.values()), real,
                        target_domain(args.visual) if "cls" in args.metrics else "B", masks, args.real, images_dir)
    for record in held:
        if record.getMessage() not in results["warnings"]:
            logger.handle(record)                             # not one of the table's: shown now
    results = {"results": str(images_dir.parent), "visual": args.visual, "real": args.real, **results}
    print(format_table(results))
    logger.info("wrote %s", write_report(images_dir.parent, results))
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
