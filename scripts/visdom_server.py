"""Start a visdom server that downloads nothing and, unless told otherwise, only this machine can reach.

    python scripts/visdom_server.py [-port 8097] [-env_path DIR] [--listen_all] [other visdom.server flags]

`python -m visdom.server` fetches its browser scripts from CDNs at every start and crashes without internet
access, as on many GPU clusters. This runs the same server without that step; every flag of
`python -m visdom.server` works (`-h` lists them). train.py only needs the server's API, which works
right away. The dashboard in a browser also needs visdom's front-end scripts: install them once from the npm
registry with `bash scripts/setup_visdom_offline.sh`. The server listens on 127.0.0.1 only; from another
machine, tunnel to it (`ssh -L 8097:localhost:8097 HOST`) or pass --listen_all to listen on every interface.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Sequence

if __package__ in (None, ""):  # run as `python scripts/X.py`: import from the repo root, not scripts/
    sys.path[0] = str(Path(__file__).resolve().parents[1])

from util.log import logger, setup_logging


def frontend_installed() -> bool:
    """Whether visdom's static folder holds the browser scripts of this visdom version (visdom's own marker)."""
    import visdom
    from visdom.utils.shared_utils import get_visdom_path

    marker = get_visdom_path(os.path.join("static", "version.built"))
    return os.path.isfile(marker) and Path(marker).read_text().strip() == visdom.__version__


def _static_files():
    """Tornado's static file handler, letting visdom's page link `../user/style.css` (its user settings route).

    Since tornado 6.6, `static_url` refuses paths outside the static folder, and visdom 0.2.4's page uses one:
    the dashboard page would answer 403. Only that link goes unversioned; serving files is unchanged.
    """
    from tornado.web import StaticFileHandler

    class VisdomStaticFiles(StaticFileHandler):
        @classmethod
        def get_version(cls, settings, path):
            return None if path.startswith("../") else super().get_version(settings, path)

    return VisdomStaticFiles


def main(argv: Sequence[str] | None = None) -> int:
    setup_logging()
    # The visdom package imports torch, if it can, only to recognise tensors a client sends: the server never
    # needs it, and starts in a second instead of several without it.
    sys.modules.setdefault("torch", None)
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--listen_all", action="store_true")
    args, visdom_args = parser.parse_known_args(sys.argv[1:] if argv is None else argv)
    if not frontend_installed():
        logger.warning("visdom's browser scripts are not installed: training can send to this server, but the "
                       "dashboard will not render (install them with `bash scripts/setup_visdom_offline.sh`)")
    from visdom.server import app, run_server

    app.tornado_settings["static_handler_class"] = _static_files()
    # visdom's own command line without its download step; it reads its flags from sys.argv.
    sys.argv = [sys.argv[0], *visdom_args, *([] if args.listen_all else ["-bind_local"])]
    run_server.main()
    return 0


if __name__ == "__main__":
    sys.exit(main())
