"""send_testemail ADDRESS (and devilry_send_testemail) against a real SMTP server."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("command", ["send_testemail", "devilry_send_testemail"])
def test_prints_success_and_the_server_has_the_email(command, smtp_server, settings):
    settings.MESSAGING_FROM_EMAIL = "noreply@example.org"
    out = StringIO()
    call_command(command, "it@example.org", stdout=out)
    assert "The test email to it@example.org was sent." in out.getvalue()
    assert smtp_server.handler.deliveries == {"it@example.org": 1}
    [email] = smtp_server.handler.messages
    assert email["From"] == "noreply@example.org"


def test_prints_the_refusal_with_its_reason(smtp_server):
    with pytest.raises(CommandError) as raised:
        call_command("send_testemail", "it+550@example.org", stdout=StringIO())
    assert "Sending to it+550@example.org failed" in str(raised.value)
    assert "550 5.1.1 Mailbox unavailable" in str(raised.value)
    assert smtp_server.handler.total() == 0


def test_prints_why_the_server_cannot_be_reached(use_mailer):
    from config.mail import local_smtp
    from messaging.testing.smtp import free_port

    use_mailer(**local_smtp(free_port(), timeout=5))
    with pytest.raises(CommandError, match="Sending to it@example.org failed: Connection"):
        call_command("send_testemail", "it@example.org", stdout=StringIO())


def test_refuses_what_is_not_an_address():
    with pytest.raises(CommandError, match="'nope' is not an email address"):
        call_command("send_testemail", "nope", stdout=StringIO())


def test_sends_even_while_sending_to_users_is_off(settings):
    from django.core import mail

    settings.MESSAGING_SEND_EMAIL_TO_USERS = False
    call_command("send_testemail", "it@example.org", stdout=StringIO())
    assert [email.to for email in mail.outbox] == [["it@example.org"]]
