"""What the cron commands do: resend failed receivers, send digests, delete old records."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

from django.db import transaction
from django.utils import timezone

from . import conf
from .batching import still_matching, walk_ids
from .models import Message, MessageReceiver
from .preferences import digests
from .sends import asked_again, request_sends
from .tasks import enqueue_batches

# Receivers one statement deletes: as for asking again (sends.CHUNK), each statement's
# row locks (and SQLite's write lock) last a fraction of a second.
DELETE_CHUNK = 1000


@dataclass
class ResendReport:
    resent: int = 0
    exceeded: int = 0
    recovered: int = 0
    limit: int = 0


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
    report.resent = request_sends(due, now=now, progress=progress)
    return report


def recover_abandoned(now: datetime) -> int:
    """Send again the receivers whose claim expired (their worker died mid-batch)."""
    expired = MessageReceiver.objects.filter(claimed_until__lt=now)
    changes = {**asked_again(now), "claimed_until": None, "claim_token": ""}
    return request_sends(expired, now=now, changes=changes)


def requeue_stranded(now: datetime) -> int:
    """Enqueue again sends asked for a lease ago that no worker took: their task was lost.

    Marking them asked for now keeps the next cron run from enqueuing them once more.
    """
    cutoff = now - timedelta(seconds=conf.claim_lease_seconds())
    stranded = MessageReceiver.objects.filter(
        pending_sends__gt=0, claimed_until__isnull=True, send_requested_at__lt=cutoff
    )
    return request_sends(stranded, now=now, changes={"send_requested_at": now})


def delete_old_receivers(days: int) -> int:
    """Delete receivers created more than ``days`` days ago, in chunks; returns how many.

    Each chunk is its own short transaction (unless the caller holds one), so workers and
    the admin are never blocked for long; the count is of rows actually deleted.
    """
    cutoff = timezone.now() - timedelta(days=days)
    old = MessageReceiver.objects.filter_old_receivers(cutoff)
    deleted = 0
    for ids in walk_ids(old, DELETE_CHUNK):
        # Keys only: a digest's covered receivers point at it (SET_NULL), so Django loads
        # the rows it deletes; their stored emails need not come along.
        _total, by_model = still_matching(old, ids).only("pk").delete()
        deleted += by_model.get(MessageReceiver._meta.label, 0)
    return deleted


def delete_messages_without_receivers() -> int:
    deleted, by_model = Message.objects.filter_message_with_no_message_receivers().delete()
    return by_model.get(Message._meta.label, 0)


def send_digests(now: datetime | None = None) -> digests.DigestReport:
    """Compose the digests due at ``now`` (default: the current time) and enqueue them."""
    report = digests.compose_digests(now)
    for digest in report.composed:
        transaction.on_commit(partial(enqueue_batches, [digest.pk], message_id=digest.message_id))
    return report
