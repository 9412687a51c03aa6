"""scripts/evaluate.py on result folders built in code in test.py's layout, with weight files in the packages'
formats (random weights: the numbers check the plumbing, not any published score)."""
import json
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from scripts.evaluate import main, target_domain
from tests.metrics.conftest import session_file, write_alexnet, write_images, write_inception
from tests.metrics.test_lpips_diversity import write_bicyclegan_outputs
from util.cli import run_cli
from util.errors import OptionError
from util.html import HTML

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def inception_file(tmp_path_factory) -> str:
    return session_file(tmp_path_factory, "inception_random.pth", write_inception)


def write_results(folder: Path, n: int = 5) -> Path:
    """test.py's layout: {phase}_{epoch}/index.html and images/{stem}_{visual}.png (fake_B_img, fake_B_seg)."""
    page = HTML(str(folder / "test_latest"), "Experiment = tiny")
    images = folder / "test_latest" / "images"
    for i, path in enumerate(write_images(images, n, seed=3, size=(32, 32))):
        path.rename(images / f"{i:04d}_fake_B_img.png")
        Image.new("L", (32, 32), 255).save(images / f"{i:04d}_fake_B_seg.png")
        page.add_header(f"{i:04d}")
        page.add_images([f"{i:04d}_fake_B_img.png"], ["fake_B_img"], [f"{i:04d}_fake_B_img.png"])
    page.save()
    return folder / "test_latest"


def test_scores_are_printed_and_written_with_their_counts(inception_file, tmp_path, capsys, log_records):
    result = write_results(tmp_path / "res" / "tiny")
    real = tmp_path / "testB"
    write_images(real, 4, seed=4, colour=(40, 40, 200), size=(36, 30))
    args = [str(tmp_path / "res" / "tiny"), "--real", str(real), "--metrics", "kid,is", "--inception_weights",
            inception_file, "--kid_subsets", "5", "--device", "cpu"]
    assert run_cli(main, args) == 0
    assert f"scoring 5 fake_B_img images of {result / 'images'} against 4 real images of {real}" in [
        r.getMessage() for r in log_records]
    report = json.loads((result / "metrics.json").read_text())
    assert report["visual"] == "fake_B_img" and report["results"] == str(result)
    assert (report["kid_x100"]["n_fake"], report["kid_x100"]["n_real"], report["kid_x100"]["subset_size"]) == (5, 4, 4)
    assert report["is"]["n"] == 5 and report["is"]["splits"] == 5 and report["is"]["mean"] >= 1
    assert len(report["warnings"]) == 2
    out = capsys.readouterr().out
    assert "KID x100" in out and "5 translated, 4 real; 5 subsets of 4" in out and "warning: KID on 4 images" in out
    for warning in report["warnings"]:            # each shown once: under the table, not also as a log line
        assert out.count(warning) == 1 and not [r for r in log_records if warning in r.getMessage()], warning
    html = (result / "index.html").read_text()
    assert html.count("<h3>Metrics</h3>") == 1 and "KID x100" in html and html.count("<img") == 5
    assert run_cli(main, args) == 0                    # a second run replaces the table
    assert (result / "index.html").read_text().count("<h3>Metrics</h3>") == 1


def test_lpips_diversity_of_bicyclegan_outputs(tmp_path, tmp_path_factory, log_records):
    backbone = session_file(tmp_path_factory, "alexnet_random.pth", write_alexnet)
    write_bicyclegan_outputs(tmp_path / "val" / "images", inputs=3, samples=3)
    assert run_cli(main, [str(tmp_path / "val"), "--metrics", "lpips_diversity", "--lpips_weights", backbone,
                          "--device", "cpu"]) == 0
    assert not [r for r in log_records if r.getMessage().startswith("scoring")]   # no fake-vs-real count to give
    report = json.loads((tmp_path / "val" / "metrics.json").read_text())
    assert report["lpips_diversity"]["inputs"] == 3 and report["lpips_diversity"]["pairs"] == 3 * 3
    assert report["lpips_diversity"]["value"] > 0 and report["lpips_diversity"]["net"] == "lpips 0.1 alex"
    assert report["warnings"] == ["LPIPS diversity on 9 pairs of 3 inputs: fewer than the protocol's 19 pairs of "
                                  "each of 100 inputs"]


def test_missing_weights_is_one_line_and_exit_2(tmp_path):
    write_results(tmp_path / "res")
    env = {"TORCH_HOME": str(tmp_path / "torch"), "PATH": "/usr/bin:/bin"}
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "evaluate.py"), str(tmp_path / "res"), "--real",
                           str(tmp_path), "--metrics", "fid"], capture_output=True, text=True, env=env)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1, proc.stderr
    assert "weights-inception-2015-12-05-6726825d.pth" in lines[0] and "--inception_weights" in lines[0]
    assert str(tmp_path / "torch" / "hub" / "checkpoints") in lines[0]
    assert not (tmp_path / "res" / "test_latest" / "metrics.json").exists()


@pytest.mark.parametrize("flags, message", [
    (["--metrics", "fid,bogus"], "unknown metric(s) bogus"),
    (["--diversity_pattern", "(no group)"], "needs a group (?P<input>...)"),
    (["--kid_subsets", "0"], "expected a positive integer"),
    (["--metrics", "cls"], "the metric cls needs --classifier"),
])
def test_bad_flags_fail_at_parse_time(tmp_path, flags, message):
    with pytest.raises(OptionError) as e:
        main([str(tmp_path), *flags])
    assert message in str(e.value)


def test_the_target_domain_comes_from_the_visual():
    assert target_domain("fake_B_img") == "B" and target_domain("fake_A_img") == "A"
    with pytest.raises(OptionError):
        target_domain("output")
