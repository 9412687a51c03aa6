"""The project's single logger.

Every module logs through `logger`; `setup_logging` is called once by an entry point.
"""
import logging
import sys

logger = logging.getLogger("instagan")


def setup_logging(verbose: bool = False) -> None:
    """Send the project's log records to stderr, one line each."""
    if logger.handlers:
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s", "%H:%M:%S"))
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG if verbose else logging.INFO)
    logger.propagate = False
