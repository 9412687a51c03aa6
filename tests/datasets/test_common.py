"""What the generators share: `cover` scales to cover the target and centre-crops, never pads; a damaged settings
file or a --save_root through a file is one line that names it, and changes nothing."""
import json
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from datasets.common import SETTINGS_FILE, cover
from datasets.make_shapes_dataset import main as make_shapes
from tests.datasets.conftest import files


def column_ramp(width: int, height: int) -> Image.Image:
    return Image.fromarray(np.tile(np.arange(width, dtype=np.uint8), (height, 1)))


def row_ramp(width: int, height: int) -> Image.Image:
    return Image.fromarray(np.tile(np.arange(height, dtype=np.uint8)[:, None], (1, width)))


def test_wide_image_keeps_height_and_crops_the_centre_columns():
    out = cover(30, 20)(column_ramp(40, 30), Image.Resampling.NEAREST)
    assert out.size == (20, 30)
    assert np.array_equal(np.asarray(out)[0], np.arange(10, 30))


def test_narrow_image_is_scaled_to_the_width_and_cropped_vertically():
    out = cover(30, 20)(row_ramp(10, 30), Image.Resampling.NEAREST)  # scaled x2 to 20x60, rows 15..44 kept
    assert out.size == (20, 30)
    assert np.array_equal(np.asarray(out)[:, 0], np.arange(15, 45) // 2)


def shapes(save_root: Path, *flags: str) -> list[str]:
    """make_shapes_dataset's flags for a data set small enough to write in a moment: the shared output handling."""
    return ["--save_root", str(save_root), "--n_train", "2", "--n_test", "1", "--size", "16", *flags]


@pytest.mark.parametrize("content, problem", [
    (b'{"generator": "shapes", "seed": ', "Expecting value"),
    (b'["shapes"]', "it holds an array, not an object"),
    (b"\x80\x81", "'utf-8' codec can't decode"),
], ids=["cut short", "an array", "not text"])
def test_damaged_settings_file_is_named_with_the_ways_out(tmp_path, user_error, content, problem):
    root = tmp_path / "s"
    assert make_shapes(shapes(root)) == 0
    settings = root / SETTINGS_FILE
    settings.write_bytes(content)
    before = files(root)
    message = user_error(make_shapes, shapes(root))
    assert message.startswith(f"cannot read the settings file {settings} ") and problem in message
    assert "pass --overwrite to start afresh, delete it" in message and "choose another --save_root" in message
    assert files(root) == before
    assert make_shapes(shapes(root, "--overwrite")) == 0          # one of the ways out
    assert json.loads(settings.read_text())["generator"] == "shapes"


@pytest.mark.parametrize("save_root, in_the_way, message", [
    ("notes.txt", "notes.txt", r"--save_root \S+notes\.txt exists and is not a folder"),
    ("notes.txt/s", "notes.txt", r"--save_root \S+s lies under \S+notes\.txt, which exists and is not a folder"),
    ("s", "s/trainA", r"output folder \S+trainA exists and is not a folder"),
], ids=["a file", "under a file", "a file where a folder goes"])
def test_save_root_through_a_file_is_one_line_naming_it(tmp_path, user_error, save_root, in_the_way, message):
    (tmp_path / in_the_way).parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / in_the_way).write_text("keep me")
    before = files(tmp_path)
    text = user_error(make_shapes, shapes(tmp_path / save_root, "--overwrite"))
    assert re.search(message, text) and "choose another --save_root" in text
    assert files(tmp_path) == before
