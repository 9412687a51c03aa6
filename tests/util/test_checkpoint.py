"""Folders written aside and swapped in (util/checkpoint.py written_aside): earlier results survive any failure."""
import os
import subprocess

import pytest

from util.checkpoint import written_aside
from util.errors import UserError


def test_success_replaces_and_failure_keeps(tmp_path):
    dest = tmp_path / "test_latest"
    dest.mkdir()
    (dest / "old.txt").write_text("old")
    with pytest.raises(RuntimeError):
        with written_aside(str(dest)) as work:
            open(os.path.join(work, "new.txt"), "w").write("half")
            raise RuntimeError("fails midway")
    assert os.listdir(tmp_path) == ["test_latest"] and (dest / "old.txt").read_text() == "old"
    with written_aside(str(dest)) as work:
        open(os.path.join(work, "new.txt"), "w").write("new")
    assert os.listdir(tmp_path) == ["test_latest"] and os.listdir(dest) == ["new.txt"]


def test_a_write_error_is_one_line_naming_the_file(tmp_path):
    with pytest.raises(UserError, match=r"^cannot write .*x\.png: No such file or directory; .*test_latest is "
                                        r"unchanged$"):
        with written_aside(str(tmp_path / "test_latest")) as work:
            open(os.path.join(work, "missing", "x.png"), "w")
    assert os.listdir(tmp_path) == []


def test_leftovers_of_killed_runs_are_cleaned_up(tmp_path):
    dead = subprocess.Popen(["true"])
    dead.wait()                                                      # its pid belongs to no process now
    (tmp_path / f"test_latest.partial-{dead.pid}-abc").mkdir()       # a run killed while writing
    (tmp_path / f"test_latest.partial-{os.getpid()}-live").mkdir()   # a live run's: left alone
    (tmp_path / "test_latest.old-xyz" / "test_latest").mkdir(parents=True)   # killed within the swap
    (tmp_path / "test_latest.old-xyz" / "test_latest" / "page.html").write_text("earlier")
    with pytest.raises(RuntimeError):
        with written_aside(str(tmp_path / "test_latest")):
            raise RuntimeError
    assert sorted(os.listdir(tmp_path)) == ["test_latest", f"test_latest.partial-{os.getpid()}-live"]
    assert (tmp_path / "test_latest" / "page.html").read_text() == "earlier"
