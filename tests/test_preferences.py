"""Notification preferences: modes per optional context type, digests, headers, unsubscribe."""

from __future__ import annotations

import re
import time
from datetime import datetime
from email.utils import parseaddr
from io import StringIO
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth.models import Group, Permission
from django.core.management import call_command
from django.test import Client
from django.urls import include, path

from messaging import conf, maintenance
from messaging.api import send_message
from messaging.checks import check_settings
from messaging.exceptions import ConfigurationError
from messaging.models import Message, MessageReceiver, MessageTemplate, NotificationPreference
from messaging.preferences import tokens
from tests import factories

pytestmark = pytest.mark.django_db

Mode = NotificationPreference.Mode
Status = MessageReceiver.Status
CONTEXT_TYPES = [
    ("other", "Other"),
    ("deadline_moved", "Deadline moved"),
    {"value": "comment_added", "label": "New comment", "optional": True},
    {"value": "feedback", "label": "Feedback", "optional": True, "default_mode": "daily"},
]
OSLO = ZoneInfo("Europe/Oslo")
SEVEN_IN_OSLO = datetime(2026, 11, 30, 7, 15, tzinfo=OSLO)


@pytest.fixture(autouse=True)
def context_types(settings):
    settings.MESSAGING_CONTEXT_TYPES = CONTEXT_TYPES
    settings.MESSAGING_SITE_URL = "https://uni.example.org"
    settings.TIME_ZONE = "Europe/Oslo"
    settings.MESSAGING_DIGEST_HOUR = 7


def prefer(user, context_type: str, mode: str) -> None:
    NotificationPreference.objects.create(user=user, context_type=context_type, mode=mode)


def make_template(context_type: str = "comment_added") -> MessageTemplate:
    return factories.make_template(
        key=f"tpl-{context_type}",
        name=context_type,
        context_type=context_type,
        subject_en="New comment on {{ assignment }}",
        subject_nb="Ny kommentar på {{ assignment }}",
        body_en="<p>Hello {{ user.first_name }}, read the comment.</p>",
        body_nb="<p>Hei {{ user.first_name }}, les kommentaren.</p>",
    )


def unsubscribe_path(user, context_type: str) -> str:
    return urlsplit(tokens.unsubscribe_url(user.pk, context_type)).path


# --- context types ---------------------------------------------------------------------------


def test_context_types_may_be_pairs_or_dicts():
    specs = conf.context_type_specs()
    assert [spec.value for spec in specs.values()] == [
        "other",
        "deadline_moved",
        "comment_added",
        "feedback",
    ]
    assert specs["deadline_moved"].optional is False
    assert (specs["comment_added"].optional, specs["comment_added"].default_mode) == (
        True,
        "immediate",
    )
    assert specs["feedback"].default_mode == "daily"
    assert conf.context_types()[2] == ("comment_added", "New comment")


@pytest.mark.parametrize(
    "entry",
    [
        {"value": "x", "label": "X", "default_mode": "daily"},  # mandatory, yet daily
        {"value": "x", "label": "X", "optional": True, "default_mode": "weekly"},
        {"label": "X"},
        {"value": "x", "colour": "red"},
        ("x",),
    ],
)
def test_bad_context_types_are_refused_at_startup(settings, entry):
    settings.MESSAGING_CONTEXT_TYPES = [entry]
    with pytest.raises(ConfigurationError):
        conf.context_type_specs()
    assert "messaging.E022" in [error.id for error in check_settings()]


def test_digest_hour_and_site_url_are_checked(settings):
    settings.MESSAGING_DIGEST_HOUR = 24
    settings.MESSAGING_SITE_URL = "uni.example.org"
    ids = [error.id for error in check_settings()]
    assert "messaging.E023" in ids and "messaging.E026" in ids


def test_preference_for_a_mandatory_type_is_refused(make_user):
    from django.core.exceptions import ValidationError

    preference = NotificationPreference(
        user=make_user(), context_type="deadline_moved", mode=Mode.OFF
    )
    with pytest.raises(ValidationError) as raised:
        preference.full_clean()
    assert "mandatory" in str(raised.value)


# --- send_message ---------------------------------------------------------------------------


def test_send_message_honours_off_daily_and_immediate(make_user, on_commit, mailoutbox):
    off, daily, immediate, default = (make_user(n) for n in ("off", "daily", "now", "dflt"))
    prefer(off, "comment_added", Mode.OFF)
    prefer(daily, "comment_added", Mode.DAILY)
    prefer(immediate, "comment_added", Mode.IMMEDIATE)
    message = on_commit(
        send_message,
        users=[off, daily, immediate, default],
        subject="New comment",
        html="<p>Read it</p>",
        context_type="comment_added",
    )
    message.refresh_from_db()
    assert message.status_data["skipped"] == [{"user_id": off.pk, "reason": "off"}]
    by_user = {r.user_id: r for r in message.receivers.all()}
    assert set(by_user) == {daily.pk, immediate.pk, default.pk}
    held = by_user[daily.pk]
    assert (held.status, held.pending_sends, held.subject) == (
        Status.DIGEST_PENDING,
        0,
        "New comment",
    )
    assert held.message_content_plain.startswith("Read it")
    assert by_user[immediate.pk].status == by_user[default.pk].status == Status.SENT
    assert sorted(email.to[0] for email in mailoutbox) == ["dflt@example.org", "now@example.org"]
    assert message.status == Message.Status.SENDING  # the daily user's email still waits


def test_default_mode_applies_to_users_without_a_preference(make_user, on_commit, mailoutbox):
    user = make_user()
    message = on_commit(
        send_message, users=[user], subject="S", html="<p>x</p>", context_type="feedback"
    )
    assert message.receivers.get().status == Status.DIGEST_PENDING
    assert mailoutbox == []


def test_mandatory_types_ignore_preferences(make_user, on_commit, mailoutbox):
    user = make_user()
    # Written past the model's validation, as a type turned mandatory after the fact leaves it.
    prefer(user, "deadline_moved", Mode.OFF)
    message = on_commit(
        send_message, users=[user], subject="Moved", html="<p>x</p>", context_type="deadline_moved"
    )
    message.refresh_from_db()
    assert "skipped" not in message.status_data
    assert message.receivers.get().status == Status.SENT
    assert len(mailoutbox) == 1


def test_inspect_view_shows_the_skipped_count(make_user, on_commit):
    users = [make_user() for _ in range(3)]
    for user in users[:2]:
        prefer(user, "comment_added", Mode.OFF)
    message = on_commit(
        send_message, users=users, subject="S", html="<p>x</p>", context_type="comment_added"
    )
    client = Client()
    client.force_login(make_user("root", is_superuser=True, is_staff=True))
    html = client.get(f"/admin/messaging/messages/inspect/{message.pk}/").content.decode()
    assert "2 users were skipped: they turned this kind of email off." in html


def test_optional_email_footer_links_to_unsubscribe_in_the_users_language(make_user, on_commit):
    en, nb = make_user("en", first_name="Alex", language="en"), make_user("nb", language="nb")
    message = on_commit(send_message, make_template(), users=[en, nb], context={"assignment": "A3"})
    by_user = {r.user_id: r for r in message.receivers.all()}
    html_en = by_user[en.pk].message_content_html
    [token] = re.findall(
        r'href="https://uni\.example\.org/messaging/unsubscribe/([^/"]+)/"', html_en
    )
    assert tokens.read_token(token) == tokens.Unsubscribe(en.pk, "comment_added")
    assert "Unsubscribe from emails like this one</a>" in html_en
    assert re.search(
        r"Unsubscribe from emails like this one: https://uni\.example\.org/messaging/unsubscribe/\S+/",
        by_user[en.pk].message_content_plain,
    )
    nb_html = by_user[nb.pk].message_content_html
    assert "Meld deg av e-poster som denne" in nb_html
    assert nb_html.index("Meld deg av") < nb_html.index("</body>")


def test_mandatory_email_has_no_unsubscribe_footer(make_user, on_commit):
    message = on_commit(
        send_message,
        make_template("deadline_moved"),
        users=[make_user()],
        context={"assignment": "A3"},
    )
    receiver = message.receivers.get()
    assert "/messaging/unsubscribe/" not in receiver.message_content_html
    assert "/messaging/unsubscribe/" not in receiver.message_content_plain


# --- headers, through a real SMTP server ---------------------------------------------------


def test_headers_of_optional_and_mandatory_emails(make_user, on_commit, smtp_server, settings):
    settings.DEFAULT_FROM_EMAIL = "Uni <noreply@uni.example.org>"
    user = make_user("kari")
    on_commit(
        send_message, users=[user], subject="Comment", html="<p>c</p>", context_type="comment_added"
    )
    on_commit(
        send_message, users=[user], subject="Moved", html="<p>m</p>", context_type="deadline_moved"
    )
    optional, mandatory = sorted(smtp_server.handler.messages, key=lambda m: m["Subject"])
    assert optional["Auto-Submitted"] == mandatory["Auto-Submitted"] == "auto-generated"
    assert optional["List-Id"] == "<comment-added.uni.example.org>"
    assert mandatory["List-Id"] == "<deadline-moved.uni.example.org>"
    assert mandatory["List-Unsubscribe"] is None and mandatory["List-Unsubscribe-Post"] is None
    assert optional["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    url = optional["List-Unsubscribe"].strip()
    assert url.startswith("<https://uni.example.org/messaging/unsubscribe/") and url.endswith("/>")
    # The link in the header works: the one-click POST turns the type off.
    response = Client().post(
        urlsplit(url[1:-1]).path,
        "List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 200
    assert NotificationPreference.objects.get(user=user).mode == Mode.OFF


# --- unsubscribe endpoint --------------------------------------------------------------------


def test_one_click_post_as_rfc_8058_describes(make_user):
    user = make_user()
    path = unsubscribe_path(user, "comment_added")
    # A mail client: no cookies, no CSRF token, a form-encoded body.
    client = Client(enforce_csrf_checks=True)
    for _ in range(2):  # idempotent
        response = client.post(
            path, "List-Unsubscribe=One-Click", content_type="application/x-www-form-urlencoded"
        )
        assert response.status_code == 200
        assert not response.cookies
    assert list(NotificationPreference.objects.values_list("user_id", "context_type", "mode")) == [
        (user.pk, "comment_added", "off")
    ]


def test_one_click_post_as_multipart(make_user):
    user = make_user()
    response = Client(enforce_csrf_checks=True).post(
        unsubscribe_path(user, "comment_added"), {"List-Unsubscribe": "One-Click"}
    )
    assert response.status_code == 200
    assert NotificationPreference.objects.get(user=user).mode == Mode.OFF


def test_post_without_one_click_changes_nothing(make_user):
    user = make_user()
    response = Client().post(unsubscribe_path(user, "comment_added"), {"other": "x"})
    assert response.status_code == 400
    assert not NotificationPreference.objects.exists()


def test_get_shows_a_confirmation_and_changes_nothing(make_user):
    user = make_user(language="nb")
    path = unsubscribe_path(user, "comment_added")
    response = Client().get(path)
    assert response.status_code == 200
    html = response.content.decode()
    assert 'name="List-Unsubscribe" value="One-Click"' in html
    assert 'method="post"' in html
    assert "Meld deg av" in html  # in the user's language
    assert not NotificationPreference.objects.exists()


@pytest.mark.parametrize("method", ["get", "post"])
def test_tampered_token_is_404(make_user, method):
    user = make_user()
    token = tokens.make_token(user.pk, "comment_added")
    forged = (
        tokens.make_token(user.pk + 1, "comment_added").split(":")[0] + token[token.index(":") :]
    )
    for bad in (token[:-2] + ("AA" if not token.endswith("AA") else "BB"), forged):
        response = getattr(Client(), method)(
            f"/messaging/unsubscribe/{bad}/", {"List-Unsubscribe": "One-Click"}
        )
        assert response.status_code == 404
    assert not NotificationPreference.objects.exists()


def test_token_for_a_mandatory_type_is_404(make_user):
    user = make_user()
    response = Client().post(
        unsubscribe_path(user, "deadline_moved"), {"List-Unsubscribe": "One-Click"}
    )
    assert response.status_code == 404
    assert not NotificationPreference.objects.exists()


def test_expired_token_is_404(make_user, settings, monkeypatch):
    settings.MESSAGING_UNSUBSCRIBE_MAX_AGE = 1
    user = make_user()
    issued_at = time.time() - 2.1  # the token was made a while ago: move the clock back
    with monkeypatch.context() as clock:
        clock.setattr(time, "time", lambda: issued_at)
        path = unsubscribe_path(user, "comment_added")
    response = Client().post(path, {"List-Unsubscribe": "One-Click"})
    assert response.status_code == 404
    assert not NotificationPreference.objects.exists()


# --- the preferences page --------------------------------------------------------------------


def test_preferences_page_needs_login():
    response = Client().get("/messaging/preferences/")
    assert response.status_code == 302
    assert "/messaging/preferences/" in response["Location"]


def test_signed_out_user_of_a_site_without_a_login_page_signs_in_with_wagtail(settings):
    # Django's default: nothing serves it in a new `wagtail start` site (the page catch-all 404s).
    settings.LOGIN_URL = "/accounts/login/"
    response = Client().get("/messaging/preferences/", follow=True)
    assert response.status_code == 200
    assert response.redirect_chain == [("/_util/login/?next=/messaging/preferences/", 302)]


@pytest.mark.parametrize(
    ("login_url", "location"),
    [
        ("wagtailadmin_login", "/admin/login/?next=/messaging/preferences/"),
        ("/admin/login/", "/admin/login/?next=/messaging/preferences/"),
        (
            "https://sso.example.org/login",
            "https://sso.example.org/login?next=http%3A//testserver/messaging/preferences/",  # Django's
        ),
    ],
)
def test_a_login_url_that_leads_to_a_page_is_kept(settings, login_url, location):
    settings.LOGIN_URL = login_url
    response = Client().get("/messaging/preferences/")
    assert response["Location"] == location


# A site with the admin but without Wagtail's front-end URLs (and their login page).
urlpatterns = [
    path("admin/", include("wagtail.admin.urls")),
    path("messaging/", include("messaging.urls")),
]


@pytest.mark.urls(__name__)
def test_without_wagtails_front_end_the_admin_login_serves(settings):
    settings.LOGIN_URL = "no-such-url-name"
    response = Client().get("/messaging/preferences/", follow=True)
    assert response.status_code == 200
    assert response.redirect_chain[0] == ("/admin/login/?next=/messaging/preferences/", 302)


def test_user_changes_preferences_on_the_page(make_user):
    user = make_user(language="nb")
    prefer(user, "comment_added", Mode.DAILY)
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    response = client.get("/messaging/preferences/")
    html = response.content.decode()
    assert response.status_code == 200
    assert "E-postvarsler" in html  # Norwegian
    assert 'name="comment_added" value="daily" required id="id_comment_added_1" checked' in html
    assert 'name="feedback"' in html and 'name="deadline_moved"' not in html
    refused = client.post("/messaging/preferences/", {"comment_added": "off", "feedback": "off"})
    assert refused.status_code == 403  # no CSRF token
    token = response.cookies["csrftoken"].value
    saved = client.post(
        "/messaging/preferences/",
        {"comment_added": "off", "feedback": "immediate", "csrfmiddlewaretoken": token},
    )
    assert saved.status_code == 302
    stored = dict(
        NotificationPreference.objects.filter(user=user).values_list("context_type", "mode")
    )
    assert stored == {"comment_added": "off", "feedback": "immediate"}


def test_preferences_page_refuses_a_mode_that_does_not_exist(make_user):
    user = make_user()
    client = Client()
    client.force_login(user)
    response = client.post(
        "/messaging/preferences/", {"comment_added": "weekly", "feedback": "off"}
    )
    assert response.status_code == 200
    assert not NotificationPreference.objects.exists()


# --- the admin -------------------------------------------------------------------------------


def admin_form(user, context_type: str, mode: str) -> dict:
    return {"user": user.pk, "context_type": context_type, "mode": mode}


def test_staff_change_a_users_preferences_in_the_admin(make_user):
    user = make_user("ingrid")
    client = Client()
    client.force_login(make_user("root", is_superuser=True, is_staff=True))
    response = client.post(
        "/admin/messaging/preferences/new/", admin_form(user, "comment_added", "daily")
    )
    assert response.status_code == 302
    preference = NotificationPreference.objects.get(user=user)
    assert preference.mode == Mode.DAILY
    listing = client.get("/admin/messaging/preferences/?q=ingrid").content.decode()
    assert "ingrid" in listing and "Daily digest" in listing
    edit = f"/admin/messaging/preferences/edit/{preference.pk}/"
    assert client.post(edit, admin_form(user, "comment_added", "off")).status_code == 302
    preference.refresh_from_db()
    assert preference.mode == Mode.OFF
    refused = client.post(
        "/admin/messaging/preferences/new/", admin_form(user, "deadline_moved", "off")
    )
    assert refused.status_code == 200
    assert NotificationPreference.objects.count() == 1


def test_admin_preferences_need_wagtail_permissions(make_user):
    user = make_user("viewer")
    group = Group.objects.create(name="Admin only")
    group.permissions.add(Permission.objects.get(codename="access_admin"))
    user.groups.add(group)
    client = Client()
    client.force_login(user)
    assert client.get("/admin/messaging/preferences/").status_code == 302  # refused
    assert "/admin/messaging/preferences/" not in client.get("/admin/").content.decode()
    response = client.post(
        "/admin/messaging/preferences/new/", admin_form(user, "comment_added", "off")
    )
    assert response.status_code == 302
    assert not NotificationPreference.objects.exists()
    group.permissions.add(Permission.objects.get(codename="view_notificationpreference"))
    assert client.get("/admin/messaging/preferences/").status_code == 200


# --- digests ---------------------------------------------------------------------------------


def held_for_digest(make_user, on_commit, user=None, count: int = 2) -> tuple:
    user = user or make_user()
    prefer(user, "comment_added", Mode.DAILY)
    template = MessageTemplate.objects.filter(key="tpl-comment_added").first() or make_template()
    for n in range(count):
        on_commit(send_message, template, users=[user], context={"assignment": f"Assignment {n}"})
    return user, list(MessageReceiver.objects.filter(user=user).order_by("pk"))


def test_digest_gathers_held_emails_in_english(make_user, on_commit, mailoutbox):
    user, held = held_for_digest(make_user, on_commit, make_user("alex", first_name="Alex"))
    assert mailoutbox == []
    report = on_commit(maintenance.send_digests, SEVEN_IN_OSLO)
    assert (report.digests, report.covered) == (1, 2)
    [email] = mailoutbox
    assert email.subject == "Your daily digest: 2 emails"
    assert (
        "New comment on Assignment 0" in email.body and "New comment on Assignment 1" in email.body
    )
    assert "Hello Alex, read the comment." in email.body
    html = email.alternatives[0][0]
    assert "<h2" in html and "New comment on Assignment 1" in html
    assert 'href="https://uni.example.org/messaging/preferences/"' in html
    assert "Change how you get these emails" in html
    digest = MessageReceiver.objects.get(pk__gt=held[-1].pk)
    assert digest.status == Status.SENT and digest.language == "en"
    for receiver in held:
        receiver.refresh_from_db()
        assert receiver.digested_into_id == digest.pk
        assert receiver.status == Status.SENT
        assert receiver.sent_datetime == digest.sent_datetime
        assert receiver.sending_success_count == 1
        assert receiver.message.status == Message.Status.SENT


def test_digest_in_norwegian(make_user, on_commit, mailoutbox):
    user, _held = held_for_digest(
        make_user, on_commit, make_user("ola", first_name="Ola", language="nb")
    )
    on_commit(maintenance.send_digests, SEVEN_IN_OSLO)
    [email] = mailoutbox
    assert email.subject == "Ditt daglige sammendrag: 2 e-poster"
    assert "Ny kommentar på Assignment 0" in email.body
    assert "Hei Ola, les kommentaren." in email.body
    assert "Her er de 2 e-postene du ba om å få én gang om dagen." in email.body
    assert "Endre hvordan du får disse e-postene" in email.body


def test_a_second_run_sends_no_second_digest(
    make_user, on_commit, mailoutbox, django_capture_on_commit_callbacks
):
    held_for_digest(make_user, on_commit)
    # The second run comes before the first one's digest is delivered.
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        first = maintenance.send_digests(SEVEN_IN_OSLO)
        second = maintenance.send_digests(SEVEN_IN_OSLO)
    assert (first.digests, first.covered, second.digests, second.covered) == (1, 2, 0, 0)
    for callback in callbacks:
        callback()
    third = on_commit(maintenance.send_digests, SEVEN_IN_OSLO)
    assert (third.digests, third.covered) == (0, 0)
    assert len(mailoutbox) == 1
    assert Message.objects.filter(metadata__digest=True).count() == 1


def test_digest_waits_for_the_users_local_hour(make_user, on_commit, mailoutbox):
    from wagtail.users.models import UserProfile

    oslo_user, _ = held_for_digest(make_user, on_commit, make_user("oslo"))
    tokyo_user, _ = held_for_digest(make_user, on_commit, make_user("tokyo"))
    profile = UserProfile.get_for_user(tokyo_user)
    profile.current_time_zone = "Asia/Tokyo"
    profile.save()
    on_commit(maintenance.send_digests, SEVEN_IN_OSLO)  # 15:15 in Tokyo
    assert [email.to for email in mailoutbox] == [["oslo@example.org"]]
    on_commit(maintenance.send_digests, datetime(2026, 11, 30, 7, 5, tzinfo=ZoneInfo("Asia/Tokyo")))
    assert [email.to for email in mailoutbox] == [["oslo@example.org"], ["tokyo@example.org"]]


def test_send_digests_command(make_user, on_commit, settings, mailoutbox):
    settings.MESSAGING_DIGEST_HOUR = datetime.now(OSLO).hour
    held_for_digest(make_user, on_commit)
    out = StringIO()
    on_commit(call_command, "send_digests", stdout=out)
    assert "1 digests were queued, covering 2 emails" in out.getvalue()
    assert len(mailoutbox) == 1


def test_a_digest_sent_but_not_settled_is_settled_by_the_next_run(make_user, on_commit, mailoutbox):
    user, held = held_for_digest(make_user, on_commit)
    on_commit(maintenance.send_digests, SEVEN_IN_OSLO)
    # As if the worker died between sending the digest and settling what it covers.
    MessageReceiver.objects.filter(pk__in=[r.pk for r in held]).update(
        status=Status.DIGEST_PENDING, sending_success_count=0
    )
    report = on_commit(maintenance.send_digests, SEVEN_IN_OSLO)
    assert (report.digests, report.settled) == (0, 2)
    assert set(MessageReceiver.objects.filter(user=user).values_list("status", flat=True)) == {
        "sent"
    }
    assert len(mailoutbox) == 1


def test_digest_headers_name_the_digest_list(make_user, on_commit, smtp_server, settings):
    settings.DEFAULT_FROM_EMAIL = "noreply@uni.example.org"
    held_for_digest(make_user, on_commit, make_user("kari"))
    on_commit(maintenance.send_digests, SEVEN_IN_OSLO)
    [email] = smtp_server.handler.messages
    assert email["List-Id"] == "<digest.uni.example.org>"
    assert email["Auto-Submitted"] == "auto-generated"
    assert parseaddr(email["To"])[1] == "kari@example.org"


# --- concurrent runs on PostgreSQL -------------------------------------------------------------


def hold_for(users: list, per_user: int) -> None:
    """``per_user`` emails of an optional type held for each user's digest."""
    message = Message.objects.create(status=Message.Status.SENDING, context_type="comment_added")
    MessageReceiver.objects.bulk_create(
        [
            MessageReceiver(
                message=message,
                user=user,
                status=Status.DIGEST_PENDING,
                subject=f"Comment {n} for {user.username}",
                message_content_plain=f"Comment number {n}.",
            )
            for user in users
            for n in range(per_user)
        ]
    )


def steady_zone() -> ZoneInfo:
    """A time zone whose current hour will not change for at least 14 minutes.

    Kolkata is five and a half hours off UTC: when the hour turns soon everywhere on a
    whole-hour offset, it is half past there.
    """
    minute = datetime.now(OSLO).minute
    return OSLO if 15 <= minute < 45 else ZoneInfo("Asia/Kolkata")


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_two_concurrent_runs_send_exactly_one_digest_per_user(request, settings):
    from django.contrib.auth import get_user_model
    from wagtail.users.models import UserProfile

    from messaging.testing.smtp import FaultInjectingHandler, SMTPServer
    from tests.workers import Processes, db_worker_args, shared_database, wait_until, worker_env

    shared_db = shared_database(request, postgres_only=True)
    User = get_user_model()
    users = User.objects.bulk_create(
        [User(username=f"d{i}", email=f"d{i}@example.org", password="!") for i in range(60)]
    )
    hold_for(users, per_user=3)
    zone = steady_zone()
    UserProfile.objects.bulk_create(
        [UserProfile(user=user, current_time_zone=zone.key) for user in users]
    )
    processes = Processes()
    try:
        with SMTPServer(FaultInjectingHandler()) as server:
            env = worker_env(
                shared_db, server.port, MESSAGING_DIGEST_HOUR=str(datetime.now(zone).hour)
            )
            runs = [processes.start(["send_digests"], env) for _ in range(2)]
            for run in runs:
                run.wait(timeout=120)
                assert run.returncode == 0, processes.output(run)
            processes.start(db_worker_args(), env)

            def all_sent() -> bool:
                return not MessageReceiver.objects.exclude(status=Status.SENT).exists()

            wait_until(all_sent, 120, "every digest to be sent", report=processes.tails)
            time.sleep(1)  # a second digest would arrive now
            deliveries = dict(server.handler.deliveries)
    finally:
        processes.stop_all()
    assert deliveries == {f"d{i}@example.org": 1 for i in range(60)}
    outputs = " ".join(processes.output(run) for run in runs)
    queued = [int(word) for word in re.findall(r"(\d+) digests were queued", outputs)]
    assert sum(queued) == 60, outputs
    digests_per_user = MessageReceiver.objects.filter(digested__isnull=False).distinct()
    assert sorted(digests_per_user.values_list("user__username", flat=True)) == sorted(
        user.username for user in users
    )
    for receiver in MessageReceiver.objects.filter(message__context_type="comment_added"):
        assert receiver.digested_into.user_id == receiver.user_id
        assert receiver.sending_success_count == 1
