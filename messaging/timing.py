"""When and in what order a message goes: its ``send_at``, ``expires_at`` and ``priority``.

Pure rules over the arguments of ``send_message`` and the context type's defaults
(``MESSAGING_CONTEXT_TYPES``' ``expires_after`` and ``priority``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.utils import timezone

from . import conf
from .exceptions import SchedulingError


@dataclass(frozen=True)
class Timing:
    """When a message may start (``send_at``, ``None``: now), until when its receivers may
    still be sent (``expires_at``, ``None``: ever), and its ``priority``."""

    send_at: datetime | None
    expires_at: datetime | None
    priority: str

    def scheduled(self, now: datetime) -> bool:
        """Whether the message waits for ``send_at`` (still to come at ``now``)."""
        return self.send_at is not None and self.send_at > now


def resolve(
    context_type: str,
    send_at: datetime | None,
    expires_at: datetime | None,
    priority: str | None,
    now: datetime,
) -> Timing:
    """The timing of a message of ``context_type`` given these arguments, or a
    :class:`SchedulingError` saying which argument cannot be used and why.

    Without ``expires_at``, a context type's ``expires_after`` counts from when the
    message starts (``send_at`` when it is still to come); without ``priority``, it has
    the context type's (``normal`` by default).
    """
    spec = conf.context_type_specs().get(context_type)
    send_at = aware("send_at", send_at)
    start = send_at if send_at is not None and send_at > now else now
    if expires_at is None and spec is not None and spec.expires_after is not None:
        expires_at = start + spec.expires_after
    expires_at = aware("expires_at", expires_at)
    if expires_at is not None and expires_at <= start:
        raise SchedulingError(
            f"expires_at ({expires_at.isoformat()}) must come after the message starts "
            f"({start.isoformat()}): nothing could be sent. Give a later expires_at."
        )
    priority = priority or (spec.priority if spec is not None else "normal")
    if priority not in conf.PRIORITIES:
        raise SchedulingError(
            f"priority must be one of {', '.join(conf.PRIORITIES)}, got {priority!r}."
        )
    return Timing(send_at=send_at, expires_at=expires_at, priority=priority)


def aware(name: str, value: datetime | None) -> datetime | None:
    """``value`` when it is ``None`` or an aware datetime, else a :class:`SchedulingError`."""
    if value is None:
        return None
    if not isinstance(value, datetime) or timezone.is_naive(value):
        raise SchedulingError(
            f"{name} must be an aware datetime (e.g. timezone.now() + timedelta(hours=1)), "
            f"got {value!r}."
        )
    return value


def check_new_time(send_at: datetime, expires_at: datetime | None, now: datetime) -> datetime:
    """A new ``send_at`` for a scheduled message: still to come and before its expiry."""
    send_at = aware("send_at", send_at) or now
    if send_at <= now:
        raise SchedulingError("The new time has passed already: give a time still to come.")
    if expires_at is not None and send_at >= expires_at:
        raise SchedulingError(
            f"The new time must come before the message expires ({expires_at.isoformat()})."
        )
    return send_at
