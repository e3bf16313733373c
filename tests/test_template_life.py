"""Templates with a life, through ``send_message``: drafts, published revisions, schedules.

What is sent is a template's last published revision, in every language; drafts, rows
changed behind Wagtail's back and unpublished templates send nothing new.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone, translation
from wagtail.models import Revision

from messaging.api import send_message
from messaging.exceptions import TemplateNotFoundError
from messaging.models import Message, MessageReceiver, MessageTemplate
from tests.factories import TEMPLATE_DEFAULTS, make_template, publish

pytestmark = pytest.mark.django_db

CONTEXT = {"assignment": "Oblig 1"}


def subjects(message: Message) -> dict[str, str]:
    return dict(message.receivers.values_list("language", "subject"))


def send(template, make_user, on_commit, **kwargs) -> Message:
    users = [make_user(language="en"), make_user(language="nb")]
    return on_commit(send_message, template, users, CONTEXT, **kwargs)


def test_a_revision_holds_every_languages_fields():
    template = make_template(body_text_nb="Tekst {{ assignment }}")
    content = template.live_revision.content
    for field in ("subject", "body", "body_text"):
        assert {f"{field}_en", f"{field}_nb"} <= set(content)
    assert content["subject_nb"] == TEMPLATE_DEFAULTS["subject_nb"]
    # Restored in another active language, no language's text takes another's place.
    with translation.override("nb"):
        restored = template.live_revision.as_object()
    assert (restored.subject_en, restored.subject_nb) == (
        TEMPLATE_DEFAULTS["subject_en"],
        TEMPLATE_DEFAULTS["subject_nb"],
    )
    assert restored.body_text_nb == "Tekst {{ assignment }}"


def test_a_saved_draft_changes_nothing_that_is_sent(make_user, on_commit):
    template = make_template()
    live = template.live_revision
    template.subject_en, template.subject_nb = "Draft {{ assignment }}", "Utkast"
    draft = template.save_revision()
    message = send("deadline", make_user, on_commit)
    assert subjects(message) == {"en": "Deadline for Oblig 1", "nb": "Frist for Oblig 1"}
    assert set(message.receivers.values_list("template_revision", flat=True)) == {live.pk}
    draft.publish()
    message = send("deadline", make_user, on_commit)
    assert subjects(message) == {"en": "Draft Oblig 1", "nb": "Utkast"}
    assert set(message.receivers.values_list("template_revision", flat=True)) == {draft.pk}


def test_the_published_revision_is_sent_not_the_row(make_user, on_commit):
    template = make_template()
    MessageTemplate.objects.filter(pk=template.pk).update(subject_en="Row", subject_nb="Rad")
    message = send(MessageTemplate.objects.get(pk=template.pk), make_user, on_commit)
    assert subjects(message) == {"en": "Deadline for Oblig 1", "nb": "Frist for Oblig 1"}


def test_a_template_never_published_cannot_be_sent(make_user):
    template = MessageTemplate.objects.create(key="new", live=False, **TEMPLATE_DEFAULTS)
    template.save_revision()
    with pytest.raises(TemplateNotFoundError, match="'new' has no published version.*Publish it"):
        send_message("new", [make_user()], CONTEXT)
    assert not Message.objects.exists()


def test_an_unpublished_template_cannot_be_sent(make_user):
    make_template().unpublish()
    with pytest.raises(TemplateNotFoundError, match="has no published version"):
        send_message("deadline", [make_user()], CONTEXT)


def test_scheduled_publishing_changes_what_is_sent_when_it_goes_live(make_user, on_commit):
    template = make_template()
    template.subject_en = "Later {{ assignment }}"
    template.go_live_at = timezone.now() + timedelta(hours=1)
    scheduled = template.save_revision()
    scheduled.publish()
    scheduled.refresh_from_db()
    assert scheduled.approved_go_live_at is not None
    assert subjects(send("deadline", make_user, on_commit))["en"] == "Deadline for Oblig 1"
    # An hour later, as cron's publish_scheduled finds it:
    past = timezone.now() - timedelta(minutes=1)
    content = {**scheduled.content, "go_live_at": past.isoformat()}
    Revision.objects.filter(pk=scheduled.pk).update(approved_go_live_at=past, content=content)
    call_command("publish_scheduled")
    assert subjects(send("deadline", make_user, on_commit))["en"] == "Later Oblig 1"


def test_a_revision_is_sent_as_it_is_and_recorded(make_user, on_commit):
    template = make_template()
    template.subject_en = "Draft {{ assignment }}"
    draft = template.save_revision()
    message = on_commit(send_message, draft, [make_user()], CONTEXT, language="nb")
    receiver = message.receivers.get()
    assert (receiver.language, receiver.subject) == ("nb", "Frist for Oblig 1")
    assert receiver.template_revision == draft
    assert message.template_id == template.pk


def test_direct_sends_record_no_revision(make_user, on_commit):
    message = on_commit(send_message, users=[make_user()], subject="Hi", html="<p>Hi</p>")
    assert message.receivers.get().template_revision is None


def test_deleting_a_template_keeps_its_messages_and_their_emails(make_user, on_commit):
    template = make_template()
    message = send(template, make_user, on_commit)
    template.delete()
    message.refresh_from_db()
    assert message.template is None
    assert subjects(message) == {"en": "Deadline for Oblig 1", "nb": "Frist for Oblig 1"}
    assert not MessageReceiver.objects.filter(template_revision__isnull=False).exists()
    assert not Revision.objects.filter(object_id=str(template.pk)).exists()


@pytest.mark.django_db(transaction=True)
def test_migration_keeps_existing_templates_live_with_their_content(make_user, on_commit):
    executor = MigrationExecutor(connection)
    # From before 0008_template_life to the newest migration, which the models need.
    before = [("messaging", "0007_receiver_partial_indexes")]
    after = [node for node in executor.loader.graph.leaf_nodes() if node[0] == "messaging"]
    executor.migrate(before)
    old_model = executor.loader.project_state(before).apps.get_model("messaging", "MessageTemplate")
    old_model.objects.create(key="old", subject="Old", **TEMPLATE_DEFAULTS)
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(after)
    template = MessageTemplate.objects.get(key="old")
    assert template.live and not template.has_unpublished_changes
    assert template.live_revision == template.latest_revision
    assert template.live_revision.content["body_nb"] == TEMPLATE_DEFAULTS["body_nb"]
    message = send("old", make_user, on_commit)
    assert subjects(message) == {"en": "Deadline for Oblig 1", "nb": "Frist for Oblig 1"}
    publish(template, subject_en="Published")  # the restored revision is a working one
    assert subjects(send("old", make_user, on_commit))["en"] == "Published"
