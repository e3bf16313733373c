"""The admin side of bounces: the suppression list, the delivery status filter and events."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import Group, Permission
from django.test import Client
from django.utils import timezone

from messaging.models import MessageReceiver, Suppression
from tests.factories import make_message, make_receiver

SUPPRESSIONS = "/admin/messaging/suppressions/"
RECEIVERS = "/admin/messaging/receivers/"
DeliveryStatus = MessageReceiver.DeliveryStatus


def client_with(make_user, *codenames: str, superuser: bool = False) -> Client:
    user = make_user(
        "staff_" + "_".join(codenames) if codenames else "root",
        is_staff=True,
        is_superuser=superuser,
    )
    if codenames:
        group = Group.objects.create(name="Suppression " + " ".join(codenames))
        group.permissions.add(
            Permission.objects.get(codename="access_admin"),
            *Permission.objects.filter(codename__in=codenames),
        )
        user.groups.add(group)
    client = Client(enforce_csrf_checks=False)
    client.force_login(user)
    return client


def refused(response) -> bool:
    """Wagtail answers a PermissionDenied in its admin with a redirect to the dashboard."""
    return (response.status_code, response.get("Location")) == (302, "/admin/")


@pytest.fixture
def entries(db):
    return [
        Suppression.objects.create(address="gone@example.org", reason="bounced", source="5.1.1"),
        Suppression.objects.create(address="angry@example.net", reason="complained"),
    ]


def test_viewers_list_and_search_but_cannot_add_or_remove(make_user, entries):
    client = client_with(make_user, "view_suppression")
    response = client.get(SUPPRESSIONS, {"q": "GONE"})
    assert response.status_code == 200
    assert [e.address for e in response.context["object_list"]] == ["gone@example.org"]
    assert refused(client.get(SUPPRESSIONS + "new/"))
    assert refused(client.post(SUPPRESSIONS + f"delete/{entries[0].pk}/"))
    assert Suppression.objects.count() == 2


def test_staff_without_permission_see_nothing(make_user, entries):
    client = client_with(make_user, "view_message")
    assert refused(client.get(SUPPRESSIONS))


def test_adding_stores_the_address_in_lower_case_once(make_user, entries):
    client = client_with(make_user, "view_suppression", "add_suppression")
    response = client.post(
        SUPPRESSIONS + "new/", {"address": " Left@Example.ORG ", "reason": "manual", "source": ""}
    )
    assert response.status_code == 302
    assert Suppression.objects.get(address="left@example.org").reason == "manual"
    response = client.post(
        SUPPRESSIONS + "new/", {"address": "GONE@example.org", "reason": "manual", "source": ""}
    )
    assert response.status_code == 200
    assert "already exists" in response.content.decode()
    assert Suppression.objects.filter(address="gone@example.org").count() == 1


def test_removing_lifts_the_suppression(make_user, entries):
    client = client_with(make_user, "view_suppression", "delete_suppression")
    url = SUPPRESSIONS + f"delete/{entries[0].pk}/"
    assert client.get(url).status_code == 200  # a confirmation page, nothing removed yet
    assert Suppression.objects.filter(pk=entries[0].pk).exists()
    assert client.post(url).status_code == 302
    assert not Suppression.objects.filter(pk=entries[0].pk).exists()


@pytest.fixture
def receivers(make_user):
    message = make_message()
    now = timezone.now()

    def make(delivery_status: str, events: list) -> MessageReceiver:
        return make_receiver(
            message,
            user=None,
            send_to=f"{delivery_status}@example.org",
            status="sent",
            sent_datetime=now - timedelta(hours=1),
            delivery_status=delivery_status,
            delivery_updated_at=now - timedelta(minutes=5),
            delivery_events=events,
        )

    event = {
        "event": "bounced",
        "status": "5.1.1",
        "diagnostic": "550 <script>alert(1)</script> no such user",
        "source": "maildir",
        "timestamp": now.isoformat(),
    }
    return {
        "bounced": make("bounced", [event]),
        "delayed": make("delayed", [{**event, "event": "delayed", "status": "4.4.7"}]),
        "unknown": make("unknown", []),
    }


def test_receivers_filter_by_delivery_status(make_user, receivers):
    client = client_with(make_user, superuser=True)
    response = client.get(RECEIVERS, {"delivery_status": ["bounced", "delayed"]})
    assert response.status_code == 200
    listed = {obj.pk for obj in response.context["object_list"]}
    assert listed == {receivers["bounced"].pk, receivers["delayed"].pk}


def test_inspect_shows_the_delivery_events_as_text(make_user, receivers):
    client = client_with(make_user, superuser=True)
    html = client.get(RECEIVERS + f"inspect/{receivers['bounced'].pk}/").content.decode()
    events = html[html.index("data-delivery-events") :]
    assert "bounced 5.1.1 (maildir)" in events
    assert "550 &lt;script&gt;alert(1)&lt;/script&gt; no such user" in events
    assert "<script>alert(1)" not in html


def test_dashboard_shows_recent_bounces_and_the_bounce_rate(make_user, receivers):
    client = client_with(make_user, superuser=True)
    html = client.get("/admin/").content.decode()
    tile = html[html.index("data-recent-bounces") :][:200]
    assert '<span class="msg-tile__count">1</span>' in tile
    assert "data-bounce-rate" in html
    assert "1 of 3 bounced" in html
