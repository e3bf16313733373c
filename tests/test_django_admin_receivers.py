"""The Django admin's message page: receivers inline, user counts; users' receivers cascade."""

import pytest
from django.test import Client

from messaging.models import MessageReceiver
from tests.factories import make_message, make_receivers

pytestmark = pytest.mark.django_db


@pytest.fixture
def client_for_root(make_user):
    client = Client()
    client.force_login(make_user("root", is_superuser=True, is_staff=True))
    return client


def receivers_of(message, users):
    return make_receivers(0, message, users=users, subject="S")


def test_message_page_shows_the_first_50_receivers_read_only(client_for_root, make_user):
    message = make_message()
    receivers_of(message, [make_user(f"u{n:02d}", email=f"u{n:02d}@x.org") for n in range(51)])
    page = client_for_root.get(f"/django-admin/messaging/message/{message.pk}/change/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "u00@x.org" in html
    assert "u49@x.org" in html
    assert "u50@x.org" not in html  # the 51st is in the Wagtail listing
    assert f'href="/admin/messaging/receivers/?message={message.pk}"' in html
    assert "All 51 receivers" in html
    assert 'name="receivers-0-send_to"' not in html  # no form fields: read-only


def test_message_list_counts_the_users(client_for_root, make_user):
    three = make_message()
    receivers_of(three, [make_user() for _ in range(3)])
    make_message("draft")
    page = client_for_root.get("/django-admin/messaging/message/?o=6")  # sorted by users
    assert page.status_code == 200
    rows = page.context["cl"].result_list
    assert [(m.pk, m.user_count) for m in rows][-1] == (three.pk, 3)
    assert '<td class="field-users">3</td>' in page.content.decode()


def test_deleting_a_user_deletes_their_receivers(make_user):
    message = make_message()
    gone, kept = make_user(), make_user()
    receivers_of(message, [gone, kept])
    gone.delete()
    assert list(message.receivers.values_list("user", flat=True)) == [kept.pk]


def test_receiver_list_shows_and_filters_the_mailer_that_accepted_each(client_for_root, make_user):
    message = make_message()
    first, second = receivers_of(message, [make_user(), make_user()])
    MessageReceiver.objects.filter(pk=first.pk).update(sent_via="default")
    MessageReceiver.objects.filter(pk=second.pk).update(sent_via="backup")
    page = client_for_root.get("/django-admin/messaging/messagereceiver/?sent_via=backup")
    assert page.status_code == 200
    assert [receiver.pk for receiver in page.context["cl"].result_list] == [second.pk]
    assert '<td class="field-sent_via">backup</td>' in page.content.decode()
