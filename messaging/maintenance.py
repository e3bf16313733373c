"""What the cron commands do: resend failed receivers, start scheduled messages, expire what
is past its time, send digests, delete old records."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from . import conf
from .batching import still_matching, walk_ids
from .delivery import relays
from .delivery.claims import drop_claims
from .models import Message, MessageReceiver, expire_due
from .preferences import digests
from .sends import asked_again, request_sends
from .tasks import can_defer, check_relay, enqueue_batches

# Receivers one statement deletes: as for asking again (sends.CHUNK), each statement's
# row locks (and SQLite's write lock) last a fraction of a second.
DELETE_CHUNK = 1000


# How long after its time a scheduled message is left to the task backend, which runs
# its deferred delivery (``run_after``), before cron starts it itself (e.g. RQ workers
# run without ``--with-scheduler``). Backends that cannot defer are not waited for.
START_GRACE = timedelta(minutes=1)


@dataclass(frozen=True)
class ResendReport:
    """What one run of :func:`resend_failed` did, or in a dry run would do (counts of
    receivers unless said otherwise)."""

    limit: int
    """The resend limit the run used (``MESSAGING_RESEND_LIMIT``)."""
    resent: int
    """``failed`` receivers within the limit whose backoff passed: one more send asked for."""
    exceeded: int
    """``failed`` receivers past the limit, which became ``error``."""
    recovered: int = 0
    """Receivers a stopped worker had claimed, sent again (none in a dry run)."""
    started: int = 0
    """Scheduled messages whose time came (none in a dry run)."""
    expired: int = 0
    """Receivers past their message's ``expires_at`` (none in a dry run)."""
    relays_down: list[str] = field(default_factory=list)
    """The relays still down after this run's probes (none probed in a dry run)."""


def resend_failed(
    *,
    dry_run: bool = False,
    ignore_backoff: bool = False,
    progress: Callable[[int], None] | None = None,
) -> ResendReport:
    """Ask for one more send of each ``failed`` receiver within the resend limit.

    Receivers whose worker died (claim expired) or whose task was lost are sent again too.
    ``failed`` receivers with no send waiting that are past the limit (e.g. after the limit
    was lowered) or ``MESSAGING_GIVE_UP_AFTER`` become ``error``.
    First, receivers past their message's ``expires_at`` become ``expired`` and scheduled
    messages whose time came are started (:func:`start_scheduled`).

    Relays that are down are probed when due (:func:`probe_relays`); while every relay is
    down, nothing is resent, requeued or given up on (``MESSAGING_GIVE_UP_AFTER``): the
    receivers keep their place until a relay answers.
    """
    limit = conf.resend_limit()
    now = timezone.now()
    exceeded = MessageReceiver.objects.filter(
        status=MessageReceiver.Status.FAILED, pending_sends=0
    ).filter(past_budget(limit, now))
    due = MessageReceiver.objects.filter_due_for_resend(limit, now, ignore_backoff)
    if dry_run:
        return ResendReport(limit=limit, resent=due.count(), exceeded=exceeded.count())
    expired = expire_due(now)
    relays_down = probe_relays()
    if len(relays_down) == len(conf.mailers()):
        # Every relay is down: nothing can go, and no budget runs.
        return ResendReport(
            limit=limit, resent=0, exceeded=0, expired=expired, relays_down=relays_down
        )
    started = start_scheduled(now)
    errors = exceeded.update(status=MessageReceiver.Status.ERROR, next_attempt_at=None)
    recovered = recover_abandoned(now)
    requeue_stranded(now)
    resent = request_sends(due, now=now, progress=progress)
    return ResendReport(
        limit=limit,
        resent=resent,
        exceeded=errors,
        recovered=recovered,
        started=started,
        expired=expired,
        relays_down=relays_down,
    )


def past_budget(limit: int, now: datetime) -> Q:
    """Failed receivers past the resend limit or failing longer than
    ``MESSAGING_GIVE_UP_AFTER``."""
    condition = Q(sending_failed_count__gt=limit)
    if (budget := conf.give_up_after()) is not None:
        condition |= Q(failing_since__lte=now - budget)
    return condition


def probe_relays() -> list[str]:
    """Probe each relay that is down and due (a safety net for its probe task, and the
    only prober where the task backend cannot run a task at a given time); returns the
    relays still down. Mail-relay rows are made for every ``MESSAGING_MAILERS`` alias."""
    relays.ensure_rows()
    for mailer in relays.due_for_probe():
        check_relay(mailer)
    usable = relays.usable_mailers()
    return [mailer for mailer in conf.mailers() if mailer not in usable]


def start_scheduled(now: datetime) -> int:
    """Start the scheduled messages whose ``send_at`` has come; returns how many.

    Each becomes ``sending`` and its receivers' sends are enqueued, with its priority. On
    a backend that runs tasks at a given time their delivery was enqueued for ``send_at``
    already, so only messages still waiting :data:`START_GRACE` later are started here.
    """
    due = now - START_GRACE if can_defer() else now
    started = 0
    for message in Message.objects.due_to_start(due).only("pk", "priority"):
        with transaction.atomic():
            if not Message.objects.filter(pk=message.pk).mark_started():
                continue  # a worker or another cron run started it meanwhile
            waiting = message.receivers.filter(pending_sends__gt=0, claimed_until__isnull=True)
            changes = {"send_requested_at": now}
            request_sends(
                waiting, now=now, changes=changes, message_id=message.pk, priority=message.priority
            )
        started += 1
    return started


def recover_abandoned(now: datetime) -> int:
    """Send again the receivers whose claim expired (their worker died mid-batch).

    Cancelled and expired ones only get their claim released: no send is asked for them.
    """
    expired = MessageReceiver.objects.filter(claimed_until__lt=now)
    drop_claims(expired.filter(status__in=MessageReceiver.STOPPED))
    changes = {**asked_again(now), "claimed_until": None, "claim_token": ""}
    return request_sends(expired, now=now, changes=changes)


def requeue_stranded(now: datetime) -> int:
    """Enqueue again sends asked for a lease ago that no worker took: their task was lost.

    Marking them asked for now keeps the next cron run from enqueuing them once more. A
    scheduled message's sends are asked for at its ``send_at``, so they wait for it.
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
