"""Where messages stand as a whole: finished, or past their expiry time."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from ..batching import still_matching, walk_ids
from .messages import Message
from .receivers import MessageReceiver

CHUNK = 1000  # receivers one statement of the expiry sweep changes


def finish_messages(message_ids: set[int]) -> int:
    """Mark ``sent`` the ``sending`` messages among ``message_ids`` whose every receiver was
    attempted, digested or expired; returns how many."""
    unattempted = MessageReceiver.objects.filter(
        message=OuterRef("pk"), sending_success_count=0, sending_failed_count=0
    ).exclude(status=MessageReceiver.Status.EXPIRED)
    finished = Message.objects.filter(pk__in=message_ids).exclude(Exists(unattempted))
    return finished.mark_sent()


def expire_due(now: datetime | None = None) -> int:
    """Mark ``expired`` the receivers still waiting (to be sent, for a retry or for a
    digest) or cancelled of every message whose ``expires_at`` has passed by ``now``;
    returns how many. Sends still asked for of their other receivers (a resend of a sent
    one) are dropped, and messages with nothing left to send finish.

    The ids are read once (O(n) in the waiting receivers), then changed in chunks of
    :data:`EXPIRE_CHUNK`, each one UPDATE that checks the receiver's own status again, so
    one a worker records ``sent`` meanwhile stays sent. A claim is kept: an email a
    worker is handing over at that moment is still recorded ``sent``.
    """
    now = now or timezone.now()
    expired_messages = Q(message__expires_at__lte=now)
    waiting = MessageReceiver.objects.filter(
        status__in=[*MessageReceiver.WAITING, MessageReceiver.Status.CANCELLED],
        digested_into__isnull=True,
    )
    due = waiting.filter(expired_messages)
    message_ids = set(due.order_by().values_list("message_id", flat=True).distinct())
    expired = sum(still_matching(waiting, ids).mark_expired() for ids in walk_ids(due, CHUNK))
    # Few rows have a send asked for (the claim index holds just them).
    asked = MessageReceiver.objects.filter(pending_sends__gt=0)
    for ids in walk_ids(asked.filter(expired_messages), CHUNK):
        still_matching(asked, ids).update(pending_sends=0)
    finish_messages(message_ids)
    return expired
