"""evaluate_shape_pairs: the figures on hand-made results in BicycleGAN test.py's names."""
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from scripts.evaluate_shape_pairs import evaluate, main
from util.cli import run_cli


def write(folder: Path, stem: str, images: dict[str, np.ndarray]) -> None:
    for name, rgb in images.items():
        Image.fromarray(rgb).save(folder / f"{stem}_{name}.png")


def test_figures_on_hand_made_results(tmp_path):
    images = tmp_path / "val" / "images"
    images.mkdir(parents=True)
    outline = np.full((16, 16, 3), 255, np.uint8)
    outline[4:12, 4] = outline[4:12, 11] = outline[4, 4:12] = outline[11, 4:12] = 0     # an 8x8 square's outline
    grey = np.full((16, 16, 3), 100, np.uint8)
    red = grey.copy()
    red[4:12, 4:12] = (255, 0, 0)                       # exactly the outlined square, saturated
    half = grey.copy()
    half[4:12, 4:8] = (0, 0, 255)                       # half the square
    write(images, "input_000", {"input": outline, "ground truth": red, "encoded": red, "random_sample01": half,
                                "random_sample02": grey})
    figures = evaluate(tmp_path / "val")
    assert figures["inputs"] == 1
    assert figures["encoded_precision"] == figures["encoded_recall"] == 1.0 and figures["encoded_L1"] == 0.0
    assert figures["random_recall"] == pytest.approx((0.5 + 0.0) / 2)
    assert figures["random_precision"] == 1.0                           # no colour at all counts as no error
    assert figures["diversity"] == pytest.approx(np.abs(half.astype(float) - grey).mean())
    assert figures["random_L1"] == pytest.approx((np.abs(half.astype(float) - red).mean()
                                                  + np.abs(grey.astype(float) - red).mean()) / 2)


def test_a_folder_without_results_is_one_line(tmp_path, log_records):
    assert run_cli(main, [str(tmp_path)]) == 2
    errors = [r.getMessage() for r in log_records if r.levelname == "ERROR"]
    assert len(errors) == 1 and errors[0].startswith(f"no BicycleGAN test.py results in {tmp_path}")
