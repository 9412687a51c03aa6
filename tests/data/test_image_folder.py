import os

import numpy as np
import pytest

from data.image_folder import list_images, load_image, read_size
from tests.data.helpers import random_rgb, save
from util.errors import DataError


def test_list_images_is_recursive_sorted_any_case_and_capped(tmp_path):
    for name in ["b.PNG", "a.jpg", "sub/c.JpEg", "d.webp", "e.tiff", "f.bmp"]:
        save(tmp_path / name, random_rgb(4, 4))
    (tmp_path / "notes.txt").write_text("not an image")
    paths = list_images(str(tmp_path))
    assert [os.path.relpath(p, tmp_path) for p in paths] == ["a.jpg", "b.PNG", "d.webp", "e.tiff", "f.bmp",
                                                             os.path.join("sub", "c.JpEg")]
    assert len(list_images(str(tmp_path), 2.0)) == 2


def test_missing_and_empty_folders_are_named(tmp_path):
    with pytest.raises(DataError, match="not found: .*nowhere"):
        list_images(str(tmp_path / "nowhere"))
    (tmp_path / "a_file").write_text("")
    with pytest.raises(DataError, match="is a file, not a folder: .*a_file"):
        list_images(str(tmp_path / "a_file"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no images .* in folder .*empty"):
        list_images(str(tmp_path / "empty"))


def test_unreadable_and_truncated_files_raise_one_line(tmp_path):
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"this is no png")
    with pytest.raises(DataError, match="mask .*bad.png is not a readable image") as err:
        read_size(str(bad), "mask")
    assert "\n" not in str(err.value)

    path = save(tmp_path / "big.png", random_rgb(64, 64))
    data = open(path, "rb").read()
    open(path, "wb").write(data[: len(data) // 2])
    assert read_size(path) == (64, 64)  # the header survives: only decoding finds the damage
    with pytest.raises(DataError, match="cannot read .*big.png") as err:
        load_image(path, "RGB")
    assert "\n" not in str(err.value)


def test_load_image_converts_mode(tmp_path):
    path = save(tmp_path / "grey.png", np.full((5, 7), 9, np.uint8))
    img = load_image(path, "RGB")
    assert img.mode == "RGB" and img.size == (7, 5)
