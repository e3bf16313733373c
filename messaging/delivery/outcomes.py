"""Status writes: each attempt's outcome on its receiver, and the batch's end on its message.

Every write is guarded by the claim token, so a worker that lost its claim changes nothing.
"""

from __future__ import annotations

import logging
import smtplib
from collections.abc import Sequence
from datetime import datetime, timedelta

from django.db.models import Case, DateTimeField, F, Value, When
from django.db.models.functions import Coalesce
from django.utils import timezone

from .. import conf, signals
from ..models import Message, MessageReceiver
from .failures import Failure, classify

logger = logging.getLogger(__name__)

Status = MessageReceiver.Status


def backoff_delay(failed_count: int) -> timedelta:
    """Exponential backoff before the automatic retry after ``failed_count`` failures."""
    base, cap = conf.retry_base_delay(), conf.retry_max_delay()
    return timedelta(seconds=min(cap, base * 2 ** max(0, failed_count - 1)))


def next_attempt(failure: Failure, failed_count: int) -> datetime:
    """When the automatic retry may come: after the backoff, and no sooner than the
    server asked (:attr:`Failure.retry_after`)."""
    delay = max(backoff_delay(failed_count), failure.retry_after or timedelta(0))
    return timezone.now() + delay


def record_success(
    receiver: MessageReceiver, token: str, address: str, sent_via: str = "default"
) -> bool:
    """Mark ``receiver`` sent to ``address`` (the addresses, comma-separated) through mailer
    ``sent_via``, and release it; it is failing no more.

    One UPDATE in its own commit; returns whether this worker still held the claim. Its
    twin in SQL is :func:`.deferred_writes.success_sql`.
    """
    updated = MessageReceiver.objects.filter(pk=receiver.pk, claim_token=token).update(
        status=Status.SENT,
        sent_datetime=timezone.now(),
        sending_success_count=F("sending_success_count") + 1,
        send_to=address,
        next_attempt_at=None,
        claimed_until=None,
        sent_via=sent_via,
        failing_since=None,
    )
    return bool(updated)


def announce_sent(receiver: MessageReceiver) -> None:
    """Send ``receiver_sent`` for a success that is recorded."""
    signals.send(
        signals.receiver_sent,
        MessageReceiver,
        message_receiver=receiver,
        addresses=receiver.send_to.split(", "),
    )


def record_failure(
    receiver: MessageReceiver, token: str, failure: Failure, *, retry_now: bool = False
) -> bool:
    """Count a failed attempt: ``failed`` while within the resend limit and
    ``MESSAGING_GIVE_UP_AFTER`` of its first failure, else ``error``.

    With ``retry_now`` the receiver keeps its claim: this batch tries it again at once.
    The in-memory ``receiver`` is updated too, so a second failure adds to the first.
    A receiver cancelled or expired during the attempt keeps that status: no retry.
    A relay fault (:attr:`Failure.relay_fault`) never makes it ``error``; it is counted
    once however many follow in a row, and the receiver keeps its send (released), which
    goes out when a relay is up.
    """
    now = timezone.now()
    repeated = failure.relay_fault and failing_for_relay(receiver)
    counted = 0 if repeated else 1
    failed = receiver.sending_failed_count + counted
    final = failure.permanent or (
        not failure.relay_fault and (failed > conf.resend_limit() or gave_up(receiver, now))
    )
    retry_now = retry_now and not final
    status_data = with_error(receiver.status_data, failure.entry(), replace_last=repeated)
    waits = final or retry_now or failure.relay_fault
    changes = {
        "status": Case(
            When(status__in=MessageReceiver.STOPPED, then=F("status")),
            default=Value(Status.ERROR if final else Status.FAILED),
        ),
        "sending_failed_count": F("sending_failed_count") + counted,
        "status_data": status_data,
        "next_attempt_at": None if waits else next_attempt(failure, failed),
        "send_to": receiver.send_to,
        "failing_since": Coalesce(F("failing_since"), Value(now, output_field=DateTimeField())),
    }
    if not retry_now:
        changes["claimed_until"] = None
    if failure.relay_fault and not retry_now:
        # Its send back (as a release gives it), unless staff stopped it meanwhile.
        kept = Case(
            When(status__in=MessageReceiver.STOPPED, then=F("pending_sends")),
            default=F("pending_sends") + 1,
        )
        changes.update(pending_sends=kept, claim_token="")
    updated = MessageReceiver.objects.filter(pk=receiver.pk, claim_token=token).update(**changes)
    receiver.sending_failed_count, receiver.status_data = failed, status_data
    receiver.failing_since = receiver.failing_since or now
    if updated:
        signals.send(
            signals.receiver_failed,
            MessageReceiver,
            message_receiver=receiver,
            error=status_data["errors"][-1],
            final=final,
        )
    return bool(updated)


def failing_for_relay(receiver: MessageReceiver) -> bool:
    """Whether ``receiver``'s last attempt failed, and for its relay: another such failure
    continues that run (it replaces the stored entry and is not counted again)."""
    errors = (receiver.status_data or {}).get("errors") or [{}]
    return receiver.status == Status.FAILED and bool(errors[-1].get("relay_fault"))


def gave_up(receiver: MessageReceiver, now: datetime) -> bool:
    """Whether ``receiver`` has been failing longer than ``MESSAGING_GIVE_UP_AFTER``."""
    budget = conf.give_up_after()
    since = receiver.failing_since
    return budget is not None and since is not None and now - since >= budget


def with_error(status_data: dict, entry: dict, *, replace_last: bool = False) -> dict:
    """``status_data`` with ``entry`` added to its newest ``MESSAGING_MAX_STORED_ERRORS``
    (with ``replace_last``, in place of the newest one: one entry per counted attempt)."""
    kept = status_data.get("errors", [])
    errors = [*(kept[:-1] if replace_last else kept), entry]
    return {**status_data, "errors": errors[-conf.max_stored_errors() :]}


def record_refusals(receiver: MessageReceiver, token: str, refused: dict) -> None:
    """Store the addresses refused in a transaction that others accepted.

    The receiver counts as sent (the user got the email); the refusal is kept among its
    errors, marked ``partial``, without counting as a failed attempt.
    """
    entry = {**classify(smtplib.SMTPRecipientsRefused(refused)).entry(), "partial": True}
    receiver.refresh_from_db(fields=["status_data"])
    MessageReceiver.objects.filter(pk=receiver.pk, claim_token=token).update(
        status_data=with_error(receiver.status_data, entry)
    )


def mark_message_error(message_id: int, error: BaseException, *, stage: str) -> None:
    """Record on the message that ``stage`` failed, with a scrubbed traceback.

    Never raises because the message is gone (deleted meanwhile): the error is logged,
    so the caller's own error is the one that propagates.
    """
    entry = {"stage": stage, **classify(error).entry()}
    message = Message.objects.filter(pk=message_id).first()
    if message is None:
        logger.error("Message %s vanished; its %s error was: %s", message_id, stage, error)
        return
    message.mark_error(entry)
    signals.send(signals.message_error, Message, message=message, error=entry, stage=stage)


def leftover(receiver_ids: Sequence[int]) -> list[int]:
    """Those of ``receiver_ids`` with a send asked for while this batch held their claim."""
    claimable = MessageReceiver.objects.filter(pk__in=receiver_ids).filter_claimable()
    return list(claimable.values_list("pk", flat=True))


def not_yet_due(receiver_ids: Sequence[int]) -> dict[datetime, list[int]]:
    """Those of ``receiver_ids`` waiting for their message's ``send_at``, by that time.

    A task run before its time (a backend's scheduler that keeps whole seconds, a worker
    whose clock runs ahead) claims none of them: they are enqueued again for their time.
    """
    waiting = MessageReceiver.objects.filter(
        pk__in=receiver_ids,
        pending_sends__gt=0,
        claimed_until__isnull=True,
        message__send_at__gt=timezone.now(),
    ).exclude(status__in=MessageReceiver.STOPPED)
    by_time: dict[datetime, list[int]] = {}
    for pk, send_at in waiting.order_by("pk").values_list("pk", "message__send_at"):
        by_time.setdefault(send_at, []).append(pk)
    return by_time
