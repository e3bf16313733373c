"""The delivery task and the queue it runs from; the work lives in :mod:`messaging.delivery`.

The only module that imports ``django_tasks``. The services above (:mod:`messaging.api`,
:mod:`messaging.sends`) hand receivers over through :func:`enqueue_batches`, with their
message's priority and, for a scheduled message, the time delivery may start.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from functools import partial

from django.db import transaction
from django.utils import timezone
from django_tasks import task
from django_tasks.base import Task

from . import conf, delivery
from .batching import chunked, walk_ids
from .delivery import relays
from .models import MessageReceiver, RelayState

logger = logging.getLogger(__name__)

# django-tasks' priorities (a higher one runs first, -100 to 100) of the three a message
# may have; the gaps leave room for a site's own tasks.
TASK_PRIORITIES = {"high": 10, "normal": 0, "low": -10}


@task()
def deliver_receivers(receiver_ids: list[int], priority: str = "normal") -> dict:
    """Deliver one batch of receivers. Failures are recorded on each receiver, never raised.

    Sends asked for while the batch held its claim are enqueued again after commit, with
    the batch's ``priority``; so are receivers whose message's time has not come yet (the
    task ran early), for that time. A relay the batch marked down gets its first probe.
    """
    outcome = delivery.deliver(receiver_ids)
    for mailer in outcome.pop("relays_down"):
        transaction.on_commit(partial(schedule_probe, mailer))
    if leftover := outcome.pop("leftover"):
        transaction.on_commit(partial(enqueue_batches, leftover, priority=priority))
    for send_at, early in outcome.pop("early").items():
        again = partial(enqueue_batches, early, priority=priority, run_after=send_at)
        transaction.on_commit(again)
    return outcome


def can_defer() -> bool:
    """Whether the task backend runs a task at a given time (django-tasks' ``run_after``)."""
    return deliver_receivers.get_backend().supports_defer


def delivery_task(priority: str, run_after: datetime | None) -> Task | None:
    """:func:`deliver_receivers` as enqueued for ``priority``, to run at ``run_after``.

    A backend with priorities (the database's) gets one queue and django-tasks' priority;
    one without (RQ) gets the queue of that priority (``conf.task_queue(priority)``), which
    its workers take in order. ``None`` when ``run_after`` is still to come and the backend
    cannot wait for it: ``resend_failed_messages`` starts the message at its time.
    """
    backend = deliver_receivers.get_backend()
    if run_after is not None and run_after <= timezone.now():
        run_after = None
    if run_after is not None and not backend.supports_defer:
        return None
    if run_after is not None:
        # Up to a whole second: RQ's scheduler keeps whole seconds, and would run the task
        # up to a second early, when the claim refuses what is not due yet.
        run_after = (run_after + timedelta(microseconds=999_999)).replace(microsecond=0)
    if backend.supports_priority:
        queue, number = conf.task_queue(), TASK_PRIORITIES[priority]
    else:
        queue, number = conf.task_queue(priority), None
    return deliver_receivers.using(queue_name=queue, priority=number, run_after=run_after)


def enqueue_batches(
    receiver_ids: Sequence[int],
    *,
    message_id: int | None = None,
    priority: str = "normal",
    run_after: datetime | None = None,
) -> None:
    """Enqueue :func:`deliver_receivers` tasks of at most ``MESSAGING_BATCH_SIZE`` ids each.

    When the task backend refuses, the message is marked ``error`` with the traceback;
    the receivers keep their pending send, which ``resend_failed_messages`` picks up.
    """
    try:
        queued = delivery_task(priority, run_after)
        if queued is None:
            return
        for chunk in chunked(list(receiver_ids), conf.batch_size()):
            queued.enqueue(chunk, priority)
    except Exception as error:
        logger.exception("Enqueuing delivery failed")
        if message_id is None:
            raise
        delivery.mark_message_error(message_id, error, stage="enqueue")


@task()
def probe_relay(mailer: str, outage: str) -> bool:
    """Probe relay ``mailer`` if it is down and due (:func:`check_relay`). While the same
    outage goes on (``outage``: when the relay went down, ISO 8601), this task is enqueued
    again for the next probe, so each outage has one chain of probes. Returns whether the
    relay is up."""
    found = check_relay(mailer)
    if not found.up and found.down_since and found.down_since.isoformat() == outage:
        schedule_probe(mailer, found.next_probe_at, found.down_since)
    return found.up


def check_relay(mailer: str) -> relays.Check:
    """Probe ``mailer`` when due (:func:`messaging.delivery.relays.check`); when it came
    back up, enqueue at once every receiver waiting for a send."""
    found = relays.check(mailer)
    if found.came_up:
        transaction.on_commit(enqueue_waiting)
    return found


def schedule_probe(
    mailer: str, when: datetime | None = None, outage: datetime | None = None
) -> None:
    """Enqueue :func:`probe_relay` of the outage that began at ``outage`` for ``when``
    (default: the relay's current outage and next probe time; nothing when it is up).

    Only where the task backend runs a task at a given time; elsewhere the cron command
    probes (``resend_failed_messages``).
    """
    backend = probe_relay.get_backend()
    if not backend.supports_defer:
        return
    if when is None or outage is None:
        row = RelayState.objects.filter(mailer=mailer, state=RelayState.State.DOWN).first()
        if row is None or row.down_since is None:
            return
        when, outage = row.next_probe_at, row.down_since
    number = TASK_PRIORITIES["high"] if backend.supports_priority else None
    queued = probe_relay.using(queue_name=conf.task_queue(), priority=number, run_after=when)
    queued.enqueue(mailer, outage.isoformat())


# Receivers one query reads while enqueuing the waiting ones (as sends.CHUNK).
CHUNK = 1000


def enqueue_waiting() -> int:
    """Enqueue every receiver with a send asked for and no live claim (those that waited
    for a relay), each with its message's priority; returns how many."""
    waiting = MessageReceiver.objects.filter_claimable()
    enqueued = 0
    for level in conf.PRIORITIES:
        for ids in walk_ids(waiting.filter(message__priority=level), CHUNK):
            enqueue_batches(ids, priority=level)
            enqueued += len(ids)
    return enqueued
