import re

import pytest
from django.core import mail
from django.db.models.signals import post_init
from django_tasks.backends.dummy import DummyBackend

from messaging.api import send_message
from messaging.exceptions import TemplateNotFoundError, TemplateRenderError
from messaging.models import Message, MessageReceiver
from tests.factories import make_template

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
    receivers = message.receivers.order_by("pk")
    assert [(r.user, r.status, r.subject, r.message_content_plain) for r in receivers] == [
        (user, "sent", "Deadline moved", "Moved\n") for user in users
    ]
    assert sorted((m.to, m.subject) for m in mail.outbox) == sorted(
        ([user.email], "Deadline moved") for user in users
    )


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


def crashing_emails(user):
    """A ``MESSAGING_USER_EMAILS`` whose user directory is down."""
    raise RuntimeError("user directory crashed")


def test_error_while_preparing_leaves_no_receiver(make_user, settings):
    settings.MESSAGING_USER_EMAILS = "tests.test_api.crashing_emails"
    with pytest.raises(RuntimeError, match="user directory crashed"):
        send_message(users=[make_user()], subject="S", html="<p>x</p>")
    message = Message.objects.get()
    assert message.status == "error"
    assert MessageReceiver.objects.count() == 0
    [error] = message.status_data["errors"]
    assert error["error_message"] == "RuntimeError: user directory crashed"
    assert error["exception_traceback"].startswith("Traceback (most recent call last):")
    assert error["exception_traceback"].endswith("RuntimeError: user directory crashed\n")
    assert mail.outbox == []


def test_a_crash_after_some_receivers_were_inserted_rolls_them_back(make_user, monkeypatch):
    from messaging import api

    monkeypatch.setattr(api, "PREPARE_CHUNK", 1)
    users = [make_user(), make_user()]
    inserted_before_crash = []

    def users_then_crash():
        yield from users
        inserted_before_crash.append(MessageReceiver.objects.count())
        raise RuntimeError("database went away")

    with pytest.raises(RuntimeError, match="database went away"):
        send_message(users=users_then_crash(), subject="S", html="<p>x</p>")
    assert inserted_before_crash == [2]
    assert MessageReceiver.objects.count() == 0
    assert Message.objects.get().status == "error"
    assert mail.outbox == []


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


def test_a_queryset_of_users_is_read_in_chunks(
    make_user, django_user_model, monkeypatch, django_capture_on_commit_callbacks
):
    """A queryset is not loaded whole: each user row is made into a user only when its chunk
    is prepared, after the chunk before it was inserted."""
    from messaging import api

    monkeypatch.setattr(api, "PREPARE_CHUNK", 2)
    users = [make_user() for _ in range(5)]
    rows_when_each_user_is_loaded = []

    def record(sender, instance, **kwargs):
        rows_when_each_user_is_loaded.append(MessageReceiver.objects.count())

    queryset = django_user_model.objects.filter(pk__in=[u.pk for u in users]).order_by("pk")
    post_init.connect(record, sender=django_user_model)
    try:
        with django_capture_on_commit_callbacks() as deliveries:
            message = send_message(users=queryset, subject="S", html="<p>x</p>")
    finally:
        post_init.disconnect(record, sender=django_user_model)
    assert rows_when_each_user_is_loaded == [0, 0, 2, 2, 4]
    for delivery in deliveries:
        delivery()
    assert [r.user_id for r in message.receivers.order_by("pk")] == [u.pk for u in users]
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
    [record] = [r for r in caplog.records if r.name == "messaging.delivery.outcomes"]
    assert "vanished" in record.getMessage() and "the real error" in record.getMessage()


# C0 control characters other than tab, line feed and carriage return: what no stored
# text may hold, whatever the database (PostgreSQL refuses NUL, SQLite keeps it).
STORED_CONTROLS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f]")


def all_text(value) -> list[str]:
    """Every string in ``value`` (JSON-like), keys included."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [text for key, item in value.items() for text in [key, *all_text(item)]]
    if isinstance(value, list | tuple):
        return [text for item in value for text in all_text(item)]
    return []


@pytest.mark.parametrize(
    "given",
    [
        {"subject": "Deadline\x00moved"},
        {"subject": "Deadline \x1b[31mmoved"},
        {"context_type": "deadline\x00moved"},
        {"metadata": {"course": ["inf\x001000"]}},
        {"metadata": {"cour\x00se": "inf1000"}},
    ],
    ids=["subject-nul", "subject-escape", "context-type", "metadata-value", "metadata-key"],
)
def test_a_control_character_in_text_kept_as_given_is_refused_before_anything_is_stored(
    make_user, given
):
    content = {"subject": "Deadline moved", "html": "<p>x</p>", **given}
    with pytest.raises(ValueError, match="control character") as refused:
        send_message(users=[make_user()], **content)
    assert "tab, line feed and carriage return" in str(refused.value)
    assert Message.objects.count() == 0 and MessageReceiver.objects.count() == 0
    assert mail.outbox == []


def user_context_with_controls(user):
    return {"first_name": "Ola\x00\x07", "last_name": "Nord\tmann"}


def test_control_characters_are_removed_from_rendered_content(make_user, settings, on_commit):
    settings.MESSAGING_USER_CONTEXT = "tests.test_api.user_context_with_controls"
    template = make_template(
        "controls",
        subject_en="{{ title }} for {{ user.first_name }}",
        body_en="<p>{{ note }} {{ user.first_name }} {{ user.last_name }}</p>",
        body_text_en="{{ note }}\r\n{{ user.first_name }}\t{{ user.last_name }}",
    )
    context = {"title": "Assign\x00ment\x0b 3", "note": "Read\x1fme\nnow", "nes\x00ted": ["\x00x"]}
    message = on_commit(send_message, template, users=[make_user()], context=context)
    receiver = MessageReceiver.objects.get()
    assert receiver.subject == "Assignment 3 for Ola"
    assert ">Readme\nnow Ola Nord\tmann</p>" in receiver.message_content_html
    assert receiver.message_content_plain.startswith("Readme\nnow\r\nOla\tNord\tmann")
    message.refresh_from_db()
    assert message.template_context == {
        "title": "Assignment 3",
        "note": "Readme\nnow",
        "nested": ["x"],
    }
    stored = [receiver.subject, receiver.message_content_html, receiver.message_content_plain]
    assert not [text for text in stored if STORED_CONTROLS.search(text)]
    assert mail.outbox[0].subject == "Assignment 3 for Ola"


def test_control_characters_are_removed_from_given_html_and_text(make_user, on_commit):
    on_commit(
        send_message,
        users=[make_user()],
        subject="Deadline\tmoved",
        html="<p>Moved\x00 to\x08 Friday</p>",
        plain="Moved\x00 to Friday\r\n",
    )
    receiver = MessageReceiver.objects.get()
    assert receiver.subject == "Deadline moved"
    assert receiver.message_content_html == "<p>Moved to Friday</p>"
    assert receiver.message_content_plain == "Moved to Friday\r\n"
    assert mail.outbox[0].body.startswith("Moved to Friday")


def emails_of_a_broken_directory(user):
    raise RuntimeError("the directory answered \x00\x01 for " + user.get_username())


def test_an_error_quoting_control_characters_is_stored_without_them(make_user, settings):
    settings.MESSAGING_USER_EMAILS = "tests.test_api.emails_of_a_broken_directory"
    with pytest.raises(RuntimeError, match="the directory answered"):
        send_message(users=[make_user(username="ola")], subject="S", html="<p>x</p>")
    message = Message.objects.get()
    assert message.status == "error"
    [error] = message.status_data["errors"]
    assert error["error_message"] == "RuntimeError: the directory answered  for ola"
    assert not [text for text in all_text(message.status_data) if STORED_CONTROLS.search(text)]
