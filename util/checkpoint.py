"""Crash-safe files and folders, and the random-number-generator states that make a resumed run exact.

Every file is written to `PATH.tmp`, flushed to disk, then renamed over `PATH`: a run killed while
saving leaves the previous file whole. Result folders are written aside and swapped in at the end
(`written_aside`). Everything stored loads with `torch.load(weights_only=True)`, so the generator states are
kept as tensors, numbers and lists, never as arbitrary Python objects.
"""
from __future__ import annotations

import glob
import hashlib
import io
import os
import pickle
import random
import shutil
import tempfile
import warnings
from contextlib import contextmanager
from typing import Iterator

import numpy as np
import torch

from util.errors import UserError
from util.log import logger

TMP = ".tmp"


def write_temporary(obj: object, path: str) -> str:
    """Write `obj` to `path.tmp` and flush it to disk; returns the SHA-256 of the bytes written."""
    buf = io.BytesIO()
    torch.save(obj, buf)
    data = buf.getbuffer()
    with open(path + TMP, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    return hashlib.sha256(data).hexdigest()


def commit(paths: list[str]) -> None:
    """Rename the temporary files of `paths` into place, in the given order, and flush the folder."""
    for path in paths:
        os.replace(path + TMP, path)
    if hasattr(os, "O_DIRECTORY"):  # make the renames themselves survive a power cut (POSIX only)
        fd = os.open(os.path.dirname(paths[-1]) or ".", os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def read_checkpoint(path: str, device: torch.device | str = "cpu", sha256: str | None = None,
                    saved_with: str = "") -> object:
    """Load a checkpoint with `weights_only=True`; with `sha256`, first check that it is the file that
    `saved_with` (a training-state file) was written together with."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise UserError(f"cannot read checkpoint {path}: {e.strerror}") from None
    if sha256 is not None and hashlib.sha256(data).hexdigest() != sha256:
        raise UserError(f"{path} is not the file saved together with {saved_with} (a save was interrupted "
                        f"between its files, or the file was replaced): continue from another checkpoint with "
                        f"--epoch, or delete {saved_with} to load the weights only")
    if not data.startswith((b"PK\x03\x04", b"\x80")):     # torch.save's zip, or its legacy pickle
        raise UserError(f"cannot read checkpoint {path}: not a file that torch.save wrote")
    try:
        with warnings.catch_warnings():   # a foreign pickle's protocol notice: the error below says what matters
            warnings.filterwarnings("ignore", message="Detected pickle protocol")
            return torch.load(io.BytesIO(data), map_location=device, weights_only=True)
    except pickle.UnpicklingError:     # weights_only refused it: it holds code or objects (never run here)
        raise UserError(f"{path} is not a plain state dict: it holds Python objects other than tensors, numbers "
                        f"and containers, which are not loaded (a checkpoint must be saved as a state dict)") from None
    except Exception as e:
        detail = next((line for line in str(e).splitlines() if line.strip()), "")
        raise UserError(f"cannot read checkpoint {path}: not a file that torch.save wrote, or one cut short "
                        f"({type(e).__name__}{': ' + detail if detail else ''})") from None


@contextmanager
def written_aside(dest: str) -> Iterator[str]:
    """A new, empty folder beside `dest` (`NAME.partial-PID-XXXX`) to write into; when the block ends without an
    error it takes `dest`'s place (the old `dest` is moved aside first and removed last, so that a kill at any
    moment leaves one of the two whole), else it is removed and `dest` stays as it was. What killed runs left
    beside `dest` is cleaned up first (`_clean_aside`)."""
    parent, name = os.path.split(os.path.abspath(dest))
    try:
        os.makedirs(parent, exist_ok=True)
        _clean_aside(parent, name)
        work = tempfile.mkdtemp(prefix=f"{name}.partial-{os.getpid()}-", dir=parent)
    except OSError as e:
        raise UserError(f"cannot write into {parent}: {e.strerror or e}") from None
    os.chmod(work, 0o755)
    try:
        yield work
        old = None
        if os.path.isdir(dest):
            old = tempfile.mkdtemp(prefix=f"{name}.old-", dir=parent)
            os.replace(dest, os.path.join(old, name))
        os.replace(work, dest)
        if old:
            shutil.rmtree(old, ignore_errors=True)
    except OSError as e:
        raise UserError(f"cannot write {e.filename or dest}: {e.strerror or e}; {dest} is unchanged") from None
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _clean_aside(parent: str, name: str) -> None:
    """Remove the partial folders of `written_aside` runs that are no longer alive, and put back an old `name`
    that a run killed within its swap had moved aside (or remove it, if the new one made it into place)."""
    for path in glob.glob(os.path.join(glob.escape(parent), glob.escape(name) + ".partial-*-*")):
        pid = os.path.basename(path)[len(name) + len(".partial-"):].split("-")[0]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(path, ignore_errors=True)
    for path in glob.glob(os.path.join(glob.escape(parent), glob.escape(name) + ".old-*")):
        kept = os.path.join(path, name)
        if os.path.isdir(kept) and not os.path.exists(os.path.join(parent, name)):
            os.replace(kept, os.path.join(parent, name))
        shutil.rmtree(path, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:           # another user's process
        return True
    return True


def remove_leftovers(folder: str) -> None:
    """Delete the temporary files of saves that were interrupted."""
    leftovers = glob.glob(os.path.join(glob.escape(folder), "*.pth" + TMP))
    for path in leftovers:
        os.remove(path)
    if leftovers:
        logger.info("removed %d unfinished checkpoint file(s) of an interrupted save in %s", len(leftovers), folder)


def rng_state() -> dict:
    """The states of python's `random`, numpy and torch (CPU and initialised GPUs), in a form that
    `weights_only` loading accepts."""
    version, internal, gauss = random.getstate()
    _, keys, pos, has_gauss, cached = np.random.get_state()
    return {
        "python": {"version": version, "state": torch.tensor(internal, dtype=torch.int64), "gauss": gauss},
        "numpy": {"keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(pos), "has_gauss": int(has_gauss),
                  "cached_gaussian": float(cached)},
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_initialized() else [],
    }


def restore_rng(state: dict) -> None:
    """Set python's, numpy's and torch's generators to a state returned by `rng_state`."""
    py = state["python"]
    random.setstate((py["version"], tuple(py["state"].tolist()), py["gauss"]))
    np_state = state["numpy"]
    np.random.set_state(("MT19937", np_state["keys"].cpu().numpy().astype(np.uint32), np_state["pos"],
                         np_state["has_gauss"], np_state["cached_gaussian"]))
    torch.set_rng_state(state["torch"].cpu())
    if state["cuda"]:
        if torch.cuda.is_available() and torch.cuda.device_count() == len(state["cuda"]):
            torch.cuda.set_rng_state_all([s.cpu() for s in state["cuda"]])
        else:
            logger.warning("the checkpoint holds random states for %d GPU(s) but %d are visible: GPU random "
                           "streams start fresh", len(state["cuda"]), torch.cuda.device_count())
