"""The hand-over of receiver ids to the delivery queue, for every layer below the tasks.

:mod:`messaging.tasks` owns the queue (only it imports ``django_tasks``) and plugs its
enqueue function in here when Django starts (:meth:`MessagingConfig.ready`). The models,
the API and the cron commands hand ids over through :func:`enqueue_batches` and never
import the task layer above them.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Protocol

from .exceptions import ConfigurationError


class EnqueueBatches(Protocol):
    def __call__(self, receiver_ids: Sequence[int], *, message_id: int | None = None) -> None:
        """Enqueue delivery of ``receiver_ids``; on failure mark ``message_id`` ``error``."""


_enqueue: EnqueueBatches | None = None


def plug(enqueue: EnqueueBatches) -> None:
    """Make ``enqueue`` the one that :func:`enqueue_batches` calls (done by ``tasks``)."""
    global _enqueue
    _enqueue = enqueue


def enqueue_batches(receiver_ids: Sequence[int], *, message_id: int | None = None) -> None:
    """Enqueue delivery tasks of at most ``MESSAGING_BATCH_SIZE`` receivers each.

    When the task backend refuses, the message ``message_id`` is marked ``error`` with
    the traceback; the receivers keep their pending send, which
    ``resend_failed_messages`` picks up. Without ``message_id`` the error is raised.
    """
    if _enqueue is None:
        raise ConfigurationError(
            "No delivery queue: messaging.tasks was not loaded. Add 'messaging' to "
            "INSTALLED_APPS so that its AppConfig loads it when Django starts."
        )
    _enqueue(receiver_ids, message_id=message_id)


def chunked(items: Sequence[int], size: int) -> Iterator[list[int]]:
    """``items`` in lists of at most ``size``, in order."""
    for start in range(0, len(items), size):
        yield list(items[start : start + size])
