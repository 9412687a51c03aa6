"""Writing the `unaligned_seg` layout, shared by the data set generators.

A generator turns its source format into `Sample`s (name, image path, mask loader) per output folder; `write_folder`
resizes and writes them. Writing is resumable: masks are written first and the image last, under a temporary
name renamed into place, so an image file exists only when the sample is complete and a rerun skips it.
A settings file in SAVE_ROOT keeps a rerun with other settings from mixing two data sets; a settings file that
cannot be read, or a SAVE_ROOT that is a file, is reported in one line before anything is written.
"""
from __future__ import annotations

import argparse
import difflib
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping, Sequence

import numpy as np
from PIL import Image
from tqdm import tqdm

from data.image_folder import load_image
from util.errors import DataError, OptionError
from util.log import logger

SETTINGS_FILE = "generator_settings.json"

# (image, resampling filter) -> resized image; the same geometry is applied to an image and its masks.
Resize = Callable[[Image.Image, Image.Resampling], Image.Image]


@dataclass(frozen=True)
class Sample:
    """One source image of one output folder.

    `masks` returns its boolean instance masks at the source resolution; it runs (and the image is read)
    only when the image must be written, and the image is not read when no mask has a pixel.
    """

    name: str
    image: Path
    masks: Callable[[], list[np.ndarray]] | None = None


@dataclass(frozen=True)
class Job:
    """One output folder (and its `_seg` twin when `with_masks`) and the samples that go into it."""

    folder: str
    samples: list[Sample]
    with_masks: bool = True


@dataclass
class FolderStats:
    written: int = 0
    already_there: int = 0
    without_instances: int = 0


FASHION_ETHICS_NOTE = """
Ethics note: the clothing translation tasks (jeans<->skirt, and clothing on people in general) raised
ethical concerns; the InstaGAN authors ask not to use them in future research. Prefer COCO tasks such as
sheep<->giraffe.
"""


def base_parser(description: str, layout: str = "unaligned_seg") -> argparse.ArgumentParser:
    """A parser with the flags every generator has; `description` (the script's docstring) is shown as is,
    `layout` is the --dataset_mode the output is in."""
    p = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data_root", required=True, help="root folder of the source data set")
    p.add_argument("--save_root", required=True, type=output_root, help=f"output folder ({layout} layout)")
    p.add_argument("--overwrite", action="store_true",
                   help="delete this generator's output folders first instead of resuming into them")
    return p


def require_folder_path(path: Path, what: str) -> None:
    """Refuse a folder to be written that is, or lies under, something other than a folder: creating it would
    fail midway, and --overwrite would delete a file the user did not mean."""
    for part in (path, *path.parents):
        if part.is_dir():
            return
        if part.exists() or part.is_symlink():
            subject = f"{what} {path}" if part == path else f"{what} {path} lies under {part}, which"
            raise OptionError(f"{subject} exists and is not a folder; move it or choose another --save_root")


def output_root(text: str) -> str:
    """argparse type of --save_root: checked as the flags are read, before any long reading of the source. Its
    OptionError is not one of the errors argparse catches, so it reaches the user as one line (exit code 2)."""
    require_folder_path(Path(text), "--save_root")
    return text


def json_type(kind: type) -> str:
    """The type of a value read from JSON in JSON's words, for messages about a file of the wrong structure."""
    names = {dict: "an object", list: "an array", str: "a string", int: "a number", float: "a number",
             bool: "a boolean", type(None): "null"}
    return names.get(kind, kind.__name__)


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text}")
    return value


def square(size: int) -> Resize:
    """Resize to size x size, ignoring the aspect ratio (what the reference does for COCO)."""
    return lambda img, resample: img.resize((size, size), resample)


def cover(height: int, width: int) -> Resize:
    """Scale (keeping the aspect ratio) to the smallest size covering height x width, then centre-crop.

    For images wider than height:width this is "resize to `height`, centre-crop to `width`"; narrower
    images are scaled to `width` and cropped vertically instead of being padded, so no output has borders.
    """

    def resize(img: Image.Image, resample: Image.Resampling) -> Image.Image:
        w, h = img.size
        scale = max(height / h, width / w)
        new_w, new_h = max(width, round(w * scale)), max(height, round(h * scale))
        left, top = (new_w - width) // 2, (new_h - height) // 2
        return img.resize((new_w, new_h), resample).crop((left, top, left + width, top + height))

    return resize


def keep_size(img: Image.Image, resample: Image.Resampling) -> Image.Image:
    """No resizing (the training loader resizes anyway)."""
    return img


def require_file(path: Path, what: str) -> Path:
    if not path.is_file():
        raise DataError(f"{what} not found: {path}")
    return path


def lookup_category(name: str, ids: Mapping[str, int], source: str) -> int:
    """The class id of `name`, or an error that suggests close names from `source`'s categories."""
    if name in ids:
        return ids[name]
    close = difflib.get_close_matches(name, list(ids), n=5)
    hint = f"close names: {', '.join(close)}" if close else f"no close name among its {len(ids)} categories"
    raise OptionError(f"unknown category '{name}' in {source}; {hint}")


def prepare_output(args: argparse.Namespace, generator: str, folders: Sequence[str]) -> Path:
    """Create --save_root, or clear the generator's folders with --overwrite, or check a resume is safe.

    The settings (every flag but the paths and --overwrite) are stored in SAVE_ROOT; resuming with other
    settings is refused rather than mixing two data sets. --overwrite removes only the folders this
    generator writes, never SAVE_ROOT itself or anything else in it.
    """
    save_root = Path(args.save_root)
    settings = {"generator": generator}
    settings.update((k, v) for k, v in sorted(vars(args).items()) if k not in ("data_root", "save_root", "overwrite"))
    settings = json.loads(json.dumps(settings))  # compare in the form the file stores
    settings_file = save_root / SETTINGS_FILE
    paths = [save_root / folder for folder in folders]
    for path in paths:
        require_folder_path(path, "output folder")
    if args.overwrite:
        for path in paths:
            if path.exists():
                logger.info("removing %s (--overwrite)", path)
                shutil.rmtree(path)
    elif settings_file.exists():
        previous = read_settings(settings_file)
        changed = sorted(k for k in settings.keys() | previous.keys() if settings.get(k) != previous.get(k))
        if changed:
            diff = ", ".join(f"{k}: {previous.get(k)!r} -> {settings.get(k)!r}" for k in changed)
            raise OptionError(f"{save_root} was written with other settings ({diff}); "
                              "pass --overwrite or choose another --save_root")
        logger.info("resuming into %s: complete images already there are skipped", save_root)
    save_root.mkdir(parents=True, exist_ok=True)
    write_through_tmp(settings_file, lambda tmp: tmp.write_text(json.dumps(settings, indent=1) + "\n"))
    return save_root


def read_settings(settings_file: Path) -> dict:
    """The settings SAVE_ROOT was written with; a file that is not a JSON object (damaged, or not ours) is
    reported with the ways out, since resuming without knowing the settings could mix two data sets."""
    try:
        previous = json.loads(settings_file.read_bytes())
    except (OSError, ValueError) as e:
        problem = str(e)
    else:
        if isinstance(previous, dict):
            return previous
        problem = f"it holds {json_type(type(previous))}, not an object"
    raise DataError(f"cannot read the settings file {settings_file} ({problem}): pass --overwrite to start afresh, "
                    "delete it to resume with these settings, or choose another --save_root")


def write_through_tmp(path: Path, write: Callable[[Path], object]) -> None:
    """Write through a temporary name so that `path` never holds a half-written file."""
    tmp = path.with_name(path.name + ".part")
    write(tmp)
    os.replace(tmp, path)


def save_png(img: Image.Image, path: Path) -> None:
    write_through_tmp(path, lambda tmp: img.save(tmp, format="PNG"))


def _fit_mask(mask: np.ndarray, size: tuple[int, int], resize: Resize) -> np.ndarray:
    """Bring a boolean mask to the image's (width, height), then through `resize`, nearest neighbour so it
    stays binary."""
    img = Image.fromarray(mask.astype(np.uint8) * 255)
    if img.size != size:
        img = img.resize(size, Image.Resampling.NEAREST)
    return np.asarray(resize(img, Image.Resampling.NEAREST)) > 127


def write_folder(samples: Sequence[Sample], save_root: Path, folder: str, resize: Resize,
                 with_masks: bool = True) -> FolderStats:
    """Write `folder/NAME.png` and, with masks, `folder_seg/NAME_k.png` (k = 0.., non-empty masks only).

    A sample without a non-empty mask (at the source size or after resizing) is not written when masks
    are wanted.
    """
    img_dir, seg_dir = save_root / folder, save_root / f"{folder}_seg"
    img_dir.mkdir(parents=True, exist_ok=True)
    if with_masks:
        seg_dir.mkdir(parents=True, exist_ok=True)
    stats = FolderStats()
    for sample in tqdm(samples, desc=folder, unit="img", disable=None):
        target = img_dir / f"{sample.name}.png"
        if target.exists():
            stats.already_there += 1
            continue
        masks = [m for m in sample.masks() if m.any()] if with_masks else []
        if with_masks and not masks:
            stats.without_instances += 1
            continue
        image = load_image(str(sample.image), "RGB")
        fitted = [m for m in (_fit_mask(m, image.size, resize) for m in masks) if m.any()]
        if with_masks and not fitted:
            stats.without_instances += 1
            continue
        for k, mask in enumerate(fitted):
            save_png(Image.fromarray(mask.astype(np.uint8) * 255), seg_dir / f"{sample.name}_{k}.png")
        save_png(resize(image, Image.Resampling.LANCZOS), target)
        stats.written += 1
    logger.info("%s: %d images written, %d already there, %d skipped (no non-empty instance)",
                folder, stats.written, stats.already_there, stats.without_instances)
    return stats


def generate(args: argparse.Namespace, generator: str, jobs: Sequence[Job],
             resize: Resize) -> dict[str, FolderStats]:
    """Prepare --save_root (see `prepare_output`) and write every job's folder."""
    folders = [f for job in jobs for f in ((job.folder, f"{job.folder}_seg") if job.with_masks else (job.folder,))]
    save_root = prepare_output(args, generator, folders)
    return {job.folder: write_folder(job.samples, save_root, job.folder, resize, job.with_masks) for job in jobs}

