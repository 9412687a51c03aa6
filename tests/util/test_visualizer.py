import argparse
import base64
import io
import json
import logging
import re
import socket
import threading
from html.parser import HTMLParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import torch
from PIL import Image

from util.visualizer import Visualizer


def make_opt(tmp_path, **kw) -> argparse.Namespace:
    opt = dict(name="exp", checkpoints_dir=str(tmp_path), display_id=0, display_server="http://127.0.0.1",
               display_port=8097, display_env="main", display_ncols=2, display_winsize=64, no_html=False,
               isTrain=True)
    opt.update(kw)
    return argparse.Namespace(**opt)


def visuals(batch=2):
    return {"real_A_img": torch.rand(batch, 3, 8, 8) * 2 - 1, "fake_B_img": torch.rand(batch, 3, 8, 8) * 2 - 1,
            "real_A_seg": torch.rand(batch, 1, 8, 8) * 2 - 1}


@pytest.fixture
def records():
    """Records of the project logger (which does not propagate, so caplog would miss them)."""
    log = logging.getLogger("instagan")
    got = []
    handler = logging.Handler()
    handler.emit = got.append
    old = log.level
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    yield got
    log.removeHandler(handler)
    log.setLevel(old)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_loss_log_format(tmp_path, records):
    vis = Visualizer(make_opt(tmp_path))
    vis.print_current_losses(3, 200, {"D_A": 0.25, "G_A": 1.5}, 0.1234, 0.0005)
    vis.print_current_losses(3, 300, {"D_A": 0.125, "G_A": 2.0}, 1.0, 0.5)
    Visualizer(make_opt(tmp_path))  # a resumed run appends a new header
    lines = (tmp_path / "exp" / "loss_log.txt").read_text().splitlines()
    assert re.fullmatch(r"================ Training Loss \(.+\) ================", lines[0])
    assert lines[1] == "(epoch: 3, iters: 200, time: 0.123, data: 0.001) D_A: 0.250 G_A: 1.500 "
    assert lines[2] == "(epoch: 3, iters: 300, time: 1.000, data: 0.500) D_A: 0.125 G_A: 2.000 "
    assert lines[3].startswith("================ Training Loss (") and len(lines) == 4
    assert [r.getMessage() for r in records] == lines[1:3]


class _Page(HTMLParser):
    def __init__(self):
        super().__init__()
        self.items = []
        self._h3 = False

    def handle_starttag(self, tag, attrs):
        if tag == "img":
            self.items.append(dict(attrs)["src"])
        self._h3 = tag == "h3"

    def handle_data(self, data):
        if self._h3:
            self.items.append(data)
            self._h3 = False


def test_html_lists_saved_epochs_newest_first(tmp_path):
    vis = Visualizer(make_opt(tmp_path))
    v = visuals()
    vis.display_current_results(v, 1, save_result=True)
    vis.display_current_results(v, 2, save_result=False)
    vis.display_current_results(v, 3, save_result=True)
    web = tmp_path / "exp" / "web"
    assert sorted(p.name for p in (web / "images").iterdir()) == sorted(
        f"epoch00{e}_{k}.png" for e in (1, 3) for k in v)
    page = _Page()
    page.feed((web / "index.html").read_text())
    assert page.items == ["epoch [3]"] + [f"images/epoch003_{k}.png" for k in v] + \
                         ["epoch [1]"] + [f"images/epoch001_{k}.png" for k in v]


def test_no_html_writes_no_page(tmp_path):
    vis = Visualizer(make_opt(tmp_path, no_html=True))
    vis.display_current_results(visuals(), 1, save_result=True)
    assert not (tmp_path / "exp" / "web").exists()


def test_missing_visdom_server_warns_once(tmp_path, records):
    port = free_port()
    vis = Visualizer(make_opt(tmp_path, display_id=1, display_port=port))
    for epoch in range(1, 4):
        vis.display_current_results(visuals(), epoch, save_result=True)
        vis.plot_current_losses(epoch, 0.5, {"D_A": 1.0, "G_A": 2.0})
    warnings = [r for r in records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1
    assert str(port) in warnings[0].getMessage() and "python -m visdom.server" in warnings[0].getMessage()
    assert vis.loss_history["X"] == [1.5, 2.5, 3.5] and vis.loss_history["legend"] == ["D_A", "G_A"]
    assert (tmp_path / "exp" / "web" / "index.html").exists()


class _FakeVisdom(BaseHTTPRequestHandler):
    posts: list = []

    def do_GET(self):
        self._answer()

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.posts.append((self.path, json.loads(body)))
        self._answer()

    def _answer(self):
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


@pytest.fixture
def fake_visdom():
    """An HTTP server that answers like visdom and records what it is sent; `.stop()` takes it away."""
    _FakeVisdom.posts = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _FakeVisdom)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    server.stop = lambda: (server.shutdown(), server.server_close())
    yield server
    server.stop()


def sent_images() -> dict:
    """Window -> (width, height) of each image the fake server received, in order."""
    out = {}
    for path, msg in _FakeVisdom.posts:
        if path.endswith("/events") and msg["data"][0]["type"] == "image":
            png = base64.b64decode(msg["data"][0]["content"]["src"].split(",", 1)[1])
            with Image.open(io.BytesIO(png)) as img:
                out[msg["win"]] = img.size
    return out


def sent_windows() -> list:
    return [msg["win"] for path, msg in _FakeVisdom.posts if path.endswith("/events")]


@pytest.mark.filterwarnings("ignore:The 'warn' method:DeprecationWarning")  # inside the visdom client
def test_visdom_grid_and_one_warning_when_server_goes_away(tmp_path, records, fake_visdom):
    vis = Visualizer(make_opt(tmp_path, display_id=4, display_port=fake_visdom.server_address[1]))
    vis.display_current_results(visuals(batch=2), 1, save_result=False)
    vis.plot_current_losses(1, 0.5, {"D_A": 1.0, "G_A": 2.0})
    fake_visdom.stop()
    assert sent_windows() == ["4", "6", "5"]  # image grid, labels, loss plot
    # 2 samples x (3 visuals + 1 blank) in rows of 2 tiles of 8 + 2 * 2 padding pixels
    assert sent_images() == {"4": (2 * 12, 4 * 12)}
    assert not [r for r in records if r.levelno >= logging.WARNING]
    for epoch in range(2, 5):
        vis.display_current_results(visuals(), epoch, save_result=False)
        vis.plot_current_losses(epoch, 0.5, {"D_A": 1.0, "G_A": 2.0})
    warnings = [r for r in records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1 and "stopped answering" in warnings[0].getMessage()
    assert vis.vis is None and len(vis.loss_history["X"]) == 4


@pytest.mark.filterwarnings("ignore:The 'warn' method:DeprecationWarning")
def test_visdom_one_window_per_visual_without_columns(tmp_path, fake_visdom):
    vis = Visualizer(make_opt(tmp_path, display_id=4, display_ncols=0, display_port=fake_visdom.server_address[1]))
    vis.display_current_results(visuals(batch=3), 1, save_result=False)
    assert sent_images() == {w: (3 * 12, 12) for w in ["7", "8", "9"]}  # after the plot (5) and labels (6)
