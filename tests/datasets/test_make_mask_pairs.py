"""make_mask_pairs: image | union of its masks, pixel for pixel, in the aligned layout."""
import numpy as np
import pytest
from PIL import Image

from datasets.make_mask_pairs import main
from util.errors import DataError, OptionError


def rect(h, w, top, left, bottom, right, on=255):
    mask = np.zeros((h, w), np.uint8)
    mask[top:bottom, left:right] = on
    return mask


@pytest.fixture
def seg_root(tmp_path):
    """trainA: `two` (two overlapping masks, one saved as 0/1, one as RGB) and `none` (no mask); testA: `one`."""
    root = tmp_path / "seg"
    rng = np.random.default_rng(0)
    for folder in ("trainA", "trainA_seg", "testA", "testA_seg", "trainB"):
        (root / folder).mkdir(parents=True)
    images = {name: rng.integers(0, 256, (12, 10, 3), dtype=np.uint8) for name in ("two", "none", "one")}
    Image.fromarray(images["two"]).save(root / "trainA" / "two.png")
    Image.fromarray(images["none"]).save(root / "trainA" / "none.jpg", quality=95)
    Image.fromarray(images["one"]).save(root / "testA" / "one.png")
    Image.fromarray(rect(12, 10, 1, 1, 6, 5)).save(root / "trainA_seg" / "two_0.png")
    Image.fromarray(rect(12, 10, 4, 3, 9, 8, on=1)).save(root / "trainA_seg" / "two_1.png")
    Image.fromarray(rect(12, 10, 2, 2, 4, 4)).convert("RGB").save(root / "testA_seg" / "one_0.png")
    return root


def run(seg_root, save_root, *flags):
    return main(["--data_root", str(seg_root), "--save_root", str(save_root), *flags])


def read(path):
    with Image.open(path) as img:
        assert img.mode == "RGB"
        return np.asarray(img)


def test_pairs_hold_the_image_and_the_union_of_its_masks(seg_root, tmp_path, layout):
    out = tmp_path / "pairs"
    assert run(seg_root, out) == 0
    assert layout(out) == {"test": ["one.png"], "train": ["none.png", "two.png"]}

    pair = read(out / "train" / "two.png")
    assert pair.shape == (12, 20, 3)
    assert np.array_equal(pair[:, :10], np.asarray(Image.open(seg_root / "trainA" / "two.png")))
    union = (rect(12, 10, 1, 1, 6, 5) | rect(12, 10, 4, 3, 9, 8)).astype(bool)
    assert np.array_equal(pair[:, 10:], np.repeat(union[..., None] * np.uint8(255), 3, axis=2))

    empty = read(out / "train" / "none.png")
    assert np.array_equal(empty[:, :10], np.asarray(Image.open(seg_root / "trainA" / "none.jpg").convert("RGB")))
    assert not empty[:, 10:].any()
    assert np.array_equal(read(out / "test" / "one.png")[:, 10:, 0], rect(12, 10, 2, 2, 4, 4))


def test_phases_and_domain_choose_the_folders(seg_root, tmp_path, layout):
    out = tmp_path / "pairs"
    assert run(seg_root, out, "--phases", "test") == 0
    assert layout(out) == {"test": ["one.png"]}
    with pytest.raises(DataError, match="mask folder not found: .*trainB_seg"):
        run(seg_root, tmp_path / "b", "--domain", "B", "--phases", "train")
    with pytest.raises(DataError, match="image folder not found: .*valA"):
        run(seg_root, tmp_path / "val", "--phases", "train", "val")
    assert not (tmp_path / "val").exists()        # checked before anything is written


def test_mask_of_another_size_is_refused(seg_root, tmp_path):
    Image.fromarray(rect(10, 10, 0, 0, 2, 2)).save(seg_root / "testA_seg" / "one_1.png")
    with pytest.raises(DataError, match=r"one_1.png is 10x10 but its image .*one.png is 10x12"):
        run(seg_root, tmp_path / "pairs")


def test_rerun_with_other_settings_needs_overwrite(seg_root, tmp_path, layout):
    out = tmp_path / "pairs"
    assert run(seg_root, out) == 0
    assert run(seg_root, out) == 0                 # same settings: written again
    (out / "test" / "stale.png").write_bytes(b"")
    with pytest.raises(OptionError, match="other settings"):
        run(seg_root, out, "--phases", "test")
    assert run(seg_root, out, "--phases", "test", "--overwrite") == 0
    assert layout(out)["test"] == ["one.png"]
