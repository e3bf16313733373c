"""A per-process rate limit (``MESSAGING_MAX_PER_SECOND``)."""

from __future__ import annotations

import threading
import time

from .. import conf


class RateLimiter:
    """Spaces sends so that one worker stays under ``per_second``; safe across threads."""

    def __init__(self, per_second: float | None) -> None:
        self.interval = 1.0 / per_second if per_second else 0.0
        self.next_at = 0.0
        self.lock = threading.Lock()

    def wait(self) -> None:
        if not self.interval:
            return
        with self.lock:
            now = time.monotonic()
            delay = max(0.0, self.next_at - now)
            self.next_at = max(now, self.next_at) + self.interval
        if delay:
            time.sleep(delay)


_limiters: dict[float | None, RateLimiter] = {}


def worker_rate_limiter() -> RateLimiter:
    """This process's limiter, shared by its batches so the rate holds across them too."""
    rate = conf.max_per_second()
    if rate not in _limiters:
        _limiters[rate] = RateLimiter(rate)
    return _limiters[rate]
