"""Templates with a life, through the Wagtail admin: drafts, approval, locks, comparing
revisions, the receiver's revision, and what a template was used for."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.test import Client
from django.utils import timezone
from wagtail.models import GroupApprovalTask, Workflow, WorkflowContentType, WorkflowTask

from messaging.api import send_message
from messaging.models import Message, MessageReceiver, MessageTemplate
from tests.factories import make_template, make_user
from tests.test_editors import draftail, form_data

pytestmark = pytest.mark.django_db

SNIPPETS = "/admin/snippets/messaging/messagetemplate/"
CONTEXT = {"assignment": "Oblig 1"}


def url(view: str, template: MessageTemplate, *rest: object) -> str:
    return "/".join([f"{SNIPPETS}{view}", str(template.pk), *map(str, rest)]) + "/"


def client_with(name: str, *codenames: str, superuser: bool = False) -> tuple[Client, object]:
    """A logged-in admin user whose group has ``codenames`` (and admin access)."""
    user = make_user(name, is_superuser=superuser)
    group = Group.objects.create(name=f"group of {name}")
    group.permissions.add(
        *Permission.objects.filter(codename__in=["access_admin", *codenames]),
    )
    user.groups.add(group)
    client = Client()
    client.force_login(user)
    return client, user


def edit_data(template: MessageTemplate, **fields) -> dict:
    """The edit form of ``template``'s latest revision, with ``fields`` changed."""
    draft = template.get_latest_revision_as_object()
    current = {
        "name": draft.name,
        "key": draft.key,
        "context_type": draft.context_type,
        "subject_en": draft.subject_en,
        "subject_nb": draft.subject_nb or "",
        "body_en": draftail("Dear {{ user.first_name }}, {{ assignment }} is due."),
        "body_nb": draftail("Hei {{ user.first_name }}, {{ assignment }} har frist."),
    }
    return form_data(**{**current, **fields})


def sent_subject(make_user_fixture) -> str:
    message = send_message("deadline", [make_user_fixture(language="en")], CONTEXT)
    return message.receivers.get().subject


def test_saving_a_draft_in_the_admin_changes_nothing_sent_until_published(admin_client, make_user):
    template = make_template()
    data = edit_data(template, subject_en="Draft {{ assignment }}")
    assert admin_client.post(url("edit", template), data).status_code == 302
    assert sent_subject(make_user) == "Deadline for Oblig 1"
    data["action-publish"] = "action-publish"
    assert admin_client.post(url("edit", template), data).status_code == 302
    assert sent_subject(make_user) == "Draft Oblig 1"


def test_publishing_can_be_scheduled_in_the_admin(admin_client, make_user):
    template = make_template()
    later = (timezone.localtime() + timedelta(days=1)).strftime("%Y-%m-%d %H:%M")
    data = edit_data(template, subject_en="Tomorrow {{ assignment }}", go_live_at=later)
    data["action-publish"] = "action-publish"
    assert admin_client.post(url("edit", template), data).status_code == 302
    template.refresh_from_db()
    assert template.scheduled_revision is not None
    assert sent_subject(make_user) == "Deadline for Oblig 1"  # until it goes live


def test_a_workflow_holds_publishing_until_a_moderator_approves(make_user):
    moderators = Group.objects.create(name="Template moderators")
    task = GroupApprovalTask.objects.create(name="Approve the text")
    task.groups.add(moderators)
    workflow = Workflow.objects.create(name="Template approval")
    WorkflowTask.objects.create(workflow=workflow, task=task, sort_order=0)
    WorkflowContentType.objects.create(
        content_type=ContentType.objects.get_for_model(MessageTemplate), workflow=workflow
    )
    editor, _ = client_with("editor", "add_messagetemplate", "change_messagetemplate")
    moderator, moderator_user = client_with(
        "moderator", "change_messagetemplate", "publish_messagetemplate"
    )
    moderator_user.groups.add(moderators)
    template = make_template()
    data = {**edit_data(template, subject_en="Approved {{ assignment }}"), "action-submit": "1"}
    assert editor.post(url("edit", template), data).status_code == 302
    template.refresh_from_db()
    task_state = template.current_workflow_task_state
    assert task_state is not None
    assert sent_subject(make_user) == "Deadline for Oblig 1"  # waiting for approval
    response = moderator.post(url("workflow/action", template, "approve", task_state.pk), {})
    assert response.status_code == 302
    assert sent_subject(make_user) == "Approved Oblig 1"


def test_a_locked_template_cannot_be_saved_by_another_editor(make_user):
    perms = ("change_messagetemplate", "lock_messagetemplate", "unlock_messagetemplate")
    first, first_user = client_with("first", *perms)
    second, _ = client_with("second", *perms)
    template = make_template()
    assert first.post(url("lock", template)).status_code == 302
    template.refresh_from_db()
    assert template.locked and template.locked_by == first_user
    latest = template.latest_revision_id
    response = second.post(url("edit", template), edit_data(template, subject_en="Mine"))
    template.refresh_from_db()
    assert template.latest_revision_id == latest  # nothing saved
    assert "locked" in response.content.decode().lower()
    assert (
        first.post(url("edit", template), edit_data(template, subject_en="Ok")).status_code == 302
    )
    template.refresh_from_db()
    assert template.latest_revision_id != latest


def test_history_compares_revisions_in_every_language(admin_client):
    template = make_template()
    before = template.live_revision
    data = edit_data(template, subject_nb="Ny frist", body_text_en="Plain new")
    admin_client.post(url("edit", template), data)
    template.refresh_from_db()
    compare = url(
        "history", template, "revisions", "compare", f"{before.pk}...{template.latest_revision_id}"
    )
    page = admin_client.get(compare.rstrip("/") + "/").content.decode()
    for label, text in (("Subject [nb]", "Ny frist"), ("Plain-text body [en]", "Plain new")):
        assert label in page and text in page


def test_receiver_page_names_the_revision_and_who_published_it(admin_client, make_user):
    editor = make_user("editor_ed", first_name="Ed", last_name="Itor", is_superuser=True)
    template = make_template()
    template.subject_en = "New {{ assignment }}"
    revision = template.save_revision(user=editor)
    revision.publish(user=editor)
    message = send_message("deadline", [make_user(language="en")], CONTEXT)
    receiver = message.receivers.get()
    page = admin_client.get(f"/admin/messaging/receivers/inspect/{receiver.pk}/").content.decode()
    link = url("history", template, "revisions", revision.pk, "view")
    pattern = rf'<a href="{link}">Rendered from revision {revision.pk}, published by Ed Itor \(editor_ed\) at '
    assert re.search(pattern, page), page


def test_listing_shows_use_last_use_and_incomplete_languages(admin_client, make_user):
    used = make_template()
    make_template(key="half", name="Half", subject_nb="", body_nb="")
    send_message(used, [make_user()], CONTEXT)
    send_message(used, [make_user()], CONTEXT)
    page = admin_client.get(SNIPPETS).content.decode()
    rows = {
        name: row for row in page.split("<tr")[1:] for name in ("Deadline", "Half") if name in row
    }
    assert "Used 2 times" in rows["Deadline"] and url("usage", used) in rows["Deadline"]
    assert "Used 0 times" in rows["Half"]
    assert "Norwegian Bokmål" in rows["Half"] and "Norwegian Bokmål" not in rows["Deadline"]
    assert "Live" in rows["Deadline"] or "live" in rows["Deadline"]


def test_usage_page_lists_the_messages_sent_from_the_template(admin_client, make_user):
    template = make_template()
    message = send_message(template, [make_user()], CONTEXT)
    other = send_message(users=[make_user()], subject="S", html="<p>x</p>")
    page = admin_client.get(url("usage", template)).content.decode()
    assert f"/admin/messaging/messages/inspect/{message.pk}/" in page
    assert f"/admin/messaging/messages/inspect/{other.pk}/" not in page


def test_deleting_a_used_template_says_so_and_keeps_the_emails(admin_client, make_user):
    template = make_template()
    message = send_message(template, [make_user(language="en")], CONTEXT)
    page = admin_client.get(url("delete", template)).content.decode()
    assert "1 message was sent from it" in page
    assert "referenced 1 time" in page
    assert admin_client.post(url("delete", template)).status_code == 302
    assert not MessageTemplate.objects.exists()
    message.refresh_from_db()
    receiver = MessageReceiver.objects.get(message=message)
    assert message.template is None and receiver.template_revision is None
    assert receiver.subject == "Deadline for Oblig 1" and "Oblig 1" in receiver.message_content_html
    assert Message.objects.count() == 1


def test_edit_page_counts_the_messages_sent_from_the_template(admin_client, make_user):
    template = make_template()
    for _ in range(3):
        send_message(template, [make_user()], CONTEXT)
    page = admin_client.get(url("edit", template)).content.decode()
    usage = re.search(r'href="([^"]+)"\s*>\s*Used (\d+) times?', page)
    assert usage is not None, page
    assert usage.groups() == (url("usage", template), "3")
