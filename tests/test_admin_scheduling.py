"""The admin of when and in what order: scheduled messages (filter, cancel, change time),
stopping and resuming a message (confirmed, logged, shown), expired and cancelled
receivers (filters, counts, refused resends). Through Django's test client."""

from __future__ import annotations

import html
from datetime import timedelta

import pytest
from bs4 import BeautifulSoup
from django.contrib.auth.models import Group, Permission
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from wagtail.log_actions import registry as log_registry
from wagtail.models import ModelLogEntry

from messaging.api import send_message
from messaging.models import Message, MessageReceiver, expire_due
from tests.factories import make_message, make_receiver

pytestmark = pytest.mark.django_db

Status = MessageReceiver.Status
MESSAGES = "/admin/messaging/messages/"
RECEIVERS = "/admin/messaging/receivers/"
RESEND = reverse("wagtail_bulk_action", args=["messaging", "messagereceiver", "resend"])


def client_with(make_user, *codenames: str) -> Client:
    user = make_user("staff_" + "_".join(codenames))
    group = Group.objects.create(name="Messaging " + " ".join(codenames))
    group.permissions.add(
        Permission.objects.get(codename="access_admin"),
        *Permission.objects.filter(codename__in=codenames),
    )
    user.groups.add(group)
    client = Client()
    client.force_login(user)
    client.user = user
    return client


@pytest.fixture
def stopper(make_user):
    """Staff who may look at messages and stop, resume and reschedule them."""
    return client_with(make_user, "view_message", "view_messagereceiver", "stop_message")


@pytest.fixture
def viewer(make_user):
    """Staff who may only look."""
    return client_with(make_user, "view_message", "view_messagereceiver", "resend_messagereceiver")


@pytest.fixture
def scheduled(make_user):
    return send_message(
        users=[make_user(), make_user()],
        subject="Exam moved",
        html="<p>Room 4</p>",
        send_at=timezone.now() + timedelta(days=1),
        expires_at=timezone.now() + timedelta(days=3),
    )


@pytest.fixture
def sending(make_user):
    message = make_message(Message.Status.SENDING)
    make_receiver(message, status=Status.SENT, sending_success_count=1)
    for _ in range(2):
        make_receiver(message, pending_sends=1, send_requested_at=timezone.now())
    return message


def action_url(message: Message, action: str) -> str:
    return f"{MESSAGES}{action}/{message.pk}/"


def messages_of(response) -> list[str]:
    """The texts of the admin's messages on the page (Wagtail renders them as HTML)."""
    if not response.context:
        return []
    return [html.unescape(str(m)).strip() for m in response.context["messages"]]


def listed(response) -> set[int]:
    return {obj.pk for obj in response.context["object_list"]}


def history(client: Client, message: Message) -> list[list[str]]:
    html = client.get(f"{MESSAGES}inspect/{message.pk}/").content.decode()
    section = BeautifulSoup(html, "html.parser").select_one("[data-message-history]")
    if section is None:
        return []
    rows = section.select("tbody tr")
    return [[td.get_text(" ", strip=True) for td in row.find_all("td")] for row in rows]


# --- the messages list ---------------------------------------------------------------------


def test_the_messages_list_filters_scheduled_ones_and_shows_their_time(stopper, scheduled, sending):
    assert listed(stopper.get(MESSAGES, {"scheduled": "true"})) == {scheduled.pk}
    assert listed(stopper.get(MESSAGES, {"scheduled": "false"})) == {sending.pk}
    assert listed(stopper.get(MESSAGES, {"status": "scheduled"})) == {scheduled.pk}
    day = timezone.localtime(scheduled.send_at).date().isoformat()
    between = {"send_at_from": day, "send_at_to": day}
    assert listed(stopper.get(MESSAGES, between)) == {scheduled.pk}
    html = stopper.get(MESSAGES).content.decode()
    soup = BeautifulSoup(html, "html.parser")
    headings = [th.get_text(" ", strip=True) for th in soup.select("table.listing thead th")]
    assert "Send at" in headings
    local = timezone.localtime(scheduled.send_at)
    assert f"{local:%H:%M}" in html


# --- cancel and change the time of a scheduled message -----------------------------------


def test_cancelling_a_scheduled_message_is_confirmed_and_logged(stopper, scheduled):
    page = stopper.get(action_url(scheduled, "stop"))
    assert page.status_code == 200
    assert "Cancel scheduled message" in page.content.decode()
    assert Message.objects.get(pk=scheduled.pk).status == Message.Status.SCHEDULED  # GET only asks
    response = stopper.post(action_url(scheduled, "stop"), follow=True)
    assert "Stopped: 2 emails were cancelled." in messages_of(response)
    scheduled.refresh_from_db()
    assert scheduled.status == Message.Status.CANCELLED
    assert set(scheduled.receivers.values_list("status", flat=True)) == {"cancelled"}
    [[label, user, when]] = history(stopper, scheduled)
    assert (label, user) == ("Cancelled before its time", stopper.user.username)
    assert when


def test_changing_the_time_of_a_scheduled_message(stopper, scheduled):
    new_time = timezone.localtime(scheduled.send_at + timedelta(hours=5)).replace(
        second=0, microsecond=0
    )
    response = stopper.post(
        action_url(scheduled, "reschedule"),
        {"send_at": f"{new_time:%Y-%m-%d %H:%M}"},
        follow=True,
    )
    assert any("now scheduled for" in text for text in messages_of(response))
    scheduled.refresh_from_db()
    assert scheduled.send_at == new_time
    assert set(scheduled.receivers.values_list("send_requested_at", flat=True)) == {new_time}
    assert [row[0] for row in history(stopper, scheduled)] == ["Changed its scheduled time"]


def test_a_time_past_the_expiry_is_refused_with_the_reason(stopper, scheduled):
    too_late = timezone.localtime(scheduled.expires_at + timedelta(days=1))
    response = stopper.post(
        action_url(scheduled, "reschedule"), {"send_at": f"{too_late:%Y-%m-%d %H:%M}"}
    )
    assert response.status_code == 200
    assert any("before the message expires" in text for text in messages_of(response))
    assert Message.objects.get(pk=scheduled.pk).send_at == scheduled.send_at
    assert history(stopper, scheduled) == []


# --- stop and resume ---------------------------------------------------------------------


def test_stopping_and_resuming_a_message(stopper, sending, django_capture_on_commit_callbacks):
    page = stopper.get(f"{MESSAGES}inspect/{sending.pk}/").content.decode()
    assert action_url(sending, "stop") in page and action_url(sending, "resume") not in page
    stopper.post(action_url(sending, "stop"))
    sending.refresh_from_db()
    assert sending.status == Message.Status.CANCELLED
    assert sorted(sending.receivers.values_list("status", flat=True)) == [
        "cancelled",
        "cancelled",
        "sent",
    ]
    page = stopper.get(f"{MESSAGES}inspect/{sending.pk}/").content.decode()
    assert action_url(sending, "resume") in page and action_url(sending, "stop") not in page

    with django_capture_on_commit_callbacks(execute=True):
        response = stopper.post(action_url(sending, "resume"), follow=True)
    assert "Resumed: 2 emails are on their way again." in messages_of(response)
    sending.refresh_from_db()
    assert sending.status == Message.Status.SENT
    assert len(mail.outbox) == 2  # only the cancelled ones
    assert [row[0:2] for row in history(stopper, sending)] == [
        ["Resumed sending", stopper.user.username],
        ["Stopped sending", stopper.user.username],
    ]
    entries = ModelLogEntry.objects.filter(object_id=str(sending.pk)).order_by("pk")
    assert [(e.action, e.user, e.data) for e in entries] == [
        ("messaging.stop", stopper.user, {"cancelled": 2}),
        ("messaging.resume", stopper.user, {"resumed": 2}),
    ]


def test_actions_need_the_stop_permission(viewer, sending, scheduled):
    page = viewer.get(f"{MESSAGES}inspect/{sending.pk}/").content.decode()
    assert action_url(sending, "stop") not in page
    for message, action in [(sending, "stop"), (scheduled, "reschedule"), (scheduled, "stop")]:
        response = viewer.post(action_url(message, action), follow=True)
        assert any("messaging.stop_message" in text for text in messages_of(response))
    sending.refresh_from_db()
    scheduled.refresh_from_db()
    assert (sending.status, scheduled.status) == ("sending", "scheduled")


def test_an_action_the_status_does_not_allow_is_refused(stopper, sending):
    response = stopper.post(action_url(sending, "resume"), follow=True)
    assert any("cannot be done now" in text for text in messages_of(response))
    response = stopper.get(action_url(sending, "reschedule"), follow=True)
    assert any("cannot be done now" in text for text in messages_of(response))


def test_the_log_actions_are_registered():
    for action in (
        "messaging.stop",
        "messaging.resume",
        "messaging.cancel",
        "messaging.reschedule",
    ):
        assert log_registry.action_exists(action)


# --- expired and cancelled receivers ---------------------------------------------------------


@pytest.fixture
def expired(make_user):
    message = send_message(
        users=[make_user()], subject="S", html="x", expires_at=timezone.now() + timedelta(hours=1)
    )
    Message.objects.filter(pk=message.pk).update(expires_at=timezone.now())
    expire_due()  # as cron does, every minute or so
    return message


def test_receivers_filter_and_dashboard_count_the_new_statuses(viewer, expired, sending):
    from messaging import control

    expired_receiver = expired.receivers.get()
    control.stop(sending)
    assert listed(viewer.get(RECEIVERS, {"status": "expired"})) == {expired_receiver.pk}
    cancelled = set(sending.receivers.filter(status="cancelled").values_list("pk", flat=True))
    assert listed(viewer.get(RECEIVERS, {"status": "cancelled"})) == cancelled
    tiles = BeautifulSoup(viewer.get("/admin/").content, "html.parser").select("a.msg-tile")
    texts = {tile.get_text(" ", strip=True) for tile in tiles}
    assert {"1 Expired", "2 Cancelled"} <= texts


def test_a_bulk_resend_of_expired_receivers_is_refused_with_a_message(viewer, expired, sending):
    receiver = expired.receivers.get()
    response = viewer.post(f"{RESEND}?id={receiver.pk}&next={RECEIVERS}", follow=True)
    [text] = messages_of(response)
    assert text.startswith("Nothing was resent. 1 receiver is past its message's expiry time")
    receiver.refresh_from_db()
    assert (receiver.status, receiver.pending_sends) == ("expired", 0)

    other = sending.receivers.filter(status="not_sent").first()
    response = viewer.post(f"{RESEND}?id={receiver.pk}&id={other.pk}&next={RECEIVERS}", follow=True)
    assert set(messages_of(response)) == {
        "1 receiver is past its message's expiry time: nothing is sent after it.",
        "1 receiver was queued for sending.",
    }


def test_the_bulk_resend_confirmation_counts_expired_and_cancelled(viewer, expired, sending):
    from messaging import control

    control.stop(sending)
    ids = "&".join(f"id={pk}" for pk in MessageReceiver.objects.values_list("pk", flat=True))
    summary = BeautifulSoup(viewer.get(f"{RESEND}?{ids}").content, "html.parser")
    text = summary.select_one("[data-resend-summary]").get_text(" ", strip=True)
    assert "1 expired (never resent)" in text
    assert "2 cancelled (resume their message instead)" in text


def test_a_single_resend_of_an_expired_receiver_is_refused(viewer, expired):
    receiver = expired.receivers.get()
    response = viewer.post(reverse("messaging_receivers:resend", args=[receiver.pk]), follow=True)
    assert messages_of(response) == [
        "1 receiver is past its message's expiry time: nothing is sent after it."
    ]
    receiver.refresh_from_db()
    assert receiver.pending_sends == 0
