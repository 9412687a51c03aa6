"""A run's saved state, in one place: its folder, checkpoints, training state, resume, lock and stop signal.

The run folder CHECKPOINTS_DIR/NAME holds `opt.txt`, `loss_log.txt`, `loss_history.jsonl`, `web/` and, per
checkpoint label (`latest`, an epoch number, `iter_N`), the reference's network files `{label}_net_{name}.pth`
(plain CPU state dicts) and `{label}_train_state.pth` (optimisers, schedules, image pools, where training stands,
every random state, the SHA-256 of each network file). What a run may touch, and when:

- nothing before its flags, data set and checkpoint have been checked (those failures leave the folder as it was);
- `opt.txt`, the loss log and pages only once its first iteration has trained (`RunFolder.started`): a run that
  fails before, on a NaN or a bad flag, leaves them as they were;
- checkpoints only as whole sets, written aside and renamed into place (util/checkpoint.py);
- one train.py per folder at a time (`RunFolder` holds a lock naming its process);
- a new run never replaces an earlier one's checkpoints unless asked to (`--overwrite`).
"""
from __future__ import annotations

import argparse
import errno
import fcntl
import glob
import os
import re
import shutil
import signal
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import Iterator, Sequence

import torch
import torch.nn as nn
from torch.utils.data import DataLoader, DistributedSampler

from util import distributed
from util.checkpoint import (TMP, commit, read_checkpoint, remove_leftovers, restore_rng, rng_state,
                              write_temporary)
from util.errors import UserError
from util.log import logger
from util.seed import seed_all
from .networks.spectral_norm import convert_torch_state_dict


# -- labels and paths ---------------------------------------------------------------------------------------------
def load_label(opt: argparse.Namespace) -> str:
    """The checkpoint to load: `iter_N` with --load_iter N > 0, else --epoch."""
    return f"iter_{opt.load_iter}" if opt.load_iter > 0 else opt.epoch


def run_dir(opt: argparse.Namespace) -> str:
    return os.path.join(opt.checkpoints_dir, opt.name)


def net_path(folder: str, label: str | int, name: str) -> str:
    return os.path.join(folder, f"{label}_net_{name}.pth")


def state_path(folder: str, label: str | int) -> str:
    return os.path.join(folder, f"{label}_train_state.pth")


# -- network files ---------------------------------------------------------------------------------------------------
def unwrap(net: nn.Module) -> nn.Module:
    """The network inside a torch.compile and a DataParallel wrapper."""
    net = getattr(net, "_orig_mod", net)
    return net.module if isinstance(net, nn.DataParallel) else net


def cpu_state_dict(net: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().cpu() for k, v in unwrap(net).state_dict().items()}


def load_state(net: nn.Module, state: object, path: str, flags: Sequence[str] = ()) -> None:
    """Load a reference or own state dict strictly; a mismatch names the file and the `flags` to check."""
    if not isinstance(state, dict) or not all(isinstance(k, str) and torch.is_tensor(v) for k, v in state.items()):
        raise UserError(f"checkpoint {path} is not a state dict (names -> tensors) but a {type(state).__name__}")
    state = convert_torch_state_dict(state)
    own = net.state_dict()
    # checkpoints of old PyTorch versions carry running statistics for instance norms that have none
    state = {k: v for k, v in state.items()
             if k in own or not k.rsplit(".", 1)[-1] in ("running_mean", "running_var", "num_batches_tracked")}
    try:
        net.load_state_dict(state)
    except RuntimeError as e:
        first = str(e).strip().splitlines()
        detail = first[1].strip() if len(first) > 1 else first[0]
        check = f" (check {'/'.join('--' + flag for flag in flags)})" if flags else ""
        raise UserError(f"checkpoint {path} does not fit the network built from the flags{check}: {detail}") from None


def save_networks(model, label: str | int) -> None:
    """The networks' plain CPU state dicts without a `module.` prefix, as the reference writes them (weights only)."""
    folder = model.save_dir
    _makedirs(folder)
    paths = [net_path(folder, label, name) for name in model.networks()]
    _write_set({path: cpu_state_dict(net) for path, net in zip(paths, model.networks().values())})


def load_networks(model, label: str | int, digests: dict[str, str] | None = None, saved_with: str = "") -> None:
    """Load every network of checkpoint `label`; `digests` (from a training state) must match the files. A test
    model holds the generators only (the authors released only those)."""
    for name, net in model.networks().items():
        path = net_path(model.save_dir, label, name)
        if not os.path.isfile(path):
            raise UserError(f"checkpoint not found: {path}")
        state = read_checkpoint(path, model.device, digests[name] if digests else None, saved_with)
        load_state(unwrap(net), state, path, model.architecture_flags)
        logger.info("loaded %s", path)


# -- the authors' layout of MUNIT and UNIT: gen_XXXXXXXX.pt / dis_XXXXXXXX.pt = {'a': ..., 'b': ...} ----------------
def authors_dir(run: str) -> str:
    """Where a run folder keeps the authors' files: its `checkpoints/`, as in their output folders."""
    return os.path.join(run, "checkpoints")


def authors_paths(folder: str, iterations: int) -> dict[str, str]:
    return {kind: os.path.join(folder, f"{kind}_{iterations:08d}.pt") for kind in ("gen", "dis")}


def newest_authors_checkpoint(folder: str) -> str | None:
    """The `gen_XXXXXXXX.pt` of the most iterations in `folder` (the authors' --resume takes it), or None."""
    found = sorted(glob.glob(os.path.join(glob.escape(folder), "gen_" + "[0-9]" * 8 + ".pt")))
    return found[-1] if found else None


def load_authors_generators(gen_a: nn.Module, gen_b: nn.Module, path: str, flags: Sequence[str] = ()) -> None:
    """Load the generators from an authors' file `gen_XXXXXXXX.pt` (theirs or `save_authors_checkpoint`'s); the
    instance norms' running statistics that torch 0.3 saved in their released files are dropped (`load_state`)."""
    state = read_checkpoint(path)
    if not isinstance(state, dict) or not {"a", "b"} <= state.keys():
        raise UserError(f"--checkpoint {path} is not a MUNIT/UNIT generator file (a dict with 'a' and 'b')")
    for domain, gen in (("a", gen_a), ("b", gen_b)):
        load_state(unwrap(gen), state[domain], f"{path} ['{domain}']", flags)
    logger.info("loaded %s", path)


def resume_from_authors(model, gen_path: str) -> int:
    """Go on training from an authors' `gen_XXXXXXXX.pt`, as their --resume: the generators, the discriminators of
    `dis_XXXXXXXX.pt` and the optimisers of `optimizer.pt` beside it (each if there); returns XXXXXXXX, the
    iterations done."""
    match = re.fullmatch(r"gen_(\d{8})\.pt", os.path.basename(gen_path))
    if not match:
        raise UserError(f"--checkpoint {gen_path}: an authors' generator file is named gen_XXXXXXXX.pt (XXXXXXXX: "
                        f"its iterations)")
    load_authors_generators(model.netgen_a, model.netgen_b, gen_path, model.architecture_flags)
    folder, iterations = os.path.dirname(gen_path), int(match.group(1))
    dis_path = authors_paths(folder, iterations)["dis"]
    if os.path.isfile(dis_path):
        state = read_checkpoint(dis_path)
        for domain in ("a", "b"):
            load_state(unwrap(getattr(model, f"netdis_{domain}")), state[domain], f"{dis_path} ['{domain}']",
                       model.architecture_flags)
        logger.info("loaded %s", dis_path)
    else:
        logger.warning("no %s: the discriminators start afresh", dis_path)
    optimizers = os.path.join(folder, "optimizer.pt")
    if os.path.isfile(optimizers):
        state = read_checkpoint(optimizers)
        try:
            model.optimizer_G.load_state_dict(state["gen"])
            model.optimizer_D.load_state_dict(state["dis"])
        except (KeyError, ValueError, TypeError) as e:
            raise UserError(f"{optimizers} does not fit the networks built from the flags: {e}") from None
        logger.info("loaded %s", optimizers)
    return iterations


def save_authors_checkpoint(model, iterations: int) -> None:
    """Write `gen_XXXXXXXX.pt`, `dis_XXXXXXXX.pt` and `optimizer.pt` ({'gen': ..., 'dis': ...}) into the run
    folder's checkpoints/ as the authors' trainer names them, XXXXXXXX the iterations done; written aside, then
    renamed."""
    folder = authors_dir(model.save_dir)
    _makedirs(folder)
    files = {path: {d: cpu_state_dict(getattr(model, f"net{kind}_{d}")) for d in ("a", "b")}
             for kind, path in authors_paths(folder, iterations).items()}
    files[os.path.join(folder, "optimizer.pt")] = {"gen": model.optimizer_G.state_dict(),
                                                   "dis": model.optimizer_D.state_dict()}
    _write_set(files)


# -- checkpoints: the networks and the training state as one set -------------------------------------------------------
@dataclass
class Position:
    """Where training stands, saved with every checkpoint: the epoch under way and how far into it."""
    epoch: int
    batches_done: int = 0     # batches of `epoch` trained on (by each process)
    epoch_iter: int = 0       # their samples (of all processes)
    total_steps: int = 0      # samples since the start of training (of all processes)
    g_loss_sum: float = 0.0   # the epoch's summed generator losses: the plateau schedule's metric


def save_checkpoint(model, label: str | int, position: Position, shuffle: torch.Tensor | None, *,
                    scores: dict | None = None) -> str:
    """Save the networks and `{label}_train_state.pth` as one set: the model's training state, the position, the
    loader's shuffling state `shuffle` for `position.epoch` (`loader_state` at its start), the global random
    states, the number of processes and, with --eval_freq, the held-out `scores` (the best so far, from
    metrics/training.py).

    Every file goes to a temporary file first; only when all are on disk are they renamed into place, the
    training state last. A kill while writing leaves the previous set whole; the state records the SHA-256 of each
    network file, so a kill within the renames is caught on resuming instead of silently mixing two checkpoints.
    With several processes only process 0 writes (they hold the same weights). Returns the network files' pattern,
    for messages."""
    folder = model.save_dir
    if distributed.is_main():
        _makedirs(folder)
        files = {net_path(folder, label, name): cpu_state_dict(net) for name, net in model.networks().items()}
        digests = dict(zip(model.networks(), _write_set(files, commit_after=False)))
        run = {"position": asdict(position), "loader": shuffle, "rng": rng_state(),
               "processes": distributed.world_size(), "scores": scores}
        state = state_path(folder, label)
        _write_set({state: {"nets": digests, "model": model.training_state(), "run": run}}, before=list(files))
    return net_path(folder, label, "*")


def resume(model, label: str | int) -> dict | None:
    """Load checkpoint `label` to go on training: the networks and, when it has one, the training state (returning
    its run part, for `start_position`). Reference checkpoints hold weights only."""
    path = state_path(model.save_dir, label)
    if not os.path.isfile(path):
        if not os.path.isfile(net_path(model.save_dir, label, model.net_names[0])):
            raise UserError(f"--continue_train: no checkpoint '{label}' in {model.save_dir} (no "
                            f"{os.path.basename(path)}): train without --continue_train, or pick a saved one with "
                            f"--epoch or --load_iter")
        load_networks(model, label)
        logger.warning("no %s (a reference checkpoint?): weights only; optimisers, learning-rate schedules, image "
                       "pools and random streams start fresh at epoch %d", path, model.opt.epoch_count)
        return None
    state = read_checkpoint(path, model.device)
    if not isinstance(state, dict) or not {"nets", "model", "run"} <= state.keys():
        raise UserError(f"{path} is not a training state written by this program")
    load_networks(model, label, state["nets"], path)
    model.load_training_state(state["model"], path)
    logger.info("resumed the training state %s", path)
    return state["run"]


def loader_state(loader: DataLoader) -> torch.Tensor | None:
    """The loader's shuffling state; None for a DistributedSampler, whose order is a function of (seed, epoch)."""
    return None if isinstance(loader.sampler, DistributedSampler) else loader.generator.get_state()


def start_position(opt: argparse.Namespace, loader: DataLoader, saved: dict | None) -> tuple[Position, dict | None]:
    """Where this run starts: at --epoch_count for a new or weights-only run; else at the saved position, with
    the loader's shuffling state set here and the global random states returned (for `epoch_batches`)."""
    if saved is None:
        return Position(epoch=opt.epoch_count), None
    path = state_path(run_dir(opt), load_label(opt))
    try:
        position, rng, loader_saved = Position(**saved["position"]), saved["rng"], saved["loader"]
    except (KeyError, TypeError) as e:
        raise UserError(f"training state {path} has no valid position ({type(e).__name__}: {e}): it was not "
                        f"written by this program, or was damaged (delete it to resume the weights only)") from None
    if position.batches_done and saved.get("processes", 1) != distributed.world_size():
        logger.warning("the checkpoint was saved in the middle of epoch %d by %d process(es), and %d go on: that "
                       "epoch starts again from its beginning", position.epoch, saved.get("processes", 1),
                       distributed.world_size())
        position = Position(position.epoch, total_steps=position.total_steps)
        rng = None
    if position.batches_done > len(loader):
        raise UserError(f"{path} stopped after {position.batches_done} batches of epoch {position.epoch}, but the "
                        f"data set now makes {len(loader)} per epoch: restore the data set as it was, or resume "
                        f"from an end-of-epoch checkpoint with --epoch")
    if distributed.is_distributed():
        # the order is the sampler's (seed, epoch); the saved random states are process 0's alone, so every
        # process draws fresh streams of its own instead (a resumed run goes on, but not bit for bit)
        seed_all(opt.seed + distributed.rank() + distributed.world_size() * position.total_steps)
        rng = None
    elif loader_saved is not None:
        loader.generator.set_state(loader_saved.cpu())
    if opt.epoch_count not in (1, position.epoch):
        logger.warning("--epoch_count %d ignored: the training state goes on with epoch %d", opt.epoch_count,
                       position.epoch)
    opt.epoch_count = position.epoch           # the first epoch of this run, as for a weights-only resume
    logger.info("continuing at epoch %d after %d batches of it, %d samples in all", position.epoch,
                position.batches_done, position.total_steps)
    return position, rng


def epoch_batches(loader: DataLoader, skip: int, rng: dict | None) -> Iterator[dict]:
    """The epoch's batches after the first `skip`, which a resumed run trained on before it stopped.

    They are read and dropped, so that the shuffled order (drawn from the loader's generator, restored by
    `start_position`) is the interrupted epoch's; then the global random streams are set to the saved `rng`, as
    they were after those batches.
    """
    batches = iter(loader)
    for _ in range(skip):
        next(batches)
    if rng is not None:
        restore_rng(rng)
    return batches


# -- the run folder: lock, fresh start, what a failing run may touch -------------------------------------------------
class RunFolder:
    """CHECKPOINTS_DIR/NAME for one train.py (process 0 of several): locked against a second train.py from `open`
    to `close`, and refused to a new run that would replace another's checkpoints unless `--overwrite`."""

    LOCK = ".lock"

    def __init__(self, opt: argparse.Namespace):
        self.opt, self.path = opt, run_dir(opt)
        self.created = False
        self._fd: int | None = None

    def open(self) -> None:
        """Lock the folder (made if needed) and check that this run may use it; nothing else is written."""
        self.created = not os.path.isdir(self.path)
        _makedirs(self.path)
        lock = os.path.join(self.path, self.LOCK)
        while self._fd is None:
            fd = _os_call(os.open, lock, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.read(fd, 32).decode(errors="replace").strip() or "?"
                os.close(fd)
                raise UserError(f"{self.path} is in use by train.py process {holder} (the same --checkpoints_dir "
                                f"and --name): wait for it to end, or choose another --name") from None
            if os.path.exists(lock) and os.stat(lock).st_ino == os.fstat(fd).st_ino:
                self._fd = fd               # else its holder removed it between our open and flock: again
            else:
                os.close(fd)
        os.ftruncate(self._fd, 0)
        os.write(self._fd, str(os.getpid()).encode())
        found = self.checkpoints()
        if found and not self.goes_on() and not self.opt.overwrite:
            self.close()
            raise UserError(f"{self.path} holds the checkpoints of another run ({os.path.basename(found[0])}, "
                            f"{len(found)} files): resume it with --continue_train, start anew with --overwrite, "
                            f"or choose another --name")
        remove_leftovers(self.path)

    def checkpoints(self) -> list[str]:
        """Our checkpoint files, then the authors' MUNIT/UNIT snapshots in checkpoints/."""
        patterns = [os.path.join(glob.escape(self.path), "*.pth")] + [
            os.path.join(glob.escape(authors_dir(self.path)), name)
            for name in (f"gen_{'[0-9]' * 8}.pt", f"dis_{'[0-9]' * 8}.pt", "optimizer.pt")]
        return [path for pattern in patterns for path in sorted(glob.glob(pattern))]

    def goes_on(self) -> bool:
        """Whether this run goes on from the folder's: --continue_train, or MUNIT's and UNIT's --checkpoint naming
        one of the folder's own authors' files (their --resume from a snapshot newer than `latest`)."""
        checkpoint = getattr(self.opt, "checkpoint", None)
        return self.opt.continue_train or bool(checkpoint) and \
            os.path.realpath(os.path.dirname(checkpoint)) == os.path.realpath(authors_dir(self.path))

    def started(self) -> None:
        """The run's first iteration has trained: with --overwrite (unless it goes on from the folder's own
        checkpoint), the earlier run's files go now, before this run writes its own. MUNIT's and UNIT's --config file
        is copied in as config.yaml, as the authors' train.py does (their test.py's --config takes it)."""
        if self.opt.overwrite and not self.goes_on():
            logs = [os.path.join(self.path, n) for n in ("loss_log.txt", "loss_history.jsonl", "scores_history.jsonl",
                                                           "web", "tensorboard")]
            earlier = self.checkpoints() + [path for path in logs if os.path.exists(path)]
            for path in earlier:
                if os.path.isdir(path):
                    shutil.rmtree(path)
                else:
                    os.remove(path)
            if earlier:
                logger.info("--overwrite: removed the earlier run's checkpoints and logs from %s", self.path)
        config, copy = getattr(self.opt, "config", None), os.path.join(self.path, "config.yaml")
        if config and not (os.path.exists(copy) and os.path.samefile(config, copy)):
            shutil.copyfile(config, copy + ".tmp")
            os.replace(copy + ".tmp", copy)

    def close(self) -> None:
        """Unlock; a folder this run made and left empty goes too."""
        if self._fd is None:
            return
        os.remove(os.path.join(self.path, self.LOCK))
        os.close(self._fd)
        self._fd = None
        if self.created and not os.listdir(self.path):
            os.rmdir(self.path)


@contextmanager
def stop_request() -> Iterator[list[bool]]:
    """While inside: SIGTERM (what cluster schedulers send before SIGKILL) sets the yielded flag [True] instead of
    ending the process, so that the training loop can save and leave after its iteration."""
    flag = [False]

    def request(signum, frame) -> None:
        flag[0] = True
        logger.warning("SIGTERM received: stopping after this iteration")

    previous = signal.signal(signal.SIGTERM, request)
    try:
        yield flag
    finally:
        signal.signal(signal.SIGTERM, previous)


# -- writing -----------------------------------------------------------------------------------------------------------
def _os_call(fn, path: str, *args):
    try:
        return fn(path, *args)
    except OSError as e:
        raise UserError(f"cannot write {path}: {_reason(e, path)}") from None


def _makedirs(path: str) -> None:
    _os_call(lambda p: os.makedirs(p, exist_ok=True), path)


def _reason(e: OSError, path: str) -> str:
    if e.errno == errno.ENOTDIR or (e.errno == errno.EEXIST and not os.path.isdir(path)):
        return "a part of the path is a file, not a folder"
    return e.strerror or str(e)


def _write_set(files: dict[str, object], commit_after: bool = True, before: list[str] = ()) -> list[str]:
    """Write `files` (path -> object) to temporary files; rename `before` (written earlier by a call with
    commit_after=False) and then them into place. Returns the SHA-256 of each. A failure (disk full, no
    permission) removes every temporary file and leaves the earlier files whole."""
    written: list[str] = []
    try:
        digests = []
        for path, obj in files.items():
            written.append(path)
            digests.append(write_temporary(obj, path))
        if commit_after:
            commit(list(before) + list(files))
        return digests
    except OSError as e:
        for path in list(before) + written:
            if os.path.exists(path + TMP):
                os.remove(path + TMP)
        raise UserError(f"cannot write {written[-1]}: {_reason(e, written[-1])}; the earlier checkpoint files are "
                        f"unchanged") from None
