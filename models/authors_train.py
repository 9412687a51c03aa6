"""The authors' train.py command of MUNIT and UNIT, taken as this train.py's own flags (the training counterpart of
models/single_image_test.py; train.py takes this route when given --config without --model, or one of their flags):

    python train.py --config CONFIG.yaml [--output_path PATH] [--trainer MUNIT|UNIT] [--resume] [our flags]

As theirs: --output_path is '.' and --trainer MUNIT unless given; the run's folder is PATH/outputs/NAME, NAME the
config's file name without its extension, the config is copied in as config.yaml, and every snapshot_save_iter
iterations gen_XXXXXXXX.pt, dis_XXXXXXXX.pt and optimizer.pt go into its checkpoints/; --resume goes on from the
newest gen_/dis_ there, at its iteration. With vgg_w > 0 (the config's, or --vgg_w) the VGG-16 weights are
PATH/models/vgg16.weight, as theirs.
It is --model munit|unit --config CONFIG --checkpoints_dir PATH/outputs --name NAME --display_id 0 (their
train.py shows nothing in visdom); the data are the config's (data_root, or its list files). Our own flags may be
given beside theirs, and win.

--resume is --continue_train where this program's own training state in that folder (`latest`) is at least as
far: the run then goes on exactly, its random streams and data order included. Else (a run of the authors' code,
or a later snapshot than `latest`) it is --checkpoint with that gen_XXXXXXXX.pt: weights, optimisers and schedule,
as theirs.
"""
from __future__ import annotations

import os
from typing import Sequence

from options.base_options import OptionParser
from util.checkpoint import read_checkpoint
from util.errors import OptionError
from . import run_state
from .autoencoder_gan import read_config

THEIR_FLAGS = ("--output_path", "--trainer", "--resume")


def _flags(argv: Sequence[str]) -> set[str]:
    return {a.split("=", 1)[0] for a in argv}


def is_authors_command(argv: Sequence[str]) -> bool:
    """One of their flags, or --config without --model (ours always names the model)."""
    flags = _flags(argv)
    return bool(flags & set(THEIR_FLAGS)) or ("--config" in flags and "--model" not in flags)


def our_flags(argv: Sequence[str]) -> list[str]:
    """Their command as this train.py's flags, followed by the flags of ours given beside them."""
    p = OptionParser(add_help=False, allow_abbrev=False)
    p.add_argument("--config", required=True)
    p.add_argument("--output_path", default=".")
    p.add_argument("--trainer", default="MUNIT", choices=["MUNIT", "UNIT"])
    p.add_argument("--resume", action="store_true")
    theirs, ours = p.parse_known_args(argv)
    if "--model" in _flags(ours):
        raise OptionError("the authors' train.py command names the model with --trainer MUNIT|UNIT, not --model")
    config = read_config(theirs.config)
    if "--dataroot" not in _flags(ours) and not {"data_root", "data_list_train_a", "data_list_train_b"} & config.keys():
        raise OptionError(f"--config {theirs.config} names no data: data_root, or the list files data_folder_train_a, "
                          f"data_list_train_a (and _b)")
    name = os.path.splitext(os.path.basename(theirs.config))[0]
    checkpoints_dir = os.path.join(theirs.output_path, "outputs")
    flags = ["--model", theirs.trainer.lower(), "--config", theirs.config, "--checkpoints_dir", checkpoints_dir,
             "--name", name, "--display_id", "0"]
    # their trainer loads {output_path}/models/vgg16.weight when vgg_w > 0 (from the config, or a flag of ours)
    flags += ["--vgg_weights", os.path.join(theirs.output_path, "models", "vgg16.weight")]
    if theirs.resume:
        flags += resume_flags(os.path.join(checkpoints_dir, name))
    return flags + list(ours)


def resume_flags(run: str) -> list[str]:
    """--resume in run folder `run`: exactly from our `latest` when it is at least as far as the newest authors'
    snapshot, else from that snapshot (module docstring)."""
    newest = run_state.newest_authors_checkpoint(run_state.authors_dir(run))
    latest = _latest_iterations(run)
    if latest is not None and (newest is None or latest >= int(os.path.basename(newest)[4:12])):
        return ["--continue_train"]
    if newest is None:
        raise OptionError(f"--resume: no checkpoint in {run_state.authors_dir(run)} (no gen_XXXXXXXX.pt)")
    return ["--checkpoint", newest]


def _latest_iterations(run: str) -> int | None:
    """The iterations done at this program's training state `latest` of `run` (its schedules' steps), or None."""
    path = run_state.state_path(run, "latest")
    if not os.path.isfile(path):
        return None
    try:
        return int(read_checkpoint(path)["model"]["schedulers"][0]["last_epoch"])
    except (KeyError, IndexError, TypeError):
        return None            # not a MUNIT/UNIT training state: the authors' snapshot decides
