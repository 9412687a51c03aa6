"""make_shapes_dataset: the layout, exact masks, the colour bounds the evaluator relies on, and repeatability."""
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage

from datasets.make_shapes_dataset import main
from scripts.evaluate_shapes import SATURATED, has_shape, rectangularity, saturation
from tests.datasets.conftest import train_one_iteration
from util.errors import OptionError

SMALL = ["--n_train", "12", "--n_test", "30"]
CROSS = ndimage.generate_binary_structure(2, 1)[None]  # 4-connected steps within each mask of a (K, H, W) stack


def generate(save_root: Path, *flags: str) -> Path:
    assert main(["--save_root", str(save_root), *flags]) == 0
    return save_root


def read_folder(save_root: Path, folder: str) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """stem -> (H, W, 3) image, (K, H, W) boolean masks in the order of k."""
    out = {}
    for image in sorted((save_root / folder).glob("*.png")):
        paths = sorted((save_root / f"{folder}_seg").glob(f"{image.stem}_*.png"),
                       key=lambda p: int(p.stem.rsplit("_", 1)[1]))
        masks = np.stack([np.asarray(Image.open(p)) == 255 for p in paths])
        out[image.stem] = np.asarray(Image.open(image)), masks
    return out


def all_bytes(save_root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(save_root)): p.read_bytes() for p in sorted(save_root.rglob("*.png"))}


@pytest.fixture(scope="module")
def shapes(tmp_path_factory) -> Path:
    return generate(tmp_path_factory.mktemp("shapes") / "shapes", *SMALL)


def test_layout_counts_and_settings(shapes, layout, mask_area):
    listing = layout(shapes)
    assert sorted(listing) == ["testA", "testA_seg", "testB", "testB_seg", "trainA", "trainA_seg", "trainB",
                               "trainB_seg"]
    assert listing["trainA"] == [f"{i:04d}.png" for i in range(12)]
    assert listing["testB"] == [f"{i:04d}.png" for i in range(30)]
    for folder in ("trainA", "testB"):
        masks = listing[f"{folder}_seg"]
        assert {name.split("_")[0] for name in masks} == {n[:-4] for n in listing[folder]}  # every image has one
        assert all(mask_area(shapes / f"{folder}_seg" / name) > 0 for name in masks)      # single-channel 0/255
    assert Image.open(shapes / "trainB" / "0000.png").size == (64, 64)
    assert (shapes / "generator_settings.json").is_file()


def test_instance_counts_and_the_test_split_reaches_its_maximum(shapes):
    train = [len(m) for folder in ("trainA", "trainB") for _, m in read_folder(shapes, folder).values()]
    test = [len(m) for folder in ("testA", "testB") for _, m in read_folder(shapes, folder).values()]
    assert min(train) >= 1 and max(train) == 4
    assert min(test) >= 1 and max(test) == 6


@pytest.mark.parametrize("folder", ["trainA", "testB"])
def test_masks_are_exactly_their_saturated_instances_and_kept_apart(shapes, folder):
    backgrounds = set()
    for image, masks in read_folder(shapes, folder).values():
        sat, value = saturation(image), image.max(-1) / 255
        inside = masks.any(0)
        assert (masks.sum(0) <= 1).all()                          # disjoint
        assert np.array_equal(inside, sat >= SATURATED)           # the instances are the saturated pixels
        assert sat[inside].min() >= 0.6 and value[inside].min() >= 0.6
        assert sat[~inside].max() <= 0.25
        for mask in masks:                                        # one flat colour per instance
            assert len(np.unique(image[mask], axis=0)) == 1
        # --margin 2: no instance comes within 2 pixels (4-connected steps) of another
        grown = ndimage.binary_dilation(masks, structure=CROSS, iterations=2)
        assert not (grown & inside & ~masks).any()
        backgrounds.add(image[~inside][:20].tobytes())
    assert len(backgrounds) == len(read_folder(shapes, folder))  # a different background in every image


def test_disks_and_squares_differ_in_rectangularity(shapes):
    disks = np.concatenate([m for _, m in read_folder(shapes, "trainA").values()])
    squares = np.concatenate([m for _, m in read_folder(shapes, "trainB").values()])
    assert abs(rectangularity(disks).mean() - np.pi / 4) < 0.03 and (rectangularity(squares) == 1).all()
    assert has_shape(disks, "disk").all() and not has_shape(disks, "square").any()
    assert has_shape(squares, "square").all() and not has_shape(squares, "disk").any()
    assert np.array_equal(squares.any(2).sum(1), squares.any(1).sum(1))  # squares, not rectangles
    areas = squares.sum((1, 2))
    assert areas.min() >= round(np.pi * (0.09 * 64) ** 2) * 0.8 and areas.max() <= np.pi * (0.22 * 64) ** 2 * 1.2


def test_same_seed_gives_the_same_bytes_and_another_seed_other_images(tmp_path):
    flags = ["--n_train", "3", "--n_test", "2", "--size", "32"]
    first = all_bytes(generate(tmp_path / "a", *flags))
    assert len(first) > 10
    assert all_bytes(generate(tmp_path / "b", *flags)) == first
    other = all_bytes(generate(tmp_path / "c", *flags, "--seed", "1"))
    assert other["trainA/0000.png"] != first["trainA/0000.png"]


def test_rerun_skips_resumes_refuses_other_settings_and_overwrites(tmp_path):
    flags = ["--n_train", "3", "--n_test", "2", "--size", "32"]
    root = generate(tmp_path / "s", *flags)
    before = all_bytes(root)
    stamp = (root / "trainB" / "0001.png").stat().st_mtime_ns
    (root / "trainA" / "0002.png").unlink()                       # an interrupted run: the image is written last
    generate(root, *flags)
    assert all_bytes(root) == before
    assert (root / "trainB" / "0001.png").stat().st_mtime_ns == stamp  # complete images are not rewritten

    with pytest.raises(OptionError, match=r"other settings \(n_train: 3 -> 4\).*--overwrite"):
        generate(root, *flags[2:], "--n_train", "4")
    generate(root, *flags[2:], "--n_train", "4", "--overwrite")
    assert len(list((root / "trainA").glob("*.png"))) == 4


@pytest.mark.parametrize("flags, message", [
    (["--min_radius", "0.2", "--max_radius", "0.1"], "--min_radius"),
    (["--min_instances", "5"], "--min_instances 5 exceeds --max_instances 4"),
    (["--size", "8"], "--size must be >= 16"),
    (["--margin", "-1"], "--margin must be >= 0"),
])
def test_bad_flags_are_one_line_errors(tmp_path, flags, message):
    with pytest.raises(OptionError, match=message):
        main(["--save_root", str(tmp_path / "s"), *flags])
    assert not (tmp_path / "s").exists()


def test_train_py_reads_the_data_set(tmp_path):
    root = generate(tmp_path / "s", "--n_train", "2", "--n_test", "1", "--size", "32")
    train_one_iteration(root, tmp_path, 32, 32)


def test_noise_sets_the_background_pixel_noise(tmp_path):
    """--noise is the standard deviation of the background's value noise: the same seed without noise gives the
    same image but for it, so the difference is that noise (mean |N(0, s)| = 0.8 s)."""
    flags = ("--n_train", "2", "--n_test", "1")
    clean = read_folder(generate(tmp_path / "clean", *flags, "--noise", "0"), "trainA")
    noisy = read_folder(generate(tmp_path / "noisy", *flags, "--noise", "0.02"), "trainA")
    for stem, (image, masks) in clean.items():
        background = ~masks.any(0)
        value = lambda rgb: rgb.max(-1).astype(float)  # HSV value in 0-255 levels
        diff = (value(noisy[stem][0]) - value(image))[background]
        assert 0.8 * 0.02 * 255 * 0.8 < np.abs(diff).mean() < 0.8 * 0.02 * 255 * 1.2
        assert np.array_equal(noisy[stem][1], masks)
