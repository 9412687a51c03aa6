"""The training page, test.py's page and the offline visdom dashboard, opened in headless Chromium.

Chromium is driven over the DevTools protocol on a pipe (no port, no driver). Debian's `chromium` package
(installed by .ci/run) is needed; without it these tests are skipped.
"""
from __future__ import annotations

import json
import os
import select
import shutil
import subprocess
import time

import pytest

import test as test_script
import train as train_script
from scripts.visdom_server import frontend_installed
from tests.conftest import TINY, TINY_TRAIN
from tests.util.test_visdom_server import running_visdom_server

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (`apt-get install chromium`): "
                                                         "pages are not checked in a browser")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


class Chromium:
    """Headless Chromium answering DevTools protocol commands on a pipe (its fds 3 and 4)."""

    def __init__(self, profile_dir) -> None:
        to_chromium, self._out = os.pipe()
        self._in, from_chromium = os.pipe()
        cmd = [CHROMIUM, *FLAGS, f"--user-data-dir={profile_dir}", "--remote-debugging-pipe", "about:blank"]
        # bash puts the pipe ends on the fds Chromium expects, then becomes Chromium
        self.proc = subprocess.Popen(["bash", "-c", f'exec "$@" 3<&{to_chromium} 4>&{from_chromium}', "bash", *cmd],
                                     pass_fds=(to_chromium, from_chromium), stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        os.close(to_chromium)
        os.close(from_chromium)
        self._buf = b""
        self._id = 0
        self.events: list[dict] = []

    def _receive(self, deadline: float) -> dict:
        while b"\0" not in self._buf:
            ready, _, _ = select.select([self._in], [], [], max(deadline - time.monotonic(), 0))
            assert ready, "Chromium did not answer in time"
            chunk = os.read(self._in, 1 << 20)
            assert chunk, "Chromium exited"
            self._buf += chunk
        message, self._buf = self._buf.split(b"\0", 1)
        return json.loads(message)

    def call(self, method: str, session: str | None = None, timeout: float = 30, **params) -> dict:
        self._id += 1
        message = {"id": self._id, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        os.write(self._out, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while (answer := self._receive(deadline)).get("id") != self._id:
            self.events.append(answer)
        assert "error" not in answer, f"{method}: {answer['error']}"
        return answer["result"]

    def open(self, url: str, timeout: float = 30) -> str:
        """Open `url` in a new tab and wait for its load event (images included); returns the tab's session."""
        target = self.call("Target.createTarget", url="about:blank")["targetId"]
        session = self.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        self.call("Page.enable", session)
        self.call("Network.enable", session)
        self.call("Page.navigate", session, url=url)
        deadline = time.monotonic() + timeout
        while not any(e.get("method") == "Page.loadEventFired" and e.get("sessionId") == session for e in self.events):
            self.events.append(self._receive(deadline))
        return session

    def evaluate(self, session: str, expression: str):
        return self.call("Runtime.evaluate", session, expression=expression, returnByValue=True)["result"]["value"]

    def requested_urls(self, session: str) -> list[str]:
        return [e["params"]["request"]["url"] for e in self.events
                if e.get("method") == "Network.requestWillBeSent" and e.get("sessionId") == session]

    def close(self) -> None:
        try:
            self.call("Browser.close", timeout=10)
            self.proc.wait(10)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
            os.close(self._out)
            os.close(self._in)


@pytest.fixture
def chromium(tmp_path):
    browser = Chromium(tmp_path / "chromium_profile")
    yield browser
    browser.close()


IMAGES = "[...document.images].map(i => [i.getAttribute('src'), i.naturalWidth])"


def test_training_and_test_pages_show_every_image(tiny_data, tmp_path, chromium):
    ck, res = tmp_path / "ck", tmp_path / "res"
    flags = ["--dataroot", tiny_data, "--name", "tiny", "--checkpoints_dir", str(ck)]
    assert train_script.main(flags + TINY_TRAIN + ["--print_freq", "1", "--update_html_freq", "2"]) == 0
    assert test_script.main(flags + TINY + ["--results_dir", str(res)]) == 0

    train_page = chromium.open((ck / "tiny" / "web" / "index.html").as_uri())
    images = chromium.evaluate(train_page, IMAGES)
    assert all(width > 0 for _, width in images), images
    assert images[0][0] == "images/loss.png" and images[0][1] >= 400     # the loss plot comes first
    assert [src[:15] for src, _ in images[1:]] == ["images/epoch002"] * 12 + ["images/epoch001"] * 12

    test_page = chromium.open((res / "tiny" / "test_latest" / "index.html").as_uri())
    images = chromium.evaluate(test_page, IMAGES)
    assert len(images) == 3 * 12 and all(width == 24 for _, width in images), images
    assert f"dataroot: {tiny_data}" in chromium.evaluate(test_page, "document.querySelector('pre').textContent")


@pytest.mark.filterwarnings("ignore:The 'warn' method:DeprecationWarning")  # inside the visdom client
@pytest.mark.skipif(not frontend_installed(), reason="visdom's front-end is not installed "
                                                     "(bash scripts/setup_visdom_offline.sh): dashboard not checked")
def test_visdom_dashboard_renders_offline(tmp_path, chromium):
    import numpy as np
    import visdom

    with running_visdom_server(tmp_path) as port:
        client = visdom.Visdom(port=port, env="dash", use_incoming_socket=False, raise_exceptions=True)
        client.images(np.zeros((2, 3, 8, 8)), win="1", opts={"title": "images"})
        client.line(X=np.array([[1.5, 1.5], [2.0, 2.0]]), Y=np.ones((2, 2)), win="2",
                    opts={"legend": ["D_A", "G_A"], "xlabel": "epoch"})
        base = f"http://127.0.0.1:{port}/"
        tab = chromium.open(base + "env/dash")
        shown = "JSON.stringify([document.querySelectorAll('.js-plotly-plot').length, " \
                f"[...document.querySelectorAll('.legendtext')].map(e => e.textContent), {IMAGES}])"
        deadline = time.monotonic() + 30
        while (state := json.loads(chromium.evaluate(tab, shown)))[0] == 0:   # windows arrive over the socket
            assert time.monotonic() < deadline, f"the dashboard drew no plot: {state}"
            time.sleep(0.2)
        urls = chromium.requested_urls(tab)
    plots, legend, images = state
    assert plots == 1 and legend == ["D_A", "G_A"]
    assert len(images) == 1 and images[0][1] > 0
    assert any(u.startswith(base + "static/js/plotly") for u in urls)
    assert [u for u in urls if not u.startswith((base, "data:"))] == []          # nothing from the internet
