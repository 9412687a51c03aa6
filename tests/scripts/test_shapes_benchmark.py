"""shapes_benchmark end to end on a tiny generated Shapes set with tiny networks and a budget of a few iterations."""
import json
import re

import pytest

from datasets import make_shapes_dataset
from scripts import shapes_benchmark
from util.checkpoint import read_checkpoint
from util.errors import OptionError

TINY_NETS = ["--size", "32", "--ngf", "4", "--ndf", "4", "--n_blocks", "1"]


def test_two_configurations_give_two_rows_and_their_files(tmp_path, monkeypatch, capsys):
    data, out = tmp_path / "shapes", tmp_path / "bench"
    generate = make_shapes_dataset.main
    # the benchmark generates the missing data set with the defaults: make it tiny
    monkeypatch.setattr(make_shapes_dataset, "main",
                        lambda argv: generate([*argv, "--n_train", "3", "--n_test", "2", "--size", "32"]))
    assert shapes_benchmark.main(["--dataroot", str(data), "--out", str(out), "--minutes", "0.002",
                                  "--only", "cycle_gan,instagan", "--upsample", "nearest", "--n_layers_D", "2",
                                  "--G_output", "paste", *TINY_NETS]) == 0
    assert len(list((data / "testA").iterdir())) == 2

    table = (out / "shapes_benchmark.md").read_text()
    assert capsys.readouterr().out == table
    assert "- command: `python scripts/shapes_benchmark.py --dataroot" in table and "--only cycle_gan,instagan" in table
    assert "logical cores; torch " in table
    rows = [line.split(" | ") for line in table.splitlines() if line.startswith("| ")][1:]
    assert [row[0] for row in rows] == ["| CycleGAN (double width)", "| InstaGAN"]
    figures = json.loads((out / "shapes_benchmark.json").read_text())
    for row, name, saved in zip(rows, ("cycle_gan", "instagan"), figures):
        state = read_checkpoint(str(out / "checkpoints" / f"shapes_{name}" / "latest_train_state.pth"))
        assert int(row[1]) == saved["iterations"] == state["run"]["position"]["total_steps"] >= 1
        assert row[3] == f"{saved['figures']['A2B']['target_shape']:.3f}"
        assert row[-1] == f"{saved['figures']['A2B']['count_kept']:.2f} / {saved['figures']['B2A']['count_kept']:.2f} |"
        assert saved["figures"]["A2B"]["images"] == 2     # every test image was translated and scored
        assert (out / "results" / f"shapes_{name}" / "test_latest" / "images" / "0001_fake_B_img.png").is_file()
        options = (out / "checkpoints" / f"shapes_{name}" / "opt.txt").read_text()
        instagan = name == "instagan"
        for option in ("upsample: nearest", "n_layers_D: 2", "netD: " + ("set" if instagan else "n_layers"),
                       "G_output: " + ("paste" if instagan else "generate")):
            assert re.search(rf"^ *{option} ", options, re.M), option


@pytest.mark.parametrize("flags, message", [
    (["--only", "instagan,pix2pix"], "--only instagan,pix2pix: choose configurations among instagan, "),
    (["--minutes", "0"], "--minutes must be > 0, got 0"),
])
def test_bad_flags_are_option_errors(flags, message):
    with pytest.raises(OptionError, match="^" + message):
        shapes_benchmark.main(flags)
