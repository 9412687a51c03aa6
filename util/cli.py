"""What train.py and test.py share: turning user mistakes into one line and exit code 2."""
from __future__ import annotations

import sys
from typing import Callable, Sequence

from .errors import UserError
from .log import logger, setup_logging


def user_message(error: UserError) -> str:
    """The error's own one-line message, also when a DataLoader worker wrapped it with a traceback."""
    lines = [line for line in str(error).strip().splitlines() if line.strip()]
    last = lines[-1] if lines else type(error).__name__
    prefix = f"{type(error).__module__}.{type(error).__name__}: "
    return last[len(prefix):] if last.startswith(prefix) else last


def run_cli(main: Callable[[Sequence[str] | None], int], argv: Sequence[str] | None = None) -> int:
    """Run an entry point: log setup, one-line errors for `UserError`, exit code 130 on Ctrl-C."""
    args = list(sys.argv[1:] if argv is None else argv)
    setup_logging(verbose="--verbose" in args)
    try:
        return main(args)
    except UserError as e:
        logger.error("%s", user_message(e))
        return 2
    except KeyboardInterrupt:
        logger.error("interrupted")
        return 130
