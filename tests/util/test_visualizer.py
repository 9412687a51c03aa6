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
               isTrain=True, continue_train=False, epoch_count=1)
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


def plot_epochs(vis, xs, names=("D_A", "G_A")):
    for x in xs:
        vis.plot_current_losses(int(x), x - int(x), {k: x * (i + 1) for i, k in enumerate(names)})


def test_loss_plot_heads_the_page(tmp_path):
    vis = Visualizer(make_opt(tmp_path))
    vis.display_current_results(visuals(), 1, save_result=True)
    web = tmp_path / "exp" / "web"
    assert not (web / "images" / "loss.png").exists()      # nothing plotted yet: no plot
    plot_epochs(vis, [1.5, 2.0])
    vis.display_current_results(visuals(), 2, save_result=True)
    page = _Page()
    page.feed((web / "index.html").read_text())
    assert page.items[:3] == ["losses", "images/loss.png", "epoch [2]"]
    with Image.open(web / "images" / "loss.png") as img:
        assert img.format == "PNG" and img.width > 400 and img.height > 200
    assert '<meta content="60" http-equiv="refresh">' in (web / "index.html").read_text()
    assert sorted(p.name for p in web.iterdir()) == ["images", "index.html"]    # no temporary file left


def test_resumed_run_keeps_the_loss_curves_up_to_where_it_resumes(tmp_path, records):
    vis = Visualizer(make_opt(tmp_path))
    plot_epochs(vis, [1.5, 2.0, 2.5, 3.0])
    history = tmp_path / "exp" / "loss_history.jsonl"
    with open(history, "a") as f:
        f.write('{"epoch": 3.5, "los')                      # a line cut short by a crash
    # resuming at the start of epoch 2 drops what epoch 2 and later plotted: they are trained again
    vis = Visualizer(make_opt(tmp_path, continue_train=True, epoch_count=2))
    assert vis.loss_history == {"X": [1.5, 2.0], "Y": [[1.5, 3.0], [2.0, 4.0]], "legend": ["D_A", "G_A"]}
    plot_epochs(vis, [2.25, 2.5])
    # a checkpoint saved a quarter into epoch 2 resumes there
    vis = Visualizer(make_opt(tmp_path, continue_train=True, epoch_count=2), resume_at=2.25)
    assert vis.loss_history["X"] == [1.5, 2.0, 2.25] and len(history.read_text().splitlines()) == 3
    # other loss names start new curves, with a warning
    plot_epochs(vis, [2.5], names=("D",))
    assert vis.loss_history == {"X": [2.5], "Y": [[2.5]], "legend": ["D"]}
    assert [r.getMessage() for r in records if r.levelno >= logging.WARNING] == [
        "the losses changed from D_A, G_A to D: the loss curves start anew"]
    assert Visualizer(make_opt(tmp_path, continue_train=True, epoch_count=3)).loss_history["legend"] == ["D"]
    # a new run (no --continue_train) starts from nothing
    assert Visualizer(make_opt(tmp_path)).loss_history == {"X": [], "Y": [], "legend": []}
    assert history.read_text() == ""


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
    assert "scripts/visdom_server.py" in warnings[0].getMessage()
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
