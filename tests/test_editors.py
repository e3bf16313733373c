"""The editors' side of the admin: message templates, their warnings and their help."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from messaging import rendering
from messaging.admin.snippets.variables import unknown_in
from messaging.models import MessageTemplate
from tests.factories import make_template

ADD = "/admin/snippets/messaging/messagetemplate/add/"


def edit_url(template: MessageTemplate) -> str:
    return f"/admin/snippets/messaging/messagetemplate/edit/{template.pk}/"


def draftail(text: str) -> str:
    """The rich-text widget's JSON for one paragraph of ``text``."""
    block = {
        "key": "a",
        "type": "unstyled",
        "text": text,
        "depth": 0,
        "inlineStyleRanges": [],
        "entityRanges": [],
    }
    return json.dumps({"blocks": [block] if text else [], "entityMap": {}})


def form_data(**fields) -> dict:
    data = {
        "name": "Deadline",
        "key": "deadline",
        "context_type": "deadline_moved",
        "subject_en": "New deadline for {{ assignment }}",
        "subject_nb": "",
        "body_en": draftail("Dear {{ user.first_name }}, {{ assignment }} is due {{ deadline }}."),
        "body_nb": draftail(""),
        "body_text_en": "",
        "body_text_nb": "",
    }
    data.update(fields)
    return data


@pytest.fixture
def editor(django_user_model) -> Client:
    client = Client()
    client.force_login(django_user_model.objects.create_superuser("ed", "ed@example.org", "pw"))
    return client


# --- unknown variables ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "unknown"),
    [
        ("{{ asignment }} {{ assignment }}", ["asignment"]),
        ("{{ user.first_name }} {{ user.frist_name }}", ["user.frist_name"]),
        ("{% for g in grades %}{{ g.part }} {{ forloop.counter }}{% endfor %}", []),
        ("{% if passed and not failed %}x{% elif n > 1 %}y{% endif %}", ["failed", "n"]),
        ("{{ assignment|default:fallback }} {{ 'text' }} {{ 3 }}", ["fallback"]),
        ("{% with a=course %}{{ a }}{% endwith %}", ["course"]),
        ("<p>{{ deadline|date:&quot;j M&quot; }}</p>", []),  # as the rich-text editor stores it
        ("{% if %}", []),  # broken: refused at save with the parser's own message
    ],
)
def test_unknown_variables_are_found_with_djangos_parser(source, unknown):
    offered = ["assignment", "deadline", "grades", "passed"]
    assert unknown_in(source, offered) == unknown


def test_unknown_variable_is_named_in_a_warning_after_save(editor):
    data = form_data(body_nb=draftail("Hei {{ user.first_name }}, {{ asignment }}."))
    response = editor.post(ADD, data, follow=True)
    assert response.status_code == 200
    template = MessageTemplate.objects.get(key="deadline")  # saved: a warning, not an error
    messages = [str(m) for m in response.context["messages"]]
    assert any("{{ asignment }}" in m and "Deadline moved" in m for m in messages), messages
    # The edit page keeps saying it, beside the variables.
    page = editor.get(edit_url(template)).content.decode()
    assert "data-unknown-variables" in page and "{{ asignment }}" in page


def test_known_variables_give_no_warning(editor):
    response = editor.post(ADD, form_data(), follow=True)
    assert MessageTemplate.objects.filter(key="deadline").exists()
    messages = [str(m) for m in response.context["messages"]]
    assert not any("not offered" in m for m in messages), messages
    page = editor.get(edit_url(MessageTemplate.objects.get(key="deadline"))).content.decode()
    assert "data-unknown-variables" not in page


# --- languages -------------------------------------------------------------------------------


def test_default_language_subject_and_body_are_required_to_publish(editor):
    empty = form_data(subject_en="", body_en=draftail(""))
    response = editor.post(ADD, {**empty, "action-publish": "action-publish"})
    assert response.status_code == 200
    assert not MessageTemplate.objects.filter(key="deadline").exists()
    errors = response.context["form"].errors
    assert set(errors) >= {"subject_en", "body_en"}
    # A draft may be incomplete, as every Wagtail draft; it is not sent until published.
    assert editor.post(ADD, empty).status_code == 302
    assert not MessageTemplate.objects.get(key="deadline").live


def test_other_languages_may_be_empty_and_fall_back(editor):
    response = editor.post(ADD, form_data())
    assert response.status_code == 302
    template = MessageTemplate.objects.get(key="deadline")
    assert not template.subject_nb
    email = rendering.render_sample(template, "nb")
    assert email.subject == "New deadline for Assignment 3"
    assert "Dear Ola, Assignment 3 is due" in email.html
    page = editor.get(edit_url(template)).content.decode()
    assert "Optional. Fields left empty use the English text." in page


# --- the variables table ----------------------------------------------------------------------


def variable_rows(page: str) -> dict[str, list[str]]:
    """Context type -> the opening tags of its rows in the variables table."""
    table = page.split("data-messaging-variables", 1)[1].split("</table>", 1)[0]
    rows: dict[str, list[str]] = {}
    for chunk in table.split("<tr data-context-type=")[1:]:
        context_type = chunk.split('"')[1]
        rows.setdefault(context_type, []).append(chunk.split(">", 1)[0])
    return rows


def test_variables_table_shows_the_selected_context_type(editor):
    template = MessageTemplate.objects.create(
        key="feedback", name="Feedback", context_type="feedback_published", subject="S", body="B"
    )
    page = editor.get(edit_url(template)).content.decode()
    rows = variable_rows(page)
    assert all("hidden" not in row for row in rows["feedback_published"])
    assert all("hidden" not in row for row in rows[""])  # user.* is always offered
    assert rows["deadline_moved"] and all(" hidden" in row for row in rows["deadline_moved"])
    assert "variables-panel.js" in page
    # A sample list reads as a list of items, not as Python's repr.
    assert "<li>part: Part A, grade: B</li><li>part: Part B, grade: A</li>" in page
    assert "[{&#x27;part&#x27;" not in page


CHOSEN = "/admin/snippets/choose/messaging/messagetemplate/chosen/"
BULK_DELETE = "/admin/bulk/messaging/messagetemplate/delete/"


def test_the_chooser_picks_a_template_and_answers_an_impossible_id_with_a_404(admin_client):
    template = make_template()
    assert admin_client.get(f"{CHOSEN}{template.pk}/").status_code == 200
    for impossible in ["abc", "99999999999999999999", "%00"]:
        assert admin_client.get(f"{CHOSEN}{impossible}/").status_code == 404
    chosen = admin_client.get(f"{CHOSEN[:-1]}-multiple/", {"id": [template.pk, "abc"]})
    assert chosen.status_code == 200 and chosen.json()["result"] == []


def test_bulk_delete_of_templates_deletes_and_refuses_ids_that_cannot_be_ids(admin_client):
    template = make_template()
    refused = admin_client.get(BULK_DELETE, {"id": [template.pk, "99999999999999999999"]})
    assert refused.status_code == 400
    assert admin_client.get(BULK_DELETE, {"id": template.pk}).status_code == 200
    admin_client.post(f"{BULK_DELETE}?id={template.pk}")
    assert not MessageTemplate.objects.exists()


def test_the_body_editor_offers_exactly_the_features_emails_support():
    from messaging.rendering import BODY_FEATURES

    for name in ["body", "body_en", "body_nb"]:
        widget = MessageTemplate._meta.get_field(name).formfield().widget
        assert widget.features == list(BODY_FEATURES), name
    assert "h1" not in BODY_FEATURES  # the site's name heads every email


def test_the_demo_templates_come_back_from_the_editor_unchanged():
    """What the demo writes is what an editor can make: the editor's converter (to its own
    format and back, as opening and saving do) keeps every tag, and the template saves."""
    import re

    from wagtail.admin.rich_text.converters.contentstate import ContentstateConverter

    from config.management.commands.messaging_demo import TEMPLATES
    from messaging.rendering import BODY_FEATURES

    converter = ContentstateConverter(list(BODY_FEATURES))
    for data in TEMPLATES:
        for language in ["en", "nb"]:
            body = data[f"body_{language}"]
            saved = converter.to_database_format(converter.from_database_format(body))
            assert re.sub(r' data-block-key="\w+"', "", saved) == body, (data["key"], language)
        MessageTemplate(**data).full_clean(validate_unique=False, validate_constraints=False)
