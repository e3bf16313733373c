"""Token buckets that every worker shares: a row per mailer in the database, or a key per
mailer on Redis.

Both answer the same question, :meth:`take`: of the ``want`` tokens asked for, how many
may be spent now, and when failing that, how long to wait before asking again. The bucket
holds at most ``capacity`` tokens and gains ``rate`` a second, so all workers together send
at most ``capacity + rate * t`` emails in ``t`` seconds, however many there are.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any, Protocol

from django.utils import timezone

from .. import conf
from ..models import RateBucket

# Compare-and-set attempts before a worker waits a moment: each lost race means another
# worker took tokens in between.
CAS_ATTEMPTS = 5
CONTENDED_WAIT = 0.005  # seconds, after CAS_ATTEMPTS lost races in a row


class Bucket(Protocol):
    def take(self, want: int, rate: float, capacity: float) -> tuple[int, float]:
        """``(tokens granted, seconds to wait before asking again when none was)``."""


def refill(tokens: float, elapsed: float, rate: float, capacity: float) -> float:
    return min(capacity, tokens + max(0.0, elapsed) * rate)


def answer(tokens: float, want: int, rate: float) -> tuple[int, float]:
    """What a bucket holding ``tokens`` grants of ``want``; when nothing, the wait until
    ``want`` are there (waiting for a whole grant keeps the requests to about ten a
    second per worker, however high the rate)."""
    granted = min(want, math.floor(tokens))
    return granted, 0.0 if granted else (want - tokens) / rate


class DatabaseBucket:
    """A :class:`~messaging.models.RateBucket` row, changed by compare-and-set.

    Each grant is one conditional UPDATE that names the values it read (``tokens`` and
    ``updated_at``), so of two workers that read the same state only one writes; the other
    reads again. No lock is held between statements, so it behaves alike on PostgreSQL
    and SQLite. Time is each worker's clock (keep the machines' clocks in sync);
    ``updated_at`` never moves back, so a clock behind the others grants nothing extra.
    """

    def __init__(self, mailer: str) -> None:
        self.mailer = mailer

    def take(self, want: int, rate: float, capacity: float) -> tuple[int, float]:
        for _attempt in range(CAS_ATTEMPTS):
            old_tokens, old_at = self.read()
            now = timezone.now()
            if old_at is None:  # never used: full
                tokens = capacity
            else:
                tokens = refill(old_tokens, (now - old_at).total_seconds(), rate, capacity)
            granted, wait = answer(tokens, want, rate)
            if not granted:
                return 0, wait
            if self.swap(old_tokens, old_at, tokens - granted, max(now, old_at or now)):
                return granted, 0.0
        return 0, CONTENDED_WAIT

    def read(self) -> tuple[float, datetime | None]:
        row = RateBucket.objects.filter(mailer=self.mailer).values_list("tokens", "updated_at")
        state = row.first()
        if state is None:  # the first use: whichever worker creates the row, it starts full
            RateBucket.objects.bulk_create([RateBucket(mailer=self.mailer)], ignore_conflicts=True)
            return 0.0, None
        return state

    def swap(
        self, old_tokens: float, old_at: datetime | None, tokens: float, updated_at: datetime
    ) -> bool:
        """Write the new state if the row still holds the one read; whether it did."""
        row = RateBucket.objects.filter(mailer=self.mailer, tokens=old_tokens)
        at: dict[str, object] = {"updated_at": old_at} if old_at else {"updated_at__isnull": True}
        return bool(row.filter(**at).update(tokens=tokens, updated_at=updated_at))


# The same bucket as DatabaseBucket, in one script that Redis runs atomically, on Redis's
# own clock. Numbers go back as strings: Redis would cut a Lua number to an integer.
TAKE_SCRIPT = """
local rate, capacity, want = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens, at = tonumber(state[1]), tonumber(state[2])
if tokens == nil then tokens, at = capacity, now end
tokens = math.min(capacity, tokens + math.max(0, now - at) * rate)
local granted = math.min(want, math.floor(tokens))
local wait = 0
if granted > 0 then tokens = tokens - granted else wait = (want - tokens) / rate end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('EXPIRE', KEYS[1], 3600)
return {tostring(granted), tostring(wait)}
"""


class RedisBucket:
    """A hash ``messaging:rate:<mailer>`` on the Redis of the RQ queue that delivery uses."""

    def __init__(self, mailer: str) -> None:
        # django-rq comes with the ``rq`` extra, which a site on RQ has installed.
        import django_rq

        self.key = f"messaging:rate:{mailer}"
        self.script: Any = django_rq.get_connection(conf.task_queue()).register_script(TAKE_SCRIPT)

    def take(self, want: int, rate: float, capacity: float) -> tuple[int, float]:
        granted, wait = self.script(keys=[self.key], args=[rate, capacity, want])
        return int(granted), float(wait)


def bucket_for(mailer: str) -> Bucket:
    """The shared bucket of ``mailer`` where ``MESSAGING_RATE_LIMIT_STORE`` keeps it."""
    if conf.rate_limit_store() == "redis":
        return RedisBucket(mailer)
    return DatabaseBucket(mailer)
