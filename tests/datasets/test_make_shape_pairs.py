"""make_shape_pairs: the aligned layout, outlines that enclose exactly the coloured shapes, and repeatability."""
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from datasets.make_shape_pairs import main
from scripts.evaluate_shape_pairs import shape_region, shape_scores
from util.errors import OptionError


def generate(root: Path, *flags: str) -> Path:
    assert main(["--save_root", str(root), "--n_train", "6", "--n_val", "3", "--size", "32", *flags]) == 0
    return root


def test_pairs_hold_an_outline_and_its_coloured_shapes(tmp_path):
    root = generate(tmp_path / "pairs")
    assert sorted(p.name for p in (root / "train").iterdir()) == [f"{i:04d}.png" for i in range(6)]
    assert len(list((root / "val").iterdir())) == 3
    for path in (root / "train").iterdir():
        pair = np.asarray(Image.open(path))
        assert pair.shape == (32, 64, 3)
        outline, shapes = pair[:, :32], pair[:, 32:]
        assert set(np.unique(outline)) == {0, 255}
        # the filled outlines are where the colours are: the evaluator scores the ground truth as perfect
        assert shape_scores(shapes, shape_region(outline)) == (1.0, 1.0)


def test_the_same_seed_gives_the_same_pairs_and_a_rerun_resumes(tmp_path):
    first, second = generate(tmp_path / "a"), generate(tmp_path / "b")
    files = sorted(p.relative_to(first) for p in first.rglob("*.png"))
    assert all((first / f).read_bytes() == (second / f).read_bytes() for f in files)
    (first / "train" / "0003.png").unlink()
    generate(first)
    assert (first / "train" / "0003.png").read_bytes() == (second / "train" / "0003.png").read_bytes()
    other = generate(tmp_path / "c", "--seed", "1")
    assert (other / "train" / "0000.png").read_bytes() != (first / "train" / "0000.png").read_bytes()


@pytest.mark.parametrize("flags, message", [(["--size", "8"], "--size must be >= 16"),
                                            (["--seed", "-1"], "--seed must be >= 0")])
def test_bad_flags_fail_in_one_line(tmp_path, flags, message):
    with pytest.raises(OptionError, match=message):
        main(["--save_root", str(tmp_path / "x"), *flags])
