import pytest
from django_tasks.backends.dummy import DummyBackend

from messaging.api import send_message
from messaging.exceptions import TemplateNotFoundError, TemplateRenderError
from messaging.models import Message, MessageReceiver

pytestmark = pytest.mark.django_db


def test_send_message_records_and_delivers(make_user, on_commit, django_user_model):
    staff = make_user(username="staff")
    users = [make_user(), make_user(), make_user()]
    message = on_commit(
        send_message,
        users=users,
        subject="Deadline\nmoved",
        html="<p>Moved</p>",
        context_type="deadline_moved",
        created_by=staff,
    )
    message.refresh_from_db()
    assert message.status == "sent"
    assert message.created_by == staff
    assert message.context_type == "deadline_moved"
    assert message.virtual_message_receivers == {"user_ids": [u.pk for u in users]}
    receivers = list(message.receivers.order_by("pk"))
    assert [r.user for r in receivers] == users
    assert all(r.status == "sent" and r.subject == "Deadline moved" for r in receivers)
    assert all(r.message_content_plain.strip() == "Moved" for r in receivers)


def test_status_is_sending_until_delivery_runs(make_user, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        message = send_message(users=[make_user()], subject="S", html="<p>x</p>")
    message.refresh_from_db()
    assert message.status == "sending"
    assert message.receivers.get().status == "not_sent"
    for callback in callbacks:
        callback()
    message.refresh_from_db()
    assert message.status == "sent"


def test_delivery_is_enqueued_in_batches(make_user, settings, django_capture_on_commit_callbacks):
    from django_tasks import task_backends

    # django-tasks resets its backends when TASKS changes (setting_changed).
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.dummy.DummyBackend"}}
    settings.MESSAGING_BATCH_SIZE = 2
    with django_capture_on_commit_callbacks(execute=True):
        send_message(users=[make_user() for _ in range(5)], subject="S", html="<p>x</p>")
    results = task_backends["default"].results
    assert [len(result.args[0]) for result in results] == [2, 2, 1]


def test_error_while_preparing_leaves_no_receiver(make_user, monkeypatch):
    from messaging import rendering

    def explode(*args, **kwargs):
        raise RuntimeError("renderer crashed")

    monkeypatch.setattr(rendering, "render_direct", explode)
    with pytest.raises(RuntimeError):
        send_message(users=[make_user()], subject="S", html="<p>x</p>")
    message = Message.objects.get()
    assert message.status == "error"
    assert MessageReceiver.objects.count() == 0
    error = message.status_data["errors"][0]
    assert error["error_message"] == "RuntimeError: renderer crashed"
    assert "Traceback" in error["exception_traceback"]


def test_crash_in_the_middle_of_bulk_create_rolls_back(make_user, monkeypatch):
    original = MessageReceiver.objects.bulk_create

    def half_then_crash(objs, **kwargs):
        original(objs[:1], **kwargs)
        raise RuntimeError("database went away")

    monkeypatch.setattr(MessageReceiver.objects, "bulk_create", half_then_crash)
    with pytest.raises(RuntimeError):
        send_message(users=[make_user(), make_user()], subject="S", html="<p>x</p>")
    assert MessageReceiver.objects.count() == 0
    assert Message.objects.get().status == "error"


@pytest.mark.parametrize("users", [[], ["one"]])
def test_missing_content_is_a_clear_error(make_user, users):
    with pytest.raises(TemplateRenderError, match="needs a template, or a subject"):
        send_message(users=[make_user() for _ in users])
    assert Message.objects.get().status == "error"


def test_large_lists_are_prepared_in_chunks(
    make_user, monkeypatch, django_capture_on_commit_callbacks
):
    from messaging import api

    monkeypatch.setattr(api, "PREPARE_CHUNK", 2)
    users = [make_user() for _ in range(5)]
    rows_before_each_user = []

    def counting_users():
        # How many receivers exist when each user is read: a chunk is inserted before the
        # next one is read, so the list is never held whole.
        for user in users:
            rows_before_each_user.append(MessageReceiver.objects.count())
            yield user

    with django_capture_on_commit_callbacks(execute=True):
        message = send_message(users=counting_users(), subject="S", html="<p>x</p>")
    assert rows_before_each_user == [0, 0, 2, 2, 4]
    assert message.receivers.filter(status="sent").count() == 5


def test_users_may_be_a_generator_or_a_queryset(make_user, on_commit, django_user_model):
    users = [make_user() for _ in range(3)]
    from_generator = on_commit(
        send_message, users=(user for user in users), subject="S", html="<p>x</p>"
    )
    queryset = django_user_model.objects.filter(pk__in=[u.pk for u in users]).order_by("pk")
    from_queryset = on_commit(send_message, users=queryset, subject="S", html="<p>x</p>")
    for message in (from_generator, from_queryset):
        message.refresh_from_db()
        assert message.virtual_message_receivers == {"user_ids": [u.pk for u in users]}
        receivers = message.receivers.order_by("user_id")
        assert [(r.user, r.send_to, r.status) for r in receivers] == [
            (u, u.email, "sent") for u in users
        ]


def test_unknown_template_key_is_a_clear_error(make_user):
    with pytest.raises(TemplateNotFoundError, match="No message template has the key 'nope'"):
        send_message("nope", users=[make_user()])


class RefusingBackend(DummyBackend):
    """A task backend whose broker is down."""

    def enqueue(self, task, args, kwargs):
        raise ConnectionError("task broker unreachable")


def test_enqueue_failure_marks_the_message_error(make_user, settings, on_commit):
    settings.TASKS = {"default": {"BACKEND": "tests.test_api.RefusingBackend"}}
    message = on_commit(send_message, users=[make_user()], subject="S", html="<p>x</p>")
    message.refresh_from_db()
    assert message.status == "error"
    assert message.status_data["errors"][0]["stage"] == "enqueue"
    receiver = message.receivers.get()
    assert receiver.pending_sends == 1  # kept, so the cron command can pick it up


def test_recording_an_error_on_a_vanished_message_does_not_raise(caplog):
    from messaging.delivery import mark_message_error

    message = Message.objects.create(status="preparing")
    Message.objects.filter(pk=message.pk).delete()
    mark_message_error(message.pk, ValueError("the real error"), stage="prepare")
    [record] = [r for r in caplog.records if r.name == "messaging.delivery.records"]
    assert "vanished" in record.getMessage() and "the real error" in record.getMessage()
