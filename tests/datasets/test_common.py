"""The shared geometry of the generators: `cover` scales to cover the target and centre-crops, never pads."""
import numpy as np
from PIL import Image

from datasets.common import cover


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
