"""A minimal HTML results page: rows of linked images with captions, written with dominate."""
import os

import dominate
from dominate import tags


class HTML:
    """A page at `web_dir/index.html` whose images live in `web_dir/images` (linked relatively)."""

    def __init__(self, web_dir: str, title: str, refresh: int = 0) -> None:
        self.web_dir = web_dir
        self.img_dir = os.path.join(web_dir, "images")
        os.makedirs(self.img_dir, exist_ok=True)
        self.doc = dominate.document(title=title)
        if refresh > 0:
            with self.doc.head:
                tags.meta(http_equiv="refresh", content=str(refresh))

    def get_image_dir(self) -> str:
        return self.img_dir

    def add_header(self, text: str) -> None:
        with self.doc:
            tags.h3(text)

    def add_text(self, text: str) -> None:
        """Add preformatted text (e.g. the options a run used)."""
        with self.doc:
            tags.pre(text)

    def add_images(self, ims: list[str], txts: list[str], links: list[str], width: int = 400) -> None:
        """Add one table row: image file `ims[i]` (inside images/) captioned `txts[i]`, linking to `links[i]`."""
        if not len(ims) == len(txts) == len(links):
            raise ValueError(f"add_images needs as many captions and links as images, "
                             f"got {len(ims)}, {len(txts)}, {len(links)}")
        with self.doc:
            with tags.table(border=1, style="table-layout: fixed;"):
                with tags.tr():
                    for im, txt, link in zip(ims, txts, links):
                        with tags.td(style="word-wrap: break-word;", halign="center", valign="top"):
                            with tags.p():
                                with tags.a(href=f"images/{link}"):
                                    tags.img(style=f"width:{width}px", src=f"images/{im}")
                                tags.br()
                                tags.p(txt)

    def save(self) -> None:
        """Write index.html aside and move it into place: a browser or a crash never sees half a page."""
        path = os.path.join(self.web_dir, "index.html")
        with open(path + ".tmp", "w", encoding="utf-8") as f:
            f.write(self.doc.render())
        os.replace(path + ".tmp", path)
