"""The original product's Django-admin pages at /django-admin/ keep working."""

import pytest
from django.contrib.auth.models import Permission
from django.core import mail

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
