"""Sending to users shaped like the original product's, configured by the recipe in docs/sending.md.

Runs under ``tests.settings_devilry``: ``pytest --ds=tests.settings_devilry tests/devilry``.
"""

from datetime import timedelta
from email.message import Message as EmailMessage
from pathlib import Path

import pytest
from django.core import mail
from django.utils import timezone

from messaging.api import send_message
from messaging.models import MessageReceiver
from tests.devilry_account import messaging_recipe
from tests.factories import make_template

pytestmark = pytest.mark.django_db

RECIPE_DOC = Path(__file__).resolve().parents[2] / "docs" / "sending.md"


@pytest.fixture
def template(db):
    return make_template(
        "feedback",
        name="Feedback",
        subject_en="Feedback for {{ user.full_name }}",
        subject_nb="Tilbakemelding til {{ user.full_name }}",
        body_en="<p>Hello {{ user.full_name }} ({{ user.username }}), read it.</p>",
        body_nb="<p>Hei {{ user.full_name }} ({{ user.username }}), les den.</p>",
    )


def html_part(email: EmailMessage) -> str:
    for part in email.walk():
        if part.get_content_type() == "text/html":
            return part.get_payload(decode=True).decode()
    raise AssertionError("no HTML part")


def test_the_docs_show_this_recipe():
    source = Path(messaging_recipe.__file__).read_text()
    assert source.strip() in RECIPE_DOC.read_text()


def test_recipe_delivers_to_every_notification_address_in_one_transaction(
    devilry_user, template, on_commit, smtp_server
):
    user = devilry_user(
        "grace",
        fullname="Grace Brewster Hopper",
        emails=["grace@example.org", "g.hopper@example.org", ("old@example.org", False)],
    )
    message = on_commit(send_message, template, users=[user])
    receiver = message.receivers.get()
    assert receiver.status == "sent"
    assert receiver.send_to == "g.hopper@example.org, grace@example.org"
    assert smtp_server.handler.deliveries == {"g.hopper@example.org": 1, "grace@example.org": 1}
    [email] = smtp_server.handler.messages  # one transaction for both addresses
    assert email["Subject"] == "[Devilry] Feedback for Grace Brewster Hopper"
    assert "Hello Grace Brewster Hopper (grace), read it." in html_part(email)
    assert receiver.subject == "[Devilry] Feedback for Grace Brewster Hopper"
    assert "Hello Grace Brewster Hopper (grace), read it." in receiver.message_content_plain


def test_languagecode_chooses_the_language(devilry_user, template, on_commit):
    user = devilry_user("ola", fullname="Ola Nordmann", languagecode="nb", emails=["o@example.org"])
    on_commit(send_message, template, users=[user])
    receiver = MessageReceiver.objects.get()
    assert receiver.language == "nb"
    assert "Hei Ola Nordmann (ola), les den." in receiver.message_content_html
    [email] = mail.outbox
    assert email.to == ["o@example.org"]


def test_a_user_without_fullname_is_named_by_shortname(devilry_user, template, on_commit):
    on_commit(send_message, template, users=[devilry_user("anon", emails=["a@example.org"])])
    assert MessageReceiver.objects.get().subject == "[Devilry] Feedback for anon"


def test_one_address_refused_for_good_another_accepted_counts_as_sent(
    devilry_user, template, on_commit, smtp_server
):
    user = devilry_user("ada", fullname="Ada", emails=["ada@example.org", "ada+550@example.org"])
    on_commit(send_message, template, users=[user])
    receiver = MessageReceiver.objects.get()
    assert receiver.status == "sent"
    assert receiver.sending_success_count == 1
    assert receiver.sending_failed_count == 0
    assert receiver.send_to == "ada+550@example.org, ada@example.org"
    [refusal] = receiver.status_data["errors"]
    assert refusal["partial"] is True
    assert refusal["permanent"] is True
    assert refusal["smtp_code"] == 550
    assert "ada+550@example.org: 550" in refusal["error_message"]
    assert smtp_server.handler.deliveries == {"ada@example.org": 1}


def test_every_address_refused_for_good_is_error(devilry_user, template, on_commit, smtp_server):
    user = devilry_user("bob", emails=["bob+550@example.org", "bob+553@example.org"])
    on_commit(send_message, template, users=[user])
    receiver = MessageReceiver.objects.get()
    assert receiver.status == "error"
    assert receiver.sending_failed_count == 1
    [error] = receiver.status_data["errors"]
    assert "bob+550@example.org: 550" in error["error_message"]
    assert "bob+553@example.org: 553" in error["error_message"]
    assert smtp_server.handler.total() == 0


def test_every_address_refused_but_one_only_for_now_is_retried(
    devilry_user, template, on_commit, smtp_server
):
    user = devilry_user("carl", emails=["carl+550@example.org", "carl+451@example.org"])
    before = timezone.now()
    on_commit(send_message, template, users=[user])
    after = timezone.now()
    receiver = MessageReceiver.objects.get()
    assert receiver.status == "failed"  # the 451 address may take it on a retry
    # The first retry waits MESSAGING_RETRY_BASE_DELAY (30 minutes by default).
    wait = timedelta(minutes=30)
    assert before + wait <= receiver.next_attempt_at <= after + wait


def test_a_user_without_notification_address_is_error(devilry_user, template, on_commit):
    user = devilry_user("dora", emails=[("dora@example.org", False)])
    on_commit(send_message, template, users=[user])
    receiver = MessageReceiver.objects.get()
    assert receiver.status == "error"
    assert "'dora'" in receiver.status_data["errors"][0]["error_message"]
    assert "has no email address" in receiver.status_data["errors"][0]["error_message"]
    assert mail.outbox == []


def test_deleting_the_user_deletes_their_receivers(devilry_user, template, on_commit):
    gone = devilry_user("gone", emails=["gone@example.org"])
    kept = devilry_user("kept", emails=["kept@example.org"])
    message = on_commit(send_message, template, users=[gone, kept])
    gone.delete()
    assert [r.user for r in message.receivers.all()] == [kept]


def test_admin_pages_work_with_this_user_model(devilry_user, template, on_commit, client):
    admin = devilry_user("admin", is_superuser=True)
    message = on_commit(send_message, template, users=[devilry_user("e", emails=["e@x.org"])])
    client.force_login(admin)
    listing = client.get("/admin/messaging/receivers/")
    assert listing.status_code == 200
    assert b"e@x.org" in listing.content
    searched = client.get("/admin/messaging/receivers/", {"q": "e@x"})
    assert searched.status_code == 200
    assert b"e@x.org" in searched.content
    django_search = client.get("/django-admin/messaging/messagereceiver/", {"q": "e"})
    assert django_search.status_code == 200
    page = client.get(f"/django-admin/messaging/message/{message.pk}/change/")
    assert page.status_code == 200
    assert b"e@x.org" in page.content


def test_admin_search_finds_a_user_by_full_name_and_by_any_address(devilry_user, on_commit, client):
    ola = devilry_user(
        "ola", fullname="Ola Nordmann", emails=["o@example.org", ("old@uio.example", False)]
    )
    other = devilry_user("kari", fullname="Kari Hansen", emails=["k@example.org"])
    direct = {"subject": "Feedback", "html": "<p>Read it.</p>"}  # no name in the subject
    message = on_commit(send_message, users=[ola, other], **direct)
    client.force_login(devilry_user("admin", is_superuser=True))

    def found(query: str) -> set:
        html = client.get("/admin/messaging/receivers/", {"q": query}).content.decode()
        return {r.user for r in message.receivers.all() if f"/inspect/{r.pk}/" in html}

    assert found("Nordmann") == {ola}  # fullname
    assert found("old@uio") == {ola}  # an address the email did not go to


def test_admin_search_default_looks_in_shortname_and_fullname(
    devilry_user, on_commit, client, settings
):
    del settings.MESSAGING_USER_SEARCH_FIELDS
    from messaging import conf

    assert conf.user_search_fields() == ["fullname", "shortname"]
    ola = devilry_user("ola", fullname="Ola Nordmann", emails=["o@example.org"])
    on_commit(send_message, users=[ola], subject="Feedback", html="<p>Read it.</p>")
    client.force_login(devilry_user("admin", is_superuser=True))
    receiver = MessageReceiver.objects.get(user=ola)
    listing = client.get("/admin/messaging/receivers/", {"q": "Nordmann"}).content.decode()
    assert f"/inspect/{receiver.pk}/" in listing
