"""One rate limit for all workers: ``MESSAGING_MAX_PER_SECOND`` per mailer.

The send loop calls :meth:`SharedRateLimiter.wait` before each email. The limiter takes
tokens from the mailer's shared bucket (:mod:`.buckets`: the database, or Redis on RQ) in
grants of a tenth of a second's worth, so the database or Redis sees about ten requests a
second per mailer however fast the sending, and spends them locally; the threads of one
worker (``MESSAGING_CONNECTIONS_PER_WORKER``) share its limiter. Without a limit the loop
gets no limiter and calls nothing: no bucket, no query, no lock (``METRIC
rate_limit_overhead`` measures what is left).
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable

from .. import conf
from .buckets import Bucket, bucket_for

# The burst after an idle spell, and each grant, in seconds' worth of the rate.
GRANT_SECONDS = 0.1


def nothing() -> None:
    pass


class SharedRateLimiter:
    """Spaces one process's sends so that all workers sharing ``bucket`` stay under
    ``per_second`` together; safe across threads."""

    def __init__(self, bucket: Bucket, per_second: float) -> None:
        self.bucket = bucket
        self.rate = per_second
        self.capacity = max(1.0, per_second * GRANT_SECONDS)
        self.grant = int(self.capacity)
        self.tokens = 0
        self.lock = threading.Lock()

    def wait(self, idle: Callable[[], None] = nothing) -> None:
        """Return once this process may send one email. ``idle`` is called before the
        bucket is asked (the database connection must then be free: a pipelined status
        write is finished first)."""
        with self.lock:
            while self.tokens < 1:
                idle()
                granted, delay = self.bucket.take(self.grant, self.rate, self.capacity)
                self.tokens += granted
                if not granted:
                    # A little jitter, so that waiting workers do not ask in lockstep.
                    time.sleep(delay * random.uniform(1.0, 1.2))
            self.tokens -= 1


_limiters: dict[tuple[str, float, str], SharedRateLimiter] = {}
_limiters_lock = threading.Lock()


def shared_rate_limiter(mailer: str = "default") -> SharedRateLimiter | None:
    """This process's limiter of ``mailer``, kept across batches (its unspent tokens too);
    ``None`` when the mailer has no ``MESSAGING_MAX_PER_SECOND``."""
    rate = conf.max_per_second(mailer)
    if rate is None:
        return None
    key = (mailer, rate, conf.rate_limit_store())
    with _limiters_lock:
        if key not in _limiters:
            _limiters[key] = SharedRateLimiter(bucket_for(mailer), rate)
        return _limiters[key]
