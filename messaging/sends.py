"""Asking for sends: one more delivery of receivers, then the queue, in one place.

Every path that sends receivers again goes through :func:`request_sends`: the API and the
admin's resend (single and bulk), the cron command (failed receivers, abandoned claims,
lost tasks, scheduled messages whose time came), digests and staff resuming a stopped
message. It marks the receivers chunk by chunk, each chunk one UPDATE that repeats the
selection's conditions, and enqueues their delivery once the transaction commits, each
with its message's priority.

No receiver of a message past its ``expires_at`` is asked for, and cancelled ones only
when a stopped message is resumed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from functools import partial
from typing import Any

from django.db import transaction
from django.db.models import Case, F, QuerySet, Value, When
from django.utils import timezone

from . import conf
from .batching import still_matching, walk_ids
from .models import Message, MessageReceiver
from .tasks import enqueue_batches

Status = MessageReceiver.Status

# Receivers one statement asks for again (ids only are read). Larger chunks spend less per
# row on statements and commits; this size keeps each statement's row locks (and SQLite's
# write lock) to a fraction of a second, and never 1M rows at once.
CHUNK = 1000


def asked_again(now: datetime, *, resume: bool = False) -> dict[str, Any]:
    """The changes that ask for one more delivery, as of ``now``.

    With ``resume``, a cancelled receiver also gets back the status of its last attempt:
    ``failed`` after a failed one, else ``not_sent``.
    """
    changes: dict[str, Any] = {"pending_sends": F("pending_sends") + 1, "send_requested_at": now}
    if resume:
        changes["status"] = Case(
            When(status=Status.CANCELLED, sending_failed_count__gt=0, then=Value(Status.FAILED)),
            When(status=Status.CANCELLED, then=Value(Status.NOT_SENT)),
            default=F("status"),
        )
    return changes


def request_sends(
    selection: QuerySet,
    *,
    message_id: int | None = None,
    now: datetime | None = None,
    changes: Mapping[str, Any] | None = None,
    progress: Callable[[int], None] | None = None,
    priority: str | None = None,
    run_after: datetime | None = None,
    resume: bool = False,
) -> int:
    """Ask for one more delivery of every receiver in ``selection``; returns how many.

    - Receivers of a message past its ``expires_at`` are left out, whatever their status
      (cron's sweep marks the waiting ones ``expired``), and cancelled ones unless
      ``resume`` (see :func:`asked_again`).
    - ``changes`` replaces :func:`asked_again` (e.g. to also release a claim, or only to
      enqueue again); it must set ``send_requested_at`` to ``now``.
    - Ids are read once, a chunk at a time, and each chunk is one UPDATE that repeats the
      selection's conditions, so a receiver that a worker or staff member took meanwhile
      is not asked for twice. ``progress`` is called with the running count.
    - Delivery is enqueued once the current transaction commits (at once outside one), by
      reading back the receivers marked here, so memory stays flat however many there
      are; with ``priority`` when all are of one message, else each with its message's;
      not before ``run_after`` when given. When the queue refuses, message ``message_id``
      is marked ``error``; without one, the error is raised.
    """
    current = timezone.now()  # ``now`` may be a scheduled message's send_at
    now = now or current
    stopped = [Status.EXPIRED] if resume else list(MessageReceiver.STOPPED)
    expired = Message.objects.expired(current).values("pk")
    # Conditions on the receivers' own rows (no join), which each UPDATE checks again.
    selection = selection.exclude(status__in=stopped).exclude(message_id__in=expired)
    changes = asked_again(now, resume=resume) if changes is None else changes
    asked, first, last = 0, None, None
    for ids in walk_ids(selection, CHUNK):
        if updated := still_matching(selection, ids).update(**changes):
            asked += updated
            first = ids[0] if first is None else first
            last = ids[-1]
            if progress:
                progress(asked)
    if asked:
        enqueue = partial(enqueue_requested, now, first, last, message_id, priority, run_after)
        transaction.on_commit(enqueue)
    return asked


def enqueue_requested(
    requested_at: datetime,
    first: int,
    last: int,
    message_id: int | None = None,
    priority: str | None = None,
    run_after: datetime | None = None,
) -> None:
    """Enqueue the receivers between ids ``first`` and ``last`` asked for at ``requested_at``,
    each with its message's priority unless ``priority`` is given."""
    asked = MessageReceiver.objects.filter(
        pk__gte=first, pk__lte=last, send_requested_at=requested_at, pending_sends__gt=0
    )
    for level, receivers in by_priority(asked, priority):
        for ids in walk_ids(receivers, CHUNK):
            enqueue_batches(ids, message_id=message_id, priority=level, run_after=run_after)


def by_priority(receivers: QuerySet, priority: str | None) -> list[tuple[str, QuerySet]]:
    """``receivers`` split by their message's priority, highest first (one query to find
    which priorities they have), or all of them at ``priority`` when given."""
    if priority is not None:
        return [(priority, receivers)]
    found = set(receivers.order_by().values_list("message__priority", flat=True).distinct())
    return [
        (level, receivers.filter(message__priority=level))
        for level in conf.PRIORITIES
        if level in found
    ]
