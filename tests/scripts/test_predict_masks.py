"""predict_masks: components -> instance masks, and photos -> a data set that test.py --model insta_gan reads;
a failing run leaves earlier predictions as they were."""
import errno
import os
import re
import shutil

import numpy as np
import pytest
import torch
import torch.nn as nn
from PIL import Image
from torchvision.models.detection import maskrcnn_resnet50_fpn_v2

import test as test_script
from models import create_model, run_state
from options.test_options import TestOptions
from scripts import predict_masks
from scripts.predict_masks import main, predicted_masks
from util.components import split_instances
from tests.conftest import TINY
from tests.datasets.conftest import files
from util.cli import run_cli
from util.errors import OptionError
from util.maskrcnn import CATEGORIES, WEIGHTS, WEIGHTS_FILE, MaskRCNNMasks, select_instances
from tests.test_parity import FLAGS as PARITY_FLAGS

NET = ["--model", "pix2pix", "--netG", "unet_128", "--ngf", "4", "--gpu_ids", "-1", "--num_threads", "0",
       "--fineSizeH", "128", "--fineSizeW", "128", "--loadSizeH", "128", "--loadSizeW", "128"]
# the parity fixture's InstaGAN generators (tests/test_parity.py), without its --dataroot
PARITY = [f for i, f in enumerate(PARITY_FLAGS) if "--dataroot" not in PARITY_FLAGS[max(i - 1, 0):i + 1]]
PHOTOS = {"a": (30, 20), "b": (25, 40), os.path.join("sub", "c"): (16, 16)}   # name: (width, height)


def test_components_become_instances_largest_first_and_specks_are_dropped():
    mask = np.zeros((8, 10), bool)
    mask[0:3, 0:4] = True                       # 12 pixels
    mask[5, 5] = mask[6, 6] = mask[7, 7] = True  # a diagonal line: one 8-connected instance of 3 pixels
    mask[4:7, 1:3] = True                       # 6 pixels
    mask[0, 9] = True                           # a speck
    instances = split_instances(mask, min_area=2)
    assert instances.shape == (3, 8, 10) and instances.dtype == bool
    assert [int(m.sum()) for m in instances] == [12, 6, 3]
    assert instances[0, 0:3, 0:4].all() and instances[1, 4:7, 1:3].all() and instances[2, 5, 5]
    assert np.array_equal(instances.any(0), mask & ~np.eye(8, 10, k=9, dtype=bool))
    assert split_instances(mask, min_area=13).shape == (0, 8, 10)


def test_prediction_is_scaled_to_the_photo_then_thresholded():
    prediction = -torch.ones(3, 8, 8)
    prediction[:, :, :4] = 1                    # left half white
    prediction[:, 6:, 6:] = 1                   # and a small square at the bottom right
    masks = predicted_masks(prediction, (16, 4), threshold=0.5, min_area=1)
    assert masks.shape == (2, 4, 16)
    assert masks[0, :, :8].all() and not masks[0, :, 8:].any()
    assert masks[1, 3, 13:].all() and not masks[1, :2].any()


@pytest.fixture
def photos(tmp_path):
    root = tmp_path / "photos"
    rng = np.random.default_rng(0)
    for name, (w, h) in PHOTOS.items():
        os.makedirs(root / os.path.dirname(name), exist_ok=True)
        Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(root / f"{name}.png")
    return str(root)


@pytest.fixture
def checkpoints(photos, tmp_path):
    """A pix2pix generator whose output is constant: white (`latest`) or black (`dark`)."""
    ck = str(tmp_path / "ck")
    opt = TestOptions().parse(["--dataroot", photos, "--dataset_mode", "single", "--checkpoints_dir", ck,
                               "--name", "masker", *NET])
    model = create_model(opt)
    last = [m for m in model.netG.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))][-1]
    for epoch, bias in (("latest", 5.0), ("dark", -5.0)):
        nn.init.zeros_(last.weight)
        nn.init.constant_(last.bias, bias)
        run_state.save_networks(model, epoch)
    return ck


def predict(photos, ck, save_root, *flags):
    return run_cli(main, ["--images", photos, "--save_root", str(save_root), "--checkpoints_dir", ck,
                          "--name", "masker", "--min_area", "1", *NET, *flags])


def test_the_mask_network_sees_whole_photos_at_its_crop_size_whatever_the_load_size(photos):
    """The pix2pix flags of its training (load 144, crop 128) may be given as they are: photos are resized whole
    to the crop size, the size it was trained on."""
    flags = [*NET[:-4], "--load_size", "144", "--crop_size", "128"]
    _, opt = predict_masks.parse_args(["--images", photos, "--save_root", "out", "--name", "masker", *flags])
    assert (opt.resize_or_crop, opt.loadSizeH, opt.loadSizeW) == ("resize", 128, 128)


def test_predicted_data_set_runs_through_insta_gan(photos, checkpoints, tmp_path):
    data = tmp_path / "data"
    assert predict(photos, checkpoints, data, "--domain", "A") == 0
    assert predict(photos, checkpoints, data, "--domain", "B") == 0
    for name, (w, h) in PHOTOS.items():
        with Image.open(data / "testA" / f"{name}.png") as img, Image.open(f"{photos}/{name}.png") as photo:
            assert np.array_equal(np.asarray(img), np.asarray(photo))
        with Image.open(data / "testB_seg" / f"{name}_0.png") as mask:
            assert mask.mode == "L" and mask.size == (w, h) and np.asarray(mask).min() == 255
    assert sorted(os.listdir(data / "testA_seg")) == ["a_0.png", "b_0.png", "sub"]

    ig = TestOptions().parse(["--dataroot", str(data), "--checkpoints_dir", checkpoints, "--name", "ig", *TINY])
    run_state.save_networks(create_model(ig), "latest")
    results = tmp_path / "results"
    assert run_cli(test_script.main, ["--dataroot", str(data), "--checkpoints_dir", checkpoints, "--name", "ig",
                                      "--results_dir", str(results), *TINY]) == 0
    images = os.listdir(results / "ig" / "test_latest" / "images")
    assert {"a_fake_B_img.png", "b_real_A_seg.png", "c_fake_A_seg.png"} <= set(images)


def test_photos_without_instances_are_written_and_counted(photos, checkpoints, tmp_path, log_records):
    data = tmp_path / "data"
    assert predict(photos, checkpoints, data, "--epoch", "dark") == 0
    assert sorted(os.listdir(data / "testA")) == ["a.png", "b.png", "sub"]
    assert os.listdir(data / "testA_seg") == []
    assert any("3 without any predicted instance" in r.getMessage() for r in log_records)

    with pytest.raises(OptionError, match="already hold files; pass --overwrite"):
        main(["--images", photos, "--save_root", str(data), "--checkpoints_dir", checkpoints, "--name", "masker",
              *NET])
    (data / "testA_seg" / "stale_0.png").write_bytes(b"")
    assert predict(photos, checkpoints, data, "--overwrite") == 0
    assert sorted(os.listdir(data / "testA_seg")) == ["a_0.png", "b_0.png", "sub"]
    assert sorted(os.listdir(data)) == ["testA", "testA_seg"]     # the folders written aside took their place


@pytest.mark.parametrize("error, exit_code", [
    (RuntimeError("a bug"), None),
    (KeyboardInterrupt(), 130),
    (OSError(errno.ENOSPC, "No space left on device", "disk"), 2),
], ids=["exception", "interrupted", "disk full"])
def test_failing_overwrite_leaves_the_earlier_predictions(photos, checkpoints, tmp_path, monkeypatch, error,
                                                          exit_code):
    data = tmp_path / "data"
    assert predict(photos, checkpoints, data) == 0
    before = files(data)
    calls = []

    def fail_at_the_second_photo(*args, **kwargs):
        calls.append(args)
        if len(calls) == 2:
            raise error
        return predicted_masks(*args, **kwargs)

    monkeypatch.setattr(predict_masks, "predicted_masks", fail_at_the_second_photo)
    if exit_code is None:
        with pytest.raises(RuntimeError, match="a bug"):
            predict(photos, checkpoints, data, "--overwrite", "--epoch", "dark")
    else:
        assert predict(photos, checkpoints, data, "--overwrite", "--epoch", "dark") == exit_code
    assert len(calls) == 2                                         # the first photo was written, aside
    assert files(data) == before
    assert sorted(os.listdir(data)) == ["testA", "testA_seg"]     # no partial folder left


def test_save_root_that_is_a_file_is_one_line(photos, checkpoints, tmp_path, log_records):
    notes = tmp_path / "notes.txt"
    notes.write_text("keep me")
    assert predict(photos, checkpoints, notes, "--overwrite") == 2
    errors = [r.getMessage() for r in log_records if r.levelname == "ERROR"]
    assert len(errors) == 1 and re.search(r"output folder \S+testA lies under \S+notes\.txt, which exists and is "
                                          "not a folder", errors[0]), errors
    assert notes.read_text() == "keep me"


def test_output_overlapping_the_photos_is_refused(photos, checkpoints, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(photos, data / "testA")
    for images in (data / "testA", data):      # the output folder itself, or a folder holding it
        with pytest.raises(OptionError, match="overlaps the output folder"):
            main(["--images", str(images), "--save_root", str(data), "--overwrite", *NET])
    assert sorted(os.listdir(data / "testA")) == ["a.png", "b.png", "sub"]


@pytest.mark.parametrize("flags, message", [
    (["--images", "missing"], "--images folder not found: .*missing"),
    (["--name", "untrained"], "checkpoint not found: .*untrained.latest_net_G.pth"),
    (["--threshold", "1"], "--threshold must be between 0 and 1"),
    (["--netG", "set"], "needs a U-Net or ResNet --netG, got set"),
])
def test_user_mistakes_are_one_line_errors(photos, checkpoints, tmp_path, log_records, flags, message):
    assert predict(photos, checkpoints, tmp_path / "data", *flags) == 2
    errors = [r.getMessage() for r in log_records if r.levelname == "ERROR"]
    assert len(errors) == 1 and re.search(message, errors[0]), errors
    assert not (tmp_path / "data").exists()


# --predictor maskrcnn ------------------------------------------------------------------------------------------

SHEEP, GIRAFFE = CATEGORIES.index("sheep"), CATEGORIES.index("giraffe")
# small pictures and few proposals: the real network runs in a fraction of a second per photo on one CPU core
FAST = ["--detect_size", "64", "--proposals", "20", "--min_area", "20", "--gpu_ids", "-1"]
_SHEEP_WEIGHTS: dict[str, str] = {}


def sheep_weights(tmp_path_factory) -> str:
    """The real Mask R-CNN architecture with random weights, except that its heads call every region proposal a
    sheep (score ~1) whose mask fills its box: arbitrary but deterministic boxes, all of the sheep category.
    Saved once per session, in float16 (93 MB instead of 186)."""
    if "path" not in _SHEEP_WEIGHTS:
        torch.manual_seed(0)
        model = maskrcnn_resnet50_fpn_v2(weights=None, weights_backbone=None, num_classes=len(CATEGORIES))
        heads = model.roi_heads
        with torch.no_grad():
            for layer in (heads.box_predictor.cls_score, heads.mask_predictor.mask_fcn_logits):
                layer.weight.zero_()
                layer.bias.fill_(-10.0)
                layer.bias[SHEEP] = 10.0
            heads.box_predictor.bbox_pred.weight.zero_()
            heads.box_predictor.bbox_pred.bias.zero_()
        path = str(tmp_path_factory.mktemp("maskrcnn") / WEIGHTS_FILE)
        torch.save({k: v.half() if v.is_floating_point() else v for k, v in model.state_dict().items()}, path)
        _SHEEP_WEIGHTS["path"] = path
    return _SHEEP_WEIGHTS["path"]


@pytest.fixture
def weights(tmp_path_factory):
    return sheep_weights(tmp_path_factory)


def detections(labels, scores, boxes, size=(6, 8)):
    """torchvision's output for one image: soft masks of 0.9 inside each (top, left, bottom, right) box, 0.3 in
    a one-pixel ring around it, 0 elsewhere."""
    masks = torch.zeros(len(boxes), 1, *size)
    for i, (t, l, b, r) in enumerate(boxes):
        masks[i, 0, max(t - 1, 0):b + 1, max(l - 1, 0):r + 1] = 0.3
        masks[i, 0, t:b, l:r] = 0.9
    return {"labels": torch.tensor(labels), "scores": torch.tensor(scores), "masks": masks,
            "boxes": torch.zeros(len(boxes), 4)}


def areas(masks):
    return [int(m.sum()) for m in masks]


def test_detections_become_instances_of_the_category_largest_first():
    out = detections([SHEEP, GIRAFFE, SHEEP, SHEEP, SHEEP, SHEEP], [0.9, 0.99, 0.6, 0.4, 0.95, 0.7],
                     [(2, 2, 4, 4), (0, 0, 6, 8), (0, 0, 3, 5), (0, 0, 6, 8), (1, 1, 5, 2), (3, 3, 5, 5)])
    masks = select_instances(out, [SHEEP], score_thresh=0.5, mask_thresh=0.5, min_area=1, max_instances=10)
    # the giraffe and the sheep scoring 0.4 are dropped; areas 15, then 4 (score 0.95), 4 (0.9), 4 (0.7) by score
    assert masks.dtype == bool and masks.shape == (4, 6, 8) and areas(masks) == [15, 4, 4, 4]
    assert masks[0, 0:3, 0:5].all() and masks[1, 1:5, 1].all() and masks[2, 2:4, 2:4].all()
    assert masks[3, 3:5, 3:5].all()
    # the soft ring counts only under a lower mask threshold
    assert areas(select_instances(out, [SHEEP], 0.5, 0.2, 1, 10)) == [24, 18, 16, 16]
    # min_area, max_instances, several categories, a stricter score
    assert areas(select_instances(out, [SHEEP], 0.5, 0.5, 5, 10)) == [15]
    assert areas(select_instances(out, [SHEEP], 0.5, 0.5, 1, 2)) == [15, 4]
    assert areas(select_instances(out, [SHEEP, GIRAFFE], 0.5, 0.5, 1, 2)) == [48, 15]
    assert areas(select_instances(out, [SHEEP], 0.92, 0.5, 1, 10)) == [4]
    assert areas(select_instances(out, [SHEEP], 0.9, 0.5, 1, 10)) == [4]     # above it, as torchvision's filter
    assert select_instances(out, [CATEGORIES.index("cow")], 0.5, 0.5, 1, 10).shape == (0, 6, 8)
    assert select_instances(detections([], [], []), [SHEEP], 0.5, 0.5, 1, 10).shape == (0, 6, 8)


def maskrcnn(photos, save_root, weights, *flags):
    return run_cli(main, ["--predictor", "maskrcnn", "--images", photos, "--save_root", str(save_root),
                          *(["--weights", weights] if weights else []), *FAST, *flags])


def test_maskrcnn_writes_the_layout_that_test_py_reads(photos, weights, tmp_path, log_records):
    data = tmp_path / "data"
    assert maskrcnn(photos, data, weights, "--category", "sheep", "--max_instances", "4", "--batch_size", "2") == 0
    segmenter = MaskRCNNMasks(weights, "sheep", "cpu", 0.5, 0.5, 20, 4, 64, 20)
    for name, (w, h) in PHOTOS.items():
        with Image.open(data / "testA" / f"{name}.png") as img, Image.open(f"{photos}/{name}.png") as photo:
            assert np.array_equal(np.asarray(img), np.asarray(photo))
        found = sorted(p for p in os.listdir(data / "testA_seg" / os.path.dirname(name))
                       if p.startswith(os.path.basename(name) + "_"))
        masks = [np.asarray(Image.open(data / "testA_seg" / os.path.dirname(name) / p)) for p in found]
        assert found == [f"{os.path.basename(name)}_{k}.png" for k in range(len(found))] and 1 <= len(found) <= 4
        assert all(m.shape == (h, w) and set(np.unique(m)) <= {0, 255} for m in masks)
        assert areas(m > 0 for m in masks) == sorted(areas(m > 0 for m in masks), reverse=True)
        assert min(areas(m > 0 for m in masks)) >= 20
        # what was written is what the detector finds in the photo alone
        alone = segmenter([np.asarray(Image.open(f"{photos}/{name}.png"))])[0]
        assert np.array_equal(np.stack(masks) > 0, alone)
    # the giraffe category is never detected: every photo is kept, without masks, and counted
    assert maskrcnn(photos, tmp_path / "none", weights, "--category", "giraffe", "--domain", "B") == 0
    assert sorted(os.listdir(tmp_path / "none" / "testB")) == ["a.png", "b.png", "sub"]
    assert os.listdir(tmp_path / "none" / "testB_seg") == []
    assert any("3 without any predicted instance" in r.getMessage() for r in log_records)
    shutil.copytree(tmp_path / "none" / "testB", data / "testB")
    shutil.copytree(tmp_path / "none" / "testB_seg", data / "testB_seg")
    results = tmp_path / "results"
    assert run_cli(test_script.main, ["--dataroot", str(data), "--results_dir", str(results), *PARITY]) == 0
    assert {"a_fake_B_img.png", "c_real_A_seg.png"} <= set(os.listdir(results / "tinyparity" / "test_latest" /
                                                                      "images"))


def test_maskrcnn_weights_from_torchvision_cache_or_a_clear_message(photos, weights, tmp_path, monkeypatch,
                                                                   log_records):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    expected = tmp_path / "torch" / "hub" / "checkpoints" / WEIGHTS_FILE
    assert maskrcnn(photos, tmp_path / "data", None, "--category", "sheep") == 2
    errors = [r.getMessage() for r in log_records if r.levelname == "ERROR"]
    assert errors == [f"Mask R-CNN weights not found: pass --weights PATH, or put {WEIGHTS_FILE} "
                      f"({WEIGHTS.url}) at {expected}"]
    assert not (tmp_path / "data").exists()
    expected.parent.mkdir(parents=True)
    expected.symlink_to(weights)
    assert maskrcnn(photos, tmp_path / "data", None, "--category", "sheep") == 0
    assert len(os.listdir(tmp_path / "data" / "testA_seg")) > 1


@pytest.mark.parametrize("flags, message", [
    (["--category", "shep"], r"^--category 'shep': shep is not one of the 80 COCO categories of the Mask R-CNN "
                             r"weights \(person, bicycle, "),
    ([], "^--predictor maskrcnn needs --category"),
    (["--category", "sheep", "--threshold", "0.5"], "^--threshold is a flag of --predictor pix2pix"),
    (["--category", "sheep", "--score_thresh", "2"], r"^--score_thresh must be in \[0, 1\], got 2.0$"),
    (["--category", "sheep", "--mask_thresh", "nan"], "^--mask_thresh must be between 0 and 1, got nan$"),
    (["--category", "sheep", "--netG", "unet_256"], "^--netG is not a flag of --predictor maskrcnn"),
    (["--category", "sheep", "--weights", "missing.pth"], "^Mask R-CNN weights not found: missing.pth "
     r"\(torchvision's maskrcnn_resnet50_fpn_v2_coco-73cbd019.pth: https://"),
    (["--category", "sheep", "--weights", "PIX2PIX"], r"^\S+latest_net_G.pth is not a maskrcnn_resnet50_fpn_v2 "
                                                      "state dict with the 91 COCO classes"),
])
def test_maskrcnn_mistakes_are_one_line_errors(photos, checkpoints, tmp_path, log_records, flags, message):
    flags = [os.path.join(checkpoints, "masker", "latest_net_G.pth") if f == "PIX2PIX" else f for f in flags]
    assert maskrcnn(photos, tmp_path / "data", None, *flags) == 2
    errors = [r.getMessage() for r in log_records if r.levelname == "ERROR"]
    assert len(errors) == 1 and re.search(message, errors[0]), errors
    assert not (tmp_path / "data").exists()


def test_maskrcnn_flags_are_refused_with_pix2pix(photos, checkpoints, tmp_path):
    with pytest.raises(OptionError, match="^--category is a flag of --predictor maskrcnn$"):
        main(["--images", photos, "--save_root", str(tmp_path / "data"), "--category", "sheep", *NET])
