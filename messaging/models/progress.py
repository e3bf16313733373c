"""Where messages stand as a whole: finished, or past their expiry time."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Exists, OuterRef
from django.utils import timezone

from ..batching import still_matching, walk_ids
from .messages import Message
from .receivers import MessageReceiver

EXPIRE_CHUNK = 1000  # receivers one statement of the expiry sweep changes


def finish_messages(message_ids: set[int]) -> int:
    """Mark ``sent`` the ``sending`` messages among ``message_ids`` whose every receiver was
    attempted, digested or expired; returns how many."""
    unattempted = MessageReceiver.objects.filter(
        message=OuterRef("pk"), sending_success_count=0, sending_failed_count=0
    ).exclude(status=MessageReceiver.Status.EXPIRED)
    finished = Message.objects.filter(pk__in=message_ids).exclude(Exists(unattempted))
    return finished.mark_sent()


def expire_due(now: datetime | None = None) -> int:
    """Mark ``expired`` the receivers still waiting (or cancelled) of every message whose
    ``expires_at`` has passed by ``now``; returns how many. Their messages finish, and any
    send still asked for of their other receivers (a resend of a sent one) is dropped.

    Chunks of :data:`EXPIRE_CHUNK` ids, each one UPDATE that checks the status again. A
    receiver a worker is sending keeps its claim: if the email goes out, it is ``sent``.
    """
    now = now or timezone.now()
    message_ids = set(Message.objects.expiring(now).values_list("pk", flat=True))
    due = MessageReceiver.objects.filter(
        message_id__in=message_ids,
        status__in=[*MessageReceiver.WAITING, MessageReceiver.Status.CANCELLED],
        digested_into__isnull=True,
    )
    expired = sum(still_matching(due, ids).mark_expired() for ids in walk_ids(due, EXPIRE_CHUNK))
    # Few rows have a send asked for (the claim index holds just them).
    asked = MessageReceiver.objects.filter(pending_sends__gt=0, message__expires_at__lte=now)
    for ids in walk_ids(asked, EXPIRE_CHUNK):
        MessageReceiver.objects.filter(pk__in=ids).update(pending_sends=0)
    finish_messages(message_ids)
    return expired
