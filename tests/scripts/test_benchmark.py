"""scripts/benchmark.py on the CPU with tiny networks: one row per configuration, FLOPs that scale as they must,
failing configurations as rows, bad flags as one-line errors."""
import contextlib
import csv
import io
import json

import pytest

from scripts import benchmark
from util.cli import run_cli
from util.errors import OptionError

TINY = ["--size", "32", "--ngf", "4", "--n_blocks", "1", "--iters", "2", "--warmup", "1", "--threads", "1"]


@pytest.fixture(scope="module")
def grid_run(tmp_path_factory):
    """One 2 x 2 grid (batch 1, 2 x ins_max 2, 4), shared by the tests: each configuration is a process."""
    out = tmp_path_factory.mktemp("bench")
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        assert benchmark.main([*TINY, "--batch_size", "1,2", "--ins_max", "2,4", "--ins_per", "2",
                               "--out", str(out)]) == 0
    with open(out / "benchmark.csv") as f:
        rows = list(csv.DictReader(f))
    return out, rows, stdout.getvalue()


def test_one_row_per_combination_with_times_memory_and_flops(grid_run):
    _, rows, _ = grid_run
    assert [(r["batch_size"], r["ins_max"]) for r in rows] == [("1", "2"), ("1", "4"), ("2", "2"), ("2", "4")]
    for r in rows:
        assert r["error"] == "" and r["device"] == "cpu" and r["threads"] == "1"
        assert float(r["median_s"]) > 0 and float(r["first_iter_s"]) > 0 and float(r["iqr_s"]) >= 0
        assert len(r["times_s"].split()) == 2
        assert float(r["images_per_s"]) == pytest.approx(int(r["batch_size"]) / float(r["median_s"]))
        assert float(r["peak_mem_mib"]) >= float(r["mem_before_mib"]) > 0
        assert int(r["flops"]) > 0 and float(r["tflops"]) > 0
        assert r["pct_of_peak"] == ""            # no peak known for a CPU unless --peak_tflops is given


def test_flops_scale_with_the_batch_and_the_instances(grid_run):
    _, rows, _ = grid_run
    flops = {(int(r["batch_size"]), int(r["ins_max"])): int(r["flops"]) for r in rows}
    for ins_max in (2, 4):
        assert flops[2, ins_max] == pytest.approx(2 * flops[1, ins_max], rel=0.01)
    assert flops[1, 4] > flops[1, 2] and flops[2, 4] > flops[2, 2]   # two sequential steps instead of one


def test_the_report_has_the_machine_line_and_the_table(grid_run):
    out, _, printed = grid_run
    text = (out / "benchmark.md").read_text()
    assert "- command: `python scripts/benchmark.py --size 32" in text
    machine = [line for line in text.splitlines() if line.startswith("- machine: ")]
    assert len(machine) == 1 and "logical cores; torch " in machine[0] and ", 1 threads" in machine[0]
    header = "| device | size | batch | ngf/ndf | blocks | ins_max/per | precision | channels_last | compile | " \
             "first iteration s | median s | IQR s | images/s |"
    assert header in text and printed.startswith(header) and printed in text
    assert len([line for line in printed.splitlines() if line.startswith("| cpu | 32 |")]) == 4


def test_a_crashing_configuration_is_a_row_with_its_error(tmp_path, monkeypatch, capsys):
    crash = tmp_path / "crash.py"
    crash.write_text("import sys\nsys.stderr.write('some warning\\nRuntimeError: boom\\n')\nsys.exit(3)\n")
    monkeypatch.setattr(benchmark, "SCRIPT", str(crash))
    assert benchmark.main([*TINY, "--precision", "fp32,bf16", "--out", str(tmp_path / "out")]) == 0
    with open(tmp_path / "out" / "benchmark.csv") as f:
        rows = list(csv.DictReader(f))
    assert [r["precision"] for r in rows] == ["fp32", "bf16"]
    assert all(r["error"] == "worker exited with code 3: RuntimeError: boom" and r["median_s"] == "" for r in rows)


def test_a_worker_reports_its_own_failure_as_json(monkeypatch, capsys):
    monkeypatch.setattr(benchmark.torch.cuda, "is_available", lambda: False)
    config = benchmark.grid(benchmark.parse_args([*TINY, "--device", "cuda"]))[0]
    assert benchmark.worker(json.dumps(benchmark.asdict(config))) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines == [json.dumps({"error": "RuntimeError: CUDA is not available"})]


@pytest.mark.parametrize("flags, message", [
    (["--precision", "fp8"], "--precision fp8: choose among fp32, bf16"),
    (["--batch_size", "1,x"], "--batch_size 1,x: expected comma-separated integers"),
    (["--ins_max", "1", "--ins_per", "2"], r"--ins_per \(2\) must not exceed --ins_max \(1\)"),
    (["--iters", "0"], "--iters must be >= 1, got 0"),
])
def test_bad_flags_are_one_line_errors(flags, message, tmp_path, log_records):
    out = tmp_path / "out"
    with pytest.raises(OptionError, match="^" + message):
        benchmark.main([*flags, "--out", str(out)])
    assert run_cli(benchmark.main, [*flags, "--out", str(out)]) == 2
    errors = [r.getMessage() for r in log_records if r.levelname == "ERROR"]
    assert len(errors) == 1 and "\n" not in errors[0]
    assert not out.exists()
