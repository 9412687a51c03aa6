"""evaluate_shapes on result folders built in code, in test.py's layout, from the generator's drawing functions."""
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage

from datasets.make_shapes_dataset import SHAPES, background, instance_colours, make_sample, render, shape_masks
from scripts.evaluate_shapes import evaluate, main, rectangularity
from util.cli import run_cli
from util.errors import DataError

SIZE = 64
# well separated instances: (cy, cx, radius) per image; shapes of equal area at the same place never meet
SCENES = [[(20, 20, 9)], [(16, 16, 7), (16, 46, 6), (46, 30, 10)]]


def write_row(images_dir: Path, stem: str, visuals: dict[str, np.ndarray]) -> None:
    """One row of test.py's results: images as RGB PNGs, merged (H, W) boolean masks as grey RGB PNGs."""
    images_dir.mkdir(parents=True, exist_ok=True)
    for name, pixels in visuals.items():
        if pixels.ndim == 2:
            pixels = np.repeat(pixels[..., None].astype(np.uint8) * 255, 3, axis=2)
        Image.fromarray(pixels).save(images_dir / f"{stem}_{name}.png")


def scene(rng: np.random.Generator, domain: str, instances: list[tuple]) -> dict:
    """Background, colours, the target shape and the masks of both shapes at the same places, for one image of
    `domain`."""
    cy, cx, r = np.array(instances, float).T
    target = SHAPES["B" if domain == "A" else "A"]
    return {"base": background(rng, SIZE, 0.01), "colours": instance_colours(rng, len(instances)), "target": target,
            "own": shape_masks(SHAPES[domain], cy, cx, r, SIZE), "other": shape_masks(target, cy, cx, r, SIZE)}


def write_results(images_dir: Path, translate, scenes: list[list[tuple]] = SCENES) -> None:
    """One row per scene; `translate(scene)` gives the output image of a real one."""
    rng = np.random.default_rng(0)
    for i, instances in enumerate(scenes):
        a, b = scene(rng, "A", instances), scene(rng, "B", instances[::-1])
        write_row(images_dir, f"{i:04d}", {
            "real_A_img": render(a["base"], a["own"], a["colours"]), "real_A_seg": a["own"].any(0),
            "fake_B_img": translate(a), "real_B_img": render(b["base"], b["own"], b["colours"]),
            "real_B_seg": b["own"].any(0), "fake_A_img": translate(b)})


def perfect(s):
    return render(s["base"], s["other"], s["colours"])


def identity(s):
    return render(s["base"], s["own"], s["colours"])


def grey(s):
    return np.repeat(np.asarray(Image.fromarray(identity(s)).convert("L"))[..., None], 3, axis=2)


def test_a_perfect_translation_scores_1_with_the_background_kept(tmp_path):
    write_results(tmp_path / "images", perfect)
    figures = evaluate(tmp_path)
    for key in ("A2B", "B2A"):
        f = figures[key]
        assert (f["images"], f["instances"]) == (2, 4)
        assert f["target_shape"] == 1 and f["count_kept"] == 1 and f["count_abs_diff"] == 0
        assert f["background_error"] == 0
        assert f["identity_target_shape"] == 0 and f["real_target_shape"] == 1
    assert figures["A2B"]["rectangularity"] == 1 and figures["B2A"]["rectangularity"] < 0.85


def test_the_identity_scores_0_and_keeps_everything_else(tmp_path):
    write_results(tmp_path / "images", identity)
    for f in (evaluate(tmp_path)["A2B"], evaluate(tmp_path)["B2A"]):
        assert f["target_shape"] == 0 and f["count_kept"] == 1 and f["background_error"] == 0
        assert f["target_shape"] == f["identity_target_shape"]


def test_a_bland_output_loses_every_instance(tmp_path):
    write_results(tmp_path / "images", grey)
    for f in (evaluate(tmp_path)["A2B"], evaluate(tmp_path)["B2A"]):
        assert f["target_shape"] == 0 and f["rectangularity"] is None
        assert f["count_kept"] == 0 and f["count_abs_diff"] == 2     # (1 + 3) instances lost over 2 images
        assert 0 < f["background_error"] < 40                         # greying a low-saturation background


def test_each_input_instance_is_judged_by_its_own_counterpart(tmp_path):
    def half(s):  # the first instance translated, the others left as they were
        own = s["own"].copy()
        own[0] = s["other"][0]
        return render(s["base"], own, s["colours"])

    write_results(tmp_path / "images", half)
    figures = evaluate(tmp_path)
    assert figures["A2B"]["target_shape"] == figures["B2A"]["target_shape"] == 0.5  # 2 of 4


def test_a_moved_instance_is_a_failure_even_with_the_right_shape(tmp_path):
    def moved(s):  # the translated instance mirrored to the other corner of the image
        return render(s["base"], s["other"][:, ::-1, ::-1], s["colours"])

    write_results(tmp_path / "images", moved, scenes=SCENES[:1])
    for f in (evaluate(tmp_path)["A2B"], evaluate(tmp_path)["B2A"]):
        assert f["target_shape"] == 0 and f["count_kept"] == 1


def test_generated_images_pass_the_sanity_lines(tmp_path):
    rng = np.random.default_rng(1)
    for i in range(8):
        images, masks = {}, {}
        for domain in "AB":
            images[domain], m = make_sample(rng, SHAPES[domain], 4, SIZE, (5.76, 14.08), 2, 0.01)
            masks[domain] = m.any(0)
        write_row(tmp_path / "images", f"{i:04d}", {
            "real_A_img": images["A"], "real_A_seg": masks["A"], "fake_B_img": images["A"],
            "real_B_img": images["B"], "real_B_seg": masks["B"], "fake_A_img": images["B"]})
    figures = evaluate(tmp_path)
    for key in ("A2B", "B2A"):
        assert figures[key]["identity_target_shape"] == 0 and figures[key]["real_target_shape"] == 1
        assert figures[key]["count_kept"] == 1 and figures[key]["instances"] >= 8 * 3


def test_bars_and_rings_are_neither_squares_nor_disks(tmp_path):
    def wrong(s):  # the square stretched into a 2:1 bar; the disk hollowed into a ring
        target = s["other"][0]
        if s["target"] == "square":
            shape = target | np.roll(target, int(target.any(0).sum()), axis=1)
        else:
            shape = target & ~ndimage.binary_erosion(target, iterations=4)
        return render(s["base"], shape[None], s["colours"])

    write_results(tmp_path / "images", wrong, scenes=SCENES[:1])
    figures = evaluate(tmp_path)
    for f in (figures["A2B"], figures["B2A"]):
        assert f["target_shape"] == 0 and f["count_kept"] == 1
    assert figures["A2B"]["rectangularity"] == 1 and figures["B2A"]["rectangularity"] < 0.65


def test_rectangularity_of_a_square_a_disk_and_a_line():
    masks = np.stack([shape_masks("square", 20, 20, 8, SIZE)[0], shape_masks("disk", 20.5, 20.5, 12, SIZE)[0],
                      np.eye(SIZE, dtype=bool)])
    assert np.allclose(rectangularity(masks), [1, 448 / 24 ** 2, 1 / SIZE])


def test_any_level_of_the_results_folder_is_accepted(tmp_path):
    images = tmp_path / "results" / "shapes" / "test_latest" / "images"
    write_results(images, perfect)
    expected = evaluate(images)
    for level in (images.parent, images.parent.parent):
        assert evaluate(level) == expected
    write_results(images.parent.parent / "test_5" / "images", perfect)
    with pytest.raises(DataError, match="several results.*pass one of them"):
        evaluate(images.parent.parent)


def test_main_prints_a_table_and_writes_json(tmp_path, capsys):
    write_results(tmp_path / "test_latest" / "images", perfect)
    out = tmp_path / "figures.json"
    assert main([str(tmp_path / "test_latest"), "--json", str(out)]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].startswith("| direction | images | instances | target shape")
    assert table[2].startswith("| A->B (disks to squares) | 2 | 4 | 1.000 |")
    assert table[3].startswith("| B->A (squares to disks) | 2 | 4 | 1.000 |")
    assert json.loads(out.read_text())["B2A"]["target_shape"] == 1


@pytest.mark.parametrize("folder", ["empty", "missing"])
def test_a_folder_without_results_is_a_one_line_error(tmp_path, log_records, folder):
    (tmp_path / "empty").mkdir()
    assert run_cli(main, [str(tmp_path / folder)]) == 2
    errors = [r.getMessage() for r in log_records if r.levelname == "ERROR"]
    assert len(errors) == 1 and str(tmp_path / folder) in errors[0] and "\n" not in errors[0], errors


def test_instances_missing_from_the_input_masks_are_reported(tmp_path, log_records):
    rng = np.random.default_rng(0)
    s = scene(rng, "A", SCENES[1])
    image = render(s["base"], s["own"], s["colours"])
    write_row(tmp_path / "images", "0000", {
        "real_A_img": image, "real_A_seg": s["own"][:2].any(0), "fake_B_img": image,   # --ins_max 2 of 3
        "real_B_img": image, "real_B_seg": s["own"].any(0), "fake_A_img": image})
    assert evaluate(tmp_path)["A2B"]["instances"] == 2
    warnings = [r.getMessage() for r in log_records if r.levelname == "WARNING"]
    assert len(warnings) == 1
    assert warnings[0].startswith("A2B: 1 of 1 input images hold another number of instances than real_A_seg")
