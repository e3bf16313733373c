"""What staff do to a message on its way: stop (or cancel) it, resume it, change its time.

Each is "update, then enqueue": the message's and its receivers' rows change in one
transaction, and sends asked for again go through :func:`messaging.sends.request_sends`,
enqueued once it commits. The admin confirms and logs each (``messaging.stop``, ...).
"""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from . import timing
from .batching import still_matching, walk_ids
from .exceptions import MessageStateError
from .models import Message, MessageReceiver, expire_due
from .sends import request_sends

Status = Message.Status
CHUNK = 1000  # receivers one statement changes, as in messaging.sends

# A message can be stopped while it waits for its time or is being sent.
STOPPABLE = (Status.SCHEDULED, Status.SENDING)


def stop(message: Message) -> int:
    """Stop ``message`` (cancel it, when still scheduled); returns how many receivers were
    cancelled.

    Its receivers not sent yet (waiting to be sent, for a retry, or for a digest no digest
    has taken) become ``cancelled`` with no send asked for; what is sent stays sent. A
    batch a worker is on stops at its next receiver; an email being handed to the mail
    server at that moment still goes, and is recorded ``sent``.
    """
    with transaction.atomic():
        moved = Message.objects.filter(pk=message.pk, status__in=STOPPABLE)
        if not moved.update(status=Status.CANCELLED):
            raise MessageStateError(
                f"Message {message.pk} is {message.get_status_display().lower()}, so there is "
                "nothing to stop: only a scheduled or sending message can be stopped."
            )
        waiting = MessageReceiver.objects.filter(message=message).filter_waiting()
        cancelled = sum(
            still_matching(waiting, ids).mark_cancelled() for ids in walk_ids(waiting, CHUNK)
        )
    message.refresh_from_db(fields=["status"])
    return cancelled


def resume(message: Message) -> int:
    """Put a stopped message's cancelled receivers back; returns how many.

    Those that waited for a digest wait for it again; the others are asked for once more
    (``failed`` ones keep their failed attempts), with the message's priority, and not
    before its ``send_at`` if that is still to come. Receivers past the message's
    ``expires_at`` stay ``expired``.
    """
    now = timezone.now()
    scheduled = message.send_at is not None and message.send_at > now
    with transaction.atomic():
        moved = Message.objects.filter(pk=message.pk, status=Status.CANCELLED)
        if not moved.update(status=Status.SCHEDULED if scheduled else Status.SENDING):
            raise MessageStateError(
                f"Message {message.pk} is {message.get_status_display().lower()}: only a "
                "stopped (cancelled) message can be resumed."
            )
        expire_due(now)  # a cancelled receiver past the expiry time becomes expired
        cancelled = MessageReceiver.objects.filter(
            message=message, status=MessageReceiver.Status.CANCELLED
        )
        held = cancelled.held_for_digest().update(status=MessageReceiver.Status.DIGEST_PENDING)
        asked = request_sends(
            cancelled,
            message_id=message.pk,
            now=message.send_at if scheduled else now,
            priority=message.priority,
            run_after=message.send_at if scheduled else None,
            resume=True,
        )
    message.refresh_from_db(fields=["status"])
    return held + asked


def reschedule(message: Message, send_at: datetime) -> None:
    """Move a scheduled message to ``send_at`` (still to come, before its expiry).

    Its sends are asked for at the new time and enqueued for it where the task backend
    can wait (the tasks enqueued for the old time find nothing to send then).
    """
    send_at = timing.check_new_time(send_at, message.expires_at, timezone.now())
    with transaction.atomic():
        moved = Message.objects.filter(pk=message.pk, status=Status.SCHEDULED)
        if not moved.update(send_at=send_at):
            raise MessageStateError(
                f"Message {message.pk} is {message.get_status_display().lower()}: only a "
                "scheduled message can be given another time."
            )
        waiting = MessageReceiver.objects.filter(message=message, pending_sends__gt=0)
        request_sends(
            waiting,
            message_id=message.pk,
            now=send_at,
            changes={"send_requested_at": send_at},
            priority=message.priority,
            run_after=send_at,
        )
    message.send_at = send_at
