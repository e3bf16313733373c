""" "Send me a test" on a template's edit page: the draft, per language, to the editor."""

from __future__ import annotations

import pytest
from django.core import mail
from django.test import Client

from messaging.api import send_message
from messaging.models import Message, NotificationPreference, Suppression
from tests.factories import make_template
from tests.test_template_admin import SNIPPETS, client_with, edit_data, url

pytestmark = pytest.mark.django_db


@pytest.fixture
def editor(make_user):
    return make_user("ed", email="ed@example.org", is_superuser=True)


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def messages_shown(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


def test_edit_page_offers_send_me_a_test(editor):
    template = make_template()
    page = client_for(editor).get(url("edit", template)).content.decode()
    assert "Send me a test" in page
    assert f'data-w-action-url-value="{url("send_test", template)}"' in page


def test_the_draft_is_sent_to_the_editor_in_every_language(editor, on_commit):
    client = client_for(editor)
    template = make_template(context_type="deadline_moved")
    data = edit_data(template, subject_en="Draft for {{ assignment }}", subject_nb="Utkast")
    data["context_type"] = "deadline_moved"
    client.post(url("edit", template), data)
    template.refresh_from_db()
    response = on_commit(client.post, url("send_test", template), follow=True)
    assert any("was sent to ed@example.org" in m for m in messages_shown(response))
    messages = Message.objects.filter(metadata__test=True)
    assert messages.count() == 2
    receivers = {m.receivers.get().language: m.receivers.get() for m in messages}
    # The draft, with the preview's sample values; the editor is the user.
    assert receivers["en"].subject == "Draft for Assignment 3"
    assert receivers["nb"].subject == "Utkast"
    assert {r.template_revision_id for r in receivers.values()} == {template.latest_revision_id}
    assert {r.user for r in receivers.values()} == {editor}
    assert sorted(email.subject for email in mail.outbox) == ["Draft for Assignment 3", "Utkast"]
    assert all(email.to == ["ed@example.org"] for email in mail.outbox)
    # The live version is still what application code sends.
    assert send_message("deadline", [editor], {"assignment": "A"}).receivers.get().subject == (
        "Deadline for A"
    )


def test_tests_are_left_out_of_the_dashboard(editor, make_user, on_commit):
    client = client_for(editor)
    template = make_template()
    on_commit(client.post, url("send_test", template))
    assert len(mail.outbox) == 2
    assert "Sent (0) and failed (0)" in client.get("/admin/").content.decode()
    assert "Used 0 times" in client.get(SNIPPETS).content.decode()  # nor in its usage
    on_commit(send_message, template, [make_user()], {"assignment": "A"})
    assert "Sent (1) and failed (0)" in client.get("/admin/").content.decode()


def test_an_editor_without_an_address_is_told(make_user):
    client = client_for(make_user("noaddress", email="", is_superuser=True))
    response = client.post(url("send_test", make_template()), follow=True)
    assert any("Your account has no email address" in m for m in messages_shown(response))
    assert not Message.objects.exists() and not mail.outbox


def test_an_editor_whose_address_is_suppressed_is_told(editor):
    Suppression.objects.create(address="ED@example.org", reason=Suppression.Reason.BOUNCED)
    response = client_for(editor).post(url("send_test", make_template()), follow=True)
    [shown] = messages_shown(response)
    assert "ed@example.org is on the suppression list" in shown
    assert "Suppressed addresses" in shown
    assert not Message.objects.exists() and not mail.outbox


def test_only_editors_who_may_change_the_template_can_send_a_test():
    client, _user = client_with("viewer", "view_messagetemplate")
    response = client.post(url("send_test", make_template()), follow=True)
    assert any("You may not edit this template" in m for m in messages_shown(response))
    assert not Message.objects.exists()


def test_an_editor_who_turned_the_type_off_is_told(editor, settings):
    NotificationPreference.objects.create(user=editor, context_type="comment_added", mode="off")
    template = make_template(context_type="comment_added")
    response = client_for(editor).post(url("send_test", template), follow=True)
    assert any("preference for “New comment” is “Off”" in m for m in messages_shown(response))
    assert not Message.objects.exists()


def test_while_sending_is_switched_off_the_editor_is_told(editor, settings):
    settings.MESSAGING_SEND_EMAIL_TO_USERS = False
    response = client_for(editor).post(url("send_test", make_template()), follow=True)
    assert any("MESSAGING_SEND_EMAIL_TO_USERS is False" in m for m in messages_shown(response))
    assert not Message.objects.exists()
