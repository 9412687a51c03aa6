"""generate_coco_dataset on a tiny COCO-format source written in tmp_path.

Source images are 32x32 and rectangles have even corners, so with --image_size 32 mask areas are exact
(pycocotools rasterises an axis-aligned integer rectangle to exactly w*h pixels) and with --image_size 16
nearest-neighbour halving keeps exactly a quarter of them.
"""
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
from PIL import Image

from datasets.generate_coco_dataset import main
from tests.datasets.conftest import train_one_iteration
from util.errors import DataError, OptionError

# pycocotools' decode trips a numpy 2 deprecation inside the library
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")

SHEEP, GIRAFFE, HORSE = 20, 25, 19
REPO = Path(__file__).resolve().parents[2]


def rect(x0: int, y0: int, x1: int, y1: int) -> list[list[int]]:
    return [[x0, y0, x1, y0, x1, y1, x0, y1]]


def write_split(root: Path, split: str, images: dict[int, str], anns: list[tuple]) -> None:
    """images: id -> PIL mode; anns: (image id, category id, polygon or None for a crowd RLE, area)."""
    (root / split).mkdir(parents=True)
    rng = np.random.default_rng(0)
    for image_id, mode in images.items():
        pixels = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
        Image.fromarray(pixels).convert(mode).save(root / split / f"{image_id:012d}.jpg")
    annotations = []
    for ann_id, (image_id, cat_id, polygon, area) in enumerate(anns, 1):
        crowd = polygon is None
        segmentation = {"counts": [100, area, 1024 - 100 - area], "size": [32, 32]} if crowd else polygon
        annotations.append({"id": ann_id, "image_id": image_id, "category_id": cat_id, "iscrowd": int(crowd),
                            "segmentation": segmentation, "area": float(area), "bbox": [0, 0, 1, 1]})
    (root / "annotations").mkdir(exist_ok=True)
    (root / "annotations" / f"instances_{split}.json").write_text(json.dumps({
        "images": [{"id": i, "file_name": f"{i:012d}.jpg", "height": 32, "width": 32} for i in images],
        "annotations": annotations,
        "categories": [{"id": SHEEP, "name": "sheep"}, {"id": GIRAFFE, "name": "giraffe"},
                       {"id": HORSE, "name": "horse"}]}))


@pytest.fixture
def coco(tmp_path: Path) -> Path:
    root = tmp_path / "coco"
    write_split(root, "train2017", {1: "RGB", 2: "L", 3: "RGB", 4: "RGB"}, [
        (1, SHEEP, rect(22, 20, 30, 30), 80),
        (1, SHEEP, rect(4, 4, 20, 14), 160),
        (1, SHEEP, None, 50),                  # crowd: not an instance
        (2, GIRAFFE, rect(0, 0, 10, 30), 300),  # image 2 is grayscale
        (3, SHEEP, rect(0, 0, 8, 8), 64),       # image 3 has both categories
        (3, GIRAFFE, rect(10, 10, 20, 30), 200),
        (4, SHEEP, None, 40),                  # image 4 has only a crowd region
    ])
    write_split(root, "val2017", {7: "RGB"}, [(7, SHEEP, rect(2, 2, 12, 6), 40)])
    return root


def args(data_root: Path, save_root: Path, *flags: str) -> list[str]:
    return ["--data_root", str(data_root), "--save_root", str(save_root), *flags]


def run(data_root: Path, save_root: Path, *flags: str) -> int:
    return main(args(data_root, save_root, *flags))


EXPECTED = {
    "trainA": ["000000000001.png", "000000000003.png"],
    "trainA_seg": ["000000000001_0.png", "000000000001_1.png", "000000000003_0.png"],
    "trainB": ["000000000002.png", "000000000003.png"],
    "trainB_seg": ["000000000002_0.png", "000000000003_0.png"],
    "valA": ["000000000007.png"],
    "valA_seg": ["000000000007_0.png"],
    "valB": [],
    "valB_seg": [],
}


def test_layout_counts_and_exact_areas(coco, tmp_path, layout, mask_area):
    out = tmp_path / "out"
    assert run(coco, out, "--image_size", "32") == 0
    assert layout(out) == EXPECTED
    areas = {f"{folder}/{name}": mask_area(out / folder / name)
             for folder in EXPECTED if folder.endswith("_seg") for name in EXPECTED[folder]}
    # largest instance first; the crowd regions (50 and 40 pixels) never appear
    assert areas == {"trainA_seg/000000000001_0.png": 160, "trainA_seg/000000000001_1.png": 80,
                     "trainA_seg/000000000003_0.png": 64, "trainB_seg/000000000002_0.png": 300,
                     "trainB_seg/000000000003_0.png": 200, "valA_seg/000000000007_0.png": 40}
    for name in EXPECTED["trainB"]:
        with Image.open(out / "trainB" / name) as img:
            assert (img.mode, img.size) == ("RGB", (32, 32))  # the grayscale source too


def test_resize_min_area_and_max_instances(coco, tmp_path, layout, mask_area):
    out = tmp_path / "out"
    assert run(coco, out, "--image_size", "16", "--max_instances", "1") == 0
    assert layout(out)["trainA_seg"] == ["000000000001_0.png", "000000000003_0.png"]
    assert mask_area(out / "trainA_seg" / "000000000001_0.png") == 160 // 4
    with Image.open(out / "trainA" / "000000000001.png") as img:
        assert img.size == (16, 16)

    out = tmp_path / "out_min_area"
    assert run(coco, out, "--min_area", "100") == 0
    tree = layout(out)
    assert tree["trainA"] == ["000000000001.png"] and tree["trainA_seg"] == ["000000000001_0.png"]
    assert tree["valA"] == []


def test_resume_writes_nothing_new_and_completes_missing_images(coco, tmp_path, layout):
    out = tmp_path / "out"
    run(coco, out)
    files = sorted(p for p in out.rglob("*.png"))
    mtimes = {p: p.stat().st_mtime_ns for p in files}
    assert run(coco, out) == 0
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*.png")} == mtimes

    (out / "trainB" / "000000000002.png").unlink()  # as if interrupted before the image was written
    run(coco, out)
    assert layout(out) == EXPECTED
    changed = [p for p in files if p.stat().st_mtime_ns != mtimes[p]]
    assert changed == [out / "trainB" / "000000000002.png", out / "trainB_seg" / "000000000002_0.png"]


def test_overwrite_starts_over_and_other_settings_are_refused(coco, tmp_path, layout):
    out = tmp_path / "out"
    run(coco, out)
    (out / "trainA" / "stale.png").write_bytes(b"")
    (out / "notes.txt").write_text("keep me")
    with pytest.raises(OptionError, match=r"image_size: 256 -> 64.*--overwrite"):
        run(coco, out, "--image_size", "64")
    assert run(coco, out, "--image_size", "64", "--overwrite") == 0
    assert layout(out) == EXPECTED
    assert (out / "notes.txt").read_text() == "keep me"
    with Image.open(out / "trainA" / "000000000001.png") as img:
        assert img.size == (64, 64)


def test_unknown_category_lists_close_names(coco, tmp_path):
    with pytest.raises(OptionError, match=r"unknown category 'shep' in .*instances_val2017\.json; close names: sheep"):
        run(coco, tmp_path / "out", "--cat1", "shep")
    assert not (tmp_path / "out").exists()


def test_missing_annotation_file_is_named(coco, tmp_path):
    (coco / "annotations" / "instances_train2017.json").unlink()
    with pytest.raises(DataError, match=r"instances_train2017\.json"):
        run(coco, tmp_path / "out")


@pytest.mark.parametrize("save_root, named", [("out", "instances_val2017.json"), ("notes.txt", "notes.txt")],
                         ids=["missing source", "save_root is a file"])
def test_script_reports_user_errors_in_one_line(tmp_path, save_root, named):
    (tmp_path / "notes.txt").write_text("keep me")
    result = subprocess.run([sys.executable, "datasets/generate_coco_dataset.py", "--data_root",
                             str(tmp_path / "nowhere"), "--save_root", str(tmp_path / save_root)],
                            cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert named in result.stderr
    assert (tmp_path / "notes.txt").read_text() == "keep me"


DROP = object()


def first_annotation(**changes: object) -> Callable[[dict], dict]:
    """An edit of an annotation file: its first annotation with keys set, or removed when set to DROP."""

    def edit(data: dict) -> dict:
        ann = {k: v for k, v in {**data["annotations"][0], **changes}.items() if v is not DROP}
        return {**data, "annotations": [ann, *data["annotations"][1:]]}

    return edit


VAL = r"\S+instances_val2017\.json"
MALFORMED = {  # id: (the new file's text, or an edit of its JSON; what the one line says)
    "a list": (lambda data: [data], rf"{VAL} holds an array, not a COCO annotation object"),
    "not JSON": ('{"images": [', rf"cannot read COCO annotations {VAL} as JSON: Expecting value"),
    "not UTF-8": ("\udc80{}", rf"cannot read COCO annotations {VAL} as JSON: 'utf-8' codec can't decode"),
    "no annotations": (lambda data: {k: v for k, v in data.items() if k != "annotations"},
                       rf"{VAL} has no 'annotations' array"),
    "images an object": (lambda data: {**data, "images": {}}, rf"{VAL}: 'images' is an object, not an array"),
    "annotation a number": (lambda data: {**data, "annotations": [7]}, rf"{VAL}: annotations\[0\] is a number"),
    **{f"no {key}": (first_annotation(**{key: DROP}), rf"{VAL}: annotations\[0\] \(id 1\) has no '{key}'")
       for key in ("area", "segmentation", "image_id", "category_id", "iscrowd")},
    "area a string": (first_annotation(area="40"),
                      rf"{VAL}: annotations\[0\] \(id 1\): 'area' is a string, not a number"),
    "unknown image": (first_annotation(image_id=99),
                      rf"{VAL}: annotations\[0\] has image_id 99, which is not in 'images'"),
    "category without name": (lambda data: {**data, "categories": [{"id": SHEEP}]},
                              rf"{VAL}: categories\[0\] \(id {SHEEP}\) has no 'name'"),
}


@pytest.mark.parametrize("edit, message", MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_annotation_file_is_one_line_naming_it(coco, tmp_path, damaged_rerun, edit, message):
    path = coco / "annotations" / "instances_val2017.json"

    def damage() -> None:
        if isinstance(edit, str):
            path.write_bytes(edit.encode("utf-8", "surrogateescape"))
        else:
            path.write_text(json.dumps(edit(json.loads(path.read_text()))))

    assert re.search(message, damaged_rerun(main, args(coco, tmp_path / "out"), tmp_path / "out", damage))


def test_segmentation_pycocotools_cannot_draw_is_named(coco, tmp_path, damaged_rerun):
    """pycocotools decides which segmentations it can draw, so this is found when the instance is drawn, after
    other images were written: those stay as they were."""
    path = coco / "annotations" / "instances_train2017.json"
    data = json.loads(path.read_text())
    data["annotations"][3]["segmentation"] = []                # image 2's giraffe
    message = damaged_rerun(main, args(coco, tmp_path / "out"), tmp_path / "out",
                            lambda: path.write_text(json.dumps(data)), again="trainB/000000000002.png")
    assert re.search(r"\S+instances_train2017\.json: pycocotools cannot draw the segmentation of annotation id 4 "
                     r"\(IndexError", message)


def test_train_py_runs_on_the_result(coco, tmp_path):
    out = tmp_path / "out"
    assert run(coco, out, "--image_size", "32") == 0
    train_one_iteration(out, tmp_path, 32, 32)


@pytest.mark.parametrize("value", ["nan", "-1", "inf"])
def test_min_area_must_be_a_number_at_least_zero(coco, tmp_path, value):
    with pytest.raises(OptionError, match=rf"^--min_area must be a number >= 0, got {value}"):
        run(coco, tmp_path / "out", "--min_area", value)
    assert not (tmp_path / "out").exists()
