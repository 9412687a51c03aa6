"""What train.py and test.py share: turning user mistakes into one line and exit code 2."""
from __future__ import annotations

import os
import signal
import sys
import threading
import time
from typing import Callable, Sequence

from .errors import OptionError, UserError
from .log import logger, setup_logging


def user_message(error: UserError) -> str:
    """The error's own one-line message, also when a DataLoader worker wrapped it with a traceback."""
    lines = [line for line in str(error).strip().splitlines() if line.strip()]
    last = lines[-1] if lines else type(error).__name__
    prefix = f"{type(error).__module__}.{type(error).__name__}: "
    return last[len(prefix):] if last.startswith(prefix) else last


class Terminated(KeyboardInterrupt):
    """SIGTERM (what cluster schedulers send before SIGKILL), raised where the program is, so that its cleanups
    run as for Ctrl-C. train.py catches the signal itself while it trains, to save first (models/run_state.py)."""


def _terminate(signum, frame) -> None:
    raise Terminated()


def run_cli(main: Callable[[Sequence[str] | None], int], argv: Sequence[str] | None = None) -> int:
    """Run an entry point: log setup, one-line errors for `UserError` and for the file system's refusals (exit
    code 2), exit code 130 on Ctrl-C and 143 on SIGTERM."""
    args = list(sys.argv[1:] if argv is None else argv)
    setup_logging(verbose="--verbose" in args)
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _terminate)
    try:
        return main(args)
    except UserError as e:
        # under torchrun every process parses the same flags: a machine's first process alone names a flag mistake;
        # the others give it time to, as torchrun stops every process (SIGTERM) once one has exited
        if not isinstance(e, OptionError) or os.environ.get("LOCAL_RANK", "0") == "0":
            logger.error("%s", user_message(e))
        elif threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            time.sleep(2)
        return 2
    except OSError as e:
        if e.filename is None:              # not about a file: a bug or the machine, keep the traceback
            raise
        logger.error("cannot use %s: %s", e.filename, e.strerror or e)
        return 2
    except Terminated:
        logger.error("terminated (SIGTERM)")
        return 143
    except KeyboardInterrupt:
        logger.error("interrupted")
        return 130
