"""The delivery task and the queue it runs from; the work lives in :mod:`messaging.delivery`.

The only module that imports ``django_tasks``. At import it plugs :func:`enqueue_batches`
into :mod:`messaging.queueing`, through which the layers below hand receivers over.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from django_tasks import task

from . import conf, delivery, queueing

logger = logging.getLogger(__name__)


@task()
def deliver_receivers(receiver_ids: list[int]) -> dict:
    """Deliver one batch of receivers. Failures are recorded on each receiver, never raised."""
    return delivery.deliver(receiver_ids)


def enqueue_batches(receiver_ids: Sequence[int], *, message_id: int | None = None) -> None:
    """Enqueue :func:`deliver_receivers` tasks of at most ``MESSAGING_BATCH_SIZE`` ids each.

    When the task backend refuses, the message is marked ``error`` with the traceback;
    the receivers keep their pending send, which ``resend_failed_messages`` picks up.
    """
    queued = deliver_receivers.using(queue_name=conf.task_queue())
    try:
        for chunk in queueing.chunked(list(receiver_ids), conf.batch_size()):
            queued.enqueue(chunk)
    except Exception as error:
        logger.exception("Enqueuing delivery failed")
        if message_id is None:
            raise
        delivery.mark_message_error(message_id, error, stage="enqueue")


queueing.plug(enqueue_batches)
