"""generate_mhp_dataset on a tiny LV-MHP-v1-format source written in tmp_path.

Portrait photos are 20x30 and the output size is 30x20 (h x w), so their geometry is unchanged and mask
areas are exact; the landscape photo (30x20) is scaled to 45x30 and centre-cropped to 20 columns.
"""
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from datasets.generate_mhp_dataset import main
from tests.datasets.conftest import train_one_iteration
from util.errors import OptionError

HAIR, SKIRT, PANTS = 2, 5, 6
PORTRAIT, LANDSCAPE = (30, 20), (20, 30)  # (h, w)


def parsing_map(shape: tuple[int, int], regions: list[tuple[int, tuple[slice, slice]]]) -> np.ndarray:
    ids = np.zeros(shape, np.uint8)
    for class_id, (rows, cols) in regions:
        ids[rows, cols] = class_id
    return ids


@pytest.fixture
def mhp(tmp_path: Path) -> Path:
    root = tmp_path / "mhp"
    (root / "images").mkdir(parents=True)
    (root / "annotations").mkdir()
    people = {  # image id -> (shape, one region list per person)
        "1": (PORTRAIT, [[(PANTS, (slice(15, 30), slice(0, 8)))],                     # 120 px
                         [(PANTS, (slice(20, 30), slice(10, 20))), (SKIRT, (slice(10, 20), slice(10, 20)))]]),
        "2": (PORTRAIT, [[(SKIRT, (slice(0, 5), slice(0, 4)))]]),                     # 20 px
        "3": (LANDSCAPE, [[(PANTS, (slice(0, 20), slice(10, 20)))]]),
        "4": (PORTRAIT, [[(HAIR, (slice(0, 10), slice(0, 20)))]]),                    # neither category
        "5": (PORTRAIT, [[(SKIRT, (slice(0, 30), slice(0, 20)))], [(HAIR, (slice(0, 2), slice(0, 2)))]]),
    }
    rng = np.random.default_rng(0)
    for image_id, (shape, persons) in people.items():
        Image.fromarray(rng.integers(0, 256, (*shape, 3), dtype=np.uint8)).save(root / "images" / f"{image_id}.jpg")
        for n, regions in enumerate(persons, 1):
            ids = parsing_map(shape, regions)
            colour = n % 2 == 1  # the real maps are colour PNGs with the id in every channel; test grey ones too
            Image.fromarray(np.stack([ids] * 3, -1) if colour else ids).save(
                root / "annotations" / f"{image_id}_{len(persons):02d}_{n:02d}.png")
    (root / "train_list.txt").write_text("1.jpg\n2.jpg\n3.jpg\n4.jpg\n")
    (root / "test_list.txt").write_text("5.jpg\n\n")
    return root


def args(data_root: Path, save_root: Path, *flags: str) -> list[str]:
    return ["--data_root", str(data_root), "--save_root", str(save_root), "--size_h", "30", "--size_w", "20", *flags]


def run(data_root: Path, save_root: Path, *flags: str) -> int:
    return main(args(data_root, save_root, *flags))


def test_layout_counts_and_exact_areas(mhp, tmp_path, layout, mask_area):
    out = tmp_path / "out"
    assert run(mhp, out) == 0
    assert layout(out) == {
        "testA": [], "testA_seg": [],
        "testB": ["5.png"], "testB_seg": ["5_0.png"],
        "trainA": ["1.png"], "trainA_seg": ["1_0.png", "1_1.png"],   # 3.jpg is landscape, 4.jpg has no pants
        "trainB": ["1.png", "2.png"], "trainB_seg": ["1_0.png", "2_0.png"],
    }
    assert [mask_area(out / "trainA_seg" / f"1_{k}.png") for k in (0, 1)] == [120, 100]
    assert mask_area(out / "trainB_seg" / "1_0.png") == 100
    assert mask_area(out / "trainB_seg" / "2_0.png") == 20
    assert mask_area(out / "testB_seg" / "5_0.png") == 600
    with Image.open(out / "trainA" / "1.png") as img:
        assert (img.mode, img.size) == ("RGB", (20, 30))


def test_landscape_kept_with_no_skip_horizontal(mhp, tmp_path, layout, mask_area):
    out = tmp_path / "out"
    run(mhp, out, "--no_skip_horizontal")
    tree = layout(out)
    assert tree["trainA"] == ["1.png", "3.png"] and tree["trainA_seg"] == ["1_0.png", "1_1.png", "3_0.png"]
    with Image.open(out / "trainA" / "3.png") as img:
        assert img.size == (20, 30)
    # columns 10..19 of 30, scaled by 1.5 to 15..29 of 45, cropped to columns 12..31: output columns 3..17
    assert mask_area(out / "trainA_seg" / "3_0.png") == 30 * 15
    with Image.open(out / "trainA_seg" / "3_0.png") as img:
        mask = np.asarray(img) > 0
    assert mask[:, 3:18].all() and not mask[:, :3].any() and not mask[:, 18:].any()


def test_unknown_class_lists_close_names(mhp, tmp_path):
    with pytest.raises(OptionError, match=r"unknown category 'skrit' .*close names: skirt"):
        run(mhp, tmp_path / "out", "--cat2", "skrit")


def test_help_carries_the_ethics_note(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    assert "ethical" in capsys.readouterr().out


def test_train_py_runs_on_the_result(mhp, tmp_path):
    out = tmp_path / "out"
    assert run(mhp, out) == 0
    train_one_iteration(out, tmp_path, 36, 24, crop=(32, 24))


def cut_short(path: Path) -> None:
    """Keep the header and the start of the pixel data: the file opens, but its pixels cannot be decoded."""
    path.write_bytes(path.read_bytes()[:60])


MALFORMED = {  # id: (file to damage, how, output image to write again so that the file is read, message)
    "parsing map not an image": ("annotations/1_02_01.png", lambda p: p.write_bytes(b"not a png"), "trainA/1.png",
                                 r"cannot read \S+1_02_01\.png: cannot identify image file"),
    "parsing map cut short": ("annotations/1_02_01.png", cut_short, "trainA/1.png", r"cannot read \S+1_02_01\.png"),
    "photo not an image": ("images/2.jpg", lambda p: p.write_bytes(b""), None,
                           r"image \S+2\.jpg is not a readable image"),
    "split list not text": ("train_list.txt", lambda p: p.write_bytes(b"1.jpg\n\x80\x81\n"), None,
                            r"cannot read MHP split list \S+train_list\.txt: 'utf-8' codec can't decode"),
}


@pytest.mark.parametrize("damaged, damage, again, message", MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_source_file_is_one_line_naming_it(mhp, tmp_path, damaged_rerun, damaged, damage, again, message):
    out = tmp_path / "out"
    assert re.search(message, damaged_rerun(main, args(mhp, out), out, lambda: damage(mhp / damaged), again))
