"""The delivery task and the queue it runs from; the work lives in :mod:`messaging.delivery`.

The only module that imports ``django_tasks``. The services above (:mod:`messaging.api`,
:mod:`messaging.sends`) hand receivers over through :func:`enqueue_batches`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from functools import partial

from django.db import transaction
from django_tasks import task

from . import conf, delivery
from .batching import chunked

logger = logging.getLogger(__name__)


@task()
def deliver_receivers(receiver_ids: list[int]) -> dict:
    """Deliver one batch of receivers. Failures are recorded on each receiver, never raised.

    Sends asked for while the batch held its claim are enqueued again after commit.
    """
    outcome = delivery.deliver(receiver_ids)
    if leftover := outcome.pop("leftover"):
        transaction.on_commit(partial(enqueue_batches, leftover))
    return outcome


def enqueue_batches(receiver_ids: Sequence[int], *, message_id: int | None = None) -> None:
    """Enqueue :func:`deliver_receivers` tasks of at most ``MESSAGING_BATCH_SIZE`` ids each.

    When the task backend refuses, the message is marked ``error`` with the traceback;
    the receivers keep their pending send, which ``resend_failed_messages`` picks up.
    """
    queued = deliver_receivers.using(queue_name=conf.task_queue())
    try:
        for chunk in chunked(list(receiver_ids), conf.batch_size()):
            queued.enqueue(chunk)
    except Exception as error:
        logger.exception("Enqueuing delivery failed")
        if message_id is None:
            raise
        delivery.mark_message_error(message_id, error, stage="enqueue")
