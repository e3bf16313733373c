"""MESSAGING_SEND_EMAIL_TO_USERS (DEVILRY_SEND_EMAIL_TO_USERS): record everything, send nothing."""

import pytest
from django.core import mail
from django.core.management import call_command
from django.test import Client

from messaging.api import request_sends, send_message
from messaging.models import Message, MessageReceiver

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("name", ["MESSAGING_SEND_EMAIL_TO_USERS", "DEVILRY_SEND_EMAIL_TO_USERS"])
def test_switched_off_records_content_as_error_and_sends_nothing(
    name, settings, make_user, on_commit
):
    setattr(settings, name, False)
    message = on_commit(
        send_message, users=[make_user(), make_user()], subject="S", html="<p>Body</p>"
    )
    assert mail.outbox == []
    message.refresh_from_db()
    assert message.status == Message.Status.SENT  # nothing left to send
    for receiver in message.receivers.all():
        assert receiver.status == "error"
        assert receiver.message_content_html == "<p>Body</p>"
        assert receiver.subject == "S"
        assert receiver.pending_sends == 0
        [entry] = receiver.status_data["errors"]
        assert entry["permanent"] is True
        assert f"{name} is False" in entry["error_message"]


def test_messaging_setting_wins_over_devilry(settings, make_user, on_commit):
    settings.MESSAGING_SEND_EMAIL_TO_USERS = True
    settings.DEVILRY_SEND_EMAIL_TO_USERS = False
    on_commit(send_message, users=[make_user()], subject="S", html="<p>x</p>")
    assert len(mail.outbox) == 1


def test_nothing_goes_out_later_by_surprise(settings, make_user, on_commit):
    settings.MESSAGING_SEND_EMAIL_TO_USERS = False
    on_commit(send_message, users=[make_user()], subject="S", html="<p>x</p>")
    settings.MESSAGING_SEND_EMAIL_TO_USERS = True
    on_commit(call_command, "resend_failed_messages", "--all", stdout=None)
    assert mail.outbox == []
    assert MessageReceiver.objects.get().status == "error"


def test_staff_can_resend_deliberately_once_switched_on(settings, make_user, on_commit):
    settings.MESSAGING_SEND_EMAIL_TO_USERS = False
    message = on_commit(send_message, users=[make_user("ann")], subject="S", html="<p>x</p>")
    receiver = message.receivers.get()
    on_commit(request_sends, [receiver.pk])  # still off: refused again, nothing sent
    assert mail.outbox == []
    receiver.refresh_from_db()
    assert receiver.status == "error"
    assert len(receiver.status_data["errors"]) == 2
    settings.MESSAGING_SEND_EMAIL_TO_USERS = True
    on_commit(request_sends, [receiver.pk])
    receiver.refresh_from_db()
    assert receiver.status == "sent"
    assert [email.to for email in mail.outbox] == [["ann@example.org"]]


def test_admin_shows_a_banner_while_switched_off(settings, make_user):
    client = Client()
    client.force_login(make_user("root", is_superuser=True, is_staff=True))
    settings.DEVILRY_SEND_EMAIL_TO_USERS = False
    for url in ["/admin/", "/admin/messaging/receivers/"]:
        page = client.get(url)
        assert page.status_code == 200
        assert page.content.count(b"DEVILRY_SEND_EMAIL_TO_USERS = False") == 1
    settings.DEVILRY_SEND_EMAIL_TO_USERS = True
    assert b"SEND_EMAIL_TO_USERS" not in client.get("/admin/").content
