"""scripts/visdom_server.py, and a training run shown by a real visdom server read back with visdom's client."""
from __future__ import annotations

import base64
import contextlib
import io
import json
import logging
import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from typing import Iterator

import pytest
from PIL import Image

import train as train_script
from scripts import visdom_server
from tests.conftest import TINY_TRAIN

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1):
            return True
    except urllib.error.HTTPError:
        return True
    except OSError:
        return False


@contextlib.contextmanager
def running_visdom_server(tmp_path) -> Iterator[int]:
    """A server started by scripts/visdom_server.py on a free 127.0.0.1 port, storing its envs in tmp_path."""
    port = free_port()
    log = tmp_path / "visdom_server.log"
    with open(log, "w") as out:
        proc = subprocess.Popen([sys.executable, os.path.join(ROOT, "scripts", "visdom_server.py"), "-port", str(port),
                                 "-env_path", str(tmp_path / "visdom_envs"), "-logging_level", "WARNING"],
                                cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while not answers(f"http://127.0.0.1:{port}/win_exists"):
            assert proc.poll() is None, f"the visdom server exited:\n{log.read_text()}"
            assert time.monotonic() < deadline, f"the visdom server did not answer:\n{log.read_text()}"
            time.sleep(0.1)
        yield port
    finally:
        proc.terminate()
        proc.wait(10)


def loss_names(loss_log) -> list[str]:
    """The loss names of the first logged line, in order."""
    line = next(line for line in open(loss_log) if line.startswith("(epoch"))
    return re.findall(r"(\w+): [-\d.]+ ", line.split(") ", 1)[1])


@pytest.mark.filterwarnings("ignore:The 'warn' method:DeprecationWarning")  # inside the visdom client
def test_training_shows_images_and_every_loss_in_a_real_visdom_server(tiny_data, tmp_path, log_records):
    import visdom

    env = "instagan_test"
    ck = tmp_path / "ck"
    with running_visdom_server(tmp_path) as port:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as page:
            assert page.status == 200 and b'<div id="app">' in page.read()   # the dashboard page itself
        assert train_script.main(["--dataroot", tiny_data, "--name", "tiny", "--checkpoints_dir", str(ck),
                                  *TINY_TRAIN, "--display_id", "1", "--display_port", str(port),
                                  "--display_env", env, "--niter", "1", "--niter_decay", "1", "--print_freq", "1",
                                  "--display_freq", "1"]) == 0
        client = visdom.Visdom(port=port, env=env, use_incoming_socket=False, raise_exceptions=True)
        images, plot, labels = (json.loads(client.get_window_data(win, env)) for win in ("1", "2", "3"))
    assert not [r for r in log_records if r.levelno >= logging.WARNING]

    visual_names = re.findall(r"<td>(\w+)</td>", labels["content"])
    assert len(visual_names) == 12 and {"real_A_img", "fake_B_seg", "rec_B_img"} <= set(visual_names)
    assert images["type"] == "image"
    png = base64.b64decode(images["content"]["src"].split(",", 1)[1])
    with Image.open(io.BytesIO(png)) as grid:        # --display_ncols 6: 2 rows of 32x24 tiles, 2 px around each
        assert grid.size == (6 * (24 + 4), 2 * (32 + 4))

    assert plot["type"] == "plot" and plot["content"]["layout"]["xaxis"]["title"] == "epoch"
    curves = plot["content"]["data"]
    assert [c["name"] for c in curves] == loss_names(ck / "tiny" / "loss_log.txt")
    # 3 iterations per epoch (3 A images), two epochs: the x axis counts epochs
    assert curves[0]["x"] == pytest.approx([1 + 1 / 3, 1 + 2 / 3, 2, 2 + 1 / 3, 2 + 2 / 3, 3])


def test_server_flags_pass_through_and_listen_on_loopback_only(monkeypatch):
    from visdom.server import app, run_server

    seen = []
    monkeypatch.setattr(run_server, "main", lambda: seen.append(sys.argv[1:]))
    monkeypatch.setattr(sys, "argv", ["visdom_server.py"])
    monkeypatch.setitem(app.tornado_settings, "static_handler_class", None)
    assert visdom_server.main(["-port", "9000", "-readonly"]) == 0
    assert visdom_server.main(["--listen_all", "-port", "9000"]) == 0
    assert seen == [["-port", "9000", "-readonly", "-bind_local"], ["-port", "9000"]]
    files = app.tornado_settings["static_handler_class"]
    assert files.get_version({"static_path": "/nowhere"}, "../user/style.css") is None


def test_frontend_installed_reads_visdoms_marker(tmp_path, monkeypatch):
    import visdom
    from visdom.utils import shared_utils

    monkeypatch.setattr(shared_utils, "get_visdom_path", lambda name: str(tmp_path / name))
    assert not visdom_server.frontend_installed()
    (tmp_path / "static").mkdir()
    (tmp_path / "static" / "version.built").write_text("0.0.1\n")
    assert not visdom_server.frontend_installed()
    (tmp_path / "static" / "version.built").write_text(visdom.__version__ + "\n")
    assert visdom_server.frontend_installed()
