"""What staff see of the mail relays: the banner while one is down, the dashboard's relay
panel, and which mailer took each email (``sent_via``) on the receiver's page, in the
export and as a filter of the receivers listing."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
from bs4 import BeautifulSoup
from django.contrib.auth.models import Group, Permission
from django.test import Client
from django.utils import timezone
from wagtail.users.models import UserProfile

from config.mail import local_smtp
from messaging.models import MessageReceiver, RelayState
from tests.factories import make_message, make_receiver, make_receivers

pytestmark = pytest.mark.django_db

RECEIVERS = "/admin/messaging/receivers/"
Status = MessageReceiver.Status
# 10:42 and 10:50 in Oslo, the test site's time zone (UTC+1 in winter).
DOWN_SINCE = datetime(2026, 12, 7, 9, 42, tzinfo=UTC)
NEXT_CHECK = datetime(2026, 12, 7, 9, 50, tzinfo=UTC)


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def staff(make_user, *codenames: str, name: str = "staff") -> Client:
    """A logged-in admin user with ``access_admin`` and ``codenames``."""
    user = make_user(name, is_staff=True)
    group = Group.objects.create(name=f"group of {name}")
    group.permissions.add(*Permission.objects.filter(codename__in=["access_admin", *codenames]))
    user.groups.add(group)
    return client_for(user)


def relay_down(mailer: str = "default", **fields) -> RelayState:
    values = {
        "state": RelayState.State.DOWN,
        "down_since": DOWN_SINCE,
        "first_failure_at": DOWN_SINCE - timedelta(minutes=1),
        "reason": "Connection refused",
        "next_probe_at": NEXT_CHECK,
        "consecutive_failures": 5,
        **fields,
    }
    return RelayState.objects.create(mailer=mailer, **values)


def banners(response) -> list[str]:
    soup = BeautifulSoup(response.content, "html.parser")
    return [
        li.get_text(" ", strip=True)
        for li in soup.select(".messages li")
        if "Mail server" in li.get_text()
    ]


@pytest.fixture
def waiting():
    """3,120 emails waiting (one message, not sent), and one sent."""
    message = make_message()
    make_receivers(3120, message, status=Status.NOT_SENT)
    make_receiver(message, status=Status.SENT, sent_datetime=timezone.now())


@pytest.fixture
def today(monkeypatch):
    """The moment the tests look from: the day of DOWN_SINCE, a little after."""
    now = NEXT_CHECK - timedelta(minutes=3)
    monkeypatch.setattr(timezone, "now", lambda: now)
    return now


# --- the banner ------------------------------------------------------------------------------


@pytest.mark.parametrize("url", ["/admin/", RECEIVERS, "/admin/messaging/messages/"])
def test_banner_shown_on_every_admin_page_while_the_server_is_down(url, make_user, waiting, today):
    relay_down()
    client = staff(make_user, "view_messagereceiver")
    response = client.get(url)
    assert response.status_code in (200, 302)
    if response.status_code == 302:  # a page this user may not open: the dashboard then
        response = client.get(response["Location"])
    assert banners(response) == [
        "Mail server unreachable since 10:42 (Connection refused). 3,120 emails waiting. "
        "Next check at 10:50. Waiting emails"
    ]


def test_banner_links_to_the_waiting_emails(admin_client, waiting, today):
    relay_down()
    soup = BeautifulSoup(admin_client.get("/admin/").content, "html.parser")
    [button] = [a for a in soup.select(".messages li a") if a.get_text() == "Waiting emails"]
    assert button["href"] == f"{RECEIVERS}?status=not_sent&status=failed"


def test_banner_not_shown_while_the_server_is_up(admin_client, waiting, today):
    RelayState.objects.create(mailer="default", last_success_at=today)
    assert banners(admin_client.get("/admin/")) == []
    assert banners(admin_client.get(RECEIVERS)) == []


def test_banner_not_shown_to_a_user_who_cannot_see_the_emails(make_user, today):
    relay_down()
    editor = staff(make_user, "view_messagetemplate", name="editor")
    response = editor.get("/admin/")
    assert response.status_code == 200
    assert banners(response) == []
    assert b"Connection refused" not in response.content


def test_banner_in_the_users_time_zone_and_language_numbers(make_user, waiting, today):
    relay_down()
    user = make_user("tokyo", is_superuser=True, is_staff=True)
    profile = UserProfile.get_for_user(user)
    profile.current_time_zone = "Asia/Tokyo"  # UTC+9
    profile.save()
    [text] = banners(client_for(user).get("/admin/"))
    assert "unreachable since 18:42 " in text
    assert "Next check at 18:50." in text
    assert "3,120 emails waiting." in text


def test_banner_escapes_what_the_server_said(admin_client, today):
    relay_down(reason='<img src=x onerror="alert(1)">\n  line two')
    html = admin_client.get("/admin/").content.decode()
    assert "<img src=x" not in html
    assert "(&lt;img src=x onerror=&quot;alert(1)&quot;&gt; line two)" in html


def test_banner_names_each_mailer_when_there_are_several(admin_client, use_mailers, today):
    use_mailers(default=local_smtp(2525), backup=local_smtp(2526))
    relay_down("backup", reason="", next_probe_at=None, down_since=DOWN_SINCE - timedelta(days=1))
    RelayState.objects.create(mailer="default")
    assert banners(admin_client.get("/admin/")) == [
        "Mail server “backup” unreachable since 6 Dec 10:42. 0 emails waiting. Waiting emails"
    ]


def test_banner_costs_one_query_while_all_is_up(admin_client, today, django_assert_num_queries):
    from messaging.admin.banner import add_relay_banner

    RelayState.objects.create(mailer="default")
    request = admin_client.get("/admin/").wsgi_request
    delattr(request, "_messaging_relay_banner")
    with django_assert_num_queries(1):
        add_relay_banner(request, [])


# --- the dashboard panel ---------------------------------------------------------------------


def relay_rows(response) -> dict[str, list[str]]:
    soup = BeautifulSoup(response.content, "html.parser")
    panel = soup.select_one("[data-messaging-relays]")
    return {
        row["data-relay"]: [cell.get_text(" ", strip=True) for cell in row.select("th, td")][1:]
        for row in panel.select("tbody tr")
    }


def test_panel_says_no_send_yet_before_any_row(admin_client):
    assert relay_rows(admin_client.get("/admin/")) == {"default": ["Not used yet", "No send yet"]}


def test_panel_shows_state_and_last_success(admin_client, use_mailers, today):
    use_mailers(default=local_smtp(2525), backup=local_smtp(2526))
    RelayState.objects.create(mailer="default", last_success_at=NEXT_CHECK - timedelta(hours=1))
    relay_down("backup", last_success_at=DOWN_SINCE - timedelta(minutes=5))
    rows = relay_rows(admin_client.get("/admin/"))
    assert rows == {
        "default": ["Up", "Dec. 7, 2026, 9:50 a.m.", "", "", ""],
        "backup": [
            "Down",
            "Dec. 7, 2026, 10:37 a.m.",
            "Dec. 7, 2026, 10:42 a.m.",
            "Connection refused",
            "Dec. 7, 2026, 10:50 a.m.",
        ],
    }


def test_panel_shows_failures_of_a_relay_still_up(admin_client):
    RelayState.objects.create(mailer="default", consecutive_failures=2)
    assert relay_rows(admin_client.get("/admin/"))["default"][0] == "Up 2 failures in a row"


def test_panel_hidden_without_permission(make_user):
    editor = staff(make_user, "view_messagetemplate", name="editor")
    assert b"data-messaging-relays" not in editor.get("/admin/").content


# --- sent_via: the receiver's page, the export, the filter ---------------------------------


@pytest.fixture
def sent_via(use_mailers):
    use_mailers(default=local_smtp(2525), backup=local_smtp(2526))
    message = make_message()
    now = timezone.now()
    return {
        alias: make_receiver(
            message, status=Status.SENT, sent_datetime=now, sent_via=alias, subject=alias
        )
        for alias in ["default", "backup"]
    } | {"unsent": make_receiver(message, status=Status.NOT_SENT, subject="unsent")}


def test_receiver_page_shows_the_mailer(admin_client, sent_via):
    html = admin_client.get(f"{RECEIVERS}inspect/{sent_via['backup'].pk}/").content.decode()
    soup = BeautifulSoup(html, "html.parser")
    labels = [dt.get_text(strip=True) for dt in soup.select("dt")]
    values = [dd.get_text(strip=True) for dd in soup.select("dd")]
    assert dict(zip(labels, values, strict=False))["Sent via"] == "backup"


def test_export_has_the_mailer(admin_client, sent_via, django_assert_max_num_queries):
    make_receivers(20, sent_via["default"].message, status=Status.SENT, sent_via="backup")
    with django_assert_max_num_queries(10):  # not one query per row for a deferred column
        response = admin_client.get(RECEIVERS, {"export": "csv"})
        content = b"".join(response.streaming_content).decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(content)))
    assert len(rows) == 23
    assert {row["Subject"]: row["Sent via"] for row in rows[-3:]} == {
        "default": "default",
        "backup": "backup",
        "unsent": "",
    }


def test_receivers_list_filters_by_mailer(admin_client, sent_via):
    response = admin_client.get(RECEIVERS, {"sent_via": "backup"})
    assert {obj.pk for obj in response.context["object_list"]} == {sent_via["backup"].pk}
    soup = BeautifulSoup(response.content, "html.parser")
    options = [field["value"] for field in soup.select("[name=sent_via]") if field.get("value")]
    options += [o["value"] for o in soup.select("select[name=sent_via] option") if o["value"]]
    assert set(options) == {"default", "backup"}


def test_filter_offers_a_mailer_no_longer_configured(admin_client, sent_via):
    RelayState.objects.create(mailer="old-relay")
    receiver = make_receiver(status=Status.SENT, sent_via="old-relay")
    response = admin_client.get(RECEIVERS, {"sent_via": "old-relay"})
    assert {obj.pk for obj in response.context["object_list"]} == {receiver.pk}


def test_filter_refuses_an_unknown_mailer_without_listing_everything(admin_client, sent_via):
    response = admin_client.get(RECEIVERS, {"sent_via": "nope\x00"})
    assert response.status_code == 200
    assert list(response.context["object_list"]) == []
    assert "sent_via" in response.content.decode()


def panel_order(response) -> list[str]:
    soup = BeautifulSoup(response.content, "html.parser")
    names = {"data-messaging-relays": "relays", "data-messaging-summary": "summary"}
    found = soup.find_all(lambda tag: any(tag.has_attr(name) for name in names))
    return [next(names[name] for name in names if tag.has_attr(name)) for tag in found]


def test_panel_comes_first_only_while_a_relay_is_down(admin_client):
    RelayState.objects.create(mailer="default")
    assert panel_order(admin_client.get("/admin/")) == ["summary", "relays"]
    RelayState.objects.all().delete()
    relay_down()
    assert panel_order(admin_client.get("/admin/")) == ["relays", "summary"]
