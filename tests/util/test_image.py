import numpy as np
import pytest
import torch
from PIL import Image

from util.image import save_image, tensor2im


def test_tensor2im_truncates_like_the_reference():
    # (x + 1) / 2 * 255 in float32: -1 -> 0, 0 -> 127.5 -> 127, 1 -> 255, 0.999 -> 254.87 -> 254
    t = torch.tensor([-1.0, 0.0, 1.0, 0.999]).view(1, 1, 4).expand(3, 1, 4).clone()
    t[1] = -t[1]
    im = tensor2im(t)
    assert im.dtype == np.uint8 and im.shape == (1, 4, 3)
    assert im[0, :, 0].tolist() == [0, 127, 255, 254]
    assert im[0, :, 1].tolist() == [255, 127, 0, 0]


def test_tensor2im_tiles_one_channel_to_grey():
    t = torch.linspace(-1, 1, 6).view(1, 2, 3)
    im = tensor2im(t)
    assert im.shape == (2, 3, 3)
    assert np.array_equal(im[..., 0], im[..., 1]) and np.array_equal(im[..., 0], im[..., 2])
    assert im[0, 0, 0] == 0 and im[1, 2, 0] == 255


def test_tensor2im_clips_out_of_range_and_rejects_bad_shapes():
    im = tensor2im(torch.tensor([-3.0, 3.0]).view(1, 1, 2))
    assert im[0, :, 0].tolist() == [0, 255]
    with pytest.raises(ValueError, match="shape"):
        tensor2im(torch.zeros(2, 4, 4))


@pytest.mark.parametrize("aspect, size", [(1.0, (10, 6)), (2.0, (20, 6)), (0.5, (10, 12))])
def test_save_image_aspect_ratio(tmp_path, aspect, size):
    arr = np.random.RandomState(0).randint(0, 256, (6, 10, 3), dtype=np.uint8)
    path = tmp_path / "x.png"
    save_image(arr, str(path), aspect)
    with Image.open(path) as img:
        assert img.format == "PNG" and img.size == size
        if aspect == 1.0:
            assert np.array_equal(np.asarray(img), arr)
