"""The original product's settings: each MESSAGING_* name, then its DEVILRY_* name, then the default."""

import warnings
from contextlib import nullcontext

import lxml.html
import pytest
from django.core import mail
from django.core.checks import run_checks
from django.test import override_settings
from django.utils import translation
from django_tasks import task_backends

from config.mail import HAS_MAILERS, SMTP
from messaging import conf
from messaging.api import send_message
from messaging.models import MessageReceiver
from tests.factories import make_template, publish

pytestmark = pytest.mark.django_db

if HAS_MAILERS:
    from django.utils.deprecation import RemovedInDjango2028Warning

QUEUES = {
    "default": {
        "BACKEND": "django_tasks.backends.dummy.DummyBackend",
        "QUEUES": ["default", "mail", "devilry"],
    }
}


@pytest.mark.parametrize(
    "configured, expected",
    [
        ({"MESSAGING_TASK_QUEUE": "mail", "DEVILRY_MESSAGE_RQ_QUEUENAME": "devilry"}, "mail"),
        ({"DEVILRY_MESSAGE_RQ_QUEUENAME": "devilry"}, "devilry"),
        ({}, "default"),
    ],
)
def test_task_queue(configured, expected, settings, make_user, on_commit):
    settings.TASKS = QUEUES
    for name, value in configured.items():
        setattr(settings, name, value)
    on_commit(send_message, users=[make_user()], subject="S", html="<p>x</p>")
    [result] = task_backends["default"].results
    assert result.task.queue_name == expected


@pytest.mark.parametrize(
    "configured, expected",
    [
        (
            {"MESSAGING_FROM_EMAIL": "m@example.org", "DEVILRY_EMAIL_DEFAULT_FROM": "d@e.org"},
            "m@example.org",
        ),
        ({"DEVILRY_EMAIL_DEFAULT_FROM": "d@example.org"}, "d@example.org"),
        ({}, "site@example.org"),
    ],
)
def test_from_email(configured, expected, settings, make_user, on_commit):
    settings.DEFAULT_FROM_EMAIL = "site@example.org"
    for name, value in configured.items():
        setattr(settings, name, value)
    on_commit(send_message, users=[make_user()], subject="S", html="<p>x</p>")
    [email] = mail.outbox
    assert email.from_email == expected


def test_subject_prefix_is_in_the_record_and_the_email(settings, make_user, on_commit):
    settings.MESSAGING_SUBJECT_PREFIX = "[Devilry] "
    on_commit(send_message, users=[make_user()], subject="Deadline moved", html="<p>x</p>")
    assert MessageReceiver.objects.get().subject == "[Devilry] Deadline moved"
    assert mail.outbox[0].subject == "[Devilry] Deadline moved"


@pytest.mark.parametrize("source", ["direct", "template"])
def test_a_long_subject_is_cut_after_the_prefix_is_added(source, settings, make_user, on_commit):
    settings.MESSAGING_SUBJECT_PREFIX = "[Devilry] "
    long_subject = "x" * 998  # the longest subject rendering keeps
    if source == "direct":
        content = {"subject": long_subject, "html": "<p>x</p>"}
    else:
        template = make_template("long", subject_en="{{ title }}", subject_nb="")
        content = {"template": template, "context": {"title": long_subject}}
    on_commit(send_message, users=[make_user()], **content)
    stored = MessageReceiver.objects.get().subject
    assert stored == "[Devilry] " + "x" * 987 + "…"
    assert len(stored) == 998 and mail.outbox[0].subject == stored


def test_no_subject_prefix_by_default(make_user, on_commit):
    on_commit(send_message, users=[make_user()], subject="Deadline moved", html="<p>x</p>")
    assert mail.outbox[0].subject == "Deadline moved"


@pytest.fixture
def template(db):
    return make_template(
        "t",
        name="t",
        subject_en="Hi",
        subject_nb="Hei",
        body_en="<p>Body {{ user.username }}</p>",
        body_nb="<p>Tekst {{ user.username }}</p>",
    )


@pytest.mark.parametrize("name", ["MESSAGING_EMAIL_SIGNATURE", "DEVILRY_EMAIL_SIGNATURE"])
def test_signature_in_html_and_plain_text(name, settings, template, make_user, on_commit):
    setattr(settings, name, "The <Team> & co\nDo not reply")
    on_commit(send_message, template, users=[make_user("kim")])
    receiver = MessageReceiver.objects.get()
    assert signature_cell(receiver.message_content_html) == (
        '<td class="email-signature" style="padding:0 24px 16px 24px; color:#374151">'
        "The &lt;Team&gt; &amp; co<br>Do not reply</td>"
    )
    assert receiver.message_content_plain == plain_email(
        "Body kim", "The <Team> & co  \nDo not reply"
    )
    [email] = mail.outbox
    assert email.body == receiver.message_content_plain
    assert email.alternatives[0] == (receiver.message_content_html, "text/html")


FOOTER = {
    "en": "You receive this email because you have an account at the institution. Do not reply to it.",
    "nb": "Du får denne e-posten fordi du har en konto ved institusjonen. Ikke svar på den.",
}


def plain_email(body: str, signature: str, language: str = "en") -> str:
    """The plain text of an email of the demo site: site name, body, signature, footer."""
    return f"Example University  \n  \n{body}  \n  \n{signature}  \n{FOOTER[language]}\n"


def signature_cell(html: str) -> str:
    [cell] = lxml.html.fromstring(html).xpath("//td[@class='email-signature']")
    return lxml.html.tostring(cell, encoding="unicode", with_tail=False)


def test_messaging_signature_wins_over_devilry(settings, template, make_user, on_commit):
    settings.MESSAGING_EMAIL_SIGNATURE = "Ours"
    settings.DEVILRY_EMAIL_SIGNATURE = "Theirs"
    on_commit(send_message, template, users=[make_user("ola")])
    plain = MessageReceiver.objects.get().message_content_plain
    assert plain == plain_email("Body ola", "Ours")


def test_signature_per_language(settings, template, make_user, on_commit):
    settings.MESSAGING_EMAIL_SIGNATURE = {"en": "Regards, the team", "nb": "Hilsen teamet"}
    on_commit(send_message, template, users=[make_user("en"), make_user("nb", language="nb")])
    english, norwegian = MessageReceiver.objects.order_by("user__username")
    assert english.message_content_plain == plain_email("Body en", "Regards, the team")
    assert norwegian.message_content_plain == plain_email("Tekst nb", "Hilsen teamet", "nb")
    assert signature_cell(english.message_content_html).endswith(">Regards, the team</td>")
    assert signature_cell(norwegian.message_content_html).endswith(">Hilsen teamet</td>")


def test_signature_after_an_editors_plain_text(settings, template, make_user, on_commit):
    publish(template, body_text_en="Text for {{ user.username }}")
    settings.MESSAGING_EMAIL_SIGNATURE = "{{ user.username }} is not a variable here"
    on_commit(send_message, template, users=[make_user("lee")])
    receiver = MessageReceiver.objects.get()
    expected = "Text for lee\n\n{{ user.username }} is not a variable here\n"
    assert receiver.message_content_plain == expected
    assert "{{ user.username }} is not a variable here" in receiver.message_content_html


def test_signature_on_a_direct_send_html_and_the_plain_text_made_from_it(
    settings, make_user, on_commit
):
    settings.MESSAGING_EMAIL_SIGNATURE = "The <Team> & co\nDo not reply"
    on_commit(send_message, users=[make_user()], subject="S", html="<p>Hello</p>")
    receiver = MessageReceiver.objects.get()
    assert receiver.message_content_html == (
        '<p>Hello</p><p class="email-signature">The &lt;Team&gt; &amp; co<br>Do not reply</p>\n'
    )
    assert receiver.message_content_plain.endswith("The <Team> & co  \nDo not reply\n")
    [email] = mail.outbox
    assert email.alternatives[0] == (receiver.message_content_html, "text/html")


def test_signature_on_a_direct_send_document_and_plain_text(settings, make_user, on_commit):
    settings.MESSAGING_EMAIL_SIGNATURE = {"en": "Regards", "nb": "Hilsen"}
    html = "<html><body><p>Hei</p></BODY></html>"
    with translation.override("nb"):
        on_commit(send_message, users=[make_user()], subject="S", html=html, plain="Hei")
    receiver = MessageReceiver.objects.get()
    assert receiver.language == "nb"
    assert receiver.message_content_html == (
        '<html><body><p>Hei</p><p class="email-signature">Hilsen</p>\n</BODY></html>'
    )
    assert receiver.message_content_plain == "Hei\n\nHilsen\n"


def test_signature_on_a_plain_text_only_direct_send(settings, make_user, on_commit):
    settings.MESSAGING_EMAIL_SIGNATURE = "Regards"
    on_commit(send_message, users=[make_user()], subject="S", plain="Hello")
    receiver = MessageReceiver.objects.get()
    assert (receiver.message_content_html, receiver.message_content_plain) == (
        "",
        "Hello\n\nRegards\n",
    )


def test_no_signature_by_default(template, make_user, on_commit):
    publish(template, body_text_en="Text")
    on_commit(send_message, template, users=[make_user()])
    receiver = MessageReceiver.objects.get()
    assert receiver.message_content_plain == "Text"
    assert "email-signature" not in receiver.message_content_html


@pytest.mark.parametrize(
    "name, value, check_id",
    [
        ("MESSAGING_TASK_QUEUE", "", "messaging.E011"),
        ("MESSAGING_SEND_EMAIL_TO_USERS", "no", "messaging.E012"),
        ("DEVILRY_SEND_EMAIL_TO_USERS", 0, "messaging.E012"),
        ("MESSAGING_EMAIL_SIGNATURE", ["x"], "messaging.E013"),
        ("MESSAGING_SUBJECT_PREFIX", 5, "messaging.E014"),
        ("MESSAGING_FROM_EMAIL", 5, "messaging.E015"),
        ("MESSAGING_USER_EMAILS", "nowhere.nothing", "messaging.E016"),
        ("MESSAGING_USER_CONTEXT", "nowhere.nothing", "messaging.E017"),
        ("MESSAGING_USER_SEARCH_FIELDS", "username", "messaging.E040"),
        ("MESSAGING_USER_SEARCH_FIELDS", ["username", "nickname"], "messaging.E040"),
        ("MESSAGING_BOUNCE_LEGACY_SIGNATURES_UNTIL", "next year", "messaging.E034"),
    ],
)
def test_system_checks_name_the_bad_setting(name, value, check_id, settings):
    setattr(settings, name, value)
    [error] = [e for e in run_checks() if e.id.startswith("messaging.")]
    assert error.id == check_id
    assert name in error.msg


def test_an_rq_queue_missing_from_rq_queues_is_reported(settings):
    from messaging.checks import check_settings

    queues = ["high", "default", "mail", "low"]
    settings.TASKS = {"default": {"BACKEND": "django_tasks_rq.RQBackend", "QUEUES": queues}}
    redis = {"HOST": "127.0.0.1", "PORT": 6379, "DB": 0}
    settings.RQ_QUEUES = {"default": redis, "high": redis, "low": redis}
    [error] = check_settings()
    assert (error.id, error.msg) == (
        "messaging.E010",
        "TASKS['default'] uses queues ['mail'] that RQ_QUEUES lacks. "
        "Add every queue listed in TASKS to RQ_QUEUES.",
    )
    settings.RQ_QUEUES = {**settings.RQ_QUEUES, "mail": settings.RQ_QUEUES["default"]}
    assert check_settings() == []


def test_user_emails_and_context_come_from_the_settings(settings, template, make_user, on_commit):
    settings.MESSAGING_USER_EMAILS = "tests.test_conf.two_addresses"
    settings.MESSAGING_USER_CONTEXT = "tests.test_conf.shouting_context"
    publish(template, body_en="<p>{{ user.full_name }}|{{ user.username }}|{{ user.email }}</p>")
    on_commit(send_message, template, users=[make_user("amy")])
    receiver = MessageReceiver.objects.get()
    assert receiver.send_to == "amy@one.org, amy@two.org"
    assert ">AMY|amy|</p>" in receiver.message_content_html  # objects become text
    [email] = mail.outbox
    assert email.to == ["amy@one.org", "amy@two.org"]


def two_addresses(user):
    return [f"{user.username}@one.org", f"{user.username}@two.org", f"{user.username}@one.org"]


def shouting_context(user):
    return {"full_name": user.username.upper(), "email": None, "username": user}


def test_a_resolver_returning_a_string_is_a_clear_error(settings, make_user):
    settings.MESSAGING_USER_EMAILS = "tests.test_conf.one_string"
    from messaging.exceptions import ConfigurationError
    from messaging.users import user_emails

    with pytest.raises(ConfigurationError, match="must return a list of addresses"):
        user_emails(make_user())


def one_string(user):
    return user.email


def test_settings_are_read_at_call_time(settings):
    settings.MESSAGING_SEND_EMAIL_TO_USERS = False
    assert conf.send_email_to_users() is False
    settings.MESSAGING_SEND_EMAIL_TO_USERS = True
    assert conf.send_email_to_users() is True


# --- secrets to scrub: MAILERS on Django 6.1, EMAIL_* where a site still sets them -----


@pytest.mark.skipif(not HAS_MAILERS, reason="MAILERS is Django 6.1's")
def test_the_credentials_of_every_mailer_are_secret(settings):
    login = {"username": "bulk-user", "password": "bulk-password"}
    settings.MAILERS = {
        "default": {"BACKEND": SMTP, "OPTIONS": {"username": "user", "password": "password"}},
        "bulk": {"BACKEND": SMTP, "OPTIONS": login},
    }
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        secrets = conf.secret_values()
    assert {"user", "password", "bulk-user", "bulk-password"} <= set(secrets)


def test_email_settings_are_read_only_where_the_site_sets_them(settings):
    """On Django 6.1 reading an EMAIL_* setting warns, even its default."""
    if HAS_MAILERS:
        del settings.MAILERS  # a site that sets neither MAILERS nor EMAIL_*
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        conf.secret_values()
    # A site still on EMAIL_* gets Django's warning about it from each read, as at startup.
    with (
        pytest.warns(RemovedInDjango2028Warning) if HAS_MAILERS else nullcontext() as shown,
        override_settings(EMAIL_HOST_PASSWORD="legacy-password"),
    ):
        assert "legacy-password" in conf.secret_values()
    if HAS_MAILERS:
        assert any(warning.filename == conf.base.__file__ for warning in shown)
