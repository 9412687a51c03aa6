"""Progress for runs nobody watches on a terminal.

tqdm's bars show only on a terminal; a run piped to a file or under a batch scheduler would print nothing between
two `--print_freq` lines, which on a slow machine can be most of an hour. There, one line every
`--log_interval_s` seconds says where training is, how fast it goes and how long it has left.
"""
from __future__ import annotations

import datetime
import sys
import time
from typing import Callable

from util.log import logger


def stderr_is_terminal() -> bool:
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):      # replaced by an object without it, or closed
        return False


class ProgressLine:
    """Logs `epoch E/N, iteration I/M, R images/s, H:MM:SS left` at most every `interval` seconds (0: after every
    iteration but the first), the speed from the samples trained since the previous line; nothing when stderr is a
    terminal."""

    def __init__(self, interval: float, enabled: bool | None = None, clock: Callable[[], float] = time.monotonic):
        self.interval = interval
        self.enabled = not stderr_is_terminal() if enabled is None else enabled
        self.clock = clock
        self.last_time = clock()
        self.last_samples: int | None = None

    def update(self, epoch: int, last_epoch: int, epoch_iter: int, epoch_size: int, samples: int) -> None:
        """After an iteration: `epoch_iter` of `epoch_size` samples of `epoch` are done, `samples` in all."""
        if not self.enabled:
            return
        now = self.clock()
        if self.last_samples is None:          # the first iteration: count from its end (start-up is not speed)
            self.last_time, self.last_samples = now, samples
            return
        elapsed = now - self.last_time
        if elapsed < self.interval:
            return
        rate = (samples - self.last_samples) / elapsed if elapsed > 0 else 0.0
        left = (last_epoch - epoch) * epoch_size + max(epoch_size - epoch_iter, 0)
        eta = str(datetime.timedelta(seconds=round(left / rate))) if rate > 0 else "unknown time"
        logger.info("epoch %d/%d, iteration %d/%d, %.2f images/s, %s left", epoch, last_epoch, epoch_iter,
                    epoch_size, rate, eta)
        self.last_time, self.last_samples = now, samples
