"""The original product's Django-admin pages at /django-admin/ keep working."""

import pytest
from django.contrib.auth.models import Permission
from django.core import mail
from django.test import Client

from tests.factories import make_message, make_receiver

pytestmark = pytest.mark.django_db

LIST_URL = "/django-admin/messaging/messagereceiver/"


@pytest.fixture
def receivers(make_user):
    message = make_message(context_type="comment_added")
    return [
        make_receiver(
            message,
            make_user(email=f"r{n}@example.org"),
            subject=f"Subject {n}",
            message_content_html="<p>x</p>",
            message_content_plain="x",
            status=status,
            sending_failed_count=1 if status == "failed" else 0,
        )
        for n, status in enumerate(["failed", "failed", "sent"])
    ]


@pytest.fixture
def staff(make_user):
    def make(*codenames):
        user = make_user(username=f"staff{len(codenames)}", is_staff=True)
        user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
        return user

    return make


def test_superuser_sees_the_original_columns_and_filters(client, admin_user, receivers):
    client.force_login(admin_user)
    page = client.get(LIST_URL).content.decode()
    for column in [
        "column-id",
        "column-created_datetime",
        "column-subject",
        "column-user",
        "column-sending_failed_count",
        "column-sending_success_count",
        "column-status",
        "column-sent_datetime",
        "column-message_type",
    ]:
        assert column in page
    assert "By status" in page and "By sent" in page and "By context type" in page
    assert "Send message to selected receivers" in page
    filtered = client.get(LIST_URL, {"status__exact": "failed"}).content.decode()
    assert "Subject 0" in filtered and "Subject 2" not in filtered


def test_action_resends_selected_regardless_of_status(
    client, admin_user, receivers, django_capture_on_commit_callbacks
):
    client.force_login(admin_user)
    chosen = [receivers[0], receivers[2]]
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            LIST_URL,
            {"action": "resend_receivers", "_selected_action": [r.pk for r in chosen]},
            follow=True,
        )
    assert "2 receivers were queued for sending." in response.content.decode()
    assert sorted(m.to[0] for m in mail.outbox) == ["r0@example.org", "r2@example.org"]
    for receiver in chosen:
        receiver.refresh_from_db()
        assert receiver.status == "sent"
    assert receivers[2].sending_success_count == 1


def test_staff_with_resend_permission_can_resend(
    client, staff, receivers, django_capture_on_commit_callbacks
):
    client.force_login(staff("view_messagereceiver", "resend_messagereceiver"))
    with django_capture_on_commit_callbacks(execute=True):
        client.post(LIST_URL, {"action": "resend_receivers", "_selected_action": [receivers[0].pk]})
    assert [m.to[0] for m in mail.outbox] == ["r0@example.org"]


def test_staff_without_resend_permission_cannot(
    client, staff, receivers, django_capture_on_commit_callbacks
):
    client.force_login(staff("view_messagereceiver"))
    page = client.get(LIST_URL).content.decode()
    assert "Subject 0" in page
    assert "Send message to selected receivers" not in page
    with django_capture_on_commit_callbacks(execute=True):
        client.post(LIST_URL, {"action": "resend_receivers", "_selected_action": [receivers[0].pk]})
    assert mail.outbox == []
    receivers[0].refresh_from_db()
    assert receivers[0].pending_sends == 0


def test_records_are_read_only(client, admin_user, receivers):
    client.force_login(admin_user)
    assert client.get(f"{LIST_URL}add/").status_code == 403
    detail = client.get(f"{LIST_URL}{receivers[0].pk}/change/")
    assert detail.status_code == 200
    assert 'name="subject"' not in detail.content.decode()
    client.post(f"{LIST_URL}{receivers[0].pk}/change/", {"subject": "changed"})
    receivers[0].refresh_from_db()
    assert receivers[0].subject == "Subject 0"
    assert client.get("/django-admin/messaging/message/").status_code == 200


MESSAGE_LIST_URL = "/django-admin/messaging/message/"
HUGE = "99999999999999999999"


@pytest.mark.parametrize(
    "url, bad",
    [
        (f"{LIST_URL}?message={HUGE}", "message"),  # OverflowError on SQLite
        (f"{LIST_URL}?user={HUGE}", "user"),
        (f"{LIST_URL}?user=abc", "user"),
        (f"{LIST_URL}?id__in=1,{HUGE}", "id__in"),
        (f"{LIST_URL}?status=%00", "status"),  # DataError on PostgreSQL
        (f"{LIST_URL}?delivery_status=%00", "delivery_status"),
        (f"{LIST_URL}?status__exact=%00", "status__exact"),
        (f"{LIST_URL}?message__context_type__exact=%00", "message__context_type__exact"),
        (f"{MESSAGE_LIST_URL}?context_type=%00", "context_type"),
        (f"{MESSAGE_LIST_URL}?template={HUGE}", "template"),
    ],
)
def test_a_value_the_database_cannot_use_lists_nothing_and_says_why(
    admin_user, receivers, url, bad
):
    client = Client(raise_request_exception=False)
    client.force_login(admin_user)
    response = client.get(url)
    assert response.status_code == 200
    assert list(response.context["cl"].result_list) == []
    assert f"A filter cannot be used: {bad}: " in response.content.decode()


def test_usable_lookups_still_filter(client, admin_user, receivers):
    client.force_login(admin_user)
    response = client.get(LIST_URL, {"user": receivers[1].user_id, "status": "failed"})
    assert [r.pk for r in response.context["cl"].result_list] == [receivers[1].pk]


@pytest.mark.parametrize("year", [HUGE, "9999999999"])
def test_a_date_drill_down_year_too_big_is_djangos_invalid_lookup(client, admin_user, year):
    client.force_login(admin_user)
    response = client.get(MESSAGE_LIST_URL, {"created_datetime__year": year})
    assert response.status_code == 302 and response.url.endswith("?e=1")


def test_an_empty_to_field_means_the_primary_key(client, admin_user, receivers):
    client.force_login(admin_user)
    response = client.get(f"{LIST_URL}{receivers[0].pk}/change/", {"_to_field": ""})
    assert response.status_code == 200 and "Subject 0" in response.content.decode()


@pytest.mark.parametrize("selected", [HUGE, "abc", "\x00", ""])
def test_an_action_on_ids_that_cannot_be_ids_does_nothing_and_says_why(
    admin_user, receivers, selected, django_capture_on_commit_callbacks
):
    client = Client(raise_request_exception=False)
    client.force_login(admin_user)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            LIST_URL,
            {"action": "resend_receivers", "_selected_action": [selected], "index": "0"},
            follow=True,
        )
    assert response.status_code == 200
    assert "A filter cannot be used: pk: " in response.content.decode()
    assert mail.outbox == []
