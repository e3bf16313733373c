"""When and in what order: scheduled sends, expiry and priority, through ``send_message``,
the workers' claim, the cron command and resends.

Time passing is a row moved into the past (a message's ``send_at`` or ``expires_at``), as
the state machine moves leases: the code under test reads the real clock.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.core.management import call_command
from django.utils import timezone
from django_tasks import task_backends
from django_tasks.backends.dummy import DummyBackend

from messaging import conf
from messaging.api import request_sends, send_message
from messaging.delivery import deliver
from messaging.exceptions import ConfigurationError, SchedulingError
from messaging.models import Message, MessageReceiver
from messaging.preferences import digests
from messaging.tasks import TASK_PRIORITIES

pytestmark = pytest.mark.django_db

Status = MessageReceiver.Status
DUMMY = {"default": {"BACKEND": "django_tasks.backends.dummy.DummyBackend"}}


class QueuesOnlyBackend(DummyBackend):
    """A backend that cannot order tasks by priority (as RQ): one queue per priority."""

    supports_priority = False


@pytest.fixture
def dummy_tasks(settings):
    """Tasks are recorded, not run: what was enqueued, when for, and how urgent."""
    settings.TASKS = DUMMY
    return task_backends["default"]


def later(**delta) -> timezone.datetime:
    return timezone.now() + timedelta(**delta)


def move_into_past(message: Message, field: str) -> None:
    """Time passes: ``field`` (``send_at`` or ``expires_at``) of ``message`` has come."""
    Message.objects.filter(pk=message.pk).update(**{field: timezone.now() - timedelta(seconds=1)})


def run_cron() -> str:
    from io import StringIO

    out = StringIO()
    call_command("resend_failed_messages", stdout=out)
    return out.getvalue()


def statuses(message: Message) -> list[str]:
    return list(message.receivers.order_by("pk").values_list("status", flat=True))


# --- scheduled sends ---------------------------------------------------------------------


def test_a_scheduled_message_is_prepared_at_once_and_sent_at_its_time(make_user, on_commit):
    users = [make_user(), make_user()]
    send_at = later(hours=2)
    message = on_commit(
        send_message, users=users, subject="Exam", html="<p>Room 4</p>", send_at=send_at
    )
    message.refresh_from_db()
    assert (message.status, message.send_at) == (Message.Status.SCHEDULED, send_at)
    receivers = list(message.receivers.order_by("pk"))
    assert [(r.status, r.subject, r.pending_sends) for r in receivers] == [
        ("not_sent", "Exam", 1)
    ] * 2
    assert {r.send_requested_at for r in receivers} == {send_at}
    deliver([r.pk for r in receivers])  # a worker before the time: the claim refuses
    run_cron()
    assert mail.outbox == []
    assert statuses(message) == ["not_sent", "not_sent"]

    move_into_past(message, "send_at")
    assert "1 scheduled messages were started." in on_commit(run_cron)
    message.refresh_from_db()
    assert message.status == Message.Status.SENT
    assert sorted(m.to[0] for m in mail.outbox) == sorted(u.email for u in users)


def test_context_is_taken_when_scheduling(make_user, on_commit):
    from tests.factories import make_template

    template = make_template("scheduled", subject_en="Due {{ assignment }}")
    context = {"assignment": "Assignment 3"}
    message = on_commit(send_message, template, [make_user()], context, send_at=later(minutes=30))
    context["assignment"] = "Changed afterwards"
    assert message.receivers.get().subject == "Due Assignment 3"


def test_scheduled_delivery_is_enqueued_for_its_time_where_the_backend_can_wait(
    make_user, dummy_tasks, on_commit
):
    send_at = later(hours=1)
    message = on_commit(send_message, users=[make_user()], subject="S", html="x", send_at=send_at)
    [result] = dummy_tasks.results
    assert send_at <= result.task.run_after < send_at + timedelta(seconds=1)  # whole seconds
    assert result.args[0] == [message.receivers.get().pk]
    move_into_past(message, "send_at")
    on_commit(run_cron)  # within the grace: the backend's deferred task starts it
    assert len(dummy_tasks.results) == 1
    Message.objects.filter(pk=message.pk).update(send_at=timezone.now() - timedelta(minutes=2))
    on_commit(run_cron)  # the backend did not run it (e.g. RQ without its scheduler): cron does
    assert len(dummy_tasks.results) == 2
    message.refresh_from_db()
    assert message.status == Message.Status.SENDING


def test_a_task_run_before_its_time_enqueues_its_receivers_again_for_it(
    make_user, dummy_tasks, django_capture_on_commit_callbacks
):
    from messaging.tasks import deliver_receivers

    send_at = later(hours=1)
    message = send_message(users=[make_user()], subject="S", html="x", send_at=send_at)
    receiver = message.receivers.get()
    with django_capture_on_commit_callbacks(execute=True):
        deliver_receivers.call([receiver.pk], "high")  # e.g. a scheduler a second early
    [again] = dummy_tasks.results
    assert (again.args, again.task.priority) == ([[receiver.pk], "high"], TASK_PRIORITIES["high"])
    assert send_at <= again.task.run_after < send_at + timedelta(seconds=1)
    assert mail.outbox == []


def test_a_worker_claiming_a_scheduled_message_at_its_time_starts_it(make_user, dummy_tasks):
    message = send_message(users=[make_user()], subject="S", html="x", send_at=later(hours=1))
    move_into_past(message, "send_at")
    deliver([message.receivers.get().pk])  # the deferred task, run at its time
    message.refresh_from_db()
    assert message.status == Message.Status.SENT
    assert len(mail.outbox) == 1


def test_a_send_at_already_passed_sends_now(make_user, on_commit):
    message = on_commit(
        send_message, users=[make_user()], subject="S", html="x", send_at=later(minutes=-5)
    )
    message.refresh_from_db()
    assert message.status == Message.Status.SENT


def test_a_daily_digest_holds_a_scheduled_email_until_its_time(make_user, settings):
    from messaging.preferences.modes import set_mode

    settings.MESSAGING_CONTEXT_TYPES = [{"value": "news", "label": "News", "optional": True}]
    user = make_user()
    set_mode(user, "news", "daily")
    message = send_message(
        users=[user], subject="S", html="x", context_type="news", send_at=later(hours=1)
    )
    assert list(digests.waiting()) == []
    move_into_past(message, "send_at")
    run_cron()
    assert [r.message_id for r in digests.waiting()] == [message.pk]


@pytest.mark.parametrize(
    ("arguments", "complaint"),
    [
        ({"send_at": timezone.datetime(2030, 1, 1)}, "send_at must be an aware datetime"),
        ({"expires_at": "tomorrow"}, "expires_at must be an aware datetime"),
        ({"expires_at": timezone.now() - timedelta(hours=1)}, "must come after the message"),
        (
            {"send_at": timezone.now() + timedelta(hours=2), "expires_at": later(hours=1)},
            "must come after the message starts",
        ),
        ({"priority": "urgent"}, "priority must be one of high, normal, low"),
    ],
)
def test_timing_that_cannot_be_used_is_refused_before_anything_is_recorded(
    make_user, arguments, complaint
):
    with pytest.raises(SchedulingError, match=complaint):
        send_message(users=[make_user()], subject="S", html="x", **arguments)
    assert not Message.objects.exists()


# --- expiry ------------------------------------------------------------------------------


def test_receivers_not_sent_by_expires_at_expire_and_are_never_sent(make_user, dummy_tasks):
    message = send_message(
        users=[make_user(), make_user()], subject="S", html="x", expires_at=later(hours=1)
    )
    ids = list(message.receivers.values_list("pk", flat=True))
    move_into_past(message, "expires_at")
    deliver(ids)  # a worker after the time, before the sweep: the claim refuses
    assert mail.outbox == []
    assert "2 receivers expired unsent." in run_cron()
    assert statuses(message) == ["expired", "expired"]
    assert set(message.receivers.values_list("pending_sends", flat=True)) == {0}
    message.refresh_from_db()
    assert message.status == Message.Status.SENT  # nothing left to send
    assert request_sends(ids) == 0  # a resend never brings one back
    deliver(ids)
    assert mail.outbox == []


def test_expiry_takes_receivers_waiting_for_a_retry_or_a_digest(
    make_user, make_receiver, dummy_tasks
):
    message = Message.objects.create(status=Message.Status.SENDING, expires_at=later(hours=1))
    retrying = make_receiver(
        message, status=Status.FAILED, sending_failed_count=1, next_attempt_at=later(minutes=30)
    )
    resend = make_receiver(message, status=Status.SENT, sending_success_count=1, pending_sends=1)
    digest = make_receiver(message, status=Status.DIGEST_PENDING)
    move_into_past(message, "expires_at")
    run_cron()
    for receiver, status in [(retrying, "expired"), (resend, "sent"), (digest, "expired")]:
        receiver.refresh_from_db()
        assert receiver.status == status
    assert digests.compose_digests().digests == 0


def test_no_resend_of_any_receiver_of_an_expired_message(make_receiver, dummy_tasks):
    message = Message.objects.create(status=Message.Status.SENT, expires_at=later(hours=1))
    sent = make_receiver(message, status=Status.SENT, sending_success_count=1)
    asked_before = make_receiver(message, status=Status.ERROR, sending_failed_count=1)
    assert request_sends([asked_before.pk]) == 1  # before the time: allowed
    move_into_past(message, "expires_at")
    assert request_sends([sent.pk]) == 0
    run_cron()
    asked_before.refresh_from_db()
    assert (asked_before.status, asked_before.pending_sends) == ("error", 0)  # dropped


def test_digests_expire_what_is_past_its_time_first(make_user, settings, make_receiver):
    settings.MESSAGING_DIGEST_HOUR = timezone.localtime().hour
    settings.MESSAGING_USER_TIMEZONE = "tests.test_scheduling.site_time_zone"
    message = Message.objects.create(status=Message.Status.SENDING, expires_at=later(hours=1))
    held = make_receiver(message, status=Status.DIGEST_PENDING)
    move_into_past(message, "expires_at")
    assert digests.compose_digests().digests == 0  # no cron run in between
    held.refresh_from_db()
    assert held.status == Status.EXPIRED


def site_time_zone(user):
    return timezone.get_current_timezone_name()


def test_a_context_type_may_give_its_messages_an_expiry(make_user, settings):
    settings.MESSAGING_CONTEXT_TYPES = [
        {"value": "reminder", "label": "Reminder", "expires_after": timedelta(hours=6)}
    ]
    before = timezone.now()
    message = send_message(users=[make_user()], subject="S", html="x", context_type="reminder")
    assert before + timedelta(hours=6) <= message.expires_at <= timezone.now() + timedelta(hours=6)
    send_at = later(days=1)
    scheduled = send_message(
        users=[make_user()], subject="S", html="x", context_type="reminder", send_at=send_at
    )
    assert scheduled.expires_at == send_at + timedelta(hours=6)  # counted from its start


@pytest.mark.parametrize(
    ("entry", "complaint"),
    [
        ({"expires_after": 3600}, "give a positive datetime.timedelta"),
        ({"expires_after": timedelta(0)}, "give a positive datetime.timedelta"),
        ({"priority": "urgent"}, "use one of high, normal, low"),
    ],
)
def test_context_type_timing_settings_are_checked(settings, entry, complaint):
    settings.MESSAGING_CONTEXT_TYPES = [{"value": "x", "label": "X", **entry}]
    with pytest.raises(ConfigurationError, match=complaint):
        conf.context_type_specs()


# --- priority ----------------------------------------------------------------------------


def test_priority_is_django_tasks_priority_where_the_backend_orders_by_it(
    make_user, dummy_tasks, on_commit
):
    for priority in ("low", "high", None):
        on_commit(send_message, users=[make_user()], subject="S", html="x", priority=priority)
    assert [(r.task.priority, r.task.queue_name) for r in dummy_tasks.results] == [
        (TASK_PRIORITIES["low"], "default"),
        (TASK_PRIORITIES["high"], "default"),
        (TASK_PRIORITIES["normal"], "default"),
    ]
    assert TASK_PRIORITIES["high"] > TASK_PRIORITIES["normal"] > TASK_PRIORITIES["low"]


def test_priority_is_a_queue_each_where_the_backend_cannot_order(make_user, settings, on_commit):
    queues = ["urgent", "default", "bulk"]
    settings.TASKS = {"default": {"BACKEND": f"{__name__}.QueuesOnlyBackend", "QUEUES": queues}}
    settings.MESSAGING_PRIORITY_QUEUES = {"high": "urgent", "low": "bulk"}
    for priority in ("low", "high", "normal"):
        on_commit(send_message, users=[make_user()], subject="S", html="x", priority=priority)
    queues = [r.task.queue_name for r in task_backends["default"].results]
    assert queues == ["bulk", "urgent", "default"]


def test_a_context_type_may_give_its_messages_a_priority(make_user, settings):
    settings.MESSAGING_CONTEXT_TYPES = [{"value": "news", "label": "News", "priority": "low"}]
    assert (
        send_message(users=[make_user()], subject="S", html="x", context_type="news").priority
        == "low"
    )
    high = send_message(
        users=[make_user()], subject="S", html="x", context_type="news", priority="high"
    )
    assert high.priority == "high"


def test_resends_keep_their_message_priority(make_receiver, dummy_tasks, on_commit):
    high = Message.objects.create(status=Message.Status.SENDING, priority="high")
    low = Message.objects.create(status=Message.Status.SENDING, priority="low")
    failed = {"status": Status.FAILED, "sending_failed_count": 1}
    receivers = [make_receiver(low, **failed), make_receiver(high, **failed)]
    on_commit(run_cron)
    enqueued = {tuple(r.args[0]): (r.task.priority, r.args[1]) for r in dummy_tasks.results}
    assert enqueued == {
        (receivers[1].pk,): (TASK_PRIORITIES["high"], "high"),
        (receivers[0].pk,): (TASK_PRIORITIES["low"], "low"),
    }
    on_commit(request_sends, [receivers[1].pk])  # a staff resend, too
    assert dummy_tasks.results[-1].task.priority == TASK_PRIORITIES["high"]


def test_an_rq_backend_needs_a_queue_per_priority(settings):
    settings.TASKS = {"default": {"BACKEND": "django_tasks_rq.RQBackend", "QUEUES": ["default"]}}
    with pytest.raises(ConfigurationError, match=r"rqworker high default low"):
        conf.priority_queues()
    settings.TASKS["default"]["QUEUES"] = ["high", "default", "low"]
    assert conf.priority_queues() == {"high": "high", "normal": "default", "low": "low"}
