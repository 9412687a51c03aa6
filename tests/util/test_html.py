from html.parser import HTMLParser

import torch

from util.html import HTML
from util.visualizer import save_images


class _Tags(HTMLParser):
    def __init__(self):
        super().__init__()
        self.imgs, self.links, self.h3, self.meta = [], [], [], []
        self._in_h3 = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "img":
            self.imgs.append(attrs["src"])
        elif tag == "a":
            self.links.append(attrs["href"])
        elif tag == "meta":
            self.meta.append(attrs)
        self._in_h3 = tag == "h3"

    def handle_data(self, data):
        if self._in_h3:
            self.h3.append(data)
            self._in_h3 = False


def parse(path) -> _Tags:
    p = _Tags()
    p.feed(path.read_text())
    return p


def test_html_page_lists_images_and_text(tmp_path):
    web = tmp_path / "a" / "web"
    page = HTML(str(web), "title", refresh=5)
    assert page.get_image_dir() == str(web / "images") and (web / "images").is_dir()
    page.add_header("first")
    page.add_images(["x.png", "y.png"], ["x", "y"], ["x.png", "y_big.png"], width=128)
    page.add_text("--lr 0.1 <b>")
    page.save()
    tags = parse(web / "index.html")
    assert tags.imgs == ["images/x.png", "images/y.png"]
    assert tags.links == ["images/x.png", "images/y_big.png"]
    assert tags.h3 == ["first"]
    assert {"http-equiv": "refresh", "content": "5"} in tags.meta
    text = (web / "index.html").read_text()
    assert "width:128px" in text and "<pre>--lr 0.1 &lt;b&gt;</pre>" in text


def test_save_images_writes_every_visual_of_every_sample(tmp_path):
    page = HTML(str(tmp_path / "test_latest"), "results")
    visuals = {"real_A_img": torch.rand(2, 3, 8, 6) * 2 - 1, "real_A_seg": torch.rand(2, 1, 8, 6) * 2 - 1}
    save_images(page, visuals, ["/data/testA/cat.png", "/data/testA/dog.jpg"], aspect_ratio=2.0)
    page.save()
    names = sorted(p.name for p in (tmp_path / "test_latest" / "images").iterdir())
    assert names == ["cat_real_A_img.png", "cat_real_A_seg.png", "dog_real_A_img.png", "dog_real_A_seg.png"]
    tags = parse(tmp_path / "test_latest" / "index.html")
    assert tags.h3 == ["cat", "dog"]
    assert tags.imgs == [f"images/{n}" for n in ["cat_real_A_img.png", "cat_real_A_seg.png",
                                                 "dog_real_A_img.png", "dog_real_A_seg.png"]]
