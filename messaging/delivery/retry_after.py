"""When a mail server asks to be tried again: the delay that a 4xx reply names.

Servers say it in words ("451 4.7.1 Try again in 5 minutes", "421 Retry after 120
seconds", "450 try again later, retry in 30s") or as a header-like ``Retry-After: 120``.
:func:`retry_after` reads it; :func:`~.outcomes.record_failure` waits at least that long
before the automatic retry (``next_attempt_at``), or longer when the backoff says so.
"""

from __future__ import annotations

import re
from datetime import timedelta

# Longer than anything a server means: a typo or a hostile reply must not park an email.
LONGEST = timedelta(days=1)

UNITS = {
    "s": 1,
    "sec": 1,
    "secs": 1,
    "second": 1,
    "seconds": 1,
    "m": 60,
    "min": 60,
    "mins": 60,
    "minute": 60,
    "minutes": 60,
    "h": 3600,
    "hr": 3600,
    "hrs": 3600,
    "hour": 3600,
    "hours": 3600,
}
UNIT = "|".join(sorted(UNITS, key=len, reverse=True))
# "try again in 5 minutes", "retry after 120 seconds", "retry in 30s", "try again after
# 2 hours", "Retry-After: 120" (seconds when no unit is named).
PATTERNS = (
    re.compile(
        rf"\b(?:try\s+again|retry)\s+(?:in|after)\s+(\d+(?:\.\d+)?)\s*({UNIT})\b", re.IGNORECASE
    ),
    re.compile(rf"\bretry-after:\s*(\d+)(?:\s*({UNIT})\b)?", re.IGNORECASE),
)


def retry_after(code: int | None, reply: str) -> timedelta | None:
    """The wait that the server's ``reply`` to a 4xx ``code`` asks for, at most a day;
    ``None`` when the code is not 4xx or the reply names no time."""
    if code is None or not 400 <= code < 500:
        return None
    for pattern in PATTERNS:
        if match := pattern.search(reply):
            number, unit = match.groups()
            seconds = float(number) * UNITS[(unit or "s").lower()]
            return min(LONGEST, timedelta(seconds=seconds))
    return None
