"""Stopping a message: what is not sent yet is cancelled, a batch a worker is on stops at
its next receiver, and resuming puts the cancelled receivers back."""

from __future__ import annotations

import smtplib
from datetime import timedelta

import pytest
from django.core import mail
from django.core.mail.backends.base import BaseEmailBackend
from django.utils import timezone

from messaging import control, signals
from messaging.api import request_sends, send_message
from messaging.delivery import deliver
from messaging.exceptions import MessageStateError
from messaging.models import Message, MessageReceiver

pytestmark = pytest.mark.django_db

Status = MessageReceiver.Status


def statuses(message: Message) -> list[str]:
    return list(message.receivers.order_by("pk").values_list("status", flat=True))


@pytest.fixture
def half_sent(make_receiver):
    """A message being sent: one receiver sent, one waiting, one failed, one held for a
    digest, one already in a digest on its way."""
    message = Message.objects.create(status=Message.Status.SENDING)
    digest = make_receiver(status=Status.NOT_SENT)
    rows = [
        make_receiver(message, status=Status.SENT, sending_success_count=1),
        make_receiver(
            message, status=Status.NOT_SENT, pending_sends=1, send_requested_at=timezone.now()
        ),
        make_receiver(
            message, status=Status.FAILED, sending_failed_count=1, send_requested_at=timezone.now()
        ),
        make_receiver(message, status=Status.DIGEST_PENDING),
        make_receiver(message, status=Status.DIGEST_PENDING, digested_into=digest),
    ]
    return message, rows


def test_stop_cancels_what_is_not_sent_and_keeps_what_is(half_sent):
    message, rows = half_sent
    assert control.stop(message) == 3
    assert message.status == Message.Status.CANCELLED
    assert statuses(message) == ["sent", "cancelled", "cancelled", "cancelled", "digest_pending"]
    assert set(message.receivers.values_list("pending_sends", flat=True)) == {0}
    deliver([row.pk for row in rows])
    request_sends([row.pk for row in rows])  # a resend does not bring them back either
    assert mail.outbox == []
    assert statuses(message)[1:4] == ["cancelled"] * 3


def test_stopping_a_scheduled_message_cancels_it(make_user, on_commit):
    send_at = timezone.now() + timedelta(hours=1)
    message = send_message(users=[make_user()], subject="S", html="x", send_at=send_at)
    assert control.stop(message) == 1
    assert statuses(message) == ["cancelled"]
    Message.objects.filter(pk=message.pk).update(send_at=timezone.now() - timedelta(seconds=1))
    from messaging.maintenance import resend_failed

    on_commit(resend_failed)
    assert mail.outbox == []
    message.refresh_from_db()
    assert message.status == Message.Status.CANCELLED


@pytest.mark.parametrize("status", [Message.Status.SENT, Message.Status.CANCELLED])
def test_only_a_message_on_its_way_can_be_stopped(status):
    message = Message.objects.create(status=status)
    with pytest.raises(MessageStateError, match="nothing to stop"):
        control.stop(message)


def test_resume_puts_the_cancelled_receivers_back(half_sent, on_commit):
    message, rows = half_sent
    control.stop(message)
    assert on_commit(control.resume, message) == 3
    assert message.status == Message.Status.SENDING
    sent, waiting, failed, held, digested = (
        Message and MessageReceiver.objects.get(pk=r.pk) for r in rows
    )
    assert (waiting.status, waiting.sending_success_count) == ("sent", 1)
    assert (failed.status, failed.sending_failed_count, failed.sending_success_count) == (
        "sent",
        1,
        1,
    )
    assert (held.status, held.pending_sends) == ("digest_pending", 0)  # back to its digest
    assert sent.sending_success_count == 1  # what was sent is not sent again
    assert len(mail.outbox) == 2


def test_resume_asks_through_request_sends_with_the_priority(make_receiver, settings, on_commit):
    from django_tasks import task_backends

    from messaging.tasks import TASK_PRIORITIES

    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.dummy.DummyBackend"}}
    message = Message.objects.create(status=Message.Status.SENDING, priority="high")
    receiver = make_receiver(message, pending_sends=1, send_requested_at=timezone.now())
    control.stop(message)
    on_commit(control.resume, message)
    receiver.refresh_from_db()
    assert (receiver.status, receiver.pending_sends) == ("not_sent", 1)
    [result] = task_backends["default"].results
    assert (result.args[0], result.task.priority) == ([receiver.pk], TASK_PRIORITIES["high"])


def test_a_message_past_its_expiry_stays_expired_when_resumed(half_sent):
    message, rows = half_sent
    control.stop(message)
    Message.objects.filter(pk=message.pk).update(expires_at=timezone.now())
    assert control.resume(message) == 0
    assert statuses(message) == ["sent", "expired", "expired", "expired", "digest_pending"]


def test_only_a_stopped_message_can_be_resumed():
    with pytest.raises(MessageStateError, match="only a stopped"):
        control.resume(Message.objects.create(status=Message.Status.SENDING))


def test_reschedule_moves_the_time_and_the_sends(make_user):
    message = send_message(
        users=[make_user()],
        subject="S",
        html="x",
        send_at=timezone.now() + timedelta(hours=1),
        expires_at=timezone.now() + timedelta(days=1),
    )
    new_time = timezone.now() + timedelta(hours=3)
    control.reschedule(message, new_time)
    message.refresh_from_db()
    assert message.send_at == new_time
    assert message.receivers.get().send_requested_at == new_time
    with pytest.raises(Exception, match="before the message expires"):
        control.reschedule(message, timezone.now() + timedelta(days=2))
    with pytest.raises(Exception, match="has passed already"):
        control.reschedule(message, timezone.now() - timedelta(minutes=1))


# --- a batch a worker is on ---------------------------------------------------------------


@pytest.fixture
def stop_after_second(settings):
    """Staff stop the message once its second email is recorded sent."""

    def on_sent(sender, message_receiver, **kwargs):
        if (
            MessageReceiver.objects.filter(
                message_id=message_receiver.message_id, status=Status.SENT
            ).count()
            == 2
        ):
            control.stop(Message.objects.get(pk=message_receiver.message_id))

    signals.receiver_sent.connect(on_sent)
    yield
    signals.receiver_sent.disconnect(on_sent)


@pytest.mark.parametrize("async_writes", [True, False], ids=["async-writes", "immediate-writes"])
def test_a_batch_stops_at_the_next_receiver(
    make_user, smtp_server, stop_after_second, settings, async_writes
):
    settings.MESSAGING_ASYNC_STATUS_WRITES = async_writes
    users = [make_user() for _ in range(5)]
    message = send_message(users=users, subject="S", html="<p>x</p>")
    ids = list(message.receivers.order_by("pk").values_list("pk", flat=True))
    outcome = deliver(ids)
    assert statuses(message) == ["sent", "sent", "cancelled", "cancelled", "cancelled"]
    assert smtp_server.handler.total() == 2  # nothing of the third went out
    assert outcome["sent"] == 2 and outcome["failed"] == 0
    assert set(message.receivers.values_list("claimed_until", flat=True)) == {None}


class StoppingThenRefusingBackend(BaseEmailBackend):
    """Staff stop the message while its email is with the server, which then defers it."""

    def send_messages(self, messages) -> int:
        receiver = MessageReceiver.objects.get(send_to=messages[0].to[0])
        control.stop(receiver.message)
        raise smtplib.SMTPRecipientsRefused({messages[0].to[0]: (451, b"4.3.0 Try later")})


class RefusedLoginBackend(BaseEmailBackend):
    def open(self) -> bool:
        raise smtplib.SMTPAuthenticationError(535, b"5.7.8 Authentication failed")


def test_a_failure_of_an_email_stopped_meanwhile_is_not_retried(
    make_user, settings, on_commit, use_mailer
):
    use_mailer(f"{__name__}.StoppingThenRefusingBackend")
    settings.MESSAGING_SMTP_PIPELINING = False
    message = send_message(users=[make_user()], subject="S", html="x")
    deliver([message.receivers.get().pk])
    receiver = message.receivers.get()
    assert (receiver.status, receiver.sending_failed_count) == ("cancelled", 1)
    from messaging.maintenance import resend_failed

    assert on_commit(resend_failed, ignore_backoff=True).resent == 0


def test_a_batch_stopped_by_a_setup_error_asks_nothing_for_cancelled_receivers(
    make_user, use_mailer
):
    from messaging.delivery.claims import claim
    from messaging.delivery.loop import deliver_claimed

    use_mailer(f"{__name__}.RefusedLoginBackend")
    message = send_message(users=[make_user() for _ in range(3)], subject="S", html="x")
    receivers = claim(list(message.receivers.values_list("pk", flat=True)), "token")
    control.stop(message)  # while the worker holds the batch
    outcome = deliver_claimed(receivers, "token")
    assert outcome.batch_error
    rows = message.receivers.values_list("status", "pending_sends", "claimed_until")
    assert set(rows) == {("cancelled", 0, None)}


def test_cron_releases_a_dead_worker_claim_on_a_stopped_message_and_asks_nothing(
    make_user, on_commit
):
    from messaging.delivery.claims import claim
    from messaging.maintenance import resend_failed

    message = send_message(users=[make_user()], subject="S", html="x")
    receiver = message.receivers.get()
    claim([receiver.pk], "dead-worker")
    control.stop(message)
    past = timezone.now() - timedelta(seconds=1)
    MessageReceiver.objects.filter(pk=receiver.pk).update(claimed_until=past)
    on_commit(resend_failed)
    receiver.refresh_from_db()
    assert (receiver.status, receiver.pending_sends, receiver.claimed_until) == (
        "cancelled",
        0,
        None,
    )
    assert mail.outbox == []


def test_the_send_loop_asks_what_the_orm_would_answer(make_receiver):
    """The stop check's SQL, built once per batch, against the ORM on twin rows."""
    from messaging.delivery.stops import StoppedQuery

    rows = [make_receiver(status=status) for status in Status.values]
    is_stopped = StoppedQuery()
    stopped = MessageReceiver.objects.filter(status__in=MessageReceiver.STOPPED)
    for row in rows:
        assert is_stopped(row.pk) == stopped.filter(pk=row.pk).exists(), row.status
    assert [row.status for row in rows if is_stopped(row.pk)] == ["expired", "cancelled"]
