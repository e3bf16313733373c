"""Asking for sends: one more delivery of receivers, then the queue, in one place.

Every path that sends receivers again goes through :func:`request_sends`: the API and the
admin's resend (single and bulk), the cron command (failed receivers, abandoned claims,
lost tasks) and digests. It marks the receivers chunk by chunk, each chunk one UPDATE that
repeats the selection's conditions, and enqueues their delivery once the transaction
commits.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from functools import partial
from typing import Any

from django.db import transaction
from django.db.models import F, QuerySet
from django.utils import timezone

from .batching import still_matching, walk_ids
from .models import MessageReceiver
from .tasks import enqueue_batches

# Receivers one statement asks for again (ids only are read). Larger chunks spend less per
# row on statements and commits; this size keeps each statement's row locks (and SQLite's
# write lock) to a fraction of a second, and never 1M rows at once.
CHUNK = 1000


def asked_again(now: datetime) -> dict[str, Any]:
    """The changes that ask for one more delivery, as of ``now``."""
    return {"pending_sends": F("pending_sends") + 1, "send_requested_at": now}


def request_sends(
    selection: QuerySet,
    *,
    message_id: int | None = None,
    now: datetime | None = None,
    changes: Mapping[str, Any] | None = None,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Ask for one more delivery of every receiver in ``selection``; returns how many.

    - ``changes`` replaces :func:`asked_again` (e.g. to also release a claim, or only to
      enqueue again); it must set ``send_requested_at`` to ``now``.
    - Ids are read once, a chunk at a time, and each chunk is one UPDATE that repeats the
      selection's conditions, so a receiver that a worker or staff member took meanwhile
      is not asked for twice. ``progress`` is called with the running count.
    - Delivery is enqueued once the current transaction commits (at once outside one), by
      reading back the receivers marked here, so memory stays flat however many there
      are. When the queue refuses, message ``message_id`` is marked ``error``; without
      one, the error is raised.
    """
    now = now or timezone.now()
    changes = asked_again(now) if changes is None else changes
    asked, first, last = 0, None, None
    for ids in walk_ids(selection, CHUNK):
        if updated := still_matching(selection, ids).update(**changes):
            asked += updated
            first = ids[0] if first is None else first
            last = ids[-1]
            if progress:
                progress(asked)
    if asked:
        transaction.on_commit(partial(enqueue_requested, now, first, last, message_id))
    return asked


def enqueue_requested(
    requested_at: datetime, first: int, last: int, message_id: int | None = None
) -> None:
    """Enqueue the receivers between ids ``first`` and ``last`` asked for at ``requested_at``."""
    asked = MessageReceiver.objects.filter(
        pk__gte=first, pk__lte=last, send_requested_at=requested_at, pending_sends__gt=0
    )
    for ids in walk_ids(asked, CHUNK):
        enqueue_batches(ids, message_id=message_id)
