"""Rendering per language, the allowlisted engine, its limits, and one pipeline exact by construction."""

import html
import re
from types import SimpleNamespace
from urllib.parse import unquote

import lxml.html
import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from hypothesis import HealthCheck, given, reject
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from wagtail.admin.rich_text import DraftailRichTextArea

from messaging import rendering
from messaging.api import send_message
from messaging.exceptions import TemplateLimitError, TemplateRenderError
from messaging.models import Message, MessageReceiver, MessageTemplate
from messaging.rendering import ALLOWED_FILTERS
from messaging.testing.rendering import render_straightforward
from tests.factories import make_template, publish

pytestmark = pytest.mark.django_db


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
    assert [r.status for r in receivers.values()] == ["sent", "sent", "sent"]


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
    user = make_user(first_name="Ada")
    [email] = rendering.render_for_users(make_template(), [user], {"assignment": "X"})
    document = lxml.html.fromstring(email.html)
    [body] = document.xpath("//td[@class='email-body']")
    assert lxml.html.tostring(body, encoding="unicode") == (
        '<td class="email-body" style="padding:24px; font-size:15px; line-height:1.5">\n'
        '<p style="margin:0 0 12px 0">Dear Ada, X is due.</p>\n</td>'
    )
    assert "<style" not in email.html
    [footer] = document.xpath("//td[@class='email-footer']")
    assert footer.text == (
        "You receive this email because you have an account at the institution. Do not reply to it."
    )


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
        ("{% load static %}", "The tag {% load %} is not allowed"),
        ("{% include 'x.html' %}", "The tag {% include %} is not allowed"),
        ("{% extends 'x.html' %}", "{% extends %} is not allowed"),
        ("{% debug %}", "{% debug %} is not allowed"),
        ("{% ssi '/etc/passwd' %}", "{% ssi %} is not allowed"),
        ("{{ x|safe }}", "Invalid filter: 'safe'"),
        ("{% if %}", "Unexpected end of expression in if tag"),
        ("{% for x in y %}", "Unclosed tag"),
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
    template = publish(make_template(), body_en="<p>{% if %}</p>")
    with pytest.raises(TemplateRenderError, match=r"^Unexpected end of expression in if tag\. "):
        send_message(template, [make_user()], {})
    message = Message.objects.get()
    assert message.status == "error"
    assert "TemplateRenderError" in message.status_data["errors"][0]["exception_traceback"]
    assert MessageReceiver.objects.count() == 0


def test_rich_text_escaping_inside_tags_is_undone(make_user):
    template = make_template(body_en="<p>{% if n &gt; 1 %}many{% else %}one{% endif %}</p>")
    template.full_clean()
    [email] = rendering.render_for_users(template, [make_user()], {"n": 2})
    [paragraph] = lxml.html.fromstring(email.html).xpath("//td[@class='email-body']/p")
    assert lxml.html.tostring(paragraph, encoding="unicode", with_tail=False) == (
        '<p style="margin:0 0 12px 0">many</p>'
    )


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
    assert "is not allowed" in response.content.decode()
    assert not MessageTemplate.objects.filter(key="bad").exists()


def test_snippet_editor_has_a_tab_per_language_and_variables(admin_client_logged_in):
    response = admin_client_logged_in.get("/admin/snippets/messaging/messagetemplate/add/")
    document = lxml.html.fromstring(response.content.decode())
    tabs = [tab.text.strip() for tab in document.xpath("//a[@role='tab']")]
    assert tabs == ["General", "English", "Norwegian Bokmål"]

    def fields(tab: str) -> list[str]:
        return [field.get("name") for field in document.xpath(f"//*[@id='tab-{tab}']//*[@name]")]

    assert fields("english") == ["subject_en", "body_en", "body_text_en"]
    assert fields("norwegian_bokmal") == ["subject_nb", "body_nb", "body_text_nb"]
    rows = document.xpath("//table[@data-messaging-variables]/tbody/tr")
    variables = [
        (row.get("data-context-type"), row.xpath("string(td[2])"), row.xpath("string(td[3])"))
        for row in rows
    ]
    assert ("", "{{ user.first_name }}", "Alex") in variables
    assert ("deadline_moved", "{{ deadline }}", "12 Dec 2026 23:59") in variables


def test_editors_cannot_change_the_context_between_receivers(make_user):
    template = make_template(
        body_en="<p>{{ grades.pop }}{{ grades.clear }}{{ user.clear }}{{ grades|join:',' }}|{{ user.first_name }}</p>"
    )
    users = [make_user(first_name="Ola"), make_user(first_name="Kari")]
    context = {"grades": ["A", "B", "C"]}
    emails = rendering.render_for_users(template, users, context)
    assert ">A,B,C|Ola</p>" in emails[0].html and ">A,B,C|Kari</p>" in emails[1].html
    assert context == {"grades": ["A", "B", "C"]}


def test_querystring_and_unknown_tags_are_refused():
    template = MessageTemplate(
        key="k", name="n", subject_en="{% querystring %}", body_en="<p>x</p>"
    )
    with pytest.raises(ValidationError) as caught:
        template.full_clean()
    assert "The tag {% querystring %} is not allowed" in caught.value.message_dict["subject_en"][0]


def test_layout_text_is_never_run_as_a_template(make_user, settings):
    settings.WAGTAIL_SITE_NAME = "Uni {{ user.email }} {% now 'Y' %}"
    user = make_user(email="secret@example.org")
    template = make_template()
    [email] = rendering.render_for_users(template, [user], {"assignment": "X"})
    assert "Uni {{ user.email }} {% now 'Y' %}" in email.html
    assert "Uni {{ user.email }} {% now 'Y' %}" in email.plain


# --- attacks and constructs of issue 8, through send_message and the snippet form --------

ADD_URL = "/admin/snippets/messaging/messagetemplate/add/"


def draftail(html: str) -> str:
    """What the Draftail editor posts for ``html`` (Wagtail's own converter)."""
    return DraftailRichTextArea().format_value(html)


def form_data(**fields) -> dict:
    data = {
        "name": "T",
        "key": "t",
        "context_type": "other",
        "subject_en": "Subject",
        "subject_nb": "",
        "body_en": draftail("<p>Body</p>"),
        "body_nb": draftail(""),
        "body_text_en": "",
        "body_text_nb": "",
    }
    data.update(
        {
            k: draftail(v) if k.startswith("body_") and "text" not in k else v
            for k, v in fields.items()
        }
    )
    return data


def saved_without_checks(**fields) -> MessageTemplate:
    """A template published without the form's checks, as a migration or the shell could."""
    return publish(make_template(), **fields)


def sent_html(template, context, make_user, on_commit) -> MessageReceiver:
    message = on_commit(send_message, template, [make_user()], context)
    return message.receivers.get()


def attributes_of_links(html: str) -> list[dict]:
    document = lxml.html.document_fromstring(html)
    return [dict(a.attrib) for a in document.iter("a")]


def test_a_value_never_adds_an_attribute(make_user, on_commit):
    template = make_template(
        body_en='<p><a href="https://x.org/" title="{% if n > 1 %}{{ v }}{% endif %}">x</a>'
        '<a href="https://x.org/" title="{#>#}{{ v }}">y</a>'
        '<a href="https://x.org/" title="{{ v|default:">" }}">z</a></p>'
    )
    template.full_clean()
    receiver = sent_html(template, {"n": 2, "v": '" onmouseover="alert(1)'}, make_user, on_commit)
    links = attributes_of_links(receiver.message_content_html)
    assert [sorted(link) for link in links] == [["href", "style", "title"]] * 3
    assert all(link["title"] == '" onmouseover="alert(1)' for link in links)


@pytest.mark.parametrize(
    "source,refusal",
    [
        ("{% verbatim %}{{ <img src=x onerror=alert(1)> }}{% endverbatim %}", "{% verbatim %}"),
        ("{{ 1|json_script:'x\" src=\"https://evil.example/x.js' }}", "'json_script'"),
        ("{% widthratio 1 1 'x' %}", "{% widthratio %}"),
        ("{% templatetag openbrace %}", "{% templatetag %}"),
        ("{% lorem 3000000 w %}", "{% lorem %}"),
        ("{% cycle 'a' 'b' %}", "{% cycle %}"),
        ("{% regroup x by y as z %}", "{% regroup %}"),
        ("{{ 5|divisibleby:0 }}", "'divisibleby'"),
        ("{{ v|center:200000000 }}", "'center'"),
        ("{{ v|ljust:9 }}", "'ljust'"),
        ("{{ v|stringformat:'s' }}", "'stringformat'"),
        ("{% for a,b in 'abc' %}{{ a }}{% endfor %}", "Need 2 values to unpack"),
        ("{% if 1 %}" * 1000 + "{% endif %}" * 1000, "nested deeper than 20"),
        ("{% email_uri url %}x{% end_email_uri %}", "{% email_uri %}"),
    ],
)
def test_constructs_editors_may_not_use_are_refused_on_save_and_fail_at_send(
    source, refusal, make_user, admin_client_logged_in
):
    typed = html.escape(source, quote=False)  # as Draftail stores what an editor types
    response = admin_client_logged_in.post(ADD_URL, form_data(body_en=f"<p>{typed}</p>"))
    assert response.status_code == 200
    page = response.content.decode()
    assert "Body (English)" in page and html.escape(refusal, quote=True) in page
    assert not MessageTemplate.objects.filter(key="t").exists()
    template = saved_without_checks(body_en=f"<p>{source}</p>")
    with pytest.raises(TemplateRenderError):
        send_message(template, [make_user()], {"v": "x"})
    assert Message.objects.get().status == "error"
    assert MessageReceiver.objects.count() == 0


def test_refusal_lists_only_what_editors_may_use(admin_client_logged_in):
    response = admin_client_logged_in.post(ADD_URL, form_data(subject_en="{% verbatim %}x"))
    [message] = re.findall(r"Subject \(English\):[^<]*", response.content.decode())
    message = html.unescape(message)
    for name in [*ALLOWED_FILTERS, "if/elif/else", "for/empty", "with", "firstof", "now"]:
        assert name in message
    for internal in ("email_uri", "email_subject", "templatetag", "openbrace", "msg"):
        assert internal not in message.replace("Messages", "")


@pytest.mark.parametrize(
    "body,refusal",
    [
        ('<p class="{{ k }}">x</p>', "class attribute"),
        ('<p style="color: {{ k }}">x</p>', "style attribute"),
        ('<p id="{{ k }}">x</p>', "id attribute"),
        ("<p {% if k %}title='a'{% endif %}>x</p>", "inside an HTML tag"),
        ("<p>{% if k %}<b>{% endif %}x</b></p>", "opened inside {% if %}"),
        ("<p><b>{% if k %}</b>x{% endif %}</p>", "opened inside {% if %}"),
        ('<p><a href="javascript:alert(1)">x</a></p>', "scheme javascript"),
        ('<p><a href="{{ k }}:x">x</a></p>', "Write the scheme"),
    ],
)
def test_structures_premailer_cannot_inline_exactly_are_refused(body, refusal, make_user):
    template = MessageTemplate(key="k", name="n", subject_en="S", body_en=body)
    with pytest.raises(ValidationError) as caught:
        template.full_clean()
    assert refusal in caught.value.message_dict["body_en"][0]
    template = saved_without_checks(body_en=body)
    with pytest.raises(TemplateRenderError, match=re.escape(refusal)):
        send_message(template, [make_user()], {"k": "red"})
    assert MessageReceiver.objects.count() == 0


def test_a_bold_across_a_block_is_refused_in_the_snippet_form(admin_client_logged_in):
    # Draftail writes the bold as one element; the if/endif stand inside and outside it.
    response = admin_client_logged_in.post(
        ADD_URL, form_data(body_en="<p><b>{% if k %}x</b>y{% endif %}</p>")
    )
    assert "opened inside {% if %}" in html.unescape(response.content.decode())
    assert not MessageTemplate.objects.filter(key="t").exists()


def test_values_in_links_are_percent_encoded_and_bad_schemes_dropped(
    make_user, on_commit, admin_client_logged_in
):
    body = (
        '<p><a href="https://x.org/?q={{ w }}">q</a> <a href="{% firstof u %}">f</a> '
        '<a href="{{ js }}">j</a> <a href="https://x.org/{{ w }}/{{ pct }}">p</a></p>'
    )
    data = {**form_data(body_en=body), "action-publish": "action-publish"}
    response = admin_client_logged_in.post(ADD_URL, data)
    assert response.status_code == 302
    template = MessageTemplate.objects.get(key="t")
    context = {
        "w": 'a b&c=d"<',
        "u": "https://q.org/é x",
        "js": " Java\tScript:alert(1)",
        "pct": "100%",
    }
    receiver = sent_html(template, context, make_user, on_commit)
    hrefs = [link["href"] for link in attributes_of_links(receiver.message_content_html)]
    assert hrefs == [
        "https://x.org/?q=a%20b%26c%3Dd%22%3C",
        "https://q.org/%C3%A9%20x",
        "",
        "https://x.org/a%20b%26c%3Dd%22%3C/100%25",
    ]
    assert "(<https://x.org/?q=a%20b%26c%3Dd%22%3C>)" in receiver.message_content_plain
    assert "Script" not in receiver.message_content_plain


def test_html_and_plain_text_agree_around_inline_elements(make_user, on_commit):
    template = make_template(
        body_en="<p>{{ v }}<em>x</em></p><p>{% if k %}<b>bold {{ v }}</b>{% endif %} after</p>"
    )
    receiver = sent_html(template, {"v": "*a* [b](c) <d> & _e_", "k": True}, make_user, on_commit)
    assert "*a* [b](c) <d> & _e_ _x_" in receiver.message_content_plain
    assert "**bold *a* [b](c) <d> & _e_**" in receiver.message_content_plain
    document = lxml.html.document_fromstring(receiver.message_content_html)
    [bold] = document.iter("b")
    assert bold.text == "bold *a* [b](c) <d> & _e_"
    assert "</b>" not in receiver.message_content_html.split("after")[1]


def test_a_false_block_leaves_no_blank_lines(make_user, on_commit):
    template = make_template(body_en="<p>a</p>{% if k %}<p>b</p>{% endif %}<p>c</p>")
    receiver = sent_html(template, {"k": False}, make_user, on_commit)
    assert "\na\n\nc" in receiver.message_content_plain


def test_the_pipeline_reserves_no_context_name_silently(make_user, on_commit):
    template = make_template(body_en="<p>[{{ email_subject }}]</p>")
    receiver = sent_html(
        template, {"email_subject": "mine", "assignment": "A"}, make_user, on_commit
    )
    assert "[mine]" in receiver.message_content_html
    assert "<title>Deadline for A</title>" in receiver.message_content_html
    with pytest.raises(TemplateRenderError) as caught:
        send_message(template, [make_user()], {"user": "someone else"})
    assert str(caught.value) == (
        "The context has the key user, which templates use for the receiver. "
        "Rename it in the code that sends the message."
    )
    assert Message.objects.order_by("pk").last().status == "error"


def test_class_css_is_inlined_on_fixed_classes(make_user, on_commit):
    template = make_template(body_en='<table class="data"><tr><td>{{ v }}</td></tr></table>')
    receiver = sent_html(template, {"v": "x"}, make_user, on_commit)
    [cell] = lxml.html.document_fromstring(receiver.message_content_html).xpath(
        "//table[@class='data']//td"
    )
    assert cell.get("style") == "padding:6px 8px; border:1px solid #e5e7eb"


def test_an_overlong_subject_is_cut_never_fatal(make_user, on_commit):
    template = make_template(subject_en="{{ v }}")
    receiver = sent_html(template, {"v": "é" * 5000}, make_user, on_commit)
    assert receiver.subject == "é" * 997 + "…"
    receiver.message.refresh_from_db()
    assert (receiver.message.status, receiver.status) == ("sent", "sent")
    [email] = mail.outbox
    assert email.subject == receiver.subject


# A billion turns that write nothing: only the time limit can stop it.
LOOPS = (
    "<p>{% for a in s %}{% for b in s %}{% for c in s %}{% endfor %}{% endfor %}{% endfor %}</p>"
)
# One value doubled three times: only the size limit can stop it.
GROWTH = "<p>{% with a=s|add:s %}{% with b=a|add:a %}{{ b|add:b }}{% endwith %}{% endwith %}</p>"


@pytest.mark.parametrize(
    "body,limit",
    [
        (LOOPS, "Rendering takes longer than 1.0 s. Simplify loops."),
        (GROWTH, "A filter made a value longer than 262144 characters."),
    ],
)
def test_limits_hold_on_save_and_at_send(body, limit, make_user, settings, admin_client_logged_in):
    settings.MESSAGING_CONTEXT_VARIABLES = {"other": {"s": "x" * 1000}}
    if body is GROWTH:
        settings.MESSAGING_CONTEXT_VARIABLES = {"other": {"s": "x" * 40000}}
    response = admin_client_logged_in.post(ADD_URL, form_data(body_en=body))
    assert response.status_code == 200
    assert limit in html.unescape(response.content.decode())
    assert not MessageTemplate.objects.filter(key="t").exists()
    template = saved_without_checks(body_en=body)
    with pytest.raises(TemplateLimitError, match=re.escape(limit)):
        send_message(template, [make_user()], settings.MESSAGING_CONTEXT_VARIABLES["other"])
    message = Message.objects.get()
    assert (message.status, MessageReceiver.objects.count()) == ("error", 0)
    assert message.status_data["errors"][0]["error_message"] == f"TemplateLimitError: {limit}"


def test_floatformat_cannot_make_huge_numbers():
    template = MessageTemplate(
        key="k", name="n", subject_en="{{ 1|floatformat:99999999 }}", body_en="<p>x</p>"
    )
    with pytest.raises(ValidationError) as caught:
        template.full_clean()
    assert "at most 30 decimals" in caught.value.message_dict["subject_en"][0]


# --- the property: one pipeline, exact by construction ------------------------------------

NAMES = [f"v{n}" for n in range(4)]
VALUE_CHARS = st.characters(
    codec="utf-8", exclude_characters="%\x00\r", exclude_categories=["Cs"]
) | st.sampled_from(list("\"'<>&*_[]()#`\\-+.!\u200f\u202e\u0001\u001f\t\n"))
FRAGMENTS = st.sampled_from(
    [
        "<b>",
        "</p>",
        "&amp;",
        "&",
        '" onclick="x',
        "' a='",
        "<img src=x onerror=alert(1)>",
        "**",
        "[a](b)",
        "1. ",
        "# ",
        "\u202eevil",
        "{{ x }}",
        "javascript:",
    ]
)
SHORT = st.lists(st.one_of(st.text(VALUE_CHARS, max_size=4), FRAGMENTS), max_size=4).map("".join)
LONG = st.text(VALUE_CHARS, min_size=1, max_size=4).map(lambda s: (s * 20480)[:20480])
VALUES = st.tuples(SHORT, SHORT, SHORT, st.one_of(SHORT, LONG)).map(list)
WORDS = st.sampled_from(["Hello", "dear", "student", "see", "the"])


def var(name: str) -> str:
    return f"{{{{ {name} }}}}"


INLINE_LEAF = st.one_of(WORDS, st.sampled_from(NAMES).map(var), st.just("<br>"))
INLINE = st.recursive(
    INLINE_LEAF,
    lambda inner: st.one_of(
        st.tuples(
            st.sampled_from(["b", "i", "em", "strong"]), st.lists(inner, min_size=1, max_size=3)
        ).map(lambda t: f"<{t[0]}>{' '.join(t[1])}</{t[0]}>"),
    ),
    max_leaves=6,
)
LINK = st.tuples(st.sampled_from(NAMES), st.sampled_from(NAMES), WORDS).map(
    lambda t: f'<a href="https://x.org/p/{var(t[0])}?q={var(t[1])}&amp;r=1">{t[2]}</a>'
)
INLINES = st.lists(st.one_of(INLINE, INLINE, LINK), min_size=1, max_size=4).map(" ".join)
ELEMENT = st.one_of(
    INLINES.map(lambda s: f"<p>{s}</p>"),
    st.tuples(st.sampled_from(["h2", "h3", "h4"]), INLINES).map(
        lambda t: f"<{t[0]}>{t[1]}</{t[0]}>"
    ),
    st.tuples(st.sampled_from(["ul", "ol"]), st.lists(INLINES, min_size=1, max_size=3)).map(
        lambda t: f"<{t[0]}>{''.join(f'<li>{i}</li>' for i in t[1])}</{t[0]}>"
    ),
)
BLOCK = st.recursive(
    ELEMENT,
    lambda inner: st.one_of(
        st.lists(inner, min_size=1, max_size=2).map(
            lambda b: "{% if flag %}" + "".join(b) + "{% endif %}"
        ),
        st.lists(inner, min_size=1, max_size=2).map(
            lambda b: (
                "{% for item in items %}"
                + "".join(b).replace("{{ v3 }}", "{{ item }}")
                + "{% endfor %}"
            )
        ),
    ),
    max_leaves=4,
)
BODIES = st.lists(BLOCK, min_size=1, max_size=4).map("".join)


def structure(html_text: str) -> list:
    return [
        (element.tag, sorted(element.attrib))
        for element in lxml.html.document_fromstring(html_text).iter()
        if isinstance(element.tag, str)
    ]


def tree(html_text: str) -> list:
    def attributes(element) -> list:
        return sorted(
            (name, unquote(value) if name == "href" else value)
            for name, value in element.attrib.items()
        )

    return [
        (element.tag, attributes(element), element.text, element.tail)
        for element in lxml.html.document_fromstring(html_text).iter()
    ]


def emails_for(body: str, values: list[str]) -> tuple:
    template = MessageTemplate(key="h", name="h", subject_en="{{ v0 }}", body_en=body)
    context = {**dict(zip(NAMES, values, strict=True)), "flag": True, "items": values[2:]}
    user = SimpleNamespace(
        first_name="U", last_name="", email="", pk=None, get_username=lambda: "u"
    )
    compiled = rendering.compile_email(template, "en")
    ours = compiled.render(rendering.full_context(context, user))
    placeholders = {**context, **{n: "x" if v else "" for n, v in zip(NAMES, values, strict=True)}}
    placeholders["items"] = ["x" if v else "" for v in values[2:]]
    shape = compiled.render(rendering.full_context(placeholders, user))
    straight = render_straightforward(template, user, context, language="en")
    return ours, shape, straight, context


@hypothesis_settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(body=BODIES, values=VALUES)
def test_no_value_changes_structure_and_output_equals_the_straightforward_pipeline(body, values):
    MessageTemplate(key="h", name="h", subject_en="s", body_en=body).full_clean(exclude=["key"])
    try:
        ours, shape, straight, context = emails_for(body, values)
    except TemplateLimitError:
        reject()  # a 20 KB value used many times: the limit holds, as tested above
    assert structure(ours.html) == structure(shape.html)
    assert tree(ours.html) == tree(straight.html)
    for name in NAMES[:3]:
        if (
            var(name) in body.split("href=")[0]
            or f">{var(name)}" in body
            or f" {var(name)}" in body
        ):
            # Control characters are removed (messaging.rendering.controls).
            assert rendering.without_controls(context[name]) in ours.plain
    assert ours.subject == straight.subject
