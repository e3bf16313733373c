"""Wagtail's history of what staff and code did: each action done through the admin or
the API, and its log entry read back."""

from __future__ import annotations

import pytest
from django.contrib.contenttypes.models import ContentType
from django.test import Client
from django.urls import reverse
from wagtail.models import ModelLogEntry

from messaging.api import send_message
from messaging.models import Message, MessageTemplate, NotificationPreference, Suppression
from tests.factories import make_receiver, make_template
from tests.test_editors import ADD, form_data
from tests.test_template_admin import edit_data, url

pytestmark = pytest.mark.django_db

RESEND = reverse("wagtail_bulk_action", args=["messaging", "messagereceiver", "resend"])


@pytest.fixture
def staff(make_user):
    return make_user("root", first_name="Rut", is_superuser=True, is_staff=True)


@pytest.fixture
def client(staff) -> Client:
    client = Client()
    client.force_login(staff)
    return client


def entries(instance, action: str) -> list[ModelLogEntry]:
    content_type = ContentType.objects.get_for_model(instance)
    return list(
        ModelLogEntry.objects.filter(
            content_type=content_type, object_id=str(instance.pk), action=action
        ).order_by("pk")
    )


def test_a_send_is_logged_on_its_template(staff, client, make_user):
    template = make_template()
    message = send_message(template, [make_user(), make_user()], {}, created_by=staff)
    [entry] = entries(template, "messaging.send")
    assert entry.user == staff
    assert entry.data == {
        "message": message.pk,
        "receivers": 2,
        "skipped": 0,
        "test": False,
        "template": {"id": template.pk, "key": "deadline", "revision": template.live_revision_id},
    }
    history = client.get(url("history", template)).content.decode()
    assert f"Message {message.pk} sent to 2 receivers" in history


def test_a_send_without_template_is_logged_on_its_message(make_user):
    message = send_message(users=[make_user()], subject="Hi", html="<p>Hi</p>")
    [entry] = entries(message, "messaging.send")
    assert entry.user is None and entry.data["receivers"] == 1 and "template" not in entry.data


def test_a_test_send_is_logged_as_a_test(staff, client):
    template = make_template()
    client.post(url("send_test", template))
    logged = entries(template, "messaging.send")
    assert [(e.user, e.data["test"], e.data["receivers"]) for e in logged] == [(staff, True, 1)] * 2


def test_a_resend_by_hand_is_logged_on_its_message(staff, client):
    receiver = make_receiver()
    client.post(f"/admin/messaging/receivers/resend/{receiver.pk}/")
    [entry] = entries(receiver.message, "messaging.resend")
    assert entry.user == staff
    assert entry.data == {"receivers": 1, "bulk": False, "receiver": receiver.pk}


def test_a_bulk_resend_is_logged_once_per_message(staff, client):
    first, second = make_receiver(), make_receiver()
    third = make_receiver(first.message)
    ids = "&".join(f"id={r.pk}" for r in (first, second, third))
    assert client.post(f"{RESEND}?{ids}").status_code == 302
    assert [e.data for e in entries(first.message, "messaging.resend")] == [
        {"receivers": 2, "bulk": True}
    ]
    [entry] = entries(second.message, "messaging.resend")
    assert (entry.user, entry.data) == (staff, {"receivers": 1, "bulk": True})


def test_suppressing_and_unsuppressing_in_the_admin_are_logged(staff, client):
    data = {"address": "Gone@example.org", "reason": "manual", "source": "asked"}
    assert client.post("/admin/messaging/suppressions/new/", data).status_code == 302
    suppression = Suppression.objects.get()
    [added] = entries(suppression, "messaging.suppress")
    assert (added.user, added.label) == (staff, "gone@example.org")
    client.post(f"/admin/messaging/suppressions/delete/{suppression.pk}/")
    [removed] = entries(suppression, "messaging.unsuppress")
    assert (removed.user, removed.label, removed.deleted) == (staff, "gone@example.org", True)
    assert not entries(suppression, "wagtail.create")


def test_preferences_changed_by_staff_are_logged(staff, client, make_user):
    user = make_user("ingrid")
    form = {"user": user.pk, "context_type": "comment_added", "mode": "daily"}
    client.post("/admin/messaging/preferences/new/", form)
    preference = NotificationPreference.objects.get()
    client.post(f"/admin/messaging/preferences/edit/{preference.pk}/", {**form, "mode": "off"})
    client.post(f"/admin/messaging/preferences/delete/{preference.pk}/")
    logged = entries(preference, "messaging.preferences_changed")
    assert [(e.user, e.label) for e in logged] == [
        (staff, "ingrid - New comment: Daily digest"),
        (staff, "ingrid - New comment: Off"),
        (staff, "ingrid - New comment: Off"),
    ]
    assert logged[-1].deleted


def test_templates_keep_wagtails_own_history(staff, client):
    publish = {"action-publish": "action-publish"}
    client.post(ADD, {**form_data(), **publish})
    template = MessageTemplate.objects.get()
    client.post(url("edit", template), edit_data(template, subject_en="Draft"))
    client.post(url("edit", template), {**edit_data(template, subject_en="Live"), **publish})
    client.post(url("unpublish", template))
    client.post(url("delete", template))
    actions = [
        e.action
        for e in ModelLogEntry.objects.filter(object_id=str(template.pk)).order_by("pk")
        if e.content_type.model_class() is MessageTemplate
    ]
    assert actions == [
        "wagtail.create",
        "wagtail.publish",
        "wagtail.edit",
        "wagtail.edit",
        "wagtail.publish",
        "wagtail.unpublish",
        "wagtail.delete",
    ]
    assert not Message.objects.exists()
