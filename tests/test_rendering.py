"""Rendering per language, safety of the restricted engine, and the fast path's equivalence."""

from types import SimpleNamespace

import lxml.html
import pytest
from django.core.exceptions import ValidationError
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from messaging import rendering
from messaging.api import send_message
from messaging.models import Message, MessageReceiver, MessageTemplate

pytestmark = pytest.mark.django_db


def make_template(**fields) -> MessageTemplate:
    defaults = {
        "key": "deadline",
        "name": "Deadline",
        "subject_en": "Deadline for {{ assignment }}",
        "subject_nb": "Frist for {{ assignment }}",
        "body_en": "<p>Dear {{ user.first_name }}, {{ assignment }} is due.</p>",
        "body_nb": "<p>Hei {{ user.first_name }}, {{ assignment }} har frist.</p>",
    }
    return MessageTemplate.objects.create(**{**defaults, **fields})


def test_each_user_gets_the_message_in_their_language(make_user, on_commit):
    template = make_template()
    en = make_user(first_name="Alex", language="en")
    nb = make_user(first_name="Ola", language="nb")
    default = make_user(first_name="Ann")
    message = on_commit(send_message, "deadline", [en, nb, default], {"assignment": "Oblig 1"})
    receivers = {r.user: r for r in message.receivers.all()}
    assert receivers[en].language == "en"
    assert receivers[en].subject == "Deadline for Oblig 1"
    assert "Dear Alex, Oblig 1 is due." in receivers[en].message_content_html
    assert receivers[nb].language == "nb"
    assert receivers[nb].subject == "Frist for Oblig 1"
    assert "Hei Ola, Oblig 1 har frist." in receivers[nb].message_content_plain
    assert receivers[default].language == "en"
    assert message.template == template
    assert message.template_context == {"assignment": "Oblig 1"}
    assert all(r.status == "sent" for r in receivers.values())


def test_empty_translation_falls_back_field_by_field(make_user):
    template = make_template(subject_nb="", body_text_en="Plain {{ assignment }}")
    [email] = rendering.render_for_users(template, [make_user(language="nb")], {"assignment": "X"})
    assert email.language == "nb"
    assert email.subject == "Deadline for X"  # English subject: Norwegian one is empty
    assert "har frist" in email.html  # Norwegian body
    assert email.plain == "Plain X"  # English plain-text override


def test_language_resolver_setting(make_user, settings):
    settings.MESSAGING_USER_LANGUAGE = "tests.test_rendering.always_norwegian"
    [email] = rendering.render_for_users(make_template(), [make_user()], {"assignment": "X"})
    assert email.language == "nb"


def always_norwegian(user) -> str:
    return "nb-NO"


def test_css_is_inlined_and_layout_wraps_the_body(make_user):
    [email] = rendering.render_for_users(make_template(), [make_user()], {"assignment": "X"})
    document = lxml.html.fromstring(email.html)
    paragraph = document.xpath("//td[@class='email-body']//p")[0]
    assert "margin" in paragraph.get("style")
    assert "<style" not in email.html
    assert document.xpath("//td[@class='email-footer']")


def test_context_values_are_escaped_in_html_not_in_plain(make_user):
    template = make_template(body_en="<p>{{ comment }}</p>")
    [email] = rendering.render_for_users(
        template, [make_user()], {"comment": "<script>alert(1)</script> & co"}
    )
    assert "<script>" not in email.html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; co" in email.html
    assert "<script>alert(1)</script> & co" in email.plain


def test_subject_is_one_line_whatever_the_context(make_user):
    template = make_template(subject_en="Re: {{ assignment }}")
    [email] = rendering.render_for_users(
        template, [make_user()], {"assignment": "A\r\nBcc: evil@example.org\nX"}
    )
    assert email.subject == "Re: A Bcc: evil@example.org X"


def test_subject_is_not_html_escaped(make_user):
    [email] = rendering.render_for_users(
        make_template(), [make_user()], {"assignment": "Tom & Jerry's <3"}
    )
    assert email.subject == "Deadline for Tom & Jerry's <3"


def test_user_is_a_plain_dict_not_the_model(make_user):
    template = make_template(
        body_en="<p>{{ user.password }}|{{ user.is_superuser }}|{{ user.email }}</p>"
    )
    user = make_user(email="a@example.org", is_superuser=True)
    [email] = rendering.render_for_users(template, [user], {})
    assert ">||a@example.org</p>" in email.html


def test_model_instances_in_context_become_strings(make_user):
    template = make_template(body_en="<p>{{ thing.password }}[{{ thing }}]</p>")
    user = make_user(username="victim")
    [email] = rendering.render_for_users(template, [make_user()], {"thing": user})
    assert ">[victim]</p>" in email.html


@pytest.mark.parametrize(
    "source,problem",
    [
        ("{% load static %}", "{% load %} is not allowed"),
        ("{% include 'x.html' %}", "{% include %} is not allowed"),
        ("{% extends 'x.html' %}", "{% extends %} is not allowed"),
        ("{% debug %}", "{% debug %} is not allowed"),
        ("{% ssi '/etc/passwd' %}", "{% ssi %} is not allowed"),
        ("{{ x|safe }}", "Invalid filter: 'safe'"),
        ("{% if %}", "Template error"),
        ("{% for x in y %}", "Template error"),
    ],
)
def test_forbidden_tags_and_bad_syntax_are_refused_naming_the_field(source, problem):
    template = MessageTemplate(
        key="k", name="n", subject_en="S", body_en="<p>ok</p>", body_nb=source
    )
    with pytest.raises(ValidationError) as caught:
        template.full_clean()
    assert set(caught.value.message_dict) == {"body_nb"}
    assert problem in caught.value.message_dict["body_nb"][0]


def test_valid_template_passes_full_clean():
    make_template(
        body_en="<p>{% if passed %}Yes{% else %}No{% endif %} {{ n|default:'0' }}</p>"
    ).full_clean()


def test_template_failing_at_send_time_marks_message_error(make_user):
    template = make_template()
    MessageTemplate.objects.filter(pk=template.pk).update(body_en="<p>{% if %}</p>")
    template.refresh_from_db()
    with pytest.raises(Exception, match="if"):
        send_message(template, [make_user()], {})
    message = Message.objects.get()
    assert message.status == "error"
    assert "TemplateSyntaxError" in message.status_data["errors"][0]["exception_traceback"]
    assert MessageReceiver.objects.count() == 0


def test_rich_text_escaping_inside_tags_is_undone(make_user):
    template = make_template(body_en="<p>{% if n &gt; 1 %}many{% else %}one{% endif %}</p>")
    template.full_clean()
    [email] = rendering.render_for_users(template, [make_user()], {"n": 2})
    assert "<p" in email.html and ">many</p>" in email.html


# --- the fast path gives the same output as the straightforward pipeline ---------------

CORPUS = [
    "<p>Hello {{ user.first_name }} {{ user.last_name }}</p>",
    "<ul>{% for item in items %}<li>{{ item.name }}: {{ item.grade }}</li>{% endfor %}</ul>",
    "<table class='data'><tr><th>Part</th></tr>{% for item in items %}<tr><td>{{ item.name }}</td></tr>{% empty %}<tr><td>none</td></tr>{% endfor %}</table>",
    "{% if passed %}<p class='muted'>Passed, {{ user.first_name }}!</p>{% else %}<p>Not passed.</p>{% endif %}",
    '<p><a href="{{ url }}?user={{ user.username }}&amp;x=1">Open {{ title }}</a> <a class="button" href="https://x.org/{{ id }}/">Go</a></p>',
    "<p>{{ comment }}</p><blockquote>{{ comment|upper }}</blockquote>",
    "<h1>{{ title|title }}</h1><p>{{ missing|default:'nothing' }} {{ count|add:1 }}</p><hr><p><em>{{ title }}</em></p>",
    '<p><a href="{{ url }}">{{ url }}</a> <a href="{{ anchor }}">jump</a> <a href="https://x.org/{{ path }}">{{ path }}</a></p>',
    "<p>{{ dash }} item</p><p>{{ count }}2. next</p><p>x {{ entity_then_dash }}</p><p>{{ title }}</p>",
]
CONTEXTS = [
    {
        "title": "oblig 1",
        "url": "https://a.org/x",
        "id": 7,
        "count": 2,
        "passed": True,
        "items": [{"name": "A", "grade": "B"}, {"name": "C & D", "grade": "<A>"}],
        "comment": "He said \"hi\" & 'bye' <b>bold</b>",
    },
    {
        "title": "Tom & Jerry's",
        "url": "https://a.org/y?a=1&b=2",
        "id": 8,
        "count": 0,
        "passed": False,
        "items": [],
        "comment": "Line one\nLine two  spaced * stars _under_ 1. item",
    },
]


def normalized(document: str) -> str:
    return lxml.html.tostring(lxml.html.fromstring(document), encoding="unicode")


@pytest.mark.parametrize("body", CORPUS)
def test_fast_path_equals_straightforward_pipeline(body, make_user):
    template = make_template(
        body_en=body, body_nb=body, subject_en="{{ title }} for {{ user.first_name }}"
    )
    users = [
        make_user(first_name="Ola", last_name="<Nordmann>", language="nb"),
        make_user(first_name="Alex & Sam", language="en"),
    ]
    for context in CONTEXTS:
        fast = rendering.render_for_users(template, users, context)
        for user, email in zip(users, fast, strict=True):
            slow = rendering.render_straightforward(template, user, context)
            assert email.subject == slow.subject
            assert email.plain == slow.plain
            assert normalized(email.html) == normalized(slow.html)
            assert email.language == slow.language


# --- preview -------------------------------------------------------------------------


@pytest.fixture
def admin_client_logged_in(client, django_user_model):
    admin = django_user_model.objects.create_superuser("boss", "boss@example.org", "pw")
    client.force_login(admin)
    return client


def test_preview_per_language_uses_sample_values(admin_client_logged_in, settings):
    template = make_template(context_type="deadline_moved")
    for language, expected in [
        ("en", "Dear Alex, Assignment 3 is due."),
        ("nb", "Hei Ola, Assignment 3 har frist."),
    ]:
        email = rendering.render_sample(template, language)
        assert expected in email.html
    url = f"/admin/snippets/messaging/messagetemplate/preview/{template.pk}/"
    data = {
        "name": template.name,
        "key": template.key,
        "context_type": "deadline_moved",
        "subject_en": "S",
        "subject_nb": "S nb",
        "body_en": '{"blocks": [{"key": "a", "type": "unstyled", "text": "Dear {{ user.first_name }} about {{ assignment }}", "depth": 0, "inlineStyleRanges": [], "entityRanges": []}], "entityMap": {}}',
        "body_nb": '{"blocks": [{"key": "a", "type": "unstyled", "text": "Hei {{ user.first_name }} om {{ assignment }}", "depth": 0, "inlineStyleRanges": [], "entityRanges": []}], "entityMap": {}}',
        "body_text_en": "",
        "body_text_nb": "",
    }
    response = admin_client_logged_in.post(url, data)
    assert response.json()["is_valid"] is True
    english = admin_client_logged_in.get(url, {"mode": "en"}).content.decode()
    assert '<dd class="preview-subject">S</dd>' in english
    assert "Dear Alex about Assignment 3" in english  # in the plain text and the srcdoc
    assert '<iframe sandbox title="Email as HTML" srcdoc="&lt;!DOCTYPE html&gt;' in english
    norwegian = admin_client_logged_in.get(url, {"mode": "nb"}).content.decode()
    assert '<dd class="preview-subject">S nb</dd>' in norwegian
    assert "Hei Ola om Assignment 3" in norwegian
    assert "lang=&quot;nb&quot;" in norwegian


def test_snippet_form_refuses_forbidden_tag(admin_client_logged_in):
    response = admin_client_logged_in.post(
        "/admin/snippets/messaging/messagetemplate/add/",
        {
            "name": "Bad",
            "key": "bad",
            "context_type": "other",
            "subject_en": "{% load static %}",
            "subject_nb": "",
            "body_en": '{"blocks": [{"key": "a", "type": "unstyled", "text": "x", "depth": 0, "inlineStyleRanges": [], "entityRanges": []}], "entityMap": {}}',
            "body_nb": '{"blocks": [], "entityMap": {}}',
            "body_text_en": "",
            "body_text_nb": "",
        },
    )
    assert response.status_code == 200
    assert "is not allowed in messages" in response.content.decode()
    assert not MessageTemplate.objects.filter(key="bad").exists()


def test_snippet_editor_has_a_tab_per_language_and_variables(admin_client_logged_in):
    response = admin_client_logged_in.get("/admin/snippets/messaging/messagetemplate/add/")
    page = response.content.decode()
    assert "Norwegian Bokmål" in page and "English" in page
    assert "subject_nb" in page and "body_en" in page
    assert "user.first_name" in page and "deadline" in page.lower()


def test_plain_text_is_converted_once_per_skeleton(make_user, monkeypatch):
    template = make_template(body_en=CORPUS[1])
    compiled = rendering.compile_email(template, "en")
    calls = []
    original = rendering.html_to_plain
    monkeypatch.setattr(rendering, "html_to_plain", lambda html: calls.append(1) or original(html))
    items = [{"name": "A", "grade": "B"}, {"name": "C", "grade": "D"}]
    for name in ["Ola", "Kari", "Per"]:
        email = compiled.render({"items": items, "user": {"first_name": name}})
        assert "  * A: B\n  * C: D" in email.plain
    assert len(calls) == 1


TRICKY = st.text(alphabet="aZ09 .-+*_#\\[]()`<>&\"'\n\tæ/:?=", max_size=12)
HYPOTHESIS_BODY = (
    "<p>{{ value }}</p><p>Hi {{ user.first_name }}, {{ value }}.</p><p>{{ number }}. {{ value }}</p>"
    "<ul><li>{{ number }}</li><li>{{ value }}</li></ul>"
    '<p><a href="https://x.org/{{ value }}">{{ value }}</a> <a href="{{ value }}">{{ value }}</a></p>'
)


@hypothesis_settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(first=TRICKY, value=TRICKY, number=st.integers(-5, 20))
def test_fast_path_equals_straightforward_for_any_values(first, value, number):
    template = MessageTemplate(
        key="h", name="h", subject_en="s {{ value }}", body_en=HYPOTHESIS_BODY
    )
    context = {"value": value, "number": number}
    user = SimpleNamespace(
        first_name=first, last_name="", email="", pk=None, get_username=lambda: "u"
    )
    fast = rendering.compile_email(template, "en").render(rendering.full_context(context, user))
    slow = rendering.render_straightforward(template, user, context, language="en")
    assert fast.plain == slow.plain
    assert normalized(fast.html) == normalized(slow.html)
    assert fast.subject == slow.subject


def test_editors_cannot_change_the_context_between_receivers(make_user):
    template = make_template(
        body_en="<p>{{ grades.pop }}{{ grades.clear }}{{ user.clear }}{{ grades|join:',' }}|{{ user.first_name }}</p>"
    )
    users = [make_user(first_name="Ola"), make_user(first_name="Kari")]
    context = {"grades": ["A", "B", "C"]}
    emails = rendering.render_for_users(template, users, context)
    assert ">A,B,C|Ola</p>" in emails[0].html and ">A,B,C|Kari</p>" in emails[1].html
    assert context == {"grades": ["A", "B", "C"]}


@pytest.mark.parametrize(
    "source", ['{{ "<b>raw</b>" }}', "{% firstof '<i>x</i>' %}", '{{ x|default:"&amp;" }}']
)
def test_markup_inside_template_tags_is_refused(source):
    template = MessageTemplate(key="k", name="n", subject_en="S", body_en=f"<p>{source}</p>")
    with pytest.raises(ValidationError) as caught:
        template.full_clean()
    assert "contains '<' or '&'" in caught.value.message_dict["body_en"][0]


def test_querystring_and_unknown_tags_are_refused():
    template = MessageTemplate(
        key="k", name="n", subject_en="{% querystring %}", body_en="<p>x</p>"
    )
    with pytest.raises(ValidationError) as caught:
        template.full_clean()
    assert "{% querystring %} is not allowed" in caught.value.message_dict["subject_en"][0]


def test_layout_text_is_never_run_as_a_template(make_user, settings):
    settings.WAGTAIL_SITE_NAME = "Uni {{ user.email }} {% now 'Y' %}"
    user = make_user(email="secret@example.org")
    template = make_template()
    [fast] = rendering.render_for_users(template, [user], {"assignment": "X"})
    slow = rendering.render_straightforward(template, user, {"assignment": "X"})
    assert "Uni {{ user.email }} {% now 'Y' %}" in fast.html
    assert normalized(fast.html) == normalized(slow.html)


@hypothesis_settings(max_examples=200, deadline=None)
@given(value=st.text(alphabet="aZ09 -_.!~*'()@/:=?;#%,+&<>\"æ\t\n", max_size=10))
def test_values_are_escaped_exactly_as_lxml_does(value):
    def serialized(element, prefix, suffix):
        out = lxml.html.tostring(element, encoding="unicode")
        return out[len(prefix) : -len(suffix)] if out.startswith(prefix) else None

    paragraph = lxml.html.Element("p")
    paragraph.text = value
    assert rendering.as_lxml_text(value) == serialized(paragraph, "<p>", "</p>")
    for name in ("title", "href"):
        expected = serialized(lxml.html.Element("a", **{name: value}), f'<a {name}="', '"></a>')
        try:
            assert rendering.as_lxml_attribute(value, name) == expected
        except rendering.ExactRenderNeeded:
            assert expected is None or value[:1].isspace() and name == "href"
