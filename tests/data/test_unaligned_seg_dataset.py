import logging
import os
import random

import numpy as np
import pytest
import torch
from PIL import Image

from data.transforms import normalise
from data.unaligned_seg_dataset import UnalignedSegDataset
from models.masks import nonempty
from tests.data.helpers import make_opt, random_rgb, rect_mask, save, write_domain
from util.errors import DataError, OptionError

H, W = 24, 20


def _dataset(root, **kw) -> UnalignedSegDataset:
    return UnalignedSegDataset(make_opt(root, **kw))


def _exact(root, **kw) -> UnalignedSegDataset:
    """No resize, crop or flip: slots can be compared with the files pixel for pixel."""
    return _dataset(root, resize_or_crop="none", no_flip=True, **kw)


def _as_slot(mask: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(mask).float() / 127.5 - 1


def test_item_shapes_dtypes_ranges(seg_root):
    ds = _dataset(seg_root, max_instances=5)
    assert len(ds) == 3
    item = ds[0]
    assert set(item) == {"A", "B", "A_segs", "B_segs", "A_paths", "B_paths"}
    assert item["A"].shape == item["B"].shape == (3, 16, 12)
    assert item["A_segs"].shape == item["B_segs"].shape == (5, 16, 12)
    for key in ("A", "B", "A_segs", "B_segs"):
        assert item[key].dtype == torch.float32
        assert item[key].min() >= -1 and item[key].max() <= 1
    assert isinstance(item["A_paths"], str) and item["A_paths"].endswith(os.path.join("trainA", "a0.png"))
    assert (item["A_segs"][:2] > -1).flatten(1).any(1).all()  # two masks survive the crop
    assert (item["A_segs"][2:] == -1).all()
    assert (item["B_segs"][1:] == -1).all()


def test_image_without_masks_has_only_empty_slots(seg_root):
    item = _dataset(seg_root)[1]
    assert item["A_paths"].endswith("a1.png")
    assert item["A_segs"].shape == (20, 16, 12) and (item["A_segs"] == -1).all()


def test_slots_follow_numeric_order_and_gaps_are_closed(tmp_path):
    masks = [rect_mask(H, W, 0, 0, 4, 4), None, rect_mask(H, W, 5, 5, 9, 9)] + [None] * 7
    masks.append(rect_mask(H, W, 10, 10, 20, 14))  # NAME_10: after NAME_2 although "10" < "2" as text
    write_domain(tmp_path, "train", "A", {"x": masks})
    write_domain(tmp_path, "train", "B", {"y": []})
    segs = _exact(tmp_path, max_instances=4)[0]["A_segs"]
    expected = [m for m in masks if m is not None]
    for k in range(3):
        torch.testing.assert_close(segs[k], _as_slot(expected[k]), rtol=0, atol=0)
    assert (segs[3] == -1).all()


def test_too_many_masks_keep_largest_in_file_order_with_one_warning(tmp_path, log_records):
    heights = [2, 8, 3, 6]  # areas 2*W, 8*W, 3*W, 6*W: masks 1 and 3 are the largest
    masks = [rect_mask(H, W, 0, 0, h, W) for h in heights]
    write_domain(tmp_path, "train", "A", {"x": masks, "z": masks})
    write_domain(tmp_path, "train", "B", {"y": masks[:2]})
    ds = _exact(tmp_path, max_instances=2)
    items = [ds[i] for i in range(len(ds))] + [ds[i] for i in range(len(ds))]
    warnings = [r for r in log_records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "2 image(s) have more than --max_instances 2" in warnings[0].getMessage()
    torch.testing.assert_close(items[0]["A_segs"], torch.stack([_as_slot(masks[1]), _as_slot(masks[3])]))
    torch.testing.assert_close(items[0]["B_segs"], torch.stack([_as_slot(masks[0]), _as_slot(masks[1])]))


@pytest.mark.parametrize("stored", ["zero_one", "rgb", "rgba"])
def test_mask_formats(tmp_path, stored):
    mask = rect_mask(H, W, 4, 3, 15, 11)
    write_domain(tmp_path, "train", "A", {"x": []})
    write_domain(tmp_path, "train", "B", {"y": []})
    pixels = {"zero_one": mask // 255, "rgb": np.stack([mask] * 3, -1), "rgba": np.stack([mask] * 3 + [mask], -1)}
    save(tmp_path / "trainA_seg" / "x_0.png", pixels[stored])
    segs = _exact(tmp_path)[0]["A_segs"]
    torch.testing.assert_close(segs[0], _as_slot(mask), rtol=0, atol=0)


@pytest.mark.parametrize("mode", ["L", "RGBA"])
def test_grey_and_rgba_images_give_three_channels(tmp_path, mode):
    write_domain(tmp_path, "train", "A", {"x": [rect_mask(H, W, 1, 1, 5, 5)]})
    write_domain(tmp_path, "train", "B", {"y": []})
    Image.fromarray(random_rgb(H, W)).convert(mode).save(tmp_path / "trainA" / "x.png")
    item = _exact(tmp_path)[0]
    assert item["A"].shape == (3, H, W)
    if mode == "L":
        assert torch.equal(item["A"][0], item["A"][1]) and torch.equal(item["A"][1], item["A"][2])


def test_jpg_images_find_png_masks_under_a_dataroot_full_of_a_and_b(tmp_path):
    root = tmp_path / "ABBA" / "BA_data"
    mask = rect_mask(H, W, 2, 2, 9, 9)
    write_domain(root, "train", "A", {"Abe": [mask]}, ext=".JPG")
    write_domain(root, "train", "B", {"Bob": [mask]}, ext=".jpeg")
    item = _exact(root)[0]
    assert item["A_paths"] == str(root / "trainA" / "Abe.JPG")
    torch.testing.assert_close(item["A_segs"][0], _as_slot(mask), rtol=0, atol=0)
    torch.testing.assert_close(item["B_segs"][0], _as_slot(mask), rtol=0, atol=0)


def test_masks_stay_aligned_under_resize_crop_and_flip(tmp_path):
    """The image's red channel is the mask: any drift between the two shows as a difference."""
    mask = np.random.default_rng(1).integers(0, 2, (H, W), dtype=np.uint8) * 255
    pixels = random_rgb(H, W)
    pixels[..., 0] = mask
    write_domain(tmp_path, "train", "A", {"x": []})
    write_domain(tmp_path, "train", "B", {"y": []})
    save(tmp_path / "trainA" / "x.png", pixels)
    save(tmp_path / "trainA_seg" / "x_0.png", mask)
    torch.manual_seed(0)
    for mask_resize in ("bicubic", "nearest"):
        ds = _dataset(tmp_path, loadSizeH=30, loadSizeW=26, mask_resize=mask_resize)
        outputs = set()
        for _ in range(40):
            item = ds[0]
            if mask_resize == "bicubic":  # the same bicubic filter on the same values: exact
                assert torch.equal(item["A"][0], item["A_segs"][0])
            else:  # nearest masks are binary and agree with the image wherever it is saturated
                assert set(item["A_segs"][0].unique().tolist()) <= {-1.0, 1.0}
                sure = item["A"][0].abs() > 0.99
                assert torch.equal(item["A"][0][sure].sign(), item["A_segs"][0][sure])
            outputs.add(item["A"][0].numpy().tobytes())
        assert len(outputs) > 10  # crops and flips really varied


def test_grey_input_and_direction_pick_the_channels(seg_root):
    assert _dataset(seg_root, input_nc=1)[0]["A"].shape[0] == 1
    item = _dataset(seg_root, input_nc=1, direction="BtoA")[0]
    assert item["A"].shape[0] == 3 and item["B"].shape[0] == 1


def test_grey_is_the_references_luma_of_the_resized_and_scaled_picture(seg_root):
    """The InstaGAN reference turns an image grey after its transforms: 0.299 R + 0.587 G + 0.114 B of the
    [-1, 1] tensor, in float (not PIL's integer 'L' before the bicubic resize); the masks are unchanged."""
    flags = dict(resize_or_crop="resize", loadSizeH=12, loadSizeW=10, no_flip=True)
    rgb, grey = _dataset(seg_root, **flags)[1], _dataset(seg_root, input_nc=1, **flags)[1]
    r, g, b = rgb["A"]
    assert torch.equal(grey["A"], (r * 0.299 + g * 0.587 + b * 0.114)[None])
    assert torch.equal(grey["A_segs"], rgb["A_segs"])


def test_serial_and_random_pairing(seg_root):
    ds = _dataset(seg_root)
    assert len(ds) == 3
    pairs = [(os.path.basename(ds[i]["A_paths"]), os.path.basename(ds[i]["B_paths"])) for i in range(4)]
    assert pairs == [("a0.png", "b0.png"), ("a1.png", "b1.png"), ("a0.png", "b2.png"), ("a1.png", "b0.png")]

    ds = _dataset(seg_root, serial_batches=False)
    random.seed(0)
    first = [ds[0]["B_paths"] for _ in range(20)]
    random.seed(0)
    assert [ds[0]["B_paths"] for _ in range(20)] == first
    assert len(set(first)) == 3


def test_max_dataset_size_caps_each_domain(seg_root):
    ds = _dataset(seg_root, max_dataset_size=1.0)
    assert ds.A_paths == [str(seg_root / "trainA" / "a0.png")] and len(ds.B_paths) == 1 and len(ds) == 1


def test_flags_and_validation():
    opt = make_opt("unused")
    assert (opt.max_instances, opt.mask_resize) == (20, "bicubic")
    UnalignedSegDataset.validate_options(opt)
    assert opt.max_instances == 20
    opt.ins_max = 4
    UnalignedSegDataset.validate_options(opt)
    assert opt.max_instances == 20
    opt.ins_max = 25
    UnalignedSegDataset.validate_options(opt)
    assert opt.max_instances == 25
    with pytest.raises(OptionError, match="--max_instances must be >= 1, got 0"):
        UnalignedSegDataset.validate_options(make_opt("unused", max_instances=0))
    with pytest.raises(OptionError, match="--output_nc must be 1 or 3"):
        UnalignedSegDataset.validate_options(make_opt("unused", output_nc=4))


# --- data errors: one line, raised at construction when a header read can find them -----------------------

def _break(root, what):
    if what == "dataroot":
        return root / "missing", "--dataroot not found: .*missing"
    if what == "image folder":
        os.rename(root / "trainB", root / "elsewhere")
        return root, "image folder not found: .*trainB"
    if what == "mask folder":
        os.rename(root / "trainA_seg", root / "elsewhere")
        return root, "mask folder of domain A not found: .*trainA_seg"
    if what == "empty domain":
        for name in os.listdir(root / "trainB"):
            os.remove(root / "trainB" / name)
        return root, "no images .* in folder .*trainB"
    if what == "unreadable mask":
        (root / "trainA_seg" / "a0_1.png").write_bytes(b"garbage")
        return root, "mask .*a0_1.png is not a readable image"
    if what == "mask size":
        save(root / "trainB_seg" / "b2_0.png", rect_mask(10, 7, 1, 1, 4, 4))
        return root, r"mask .*b2_0.png is 7x10 but its image .*b2.png is 20x24 \(width x height\), which " \
                     r"--preprocess crop needs \(resize_and_crop or resize resizes both\)"
    if what == "one number twice":
        save(root / "trainA_seg" / "a0_01.png", rect_mask(24, 20, 1, 1, 4, 4))
        return root, r"a0_01.png and .*a0_1.png are both mask 1 of .*a0.png"
    raise AssertionError(what)


@pytest.mark.parametrize("what", ["dataroot", "image folder", "mask folder", "empty domain", "unreadable mask",
                                  "mask size", "one number twice"])
def test_data_errors_at_construction(seg_root, what):
    root, message = _break(seg_root, what)
    with pytest.raises(DataError, match=message) as err:
        _dataset(root, resize_or_crop="crop")
    assert "\n" not in str(err.value)


def test_a_mask_of_another_size_is_resized_to_the_load_size_as_the_reference(seg_root):
    """The reference resizes image and masks to the load size each on its own: a half-size mask is resized
    straight to it (bicubic), then cropped and flipped with its image."""
    half = rect_mask(12, 10, 1, 1, 5, 6)
    save(seg_root / "trainB_seg" / "b2_0.png", half)
    opt = dict(resize_or_crop="resize_and_crop", loadSizeH=16, loadSizeW=12, fineSizeH=16, fineSizeW=12, no_flip=True)
    segs = _dataset(seg_root, **opt).load_with_masks(str(seg_root / "trainB" / "b2.png"), 3)[1]
    expected = np.asarray(Image.fromarray(half).resize((12, 16), Image.Resampling.BICUBIC))
    assert torch.equal(segs[0], normalise(expected))
    assert (segs[1:] == -1).all()
    # over --max_instances, the largest are kept by their share of the picture: the half-size mask (1/6) and the
    # full-size 60 pixels (1/8) over the full-size 40 pixels, though the latter has more pixels than the former
    masks = [rect_mask(24, 20, 0, 0, 4, 10), rect_mask(12, 10, 0, 0, 4, 5), rect_mask(24, 20, 10, 0, 16, 10)]
    for k, mask in enumerate(masks):
        save(seg_root / "trainB_seg" / f"b2_{k}.png", mask)
    segs = _dataset(seg_root, max_instances=2, **opt).load_with_masks(str(seg_root / "trainB" / "b2.png"), 3)[1]
    for slot, kept in zip(segs, masks[1:]):
        resized = Image.fromarray(kept).resize((12, 16), Image.Resampling.BICUBIC)
        assert torch.equal(slot, normalise(np.asarray(resized)))


@pytest.mark.parametrize("name", [os.path.join("trainA_seg", "a0_1.png"), os.path.join("trainA", "a0.png")])
def test_truncated_file_fails_when_loaded_and_names_it(tmp_path, name):
    big = {"a0": [rect_mask(200, 200, 0, 0, 100, 100), rect_mask(200, 200, 0, 0, 50, 50)]}
    write_domain(tmp_path, "train", "A", big, size=(200, 200))
    write_domain(tmp_path, "train", "B", {"b": []})
    path = tmp_path / name
    if "seg" in name:  # noise compresses badly, so that half of the file lacks pixel rows
        save(path, np.random.default_rng(0).integers(0, 256, (200, 200), dtype=np.uint8))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    ds = _dataset(tmp_path)
    with pytest.raises(DataError, match="cannot read .*" + os.path.basename(name)):
        ds[0]


# --- parity with the reference's preprocessing (its saved test visuals) ----------------------------------------

FIXTURE = os.path.join(os.path.dirname(os.path.dirname(__file__)), "fixtures", "parity")


@pytest.mark.skipif(not os.path.isdir(FIXTURE), reason="reference parity fixture not available")
def test_preprocessing_matches_reference_parity_visuals():
    opt = make_opt(os.path.join(FIXTURE, "dataset"), phase="test", isTrain=False, no_flip=True,
                   loadSizeH=64, loadSizeW=48, fineSizeH=64, fineSizeW=48)
    ds = UnalignedSegDataset(opt)
    for i in range(len(ds)):
        item = ds[i]
        name = os.path.splitext(os.path.basename(item["A_paths"]))[0]
        for d in "AB":
            merged = ((item[d + "_segs"] + 1) / 2).sum(0).clamp(0, 1)  # the reference's union of instances
            ours = {"img": item[d].permute(1, 2, 0) * 0.5 + 0.5, "seg": merged}
            for visual, value in ours.items():
                mode = "RGB" if visual == "img" else "L"
                file = os.path.join(FIXTURE, "expected_images", f"{name}_real_{d}_{visual}.png")
                expected = np.asarray(Image.open(file).convert(mode), dtype=np.int64)
                pixels = (value.numpy() * 255).astype(np.uint8).astype(np.int64)
                assert np.abs(pixels - expected).max() <= 1, file


def test_mask_k_fills_slot_k_as_the_reference_reads_them(tmp_path):
    """--max_instances slots, mask k in slot k (gaps stay empty), so the model ranks them as the reference; an image
    with a mask numbered from --max_instances on (the reference would not read it) has its largest masks, in the
    order of k, in the first slots."""
    masks = [rect_mask(H, W, 0, 0, h, W) for h in (2, 8, 3, 6, 5)]
    write_domain(tmp_path, "train", "A", {"x": [masks[0], None, masks[1], None, None, masks[2]],
                                          "z": [masks[0], masks[1], masks[2], masks[3], masks[4]]})
    write_domain(tmp_path, "train", "B", {"y": masks[:1]})
    loaded = [_as_slot(m) for m in masks]
    x, z = (_exact(tmp_path, max_instances=6)[i]["A_segs"] for i in (0, 1))
    assert x.shape == z.shape == (6, H, W)
    assert [torch.equal(x[k], loaded[i]) for k, i in ((0, 0), (2, 1), (5, 2))] == [True] * 3
    assert not nonempty(x[None])[0, [1, 3, 4]].any()
    assert torch.equal(z[:5], torch.stack(loaded)) and not nonempty(z[None])[0, 5]
    x, z = (_exact(tmp_path, max_instances=3)[i]["A_segs"] for i in (0, 1))   # x_5 and z_3, z_4: not its layout
    assert torch.equal(x, torch.stack(loaded[:3]))
    assert torch.equal(z, torch.stack([loaded[1], loaded[3], loaded[4]]))  # the 3 largest of 5, in the order of k


@pytest.mark.parametrize("mode", ["scale_width", "scale_width_and_crop", "none"])
def test_masks_stay_in_step_with_their_image_in_every_preprocess_mode(tmp_path, mode):
    """The image is its own mask in grey: after any resize, crop and flip the two still agree pixel for pixel."""
    mask = rect_mask(30, 22, 5, 3, 21, 11)
    save(tmp_path / "trainA" / "x.png", np.repeat(mask[..., None], 3, axis=2))
    save(tmp_path / "trainA_seg" / "x_0.png", mask)
    write_domain(tmp_path, "train", "B", {"y": []})
    ds = _dataset(tmp_path, resize_or_crop=mode, mask_resize="bicubic")
    torch.manual_seed(1)
    items = [ds[0] for _ in range(8)]
    for item in items:
        torch.testing.assert_close(item["A_segs"][0], item["A"][0], rtol=0, atol=0)
    # (H, W): 16 wide, int(16 * 30 / 22) tall; a 16x12 crop; 30 and 22 rounded to 32 and 24 (round(5.5) = 6)
    expected = {"scale_width": (21, 16), "scale_width_and_crop": (16, 12), "none": (32, 24)}[mode]
    assert {tuple(item["A"].shape[1:]) for item in items} == {expected}
    assert len({item["A"].numpy().tobytes() for item in items}) > 1          # different crops and flips
