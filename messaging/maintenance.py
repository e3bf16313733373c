"""What the cron commands do: resend failed receivers, delete old records."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import F, QuerySet
from django.utils import timezone

from . import conf
from .batching import still_matching, walk_ids
from .models import Message, MessageReceiver
from .queueing import enqueue_batches

# Receivers one statement asks for again (ids only are read) or deletes. Larger chunks
# spend less per row on statements and commits; this size keeps each statement's row
# locks (and SQLite's write lock) to a fraction of a second, and never 1M rows at once.
RESEND_CHUNK = 1000
DELETE_CHUNK = 1000


@dataclass
class ResendReport:
    resent: int = 0
    exceeded: int = 0
    recovered: int = 0
    limit: int = 0


def iterate_ids(queryset: QuerySet, batch: int) -> Iterator[list[int]]:
    """Primary keys of ``queryset`` in ascending batches: one scan, flat memory.

    See :func:`messaging.batching.walk_ids`: the query runs once whatever the count.
    """
    return walk_ids(queryset, batch)


def resend_failed(
    *,
    dry_run: bool = False,
    ignore_backoff: bool = False,
    progress: Callable[[int], None] | None = None,
) -> ResendReport:
    """Ask for one more send of each ``failed`` receiver within the resend limit.

    Receivers whose worker died (claim expired) or whose task was lost are sent again too.
    ``failed`` receivers past the limit (e.g. after the limit was lowered) become ``error``.
    """
    limit = conf.resend_limit()
    now = timezone.now()
    report = ResendReport(limit=limit)
    exceeded = MessageReceiver.objects.filter(
        status=MessageReceiver.Status.FAILED, sending_failed_count__gt=limit
    )
    due = MessageReceiver.objects.filter_due_for_resend(limit, now, ignore_backoff)
    if dry_run:
        report.exceeded = exceeded.count()
        report.resent = due.count()
        return report
    report.exceeded = exceeded.update(status=MessageReceiver.Status.ERROR, next_attempt_at=None)
    report.recovered = recover_abandoned(now)
    requeue_stranded(now)
    # The conditions are checked again in each UPDATE, so a receiver that a worker or a
    # staff member took meanwhile is not asked for twice.
    ask_again = {"pending_sends": F("pending_sends") + 1, "send_requested_at": now}
    for updated in update_in_batches(due, ask_again):
        report.resent += updated
        if progress:
            progress(report.resent)
    return report


def update_in_batches(queryset: QuerySet, changes: dict) -> Iterator[int]:
    """Apply ``changes`` to ``queryset`` chunk by chunk, enqueueing each changed chunk.

    The ids are read once; each chunk of ``RESEND_CHUNK`` is one UPDATE by primary key
    (its own short transaction outside an ``atomic`` block) that repeats the queryset's
    conditions, so rows that stopped matching are left alone. Delivery is enqueued in
    tasks of ``MESSAGING_BATCH_SIZE``. Yields how many rows each chunk changed.
    """
    for ids in iterate_ids(queryset, RESEND_CHUNK):
        updated = still_matching(queryset, ids).update(**changes)
        if updated:
            enqueue_batches(ids)
        yield updated


def recover_abandoned(now: datetime) -> int:
    """Send again the receivers whose claim expired (their worker died mid-batch)."""
    expired = MessageReceiver.objects.filter(claimed_until__lt=now)
    changes = {
        "pending_sends": F("pending_sends") + 1,
        "claimed_until": None,
        "claim_token": "",
        "send_requested_at": now,
    }
    return sum(update_in_batches(expired, changes))


def requeue_stranded(now: datetime) -> int:
    """Enqueue again sends asked for a lease ago that no worker took: their task was lost.

    Marking them asked for now keeps the next cron run from enqueuing them once more.
    """
    cutoff = now - timedelta(seconds=conf.claim_lease_seconds())
    stranded = MessageReceiver.objects.filter(
        pending_sends__gt=0, claimed_until__isnull=True, send_requested_at__lt=cutoff
    )
    return sum(update_in_batches(stranded, {"send_requested_at": now}))


def delete_old_receivers(days: int) -> int:
    """Delete receivers created more than ``days`` days ago, in chunks; returns how many.

    Each chunk is its own short transaction (unless the caller holds one), so workers and
    the admin are never blocked for long; the count is of rows actually deleted.
    """
    cutoff = timezone.now() - timedelta(days=days)
    old = MessageReceiver.objects.filter_old_receivers(cutoff)
    deleted = 0
    for ids in iterate_ids(old, DELETE_CHUNK):
        # Keys only: a digest's covered receivers point at it (SET_NULL), so Django loads
        # the rows it deletes; their stored emails need not come along.
        _total, by_model = still_matching(old, ids).only("pk").delete()
        deleted += by_model.get(MessageReceiver._meta.label, 0)
    return deleted


def delete_messages_without_receivers() -> int:
    deleted, by_model = Message.objects.filter_message_with_no_message_receivers().delete()
    return by_model.get(Message._meta.label, 0)


def request_sends_for(selection: QuerySet) -> int:
    """Ask for one more delivery of every receiver in ``selection``; returns how many.

    Ids are read a chunk at a time (keyset pagination) and each chunk is one UPDATE, so
    memory stays flat however many receivers are selected. Delivery is enqueued once the
    transaction commits, by reading the receivers marked here back in chunks.
    """
    now = timezone.now()
    asked, first, last = 0, None, None
    ask_again = {"pending_sends": F("pending_sends") + 1, "send_requested_at": now}
    for ids in iterate_ids(selection, RESEND_CHUNK):
        asked += MessageReceiver.objects.filter(pk__in=ids).update(**ask_again)
        first = ids[0] if first is None else first
        last = ids[-1]
    if asked:
        transaction.on_commit(lambda: enqueue_requested(now, first, last))
    return asked


def enqueue_requested(requested_at: datetime, first: int, last: int) -> None:
    """Enqueue the receivers between ids ``first`` and ``last`` asked for at ``requested_at``."""
    asked = MessageReceiver.objects.filter(
        pk__gte=first, pk__lte=last, send_requested_at=requested_at, pending_sends__gt=0
    )
    for ids in iterate_ids(asked, RESEND_CHUNK):
        enqueue_batches(ids)
