"""Helpers shared by the generator tests: what a generator wrote, the area of one mask, and user errors."""
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import pytest
from PIL import Image

from util.cli import run_cli


@pytest.fixture
def layout() -> Callable[[Path], dict[str, list[str]]]:
    """SAVE_ROOT -> {folder: sorted file names} for every folder under it."""

    def listing(save_root: Path) -> dict[str, list[str]]:
        return {d.name: sorted(f.name for f in d.iterdir()) for d in sorted(save_root.iterdir()) if d.is_dir()}

    return listing


@pytest.fixture
def mask_area() -> Callable[[Path], int]:
    """Pixel count of a written mask, after checking it is a single-channel 0/255 PNG."""

    def area(path: Path) -> int:
        with Image.open(path) as img:
            assert img.mode == "L", path
            values = np.asarray(img)
        assert set(np.unique(values).tolist()) <= {0, 255}, path
        return int((values == 255).sum())

    return area


def train_one_iteration(save_root: Path, tmp_path: Path, height: int, width: int,
                        crop: tuple[int, int] | None = None) -> None:
    """train.py runs one InstaGAN iteration on a generated data set (the layout train.py reads)."""
    import train
    from tests.conftest import TINY_TRAIN

    crop_h, crop_w = crop or (height, width)
    size = ["--loadSizeH", str(height), "--loadSizeW", str(width),
            "--fineSizeH", str(crop_h), "--fineSizeW", str(crop_w)]
    ck = tmp_path / "ck"
    assert train.main(["--dataroot", str(save_root), "--name", "gen", "--checkpoints_dir", str(ck), *TINY_TRAIN,
                       *size, "--niter", "1", "--niter_decay", "0", "--max_dataset_size", "1", "--seed", "0"]) == 0
    assert (ck / "gen" / "latest_net_G_A.pth").is_file()


def files(root: Path) -> dict[str, bytes]:
    """Every file under `root` with its bytes: a run that failed must leave them exactly as they were."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture
def user_error(log_records) -> Callable[[Callable[[Sequence[str] | None], int], Sequence[str]], str]:
    """Run an entry point as its script does (`run_cli`): exit code 2 and a single one-line error, returned."""

    def run(main: Callable[[Sequence[str] | None], int], argv: Sequence[str]) -> str:
        first = len(log_records)
        assert run_cli(main, argv) == 2
        errors = [r.getMessage() for r in log_records[first:] if r.levelname == "ERROR"]
        assert len(errors) == 1 and len(errors[0].splitlines()) == 1, errors
        return errors[0]

    return run


@pytest.fixture
def damaged_rerun(user_error) -> Callable[..., str]:
    """Write a data set, remove the output image `again` (so that the next run reads its source again), `damage`
    the source and run once more: that run must end in one line, and leave every file written before as it was."""

    def run(main: Callable[[Sequence[str] | None], int], argv: Sequence[str], save_root: Path,
            damage: Callable[[], object], again: str | None = None) -> str:
        assert main(argv) == 0
        if again:
            (save_root / again).unlink()
        before = files(save_root)
        damage()
        message = user_error(main, argv)
        assert files(save_root) == before
        return message

    return run
