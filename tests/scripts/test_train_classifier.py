"""scripts/train_classifier.py and the classification score of scripts/evaluate.py, on a VGG-16 file in
torchvision's layout (random weights) and two synthetic domains (reddish A, bluish B)."""
import json
import os
from pathlib import Path

import pytest
import torch
from PIL import Image

from scripts import evaluate, train_classifier
from tests.metrics.conftest import session_file, write_two_domains, write_vgg16
from util.cli import run_cli
from util.errors import OptionError


@pytest.fixture(scope="session")
def vgg16_file(tmp_path_factory) -> str:
    return session_file(tmp_path_factory, "vgg16_random.pth", write_vgg16)


def as_results(images: list[Path], folder: Path, masks: Path | None = None) -> Path:
    """Real images laid out as test.py's translations (fake_B_img), with their merged masks as fake_B_seg."""
    (folder / "images").mkdir(parents=True)
    for i, path in enumerate(images):
        Image.open(path).save(folder / "images" / f"{i:04d}_fake_B_img.png")
        if masks is not None:
            Image.open(masks / f"{path.stem}_0.png").save(folder / "images" / f"{i:04d}_fake_B_seg.png")
    return folder


@pytest.mark.parametrize("masked", [False, True])
def test_a_classifier_trained_on_the_real_images_scores_them_1(vgg16_file, tmp_path, masked):
    data = write_two_domains(tmp_path / "data")
    output = str(tmp_path / "cls.pth")
    flags = ["--dataroot", str(data), "--output", output, "--vgg_weights", vgg16_file, "--size", "32",
             "--train_layers", "1", "--epochs", "30", "--lr", "1e-3", "--batch_size", "6", "--device", "cpu"]
    assert run_cli(train_classifier.main, flags + (["--masked"] if masked else [])) == 0
    saved = torch.load(output, weights_only=True)
    assert saved["masked"] is masked and saved["accuracy"]["train"] == {"A": 1.0, "B": 1.0}
    assert set(saved["accuracy"]) == {"train", "test"} and saved["train_loss"][-1] < saved["train_loss"][0]

    real = data / "testB"
    results = as_results(sorted(real.glob("*.png")), tmp_path / "res", data / "testB_seg" if masked else None)
    assert run_cli(evaluate.main, [str(results), "--real", str(real), "--metrics", "cls", "--classifier", output,
                                   "--vgg_weights", vgg16_file, "--device", "cpu"]) == 0
    report = json.loads((results / "metrics.json").read_text())
    assert report["cls"] == {"value": 1.0, "n": 6, "target": "B", "masked": masked}
    assert report["cls_real"] == {"value": 1.0, "n": 6, "target": "B", "masked": masked}
    # the reddish source images are not the target domain
    source = as_results(sorted((data / "testA").glob("*.png")), tmp_path / "res_A",
                        data / "testA_seg" if masked else None)
    assert run_cli(evaluate.main, [str(source), "--metrics", "cls", "--classifier", output, "--vgg_weights",
                                   vgg16_file, "--device", "cpu"]) == 0
    assert json.loads((source / "metrics.json").read_text())["cls"]["value"] == 0.0


def test_a_missing_held_out_split_is_named(vgg16_file, tmp_path, log_records):
    data = write_two_domains(tmp_path / "data")
    output = str(tmp_path / "cls.pth")
    assert run_cli(train_classifier.main, ["--dataroot", str(data), "--output", output, "--vgg_weights", vgg16_file,
                                           "--size", "32", "--epochs", "1", "--device", "cpu",
                                           "--val_phase", "val"]) == 0
    assert set(torch.load(output, weights_only=True)["accuracy"]) == {"train"}
    warnings = [r.getMessage() for r in log_records if r.levelname == "WARNING"]
    assert any(f"no {data / 'valA'} and {data / 'valB'}: no held-out accuracy" in w and "--val_phase" in w
               for w in warnings)


def test_an_existing_output_is_refused(tmp_path):
    (tmp_path / "cls.pth").write_bytes(b"")
    with pytest.raises(OptionError, match="exists: pass --overwrite"):
        train_classifier.main(["--dataroot", str(tmp_path), "--output", str(tmp_path / "cls.pth")])
    assert os.path.getsize(tmp_path / "cls.pth") == 0
