import numpy as np
import pytest
import torch
from PIL import Image

from data.transforms import apply, draw_params, image_to_tensor, normalise
from tests.data.helpers import make_opt, random_rgb
from util.errors import DataError


def _opt(tmp_path, **kw):
    return make_opt(tmp_path, "unaligned", **kw)


@pytest.mark.parametrize("mode, size", [("resize_and_crop", (12, 16)), ("resize", (12, 16)), ("crop", (12, 16)),
                                         ("none", (30, 25))])
def test_output_size_per_mode(tmp_path, mode, size):
    opt = _opt(tmp_path, resize_or_crop=mode)
    img = Image.fromarray(random_rgb(25, 30))
    assert apply(img, draw_params(opt, img.size, "x.png")).size == size


def test_params_come_from_torch_generator(tmp_path):
    opt = _opt(tmp_path)
    torch.manual_seed(3)
    first = [draw_params(opt, (30, 25), "x.png") for _ in range(20)]
    torch.manual_seed(3)
    assert [draw_params(opt, (30, 25), "x.png") for _ in range(20)] == first
    assert len({p.crop for p in first}) > 1 and {p.flip for p in first} == {True, False}
    assert all(p.resize == (16, 20) for p in first)


def test_no_flip_when_testing_or_no_flip(tmp_path):
    for kw in ({"isTrain": False}, {"no_flip": True}):
        opt = _opt(tmp_path, **kw)
        assert not any(draw_params(opt, (30, 25), "x.png").flip for _ in range(20))


def test_crop_larger_than_image_names_file(tmp_path):
    with pytest.raises(DataError, match="small.png: 10x8 .* smaller than the crop"):
        draw_params(_opt(tmp_path, resize_or_crop="crop"), (10, 8), "small.png")


def test_normalise_and_grey():
    assert normalise(np.array([0, 255], np.uint8)).tolist() == [-1.0, 1.0]
    assert normalise(np.zeros(1, np.uint8)).dtype == torch.float32
    pixels = random_rgb(3, 4)
    rgb = image_to_tensor(Image.fromarray(pixels), 3)
    grey = image_to_tensor(Image.fromarray(pixels), 1)
    assert rgb.shape == (3, 3, 4) and grey.shape == (1, 3, 4)
    torch.testing.assert_close(grey[0], rgb[0] * 0.299 + rgb[1] * 0.587 + rgb[2] * 0.114, rtol=0, atol=0)
    torch.testing.assert_close(rgb, torch.from_numpy(pixels).permute(2, 0, 1).float() / 127.5 - 1)
