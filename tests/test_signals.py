"""messaging.signals: what site code and error trackers connect to."""

import pytest
from django.core import mail

from messaging import signals
from messaging.api import send_message
from messaging.models import MessageReceiver
from tests.test_api import RefusingBackend  # noqa: F401  (named in TASKS below)

pytestmark = pytest.mark.django_db


@pytest.fixture
def heard():
    """Everything the three signals send during a test, as (signal name, kwargs)."""
    calls = []

    def listener(name):
        def handle(sender, signal, **kwargs):
            calls.append((name, sender, kwargs))

        return handle

    handlers = {name: listener(name) for name in ["sent", "failed", "error"]}
    signals.receiver_sent.connect(handlers["sent"])
    signals.receiver_failed.connect(handlers["failed"])
    signals.message_error.connect(handlers["error"])
    yield calls
    signals.receiver_sent.disconnect(handlers["sent"])
    signals.receiver_failed.disconnect(handlers["failed"])
    signals.message_error.disconnect(handlers["error"])


def test_receiver_sent_after_the_success_is_recorded(heard, make_user, on_commit):
    seen_status = []
    signals.receiver_sent.connect(
        check := lambda sender, message_receiver, **kw: seen_status.append(
            MessageReceiver.objects.get(pk=message_receiver.pk).status
        )
    )
    try:
        on_commit(send_message, users=[make_user("sam")], subject="S", html="<p>x</p>")
    finally:
        signals.receiver_sent.disconnect(check)
    [(name, sender, kwargs)] = heard
    assert (name, sender) == ("sent", MessageReceiver)
    assert kwargs["addresses"] == ["sam@example.org"]
    assert kwargs["message_receiver"].user.username == "sam"
    assert seen_status == ["sent"]


def test_receiver_failed_with_the_error_and_whether_final(heard, make_user, on_commit, smtp_server):
    users = [make_user(email="a+451@example.org"), make_user(email="b+550@example.org")]
    on_commit(send_message, users=users, subject="S", html="<p>x</p>")
    failed = {kw["message_receiver"].user.email: kw for name, _s, kw in heard if name == "failed"}
    assert failed["a+451@example.org"]["final"] is False
    assert failed["a+451@example.org"]["error"]["smtp_code"] == 451
    assert failed["b+550@example.org"]["final"] is True
    assert "550" in failed["b+550@example.org"]["error"]["error_message"]
    stored = MessageReceiver.objects.get(user=users[1]).status_data["errors"][-1]
    assert failed["b+550@example.org"]["error"] == stored


def test_message_error_when_enqueuing_fails(heard, settings, make_user, on_commit):
    settings.TASKS = {"default": {"BACKEND": "tests.test_api.RefusingBackend"}}
    message = on_commit(send_message, users=[make_user()], subject="S", html="<p>x</p>")
    [(name, _sender, kwargs)] = heard
    assert name == "error"
    assert kwargs["message"].pk == message.pk
    assert kwargs["stage"] == "enqueue"
    assert "task broker unreachable" in kwargs["error"]["error_message"]


def test_a_failing_handler_never_stops_delivery(make_user, on_commit):
    def broken(sender, **kwargs):
        raise RuntimeError("tracker down")

    signals.receiver_sent.connect(broken)
    try:
        on_commit(send_message, users=[make_user(), make_user()], subject="S", html="<p>x</p>")
    finally:
        signals.receiver_sent.disconnect(broken)
    assert len(mail.outbox) == 2
    assert set(MessageReceiver.objects.values_list("status", flat=True)) == {"sent"}
