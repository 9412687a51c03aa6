import random

import numpy as np
import pytest
import torch
import torchvision
from PIL import Image

from data.base_dataset import load_picture
from data.transforms import apply, draw_params, image_to_tensor, normalise
from models.networks import GENERATORS, check_size
from tests.data.helpers import make_opt, random_rgb
from util.errors import DataError


def _opt(tmp_path, **kw):
    return make_opt(tmp_path, "unaligned", **kw)


@pytest.mark.parametrize("mode, size", [("resize_and_crop", (12, 16)), ("resize", (16, 20)), ("crop", (12, 16)),
                                         ("none", (32, 24)), ("scale_width", (16, 16)),
                                         ("scale_width_and_crop", (12, 16))])
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


@pytest.mark.parametrize("size", [(16, 20), (12, 16)])      # (W, H): larger than the 12x16 crop, and the crop itself
def test_torch_draws_are_torchvisions(tmp_path, size):
    """RandomCrop (nothing drawn for a crop of the whole picture), then RandomHorizontalFlip, from one seed."""
    opt = _opt(tmp_path, resize_or_crop="crop")
    torch.manual_seed(5)
    ours = [draw_params(opt, size, "x.png") for _ in range(10)]
    torch.manual_seed(5)
    img = Image.new("RGB", size)
    for params in ours:
        top, left, h, w = torchvision.transforms.RandomCrop.get_params(img, (16, 12))
        assert params.crop == (left, top, left + w, top + h) and params.flip == bool(torch.rand(1) < 0.5)


def test_paired_draws_are_pix2pixs_get_params(tmp_path):
    """Python's random: x in [0, load_w - crop_w], y in [0, load_h - crop_h], then a coin, drawn also when not
    flipping (20x16 loaded, 16x12 cropped)."""
    for no_flip in (False, True):
        opt = _opt(tmp_path, no_flip=no_flip)
        random.seed(2)
        ours = [draw_params(opt, (30, 25), "x.png", python_random=True) for _ in range(20)]
        random.seed(2)
        for params in ours:
            x, y, coin = random.randint(0, 4), random.randint(0, 4), random.random() > 0.5
            assert params.crop == (x, y, x + 12, y + 16) and params.flip == (coin and not no_flip)
        assert no_flip or {p.flip for p in ours} == {True, False}


@pytest.mark.parametrize("mode, range_w, range_h", [("scale_width", 600, 400), ("none", 600, 400),
                                                   ("crop", 600, 400), ("scale_width_and_crop", 20, 13),
                                                   ("shorter_side_and_crop", 30, 20)])
def test_paired_draws_range_over_the_picture_as_read_unless_it_is_resized_then_cropped(tmp_path, mode, range_w,
                                                                                       range_h):
    """As get_params: the offsets' ranges (which decide how many numbers Python's random gives, and so the coin)
    are the file's size, except for the modes that resize then crop (20 wide: 20 x 400/600 = 13 tall; the shorter
    side 20: 30 x 20)."""
    opt = _opt(tmp_path, resize_or_crop=mode, loadSizeW=20, loadSizeH=20, fineSizeW=12, fineSizeH=12)
    random.seed(3)
    flips = [draw_params(opt, (600, 400), "x.png", python_random=True).flip for _ in range(40)]
    random.seed(3)
    expected = []
    for _ in range(40):
        random.randint(0, max(0, range_w - 12)), random.randint(0, max(0, range_h - 12))
        expected.append(random.random() > 0.5)
    assert flips == expected


def test_no_flip_when_testing_or_no_flip(tmp_path):
    for kw in ({"isTrain": False}, {"no_flip": True}):
        opt = _opt(tmp_path, **kw)
        assert not any(draw_params(opt, (30, 25), "x.png").flip for _ in range(20))


def test_crop_larger_than_image_names_file(tmp_path):
    with pytest.raises(DataError, match="small.png: 10x8 .* smaller than the crop"):
        draw_params(_opt(tmp_path, resize_or_crop="crop"), (10, 8), "small.png")


def test_normalise_and_grey(tmp_path):
    """Grey is PIL's 'L' taken before the resize, then normalised: torchvision's Grayscale(1), Resize, ToTensor
    and Normalize((0.5,), (0.5,)), as pytorch-CycleGAN-and-pix2pix's transforms, to the bit."""
    assert normalise(np.array([0, 255], np.uint8)).tolist() == [-1.0, 1.0]
    assert normalise(np.zeros(1, np.uint8)).dtype == torch.float32
    pixels = random_rgb(12, 16)
    rgb = image_to_tensor(Image.fromarray(pixels))
    torch.testing.assert_close(rgb, torch.from_numpy(pixels).permute(2, 0, 1).float() / 127.5 - 1)
    path = str(tmp_path / "x.png")
    Image.fromarray(pixels).save(path)
    opt = _opt(tmp_path, resize_or_crop="resize", loadSizeH=6, loadSizeW=10, no_flip=True)
    T = torchvision.transforms
    theirs = T.Compose([T.Grayscale(1), T.Resize((6, 10), T.InterpolationMode.BICUBIC), T.ToTensor(),
                        T.Normalize((0.5,), (0.5,))])(Image.open(path).convert("RGB"))
    assert theirs.shape == (1, 6, 10) and torch.equal(load_picture(opt, path, 1), theirs)


# --- pytorch-CycleGAN-and-pix2pix's scale_width(_and_crop) and none (make_opt: --loadSizeW 16, --fineSizeH/W 16x12) --

@pytest.mark.parametrize("size, expected", [
    ((30, 25), (16, 16)),     # 16 * 25 / 30 = 13.3 tall: raised to --fineSizeH 16
    ((20, 40), (16, 32)),
    ((33, 50), (16, 24)),     # 24.24, truncated
    ((7, 9), (16, 20)),       # 20.57, truncated (scaled up)
    ((16, 20), None),         # already 16 wide and at least 16 tall: untouched
])
def test_scale_width_keeps_the_aspect_ratio_but_at_least_the_crop_height(tmp_path, size, expected):
    params = draw_params(_opt(tmp_path, resize_or_crop="scale_width"), size, "x.png")
    assert params.resize == expected and params.crop is None
    img = Image.fromarray(random_rgb(size[1], size[0]))
    out = apply(img, params)
    assert out.size == (expected or size)
    flipped = img.transpose(Image.Transpose.FLIP_LEFT_RIGHT) if params.flip else img
    assert out.tobytes() == (flipped.resize(expected, Image.Resampling.BICUBIC) if expected else flipped).tobytes()


def test_scale_width_and_crop_draws_the_crop_within_the_scaled_picture(tmp_path):
    opt = _opt(tmp_path, resize_or_crop="scale_width_and_crop")
    torch.manual_seed(0)
    params = [draw_params(opt, (20, 40), "x.png") for _ in range(300)]
    assert {p.resize for p in params} == {(16, 32)}
    # theirs: x in [0, 16 - 12], y in [0, 16 * 40 // 20 - 16], a 12x16 crop
    assert {p.crop[0] for p in params} == set(range(5)) and {p.crop[1] for p in params} == set(range(17))
    assert {(p.crop[2] - p.crop[0], p.crop[3] - p.crop[1]) for p in params} == {(12, 16)}
    short = draw_params(opt, (30, 25), "x.png")       # 16 * 25 // 30 = 13 < 16: y = 0 in the picture raised to 16
    assert short.resize == (16, 16) and short.crop[1] == 0


@pytest.mark.parametrize("size, expected", [((30, 25), (32, 24)), ((26, 18), (24, 16)), ((2, 3), (4, 4)),
                                            ((24, 20), None)])
def test_none_rounds_each_side_to_a_multiple_of_4(tmp_path, size, expected):
    """Python's round, as theirs: 6.5 -> 6, 4.5 -> 4; never below 4."""
    params = draw_params(_opt(tmp_path, resize_or_crop="none"), size, "x.png")
    assert params.resize == expected and params.crop is None


def test_scale_width_heights_the_networks_cannot_take_name_the_file(tmp_path):
    """check_size records the generator's multiple; in training a picture whose scaled height misses it fails in one
    line."""
    opt = _opt(tmp_path, resize_or_crop="scale_width", n_layers_D=3)
    check_size(opt, "--netG resnet_9blocks", GENERATORS["resnet_9blocks"])
    assert opt.size_multiple == 4
    assert draw_params(opt, (30, 25), "ok.png").resize == (16, 16)
    with pytest.raises(DataError, match=r"tall.png: --preprocess scale_width makes it 16x21 \(WxH\), .* sides that are "
                                        r"multiples of 4: use a --preprocess that crops"):
        draw_params(opt, (22, 30), "tall.png")
    opt.isTrain = False                                  # test.py: a ResNet's output is then 4 pixels taller
    assert draw_params(opt, (22, 30), "tall.png").resize == (16, 21)


@pytest.mark.parametrize("size", [(30, 25), (20, 41), (16, 16), (9, 12)])
def test_shorter_side_is_torchvisions_resize(tmp_path, size):
    """The authors' MUNIT/UNIT loaders' Resize(new_size): the shorter side to --loadSizeW (16), bilinearly, the
    aspect ratio kept; the same pixels as torchvision's, at test time (no crop) and under the training crop."""
    img = Image.fromarray(random_rgb(size[1], size[0]))
    theirs = torchvision.transforms.Resize(16)(img)
    ours = apply(img, draw_params(_opt(tmp_path, resize_or_crop="shorter_side", isTrain=False), img.size, "x.png"))
    assert ours.size == theirs.size and np.array_equal(np.asarray(ours), np.asarray(theirs))
    params = draw_params(_opt(tmp_path, resize_or_crop="shorter_side_and_crop", no_flip=True), img.size, "x.png")
    assert np.array_equal(np.asarray(apply(img, params)), np.asarray(theirs.crop(params.crop)))
    assert apply(img, params).size == (12, 16)          # --fineSizeW x --fineSizeH
