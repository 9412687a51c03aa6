"""The progress line of runs whose stderr is not a terminal."""
import pytest

import train as train_script
from tests.conftest import TINY_TRAIN
from util import progress
from util.progress import ProgressLine


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_one_line_per_interval_with_speed_and_time_left(log_records):
    clock = Clock()
    line = ProgressLine(60, enabled=True, clock=clock)
    line.update(1, 3, 10, 100, 10)            # the first iteration: where speed is counted from
    for samples in range(20, 140, 10):         # 10 samples every 5 seconds: 2 images/s
        clock.now += 5
        line.update(1 + samples // 100, 3, samples % 100, 100, samples)
    assert [r.getMessage() for r in log_records] == [
        # 60 s after the first: 130 samples done, epoch 2 at 30/100; left: 70 of epoch 2 and 100 of epoch 3 at 2/s
        "epoch 2/3, iteration 30/100, 2.00 images/s, 0:01:25 left"]


def test_silent_on_a_terminal(log_records, monkeypatch):
    monkeypatch.setattr(progress, "stderr_is_terminal", lambda: True)
    line = ProgressLine(0)
    for samples in range(1, 4):
        line.update(1, 1, samples, 3, samples)
    assert log_records == []


def test_train_logs_progress_when_stderr_is_not_a_terminal(tiny_data, tmp_path, log_records, monkeypatch):
    monkeypatch.setattr(progress, "stderr_is_terminal", lambda: False)
    assert train_script.main(["--dataroot", tiny_data, "--checkpoints_dir", str(tmp_path / "ck"), *TINY_TRAIN,
                              "--niter_decay", "0", "--log_interval_s", "0"]) == 0
    lines = [r.getMessage() for r in log_records if r.getMessage().startswith("epoch 1/1, iteration")]
    assert [line.split(",")[1] for line in lines] == [" iteration 2/3", " iteration 3/3"]   # the first one is the base
    assert all(line.endswith(" left") and "images/s" in line for line in lines)


@pytest.mark.parametrize("value", ["-1", "nan"])
def test_negative_interval_is_refused(tiny_data, value):
    from util.errors import OptionError
    with pytest.raises(OptionError, match="--log_interval_s must be"):
        train_script.main(["--dataroot", tiny_data, *TINY_TRAIN, "--log_interval_s", value])
