"""generate_ccp_dataset on a tiny Clothing-Co-Parsing-format source written with scipy.io.savemat in tmp_path.

Photos are 20x30 (w x h); without size flags they keep their size, so mask areas are exact.
"""
import re
from pathlib import Path

import numpy as np
import pytest
import scipy.io
from PIL import Image

from datasets.generate_ccp_dataset import main, matlab_strings
from tests.datasets.conftest import train_one_iteration
from util.errors import DataError, OptionError

JEANS, SKIRT, SHIRT = 1, 2, 4


def cell_array(strings: list[str]) -> np.ndarray:
    """A 1xN object array of strings: savemat stores it as a MATLAB cell array, as in the real label_list.mat."""
    cells = np.empty((1, len(strings)), dtype=object)
    cells[0, :] = strings
    return cells


@pytest.fixture
def ccp(tmp_path: Path) -> Path:
    root = tmp_path / "ccp"
    for folder in ("photos", "annotations/pixel-level", "annotations/image-level"):
        (root / folder).mkdir(parents=True)
    scipy.io.savemat(root / "label_list.mat", {"label_list": cell_array(["null", "jeans", "skirt", "", "shirt"])})
    rng = np.random.default_rng(0)
    for stem in ("0001", "0002", "0003", "0004", "0005", "0006"):
        Image.fromarray(rng.integers(0, 256, (30, 20, 3), dtype=np.uint8)).save(root / "photos" / f"{stem}.jpg")
    groundtruth = {"0001": [(JEANS, 4, 30, 2, 18)],                  # 26 x 16 = 416 px
                   "0002": [(SKIRT, 10, 20, 0, 20), (SHIRT, 0, 10, 0, 20)],  # 10 x 20 = 200 px
                   "0003": [(SHIRT, 0, 30, 0, 20)]}                  # neither category: skipped
    for stem, regions in groundtruth.items():
        ids = np.zeros((30, 20), np.uint8)
        for class_id, r0, r1, c0, c1 in regions:
            ids[r0:r1, c0:c1] = class_id
        scipy.io.savemat(root / "annotations" / "pixel-level" / f"{stem}.mat", {"groundtruth": ids})
    for stem, tags in {"0004": [JEANS, SHIRT], "0005": [SKIRT], "0006": [SHIRT]}.items():
        scipy.io.savemat(root / "annotations" / "image-level" / f"{stem}.mat", {"tags": np.array([tags], float)})
    return root


def args(data_root: Path, save_root: Path, *flags: str) -> list[str]:
    return ["--data_root", str(data_root), "--save_root", str(save_root), *flags]


def run(data_root: Path, save_root: Path, *flags: str) -> int:
    return main(args(data_root, save_root, *flags))


def test_matlab_cell_array_of_strings(tmp_path):
    path = tmp_path / "labels.mat"
    scipy.io.savemat(path, {"label_list": cell_array(["null", "jeans", "", "t-shirt"])})
    loaded = scipy.io.loadmat(path)["label_list"]
    assert loaded.dtype == object and isinstance(loaded[0, 1], np.ndarray)  # nested, as from MATLAB
    assert matlab_strings(loaded) == ["null", "jeans", "", "t-shirt"]


def test_layout_counts_and_exact_areas(ccp, tmp_path, layout, mask_area):
    out = tmp_path / "out"
    assert run(ccp, out) == 0
    assert layout(out) == {
        "trainA": ["0001.png"], "trainA_seg": ["0001_0.png"],
        "trainB": ["0002.png"], "trainB_seg": ["0002_0.png"],
        "valA": ["0004.png"], "valB": ["0005.png"],   # no _seg folders: CCP has no masks for them
    }
    assert mask_area(out / "trainA_seg" / "0001_0.png") == 416
    assert mask_area(out / "trainB_seg" / "0002_0.png") == 200
    with Image.open(out / "valA" / "0004.png") as img:
        assert (img.mode, img.size) == ("RGB", (20, 30))


def test_size_flags_resize_images_and_masks(ccp, tmp_path, mask_area):
    out = tmp_path / "out"
    run(ccp, out, "--size_h", "15", "--size_w", "10")
    with Image.open(out / "trainB" / "0002.png") as img:
        assert img.size == (10, 15)
    assert mask_area(out / "trainB_seg" / "0002_0.png") == 200 // 4  # even bounds: halving keeps exactly 1/4
    with pytest.raises(OptionError, match="--size_h and --size_w"):
        run(ccp, out, "--size_h", "15")


def test_unknown_category_and_missing_label_list(ccp, tmp_path):
    with pytest.raises(OptionError, match=r"unknown category 'jean' in .*label_list\.mat; close names: jeans"):
        run(ccp, tmp_path / "out", "--cat1", "jean")
    (ccp / "label_list.mat").unlink()
    with pytest.raises(DataError, match=r"label_list\.mat"):
        run(ccp, tmp_path / "out")


def test_help_carries_the_ethics_note(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "ethical" in capsys.readouterr().out


def test_train_py_runs_on_the_result(ccp, tmp_path):
    out = tmp_path / "out"
    assert run(ccp, out) == 0
    train_one_iteration(out, tmp_path, 36, 24, crop=(32, 24))


def saved(**variables: object):
    """A damage that replaces a .mat file by one holding `variables`."""
    return lambda path: scipy.io.savemat(path, variables)


PIXEL = "annotations/pixel-level/0001.mat"
MALFORMED = {  # id: (file to damage, how, output image to write again so that the file is read, message)
    "empty .mat": (PIXEL, lambda p: p.write_bytes(b""), "trainA/0001.png",
                   r"cannot read \S+0001\.mat: Mat file appears to be truncated"),
    "not a .mat": (PIXEL, lambda p: p.write_bytes(b"groundtruth" * 20), "trainA/0001.png", r"cannot read \S+0001\.mat"),
    "no groundtruth": (PIXEL, saved(labels=np.zeros((30, 20))), "trainA/0001.png",
                       r"\S+0001\.mat has no variable 'groundtruth'"),
    "groundtruth in colour": (PIXEL, saved(groundtruth=np.zeros((30, 20, 3))), "trainA/0001.png",
                              r"\S+0001\.mat: 'groundtruth' is a 30x20x3 float64 array, not a 2-D numeric array"),
    "groundtruth a cell array": (PIXEL, saved(groundtruth=cell_array(["jeans"])), "trainA/0001.png",
                                 r"\S+0001\.mat: 'groundtruth' is a 1x1 object array, not a 2-D numeric array"),
    "tags as text": ("annotations/image-level/0004.mat", saved(tags="jeans"), None,
                     r"\S+0004\.mat: 'tags' is a 1 <U5 array, not a numeric array of class ids"),
    "no label_list": ("label_list.mat", saved(labels=cell_array(["jeans"])), None,
                      r"\S+label_list\.mat has no variable 'label_list'"),
    "label_list of numbers": ("label_list.mat", saved(label_list=np.arange(5.0)), None,
                              r"\S+label_list\.mat: 'label_list' is not a cell array of class names"),
}


@pytest.mark.parametrize("damaged, damage, again, message", MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_source_file_is_one_line_naming_it(ccp, tmp_path, damaged_rerun, damaged, damage, again, message):
    out = tmp_path / "out"
    assert re.search(message, damaged_rerun(main, args(ccp, out), out, lambda: damage(ccp / damaged), again))
