"""Images and masks stored in any PIL mode load as the pictures they show; stray masks are reported."""
import logging
import os
import warnings

import numpy as np
import pytest
import torch
from PIL import Image

from data.unaligned_seg_dataset import UnalignedSegDataset
from tests.data.helpers import make_opt, random_rgb, rect_mask, save, write_domain
from util.errors import DataError

H, W = 2, 3
GREYS_16 = np.array([[0, 1000, 32768], [40000, 65000, 65535]], np.uint16)
INSTANCE = rect_mask(H, W, 0, 1, 2, 3)  # 0/255: the right two columns
ROUNDING = 0.5 / 255 + 1e-6  # deeper greys are rounded to 8 bits


def _write(root, image: Image.Image | None, masks: tuple[Image.Image, ...] = (), ext: str = ".png") -> None:
    """trainA/x{ext} (`image`, else random RGB) with its masks trainA_seg/x_k{ext}, and a plain domain B."""
    write_domain(root, "train", "B", {"y": []}, size=(H, W))
    write_domain(root, "train", "A", {"x": []}, size=(H, W), ext=ext)
    if image is not None:
        image.save(root / "trainA" / f"x{ext}")
    for k, mask in enumerate(masks):
        mask.save(root / "trainA_seg" / f"x_{k}{ext}")


def _item(root, **kw) -> dict:
    """Item 0 without resize or flip (a crop of the whole picture: none would round 2x3 to 4x4), so that it can be
    compared with the files pixel for pixel."""
    return UnalignedSegDataset(make_opt(root, **{"resize_or_crop": "crop", "fineSizeH": H, "fineSizeW": W,
                                                 "no_flip": True, **kw}))[0]


def _rgb(root, ext: str = ".png", mode: str = "") -> torch.Tensor:
    """Image A as (H, W, 3) in [0, 1], after checking that PIL really opens its file in `mode`."""
    if mode:
        with Image.open(root / "trainA" / f"x{ext}") as img:
            assert img.mode == mode
    return _item(root)["A"].permute(1, 2, 0) * 0.5 + 0.5


def _big_endian(values: np.ndarray) -> Image.Image:
    return Image.frombytes("I;16B", values.shape[::-1], values.astype(">u2").tobytes())


# --- images ------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("mode, ext", [("I;16", ".png"), ("I;16B", ".tif"), ("I", ".ppm")])
def test_16_bit_greys_scale_from_their_full_range(tmp_path, mode, ext):
    _write(tmp_path, _big_endian(GREYS_16) if mode == "I;16B" else Image.fromarray(GREYS_16), ext=ext)
    expected = torch.from_numpy(GREYS_16 / 65535).float()
    rgb = _rgb(tmp_path, ext, mode)
    for c in range(3):
        torch.testing.assert_close(rgb[..., c], expected, rtol=0, atol=ROUNDING)
    assert (rgb[0, 0] == 0).all() and (rgb[-1, -1] == 1).all()  # 0 is -1 and 65535 is +1, not clipped at 255
    grey = _item(tmp_path, input_nc=1)["A"]
    assert grey.shape == (1, H, W)
    torch.testing.assert_close(grey[0] * 0.5 + 0.5, expected, rtol=0, atol=ROUNDING)


def test_32_bit_greys_scale_from_the_int32_range(tmp_path):
    values = np.array([[0, 70000, 2**29], [2**30, 2**31 - 2**24, 2**31 - 1]], np.int32)
    _write(tmp_path, Image.fromarray(values), ext=".tif")
    expected = torch.from_numpy(values / (2**31 - 1)).float()
    torch.testing.assert_close(_rgb(tmp_path, ".tif", "I")[..., 1], expected, rtol=0, atol=ROUNDING)


@pytest.mark.parametrize("top", [1.0, 255.0])
def test_float_greys_are_read_as_0_to_1_or_0_to_255(tmp_path, top):
    values = np.array([[0, 0.25, 0.5], [0.75, 0.9, 1]], np.float32) * top
    _write(tmp_path, Image.fromarray(values), ext=".tif")
    expected = torch.from_numpy(values / top).float()
    torch.testing.assert_close(_rgb(tmp_path, ".tif", "F")[..., 2], expected, rtol=0, atol=ROUNDING)


@pytest.mark.parametrize("transparency", [None, 1, bytes([255, 0, 128])], ids=["opaque", "index", "bytes"])
def test_palette_images_show_their_colours(tmp_path, transparency):
    colours = np.array([[10, 20, 30], [0, 0, 0], [250, 128, 5]], np.uint8)
    indices = np.array([[0, 1, 2], [2, 1, 0]], np.uint8)
    image = Image.fromarray(indices, "P")
    image.putpalette(colours.ravel().tolist())
    if transparency is not None:
        image.info["transparency"] = transparency
    _write(tmp_path, image)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # PIL warns when a palette with transparency goes straight to RGB
        rgb = _rgb(tmp_path, mode="P")
    torch.testing.assert_close(rgb, torch.from_numpy(colours[indices] / 255).float())


@pytest.mark.parametrize("mode, ext", [("RGBA", ".png"), ("LA", ".png"), ("PA", ".tif")])
def test_alpha_is_dropped(tmp_path, mode, ext):
    colours = random_rgb(H, W)
    alpha = np.array([[0, 255, 7], [128, 0, 255]], np.uint8)
    if mode == "PA":
        shown = colours
        image = Image.fromarray(np.arange(H * W, dtype=np.uint8).reshape(H, W), "P")
        image.putpalette(colours.ravel().tolist())
        image = image.convert("PA")
        image.putalpha(Image.fromarray(alpha))
    else:
        shown = colours if mode == "RGBA" else np.repeat(colours[..., :1], 3, axis=-1)
        image = Image.fromarray(np.dstack([colours if mode == "RGBA" else colours[..., 0], alpha]), mode)
    _write(tmp_path, image, ext=ext)
    torch.testing.assert_close(_rgb(tmp_path, ext, mode), torch.from_numpy(shown / 255).float())


def test_cmyk_images_show_as_rgb(tmp_path):
    cmyk = np.array([[[0, 0, 0, 0], [255, 0, 0, 0], [0, 0, 0, 255]],
                     [[0, 255, 0, 0], [0, 0, 255, 0], [0, 100, 0, 0]]], np.uint8)
    _write(tmp_path, Image.fromarray(cmyk, "CMYK"), ext=".tif")
    expected = np.array([[[255, 255, 255], [0, 255, 255], [0, 0, 0]],
                         [[255, 0, 255], [255, 255, 0], [255, 155, 255]]])
    torch.testing.assert_close(_rgb(tmp_path, ".tif", "CMYK"), torch.from_numpy(expected / 255).float())


def test_bilevel_images_are_black_and_white(tmp_path):
    _write(tmp_path, Image.fromarray(INSTANCE > 0))
    expected = torch.from_numpy(np.repeat(INSTANCE[..., None], 3, axis=-1) / 255).float()
    torch.testing.assert_close(_rgb(tmp_path, mode="1"), expected, rtol=0, atol=0)


# --- masks -------------------------------------------------------------------------------------------------------

def _slot(root, ext: str, mode: str) -> torch.Tensor:
    with Image.open(root / "trainA_seg" / f"x_0{ext}") as img:
        assert img.mode == mode
    return _item(root)["A_segs"][0]


def _as_slot(mask: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(mask).float() / 127.5 - 1


@pytest.mark.parametrize("mode, ext", [("P", ".png"), ("PA", ".tif")])
def test_palette_masks_are_the_picture_they_show(tmp_path, mode, ext):
    """As the reference's convert('L'): the instance is white whatever its index (PIL's quantize() may put black
    at index 1), and a colour shows as its grey."""
    mask = Image.fromarray((INSTANCE == 0).astype(np.uint8), "P")
    mask.putpalette([255, 255, 255, 0, 0, 0])  # index 0 (the instance) white, index 1 black
    _write(tmp_path, None, (mask.convert(mode),), ext)
    torch.testing.assert_close(_slot(tmp_path, ext, mode), _as_slot(INSTANCE), rtol=0, atol=0)
    mask.putpalette([128, 0, 0, 0, 0, 0])  # VOC's dark red: grey 38, as the reference reads it
    _write(tmp_path, None, (mask.convert(mode),), ext)
    torch.testing.assert_close(_slot(tmp_path, ext, mode), _as_slot((INSTANCE > 0) * np.uint8(38)), rtol=0, atol=0)


@pytest.mark.parametrize("mode, ext, on, grey", [("I;16", ".png", 1, 255), ("I;16", ".png", 255, 255),
                                                 ("I;16", ".png", 65535, 255), ("I;16", ".png", 7, 7),
                                                 ("I;16B", ".tif", 300, 255), ("I", ".ppm", 65535, 255)])
def test_16_bit_masks_are_clipped_at_255(tmp_path, mode, ext, on, grey):
    """As the reference's convert('L'), soft edges kept; 0/1 is scaled up, as for 8-bit masks."""
    values = (INSTANCE > 0).astype(np.uint16) * on
    _write(tmp_path, None, (_big_endian(values) if mode == "I;16B" else Image.fromarray(values),), ext)
    torch.testing.assert_close(_slot(tmp_path, ext, mode), _as_slot((INSTANCE > 0) * np.uint8(grey)), rtol=0, atol=0)


@pytest.mark.parametrize("mode", ["RGBA", "LA"])
def test_mask_alpha_is_dropped_as_for_images(tmp_path, mode):
    colour = np.dstack([INSTANCE] * (3 if mode == "RGBA" else 1) + [255 - INSTANCE])
    _write(tmp_path, None, (Image.fromarray(colour, mode),))
    torch.testing.assert_close(_slot(tmp_path, ".png", mode), _as_slot(INSTANCE), rtol=0, atol=0)


def _greyish_mask(mode: str) -> Image.Image:
    """INSTANCE stored as a `mode` picture: white (or 1.0) on black."""
    if mode == "CMYK":
        black = np.zeros((H, W, 4), np.uint8)
        black[..., 3] = 255 - INSTANCE
        return Image.fromarray(black, "CMYK")
    return Image.fromarray(INSTANCE > 0 if mode == "1" else (INSTANCE / 255).astype(np.float32))


@pytest.mark.parametrize("mode", ["CMYK", "1", "F"])
def test_cmyk_bilevel_and_float_masks(tmp_path, mode):
    _write(tmp_path, None, (_greyish_mask(mode),), ".tif")
    torch.testing.assert_close(_slot(tmp_path, ".tif", mode), _as_slot(INSTANCE), rtol=0, atol=0)


def test_soft_grey_mask_edges_stay_grey(tmp_path):
    soft = np.array([[0, 128, 255], [0, 64, 255]], np.uint8)
    _write(tmp_path, None, (Image.fromarray(soft),))
    torch.testing.assert_close(_slot(tmp_path, ".png", "L"), _as_slot(soft), rtol=0, atol=0)


@pytest.mark.parametrize("name", [os.path.join("trainA", "x.png"), os.path.join("trainA_seg", "x_0.png")])
def test_truncated_16_bit_and_palette_files_name_themselves(tmp_path, name):
    noise = np.random.default_rng(0).integers(0, 2**16, (200, 200), dtype=np.uint16)
    write_domain(tmp_path, "train", "B", {"y": []})
    save(tmp_path / "trainA" / "x.png", noise)
    save(tmp_path / "trainA_seg" / "x_0.png", (noise % 256).astype(np.uint8))
    Image.open(tmp_path / "trainA_seg" / "x_0.png").convert("P").save(tmp_path / "trainA_seg" / "x_0.png")
    path = tmp_path / name
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    dataset = UnalignedSegDataset(make_opt(tmp_path))
    with pytest.raises(DataError, match="cannot read .*" + os.path.basename(name)) as err:
        dataset[0]
    assert "\n" not in str(err.value)


# --- masks that belong to no image -------------------------------------------------------------------------------

def _warnings(records) -> list[str]:
    return [r.getMessage() for r in records if r.levelno == logging.WARNING]


def test_stray_masks_get_one_warning_per_domain(tmp_path, log_records):
    mask = rect_mask(24, 20, 2, 2, 9, 9)
    write_domain(tmp_path, "train", "A", {"x": [mask]})
    write_domain(tmp_path, "train", "B", {"y": [mask]})
    for name in ("gone_0.png", "gone_1.png", "x.png", os.path.join("sub", "x_0.png")):
        save(tmp_path / "trainA_seg" / name, mask)
    save(tmp_path / "trainB_seg" / "z_0.png", mask)
    segs = _item(tmp_path, fineSizeH=24, fineSizeW=20)["A_segs"]
    assert (segs[0] > -1).any() and (segs[1:] == -1).all()
    a, b = _warnings(log_records)
    assert a.startswith("domain A: 4 mask file(s) in ") and b.startswith("domain B: 1 mask file(s) in ")
    assert "match no image and are ignored (e.g. " + str(tmp_path / "trainA_seg" / "gone_0.png") in a


def test_a_domain_whose_masks_match_no_image_is_told_so(tmp_path, log_records):
    mask = rect_mask(24, 20, 2, 2, 9, 9)
    write_domain(tmp_path, "train", "A", {"x": [mask]})
    write_domain(tmp_path, "train", "B", {"photo_1": [], "photo_2": []})
    for name in ("mask_1_0.png", "mask_1_1.png", "mask_2_0.png"):
        save(tmp_path / "trainB_seg" / name, mask)
    dataset = UnalignedSegDataset(make_opt(tmp_path))
    assert all((dataset[i]["B_segs"] == -1).all() for i in range(2))
    [message] = _warnings(log_records)
    assert message.startswith("domain B: none of the 3 mask file(s) in ")
    assert "matches an image (e.g. " + str(tmp_path / "trainB_seg" / "mask_1_0.png") in message
    assert "NAME_k.ext" in message


def test_masks_of_images_left_out_by_the_cap_are_not_strays(seg_root, log_records):
    dataset = UnalignedSegDataset(make_opt(seg_root, max_dataset_size=1.0))
    assert len(dataset) == 1
    assert not _warnings(log_records)
