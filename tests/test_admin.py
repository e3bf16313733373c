"""The Wagtail admin of messages and receivers, through Django's test client."""

from __future__ import annotations

import csv
import io
import os
import re
from datetime import UTC, datetime, timedelta

import openpyxl
import pytest
from bs4 import BeautifulSoup
from django.contrib.auth.models import Group, Permission
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from messaging import conf
from messaging.models import Message, MessageReceiver
from tests.factories import make_message, make_receiver

Status = MessageReceiver.Status
RECEIVERS = "/admin/messaging/receivers/"
MESSAGES = "/admin/messaging/messages/"
RESEND = reverse("wagtail_bulk_action", args=["messaging", "messagereceiver", "resend"])
TRACEBACK = (
    "Traceback (most recent call last):\n"
    '  File "/srv/messaging/sending.py", line 42, in send_one\n'
    "    connection.send_messages([email])\n"
    "smtplib.SMTPRecipientsRefused: {'x@refused.example.org': (550, b'<unknown user>')}\n"
)


def error(message: str, minutes_ago: int, traceback: str = TRACEBACK) -> dict:
    when = timezone.now() - timedelta(minutes=minutes_ago)
    return {
        "error_message": message,
        "timestamp": when.isoformat(),
        "exception_traceback": traceback,
    }


@pytest.fixture
def records(make_user):
    alice = make_user("alice", first_name="Alice", last_name="Liddell")
    bob = make_user("bob", first_name="Bob", last_name="Builder", email="bob@builders.example")
    deadline = make_message(Message.Status.SENT, context_type="deadline_moved")
    comment = make_message(Message.Status.SENDING, context_type="comment_added")
    now = timezone.now()
    return {
        "alice": alice,
        "bob": bob,
        "deadline": deadline,
        "comment": comment,
        "sent": make_receiver(
            deadline,
            alice,
            status=Status.SENT,
            sent_datetime=now,
            sending_success_count=1,
            language="en",
        ),
        "failed": make_receiver(
            deadline,
            bob,
            subject="Assignment 3 deadline",
            status=Status.FAILED,
            sending_failed_count=2,
            language="nb",
            status_data={"errors": [error("older failure", 60), error("newest failure", 5)]},
        ),
        "error": make_receiver(
            comment,
            alice,
            subject="New comment",
            status=Status.ERROR,
            sending_failed_count=3,
            created_datetime=now - timedelta(days=40),
        ),
        "not_sent": make_receiver(comment, bob, subject="New comment", status=Status.NOT_SENT),
    }


@pytest.fixture
def admin_client(make_user):
    client = Client()
    client.force_login(make_user("root", is_superuser=True, is_staff=True))
    return client


def viewer(make_user, *codenames: str):
    user = make_user("viewer" + "_".join(codenames))
    group = Group.objects.create(name="Messaging " + " ".join(codenames))
    group.permissions.add(
        Permission.objects.get(codename="access_admin"),
        *Permission.objects.filter(codename__in=codenames),
    )
    user.groups.add(group)
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    return client


@pytest.fixture
def staff_client(make_user):
    """Can look at receivers and messages, cannot resend."""
    return viewer(make_user, "view_messagereceiver", "view_message")


@pytest.fixture
def resender_client(make_user):
    return viewer(make_user, "resend_messagereceiver")


def listed_ids(response) -> set[int]:
    return {obj.pk for obj in response.context["object_list"]}


def column_headings(html: str) -> list[str]:
    """The headings of the listing's table, in order ("" for the select-all checkbox)."""
    soup = BeautifulSoup(html, "html.parser")
    return [th.get_text(" ", strip=True) for th in soup.select("table.listing thead th")]


def row_cells(html: str, pk: int, folds: bool = False) -> dict[str, str]:
    """The text of each cell of the listing's row whose ID is ``pk``, by column heading.

    Without ``folds``, the lines that repeat other columns' values in narrow windows
    (``.msg-fold``) are left out; with it, only those lines are kept.
    """
    soup = BeautifulSoup(html, "html.parser")
    headings = column_headings(html)
    for fold in soup.select(".msg-fold"):
        if folds:
            fold.replace_with(f" [{fold.get_text(' ', strip=True)}] ")
        else:
            fold.decompose()
    for row in soup.select("table.listing tbody tr"):
        cells = [td.get_text(" ", strip=True) for td in row.find_all("td", recursive=False)]
        by_heading = dict(zip(headings, cells, strict=True))
        if by_heading["ID"] == str(pk):
            return by_heading
    raise AssertionError(f"no row with ID {pk}")


# --- the receivers listing ---------------------------------------------------------------


def test_list_shows_columns_and_status_tags(admin_client, records):
    response = admin_client.get(RECEIVERS)
    assert response.status_code == 200
    assert listed_ids(response) == {r.pk for k, r in records.items() if k in Status.values}
    html = response.content.decode()
    assert column_headings(html) == RECEIVER_COLUMNS
    row = row_cells(html, records["failed"].pk)
    del row["Created"]  # "Just now", or a minute ago on a slow machine
    assert row == {
        "": "",  # the checkbox
        "ID": str(records["failed"].pk),
        "Subject": "Assignment 3 deadline",
        "User": "Bob Builder bob@builders.example",
        "Language": "Norwegian Bokmål",
        "Failed": "2",
        "Succeeded": "0",
        "Status": "Failed",
        "Sent": "",
        "Last error": "newest failure",
        "Context type": "Deadline moved",
    }
    assert 'class="w-status msg-status msg-status--failed"' in html
    assert f"{RECEIVERS}inspect/{records['failed'].pk}/" in html


def test_narrow_windows_show_hidden_columns_inside_other_cells(admin_client, records):
    html = admin_client.get(RECEIVERS).content.decode()
    row = row_cells(html, records["failed"].pk, folds=True)
    # Below 1600 px: language and context type under the subject, the counts (zero ones
    # left out) under the status; below 1200 px also the last error.
    assert row["Subject"] == "Assignment 3 deadline [Norwegian Bokmål · Deadline moved]"
    assert row["Status"] == "Failed [Failed: 2] [newest failure]"
    soup = BeautifulSoup(html, "html.parser")
    headers = {th.get_text(" ", strip=True): th["class"] for th in soup.select("thead th")}
    for heading in ["Language", "Failed", "Succeeded", "Context type"]:
        assert "msg-from-xl" in headers[heading]
    for heading in ["Created", "Last error"]:
        assert "msg-from-lg" in headers[heading]
    for heading in ["ID", "Subject", "User", "Status", "Sent"]:
        assert not {"msg-from-lg", "msg-from-xl"} & set(headers[heading])


RECEIVER_COLUMNS = [
    "",  # the select-all checkbox
    "ID",
    "Created",
    "Subject",
    "User",
    "Language",
    "Failed",
    "Succeeded",
    "Status",
    "Sent",
    "Last error",
    "Context type",
]


def test_list_is_dense_and_readable(admin_client, records):
    html = admin_client.get(RECEIVERS).content.decode()
    # One line per subject, the whole subject in the tooltip.
    assert 'title="Assignment 3 deadline"' in html
    assert 'class="msg-one-line msg-flex msg-flex--title title"' in html
    # Only the newest error of failed and error receivers.
    assert "newest failure" in html
    assert "older failure" not in html


def query_count(client, url: str) -> list[str]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return [q["sql"] for q in queries]


@pytest.mark.parametrize("url", [RECEIVERS, MESSAGES])
def test_lists_read_avatars_and_counts_without_a_query_per_row(
    admin_client, records, make_user, url
):
    from wagtail.users.models import UserProfile

    query_count(admin_client, url)  # the first request sets up sessions and locales
    few = query_count(admin_client, url)
    for n in range(15):
        user = make_user(f"many{n}", first_name="Many", last_name=str(n))
        UserProfile.get_for_user(user)  # a profile, as every user who changed a preference has
        message = Message.objects.create(context_type="other", created_by=user)
        make_receiver(message, user, status=Status.FAILED, status_data={"errors": [error("x", 1)]})
    many = query_count(admin_client, url)
    assert len(many) == len(few), many[len(few) :]
    count = next(sql for sql in many if "COUNT(" in sql and "messagereceiver" in sql)
    assert "status_data" not in count  # the last error is read for shown rows only


def test_avatars_never_come_from_gravatar(admin_client, records):
    html = admin_client.get(RECEIVERS).content.decode()
    assert "default-user-avatar" in html  # Wagtail's own picture
    assert "gravatar" not in html


def test_last_error_is_read_by_the_database(records):
    receivers = MessageReceiver.objects.with_last_error().only("id").order_by("id")
    errors = {r.pk: r.last_error for r in receivers}
    assert errors[records["failed"].pk] == "newest failure"
    assert errors[records["sent"].pk] is None  # sent: no error shown, whatever is stored
    assert errors[records["error"].pk] is None  # in error, with no stored message


def test_message_label_uses_the_context_type_label_and_local_time(admin_client, records):
    message = records["deadline"]
    Message.objects.filter(pk=message.pk).update(created_datetime=EXPORTED_AT)
    html = inspect(admin_client, records["failed"]).content.decode()
    # 12:34 UTC is 13:34 in Oslo, the time zone the rest of the page uses.
    assert f"Message #{message.pk} – Deadline moved – 2026-01-15 13:34" in html
    assert "deadline_moved" not in html


def test_list_does_not_load_the_wide_columns(admin_client, records, django_assert_max_num_queries):
    with django_assert_max_num_queries(12):
        response = admin_client.get(RECEIVERS)
    receiver = response.context["object_list"][0]
    assert {"message_content_html", "message_content_plain", "status_data"} <= (
        receiver.get_deferred_fields()
    )


def test_list_loads_the_fields_its_columns_show(admin_client, records):
    receiver = admin_client.get(RECEIVERS).context["object_list"][0]
    fields = {field.attname for field in MessageReceiver._meta.concrete_fields}
    assert fields - receiver.get_deferred_fields() == {
        "id",
        "created_datetime",
        "subject",
        "user_id",
        "send_to",  # the User column shows the address
        "language",
        "sending_failed_count",
        "sending_success_count",
        "status",
        "sent_datetime",
        "message_id",  # the Context type column reads the message
    }


def test_columns_say_which_fields_they_read():
    from wagtail.admin.ui.tables import BulkActionsCheckboxColumn, Column

    from messaging.admin.columns import ContextTypeColumn, LastErrorColumn, fields_read

    columns = [
        BulkActionsCheckboxColumn("bulk_actions", obj_type="receiver"),  # no field of that name
        Column("subject"),  # the field of its name
        ContextTypeColumn(),  # fields of the related message
        LastErrorColumn(),  # a database annotation: no field
        Column("subject"),
    ]
    assert fields_read(columns, MessageReceiver) == [
        "id",
        "subject",
        "message__id",
        "message__context_type",
    ]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("status=failed", {"failed"}),
        ("status=failed&status=error", {"failed", "error"}),
        ("context_type=comment_added", {"error", "not_sent"}),
        ("language=nb", {"failed"}),
        ("message_type=email", {"sent", "failed", "error", "not_sent"}),
        ("sent_datetime=today", {"sent"}),
        ("sent_datetime=no_date", {"failed", "error", "not_sent"}),
        ("sent_datetime=has_date", {"sent"}),
        ("sent_datetime=this_year", {"sent"}),
    ],
)
def test_filters(admin_client, records, query, expected):
    response = admin_client.get(f"{RECEIVERS}?{query}")
    assert response.status_code == 200
    assert listed_ids(response) == {records[name].pk for name in expected}


def test_date_range_filters(admin_client, records):
    today = timezone.localdate()
    recent = f"created_datetime_from={today - timedelta(days=2):%Y-%m-%d}"
    response = admin_client.get(f"{RECEIVERS}?{recent}")
    assert records["error"].pk not in listed_ids(response)
    assert records["sent"].pk in listed_ids(response)
    old = f"created_datetime_to={today - timedelta(days=30):%Y-%m-%d}"
    assert listed_ids(admin_client.get(f"{RECEIVERS}?{old}")) == {records["error"].pk}
    sent = f"sent_range_from={today:%Y-%m-%d}&sent_range_to={today:%Y-%m-%d}"
    assert listed_ids(admin_client.get(f"{RECEIVERS}?{sent}")) == {records["sent"].pk}


def test_message_filter(admin_client, records):
    response = admin_client.get(f"{RECEIVERS}?message={records['comment'].pk}")
    assert listed_ids(response) == {records["error"].pk, records["not_sent"].pk}


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("assignment 3", {"failed"}),  # subject, any case
        ("Liddell", {"sent", "error"}),  # last name
        ("alice", {"sent", "error"}),  # first name and username
        ("builders.example", {"failed", "not_sent"}),  # email
        ("Bob Builder", {"failed", "not_sent"}),  # first and last name
        ("builder BOB", {"failed", "not_sent"}),  # any order, any case
        ("deadline Assignment", {"failed"}),  # subject words out of order
        ("alice comment", {"error"}),  # a name and a subject word
        ("alice  builder", set()),  # every word must match
    ],
)
def test_search(admin_client, records, q, expected):
    response = admin_client.get(RECEIVERS, {"q": q})
    assert listed_ids(response) == {records[name].pk for name in expected}


def test_search_looks_in_the_user_fields_of_the_setting(admin_client, records, settings):
    assert conf.user_search_fields() == ["first_name", "last_name", "username", "email"]
    settings.MESSAGING_USER_SEARCH_FIELDS = ["username"]
    assert listed_ids(admin_client.get(RECEIVERS, {"q": "Liddell"})) == set()  # a last name
    alice = listed_ids(admin_client.get(RECEIVERS, {"q": "alice"}))
    assert alice == {records["sent"].pk, records["error"].pk}


def test_search_with_many_matching_users(admin_client, records, monkeypatch):
    monkeypatch.setattr("messaging.admin.search.USER_IDS_INLINE_LIMIT", 0)  # use the subquery
    response = admin_client.get(RECEIVERS, {"q": "liddell"})
    assert listed_ids(response) == {records["sent"].pk, records["error"].pk}


def test_search_indexes_on_postgres(require_postgres):
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname FROM pg_indexes WHERE tablename = 'messaging_messagereceiver'"
        )
        names = {row[0] for row in cursor.fetchall()}
    assert {"msg_rcv_subject_trgm", "msg_rcv_send_to_trgm"} <= names


def test_search_and_filter_combine(admin_client, records):
    response = admin_client.get(RECEIVERS, {"q": "bob", "status": "failed"})
    assert listed_ids(response) == {records["failed"].pk}


def test_sorting(admin_client, records):
    response = admin_client.get(RECEIVERS, {"ordering": "sending_failed_count"})
    counts = [r.sending_failed_count for r in response.context["object_list"]]
    assert counts == sorted(counts)
    response = admin_client.get(RECEIVERS, {"ordering": "-sending_failed_count"})
    assert [r.sending_failed_count for r in response.context["object_list"]][0] == 3


def test_pagination(admin_client, records):
    message = records["deadline"]
    MessageReceiver.objects.bulk_create(
        [MessageReceiver(message=message, subject=f"Bulk {i}") for i in range(60)]
    )
    first = admin_client.get(RECEIVERS)
    assert len(first.context["object_list"]) == 50
    assert first.context["paginator"].count == 64
    second = admin_client.get(RECEIVERS, {"p": 2})
    assert len(second.context["object_list"]) == 14


def test_pagination_count_is_capped(admin_client, records, monkeypatch):
    from messaging.admin.pagination import CappedPaginator

    monkeypatch.setattr(CappedPaginator, "cap", 2)
    response = admin_client.get(RECEIVERS)
    assert response.context["paginator"].is_capped
    assert "There are more than 2 matches" in response.content.decode()


def export_rows(response) -> list[list]:
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))


def test_export_csv_uses_the_filters(admin_client, records):
    response = admin_client.get(RECEIVERS, {"status": "failed", "export": "csv"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    rows = export_rows(response)
    assert rows[0] == EXPORT_HEADINGS
    assert len(rows) == 2
    row = dict(zip(rows[0], rows[1], strict=True))
    assert row["ID"] == str(records["failed"].pk)
    assert row["Subject"] == "Assignment 3 deadline"
    assert row["User"] == "Bob Builder (bob)"
    assert row["Email address"] == "bob@builders.example"
    assert row["Language"] == "Norwegian Bokmål"
    assert row["Status"] == "Failed"
    assert row["Context type"] == "Deadline moved"
    assert row["Last error"] == "newest failure"


EXPORT_HEADINGS = [
    "ID",
    "Created",
    "Subject",
    "User",
    "Email address",
    "Language",
    "Failed count",
    "Success count",
    "Status",
    "Sent",
    "Sent via",
    "Context type",
    "Last error",
]
# 12:34:56.789 UTC on a winter day is 13:34:56 in Oslo, the test site's time zone.
EXPORTED_AT = datetime(2026, 1, 15, 12, 34, 56, 789000, tzinfo=UTC)


def test_export_times_are_in_the_site_time_zone_without_microseconds(admin_client, records):
    MessageReceiver.objects.filter(pk=records["sent"].pk).update(
        created_datetime=EXPORTED_AT, sent_datetime=EXPORTED_AT
    )
    rows = export_rows(admin_client.get(RECEIVERS, {"status": "sent", "export": "csv"}))
    row = dict(zip(rows[0], rows[1], strict=True))
    assert (row["Created"], row["Sent"]) == ("2026-01-15 13:34:56", "2026-01-15 13:34:56")
    assert (row["Last error"], row["Status"]) == ("", "Sent")  # no error column for sent ones

    response = admin_client.get(RECEIVERS, {"status": "sent", "export": "xlsx"})
    workbook = openpyxl.load_workbook(io.BytesIO(b"".join(response.streaming_content)))
    headings, values = list(workbook.active.iter_rows(values_only=True))
    cells = dict(zip(headings, values, strict=True))
    assert cells["Created"] == cells["Sent"] == datetime(2026, 1, 15, 13, 34, 56)
    assert cells["Email address"] == "alice@example.org"


def test_export_csv_never_writes_a_formula(admin_client, records):
    records["failed"].user.first_name = '=HYPERLINK("http://evil.example")'
    records["failed"].user.save()
    response = admin_client.get(RECEIVERS, {"status": "failed", "export": "csv"})
    rows = export_rows(response)
    assert rows[1][3].startswith("'=HYPERLINK(")


def test_export_xlsx(admin_client, records):
    response = admin_client.get(RECEIVERS, {"q": "alice", "export": "xlsx"})
    assert response.status_code == 200
    workbook = openpyxl.load_workbook(io.BytesIO(b"".join(response.streaming_content)))
    rows = list(workbook.active.iter_rows(values_only=True))
    assert rows[0][0] == "ID"
    assert {row[0] for row in rows[1:]} == {records["sent"].pk, records["error"].pk}


# --- read-only ---------------------------------------------------------------------------


def test_no_add_edit_or_delete(admin_client, records):
    pk = records["failed"].pk
    for url in [f"{RECEIVERS}new/", f"{RECEIVERS}edit/{pk}/", f"{RECEIVERS}delete/{pk}/"]:
        assert admin_client.get(url).status_code == 404
        assert admin_client.post(url, {"subject": "changed"}).status_code == 404
    html = admin_client.get(RECEIVERS).content.decode()
    assert f"{RECEIVERS}new/" not in html and f"{RECEIVERS}edit/" not in html
    records["failed"].refresh_from_db()
    assert records["failed"].subject == "Assignment 3 deadline"


def test_policy_refuses_writes_even_to_superusers(make_user):
    from wagtail.permissions import policy_registry

    root = make_user("root2", is_superuser=True)
    for model in (Message, MessageReceiver):
        policy = policy_registry.get_by_type(model)
        assert policy.user_has_permission(root, "view")
        for action in ("add", "change", "delete"):
            assert not policy.user_has_permission(root, action)


def test_groups_are_offered_only_the_permissions_honoured(db):
    from messaging.admin.views.messages import MessageViewSet
    from messaging.admin.views.receivers import MessageReceiverViewSet

    receivers = MessageReceiverViewSet().get_permissions_to_register()
    assert {p.codename for p in receivers} == {"view_messagereceiver", "resend_messagereceiver"}
    messages = MessageViewSet().get_permissions_to_register()
    assert {p.codename for p in messages} == {"view_message", "stop_message"}


def test_staff_can_look(staff_client, records):
    assert staff_client.get(RECEIVERS).status_code == 200
    assert staff_client.get(f"{RECEIVERS}inspect/{records['failed'].pk}/").status_code == 200
    assert staff_client.get(MESSAGES).status_code == 200


def test_users_without_permission_are_refused(make_user, records):
    client = viewer(make_user)  # admin access only
    assert client.get(RECEIVERS).status_code == 302
    assert client.get(MESSAGES).status_code == 302


def test_menu_group(admin_client, records):
    html = admin_client.get("/admin/").content.decode()
    assert "Messaging" in html
    assert RECEIVERS in html and MESSAGES in html


# --- bulk resend ---------------------------------------------------------------------------


def bulk_url(*receivers, extra: str = "") -> str:
    ids = "&".join(f"id={r.pk}" for r in receivers)
    return f"{RESEND}?{ids}&next={RECEIVERS}{extra}"


def pending(*receivers) -> list[int]:
    return [MessageReceiver.objects.get(pk=r.pk).pending_sends for r in receivers]


def test_list_has_bulk_checkboxes_and_resend_button(admin_client, records):
    html = admin_client.get(RECEIVERS).content.decode()
    assert "data-bulk-action-checkbox" in html
    assert f'data-object-id="{records["failed"].pk}"' in html
    assert RESEND in html
    assert "bulk-actions.js" in html


def test_bulk_resend_confirmation_lists_receivers(admin_client, records):
    response = admin_client.get(bulk_url(records["sent"], records["failed"]))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Assignment 3 deadline" in html and "Bob Builder" in html
    assert "msg-status--sent" in html and "msg-status--failed" in html
    for receiver in (records["sent"], records["failed"]):  # each links to its own page
        assert f'href="{RECEIVERS}inspect/{receiver.pk}/" target="_blank"' in html
    assert pending(records["sent"], records["failed"]) == [0, 0]  # GET changes nothing


def test_bulk_resend_confirmation_sums_up_and_says_no_address(admin_client, records, make_user):
    nobody = make_user("nils", email="", first_name="Nils", last_name="Berg")
    no_address = make_receiver(records["deadline"], nobody, status=Status.FAILED)
    targets = [records["sent"], records["failed"], records["error"], no_address]
    html = admin_client.get(bulk_url(*targets)).content.decode()
    assert "4 selected: 2 failed, 1 error, 1 already sent" in html
    assert "Nils Berg" in html and "no address" in html
    assert "&lt;&gt;" not in html


def test_bulk_resend_post_resends_whatever_the_status(admin_client, records, on_commit, mailoutbox):
    targets = records["sent"], records["error"]
    response = on_commit(admin_client.post, bulk_url(*targets), follow=True)
    assert response.redirect_chain[-1][0].startswith(RECEIVERS)
    assert "2 receivers were queued for sending." in response.content.decode()
    # The immediate task backend delivered both again: one more success each.
    counts = [MessageReceiver.objects.get(pk=r.pk).sending_success_count for r in targets]
    assert counts == [2, 1]
    assert len(mailoutbox) == 2


def test_select_all_respects_filters_and_search(admin_client, records):
    url = f"{RESEND}?id=all&status=failed&status=not_sent&q=bob&next={RECEIVERS}"
    html = admin_client.get(url).content.decode()
    assert "Assignment 3 deadline" in html and "Resend to 2 receivers" in html
    assert "Deadline moved" not in html  # records["sent"] is outside the filter
    response = admin_client.post(url, follow=True)
    assert "2 receivers were queued for sending." in response.content.decode()
    asked = MessageReceiver.objects.filter(pending_sends=1).values_list("pk", flat=True)
    assert sorted(asked) == sorted([records["failed"].pk, records["not_sent"].pk])


def test_select_all_with_an_invalid_filter_selects_nothing(admin_client, records):
    url = f"{RESEND}?id=all&status=bogus&next={RECEIVERS}"
    html = admin_client.get(url).content.decode()
    assert "A filter cannot be used: status:" in html
    admin_client.post(url)
    assert not MessageReceiver.objects.filter(pending_sends__gt=0).exists()


def test_select_all_of_many_receivers_confirms_a_count_then_asks_in_chunks(
    admin_client, make_user, django_capture_on_commit_callbacks, settings
):
    """Issue 9: a select-all resend reads ids only and shows a count, not every row."""
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.dummy.DummyBackend"}}
    settings.MESSAGING_BATCH_SIZE = 1000
    message = make_message()
    user = make_user("many")
    MessageReceiver.objects.bulk_create(
        [MessageReceiver(message=message, user=user, subject=f"S{i}") for i in range(2500)]
    )
    url = f"{RESEND}?id=all&message={message.pk}&next={RECEIVERS}"
    response = admin_client.get(url)
    html = response.content.decode()
    assert "Resend to 2500 receivers" in html and "… and 2300 more." in html
    assert len(response.context["items"]) == 200
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(url, follow=True)
    assert "2500 receivers were queued for sending." in response.content.decode()
    assert MessageReceiver.objects.filter(pending_sends=1).count() == 2500
    from django_tasks import default_task_backend

    enqueued = [len(result.args[0]) for result in default_task_backend.results]
    assert enqueued == [1000, 1000, 500]


@pytest.mark.parametrize("ids", ["id=abc", "id=", "id=1&id=x", "id=99999999999999999999999"])
def test_bulk_resend_refuses_garbage_ids(admin_client, records, ids):
    response = admin_client.get(f"{RESEND}?{ids}&next={RECEIVERS}")
    assert response.status_code == 400
    assert admin_client.post(f"{RESEND}?{ids}&next={RECEIVERS}").status_code == 400
    assert not MessageReceiver.objects.filter(pending_sends__gt=0).exists()


def test_listing_with_an_impossible_message_id_is_empty_with_a_message(admin_client, records):
    response = admin_client.get(f"{RECEIVERS}?message=99999999999999999999999")
    assert response.status_code == 200
    assert listed_ids(response) == set()
    assert "A filter cannot be used: message:" in response.content.decode()


def test_search_with_a_nul_byte_is_empty_with_a_message(admin_client, records):
    response = admin_client.get(f"{RECEIVERS}?q=%00")
    assert response.status_code == 200
    assert listed_ids(response) == set()
    assert "The search text cannot be used" in response.content.decode()
    url = f"{RESEND}?id=all&q=%00&next={RECEIVERS}"
    html = admin_client.get(url).content.decode()
    assert "The search text cannot be used" in html
    admin_client.post(url)
    assert not MessageReceiver.objects.filter(pending_sends__gt=0).exists()


def test_staff_without_resend_permission_is_refused(staff_client, records):
    token = staff_client.get(RECEIVERS).cookies["csrftoken"].value
    response = staff_client.post(bulk_url(records["failed"]), {"csrfmiddlewaretoken": token})
    assert (response.status_code, response.url) == (302, RECEIVERS)  # refused, not CSRF
    assert pending(records["failed"]) == [0]


def test_refused_bulk_resend_stays_on_the_listing_and_names_the_permission(staff_client, records):
    response = staff_client.get(bulk_url(records["failed"], extra="?status=failed"), follow=True)
    assert response.redirect_chain == [(f"{RECEIVERS}?status=failed", 302)]
    html = response.content.decode()
    assert "Can resend message receivers" in html
    assert "messaging.resend_messagereceiver" in html
    assert listed_ids(response) == {records["failed"].pk}
    # Without a page to go back to, the listing itself.
    response = staff_client.get(f"{RESEND}?id={records['failed'].pk}")
    assert (response.status_code, response.url) == (302, RECEIVERS)


def test_staff_without_resend_permission_are_offered_no_resend(staff_client, records):
    html = staff_client.get(RECEIVERS).content.decode()
    assert "data-bulk-action-checkbox" not in html
    assert "data-bulk-action-footer" not in html
    assert RESEND not in html
    assert "Assignment 3 deadline" in html  # the rows themselves are there


def test_resend_permission_alone_offers_checkboxes_and_resend(resender_client, records):
    html = resender_client.get(RECEIVERS).content.decode()
    assert f'data-object-id="{records["failed"].pk}"' in html
    assert RESEND in html


def test_resend_permission_allows_and_needs_csrf(resender_client, records):
    url = bulk_url(records["failed"])
    confirm = resender_client.get(url)
    assert confirm.status_code == 200
    assert resender_client.post(url).status_code == 403  # no CSRF token
    token = confirm.cookies["csrftoken"].value
    response = resender_client.post(url, {"csrfmiddlewaretoken": token})
    assert response.status_code == 302
    assert pending(records["failed"]) == [1]  # the test does not run on_commit callbacks


# --- inspect ---------------------------------------------------------------------------------


def inspect(client, receiver):
    return client.get(f"{RECEIVERS}inspect/{receiver.pk}/")


def test_inspect_shows_fields_plain_text_and_sandboxed_html(admin_client, records):
    receiver = records["failed"]
    receiver.message_content_html = '<p>Hi</p><script>parent.document.title="x"</script>'
    receiver.message_content_plain = "Hi\nsecond line"
    receiver.save()
    html = inspect(admin_client, receiver).content.decode()
    assert "bob@builders.example" in html and "Assignment 3 deadline" in html
    assert "Hi\nsecond line" in html
    assert (
        '<iframe class="msg-preview" sandbox srcdoc="&lt;p&gt;Hi&lt;/p&gt;&lt;script&gt;'
        'parent.document.title=&quot;x&quot;&lt;/script&gt;"' in html
    )
    assert "<script>parent.document" not in html
    assert "allow-scripts" not in html
    assert f"{MESSAGES}inspect/{records['deadline'].pk}/" in html


def inspected_fields(html: str) -> dict[str, str]:
    """The inspect page's fields: label -> the value as shown."""
    soup = BeautifulSoup(html, "html.parser")
    fields = soup.select_one(".msg-card dl")
    return {
        dt.get_text(strip=True): dd.get_text(" ", strip=True)
        for dt, dd in zip(fields.find_all("dt"), fields.find_all("dd"), strict=True)
    }


def test_inspect_shows_labels_not_keys_and_a_typographic_title(admin_client, records):
    html = inspect(admin_client, records["failed"]).content.decode()
    fields = inspected_fields(html)
    assert (fields["Language"], fields["Message type"]) == ("Norwegian Bokmål", "Email")
    assert (fields["Pending sends"], fields["Next attempt at"]) == ("0", "-")
    title = BeautifulSoup(html, "html.parser").title.get_text(strip=True)
    assert title.startswith("Inspect: Assignment 3 deadline → bob@builders.example")
    assert "-&gt;" not in html and " -> " not in html
    no_language = inspect(admin_client, records["sent"])
    assert inspected_fields(no_language.content.decode())["Language"] == "English"


@pytest.mark.parametrize("kind", ["receiver", "message"])
def test_stored_data_is_in_collapsed_wagtail_panels(admin_client, records, kind):
    if kind == "receiver":
        url, headings = f"{RECEIVERS}inspect/{records['failed'].pk}/", ["Status data", "Metadata"]
    else:
        url = f"{MESSAGES}inspect/{records['deadline'].pk}/"
        headings = ["Template context", "Status data", "Metadata"]
    soup = BeautifulSoup(admin_client.get(url).content.decode(), "html.parser")
    stored = soup.select_one("[data-stored-data]")
    panels = stored.select("section.w-panel[data-panel]")
    assert [panel.select_one("[data-panel-heading]").get_text(strip=True) for panel in panels] == (
        headings
    )
    for panel in panels:
        assert "collapsed" in panel["class"]  # Wagtail's script closes it, with its toggle
        toggle = panel.select_one("button[data-panel-toggle]")
        assert toggle["aria-controls"] == panel.select_one(".w-panel__content")["id"]
        assert panel.select_one(".w-panel__content pre.msg-pre")
    assert not stored.select("details")


def test_traceback_panel_newest_first_and_highlighted(admin_client, records):
    html = inspect(admin_client, records["failed"]).content.decode()
    assert html.index("newest failure") < html.index("older failure")
    assert 'class="msg-traceback"' in html
    # Pygments' tokens: the traceback's first line, a name, and the indented source line.
    assert '<span class="gt">Traceback (most recent call last):</span>' in html
    assert '<span class="n">send_one</span>' in html
    assert (
        '<span class="w">    </span><span class="n">connection</span><span class="o">.</span>'
        '<span class="n">send_messages</span>' in html
    )
    assert "\\n" not in html.split("data-traceback-panel")[1].split("</section>")[0]


def test_traceback_panel_warns_when_a_resend_may_duplicate(admin_client, records):
    receiver = records["failed"]
    dropped = {**error("connection dropped after data", 1), "ambiguous": True}
    receiver.status_data = {"errors": [error("refused", 2), dropped]}
    receiver.save()
    html = inspect(admin_client, receiver).content.decode()
    panel = html.split("data-traceback-panel")[1].split("</section>")[0]
    assert panel.count("data-error-ambiguous") == 1
    assert "may have delivered it. A resend may deliver it twice." in panel
    assert panel.index("connection dropped") < panel.index("data-error-ambiguous")


def test_long_tracebacks_are_collapsed(admin_client, records):
    receiver = records["failed"]
    long_traceback = "Traceback (most recent call last):\n" + "  File 'x.py', line 1\n" * 30
    receiver.status_data = {"errors": [error("long one", 1, long_traceback), error("short one", 0)]}
    receiver.save()
    html = inspect(admin_client, receiver).content.decode()
    assert '<details class="msg-error__traceback" open>' in html  # the short one
    assert '<details class="msg-error__traceback" >' in html  # the long one


def test_traceback_panel_escapes_stored_text(admin_client, records):
    receiver = records["failed"]
    receiver.status_data = {
        "errors": [error("<img src=x onerror=alert(1)>", 1, "Traceback:\n<b>bold</b>\n")]
    }
    receiver.save()
    html = inspect(admin_client, receiver).content.decode()
    assert "<img src=x" not in html and "<b>bold</b>" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html


def test_inspect_without_errors(admin_client, records):
    assert "No failed attempts." in inspect(admin_client, records["sent"]).content.decode()


def test_resend_button_posts_with_csrf(resender_client, records):
    receiver = records["error"]
    page = inspect(resender_client, receiver)
    html = page.content.decode()
    resend = f"{RECEIVERS}resend/{receiver.pk}/"
    assert f'action="{resend}"' in html and 'form="messaging-resend-form"' in html
    assert resender_client.get(resend).status_code == 405
    assert resender_client.post(resend).status_code == 403  # CSRF
    token = page.cookies["csrftoken"].value
    response = resender_client.post(resend, {"csrfmiddlewaretoken": token})
    assert response.status_code == 302
    assert pending(receiver) == [1]


def test_resend_button_refused_without_permission(staff_client, records):
    receiver = records["error"]
    page = inspect(staff_client, receiver)
    assert 'form="messaging-resend-form"' not in page.content.decode()
    token = page.cookies["csrftoken"].value
    resend = f"{RECEIVERS}resend/{receiver.pk}/"
    response = staff_client.post(resend, {"csrfmiddlewaretoken": token}, follow=True)
    assert response.redirect_chain == [(f"{RECEIVERS}inspect/{receiver.pk}/", 302)]
    assert "messaging.resend_messagereceiver" in response.content.decode()
    assert pending(receiver) == [0]


# --- messages ---------------------------------------------------------------------------------


def test_messages_list_counts_in_one_query(admin_client, records):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for _ in range(5):
        Message.objects.create(context_type="other")
    with CaptureQueriesContext(connection) as queries:
        response = admin_client.get(MESSAGES)
    counting = [q["sql"] for q in queries if 'COUNT("messaging_messagereceiver' in q["sql"]]
    assert len(counting) == 1
    assert response.status_code == 200
    by_pk = {m.pk: m for m in response.context["object_list"]}
    deadline = by_pk[records["deadline"].pk]
    assert (deadline.count_sent, deadline.count_failed, deadline.receiver_count) == (1, 1, 2)
    comment = by_pk[records["comment"].pk]
    assert (comment.count_error, comment.count_not_sent, comment.count_sent) == (1, 1, 0)
    html = response.content.decode()
    assert "Failed: 1" in html and "Not sent: 1" in html


def test_messages_list_shows_a_subject_and_links_its_counts(admin_client, records, make_user):
    from messaging.models import MessageTemplate

    template = MessageTemplate.objects.create(
        key="welcome", name="Welcome template", subject="Hi", body="<p>Hi</p>"
    )
    waiting = Message.objects.create(context_type="other", template=template)
    exam = make_message(context_type="other", template=template)
    make_receiver(exam, subject="Exam room changed")
    html = admin_client.get(MESSAGES).content.decode()
    assert 'title="Exam room changed"' in html  # a receiver's subject, not the template's name
    assert 'title="Welcome template"' in html  # no receivers yet: the template's name
    comment = records["comment"].pk
    assert f'href="{RECEIVERS}?message={comment}&amp;status=error"' in html
    assert f'href="{RECEIVERS}?message={comment}&amp;status=not_sent"' in html
    assert f"{RECEIVERS}?message={waiting.pk}&amp;status=" not in html  # nothing to count


def test_message_inspect_links_to_its_receivers(admin_client, records):
    message = records["comment"]
    response = admin_client.get(f"{MESSAGES}inspect/{message.pk}/")
    assert response.status_code == 200
    html = response.content.decode()
    assert f"{RECEIVERS}?message={message.pk}&amp;status=error" in html
    assert f"{RECEIVERS}?message={message.pk}" in html


def test_message_filters(admin_client, records):
    response = admin_client.get(MESSAGES, {"status": "sending"})
    assert listed_ids(response) == {records["comment"].pk}


# --- dashboard -------------------------------------------------------------------------------


def test_dashboard_panel(admin_client, records):
    records["not_sent"].status = Status.FAILED
    records["not_sent"].send_requested_at = timezone.now() - timedelta(days=3)
    records["not_sent"].save()
    response = admin_client.get("/admin/")
    html = response.content.decode()
    assert "data-messaging-summary" in html
    summary = html.split("data-messaging-summary")[1]
    tiles = BeautifulSoup(summary, "html.parser").select("a.msg-tile")
    # Within 24 h, only "failed" (created now): "error" was created 40 days ago, and
    # "not_sent" failed 3 days ago.
    assert [(tile.get_text(" ", strip=True), tile["href"]) for tile in tiles] == [
        ("1 Sent", f"{RECEIVERS}?status=sent"),
        ("2 Failed", f"{RECEIVERS}?status=failed"),
        ("1 Error", f"{RECEIVERS}?status=error"),
        ("0 Not sent", f"{RECEIVERS}?status=not_sent"),
        ("0 Waiting for digest", f"{RECEIVERS}?status=digest_pending"),
        ("0 Cancelled", f"{RECEIVERS}?status=cancelled"),
        ("0 Expired", f"{RECEIVERS}?status=expired"),
        ("1 Failures in the last 24 hours", f"{RECEIVERS}?status=failed&status=error"),
        ("0 Bounces in the last 24 hours", f"{RECEIVERS}?delivery_status=bounced"),
    ]
    assert summary.count('class="msg-chart__sent"') == 14
    assert "<svg" in summary


def test_the_tallest_bars_count_stands_inside_the_chart(admin_client, records):
    from messaging.admin.views.dashboard import CHART_HEIGHT

    summary = admin_client.get("/admin/").content.decode().split("data-messaging-summary")[1]
    svg = BeautifulSoup(summary, "html.parser").select_one("svg")
    values = svg.select("text.msg-chart__value")
    assert [value.get_text() for value in values] == ["2"]  # today: 1 sent, 1 failed
    font_size = 11  # .msg-chart__value in admin.css
    tops = [float(value["y"]) - font_size for value in values]
    assert min(tops) >= 0
    assert max(float(value["y"]) for value in values) < CHART_HEIGHT


def test_dashboard_hidden_without_permission(make_user):
    client = viewer(make_user)
    assert "data-messaging-summary" not in client.get("/admin/").content.decode()


def test_chart_counts_per_day(records):
    from messaging.admin.views.dashboard import chart_bars

    bars = chart_bars(timezone.now())
    assert len(bars) == 14
    assert bars[-1].sent == 1 and bars[-1].failed == 1
    assert bars[-1].sent_height == bars[-1].failed_height > 0
    assert sum(bar.sent + bar.failed for bar in bars[:-1]) == 0


# --- translations ----------------------------------------------------------------------------


def test_admin_speaks_norwegian(make_user, records):
    from pathlib import Path

    import messaging

    compiled = Path(messaging.__file__).parent / "locale/nb/LC_MESSAGES/django.mo"
    if not compiled.exists():
        pytest.skip("run `manage.py compilemessages` (make test does) to test translations")
    client = Client()
    client.force_login(make_user("norsk", language="nb", is_superuser=True, is_staff=True))
    html = client.get(RECEIVERS).content.decode()
    assert "Send på nytt" in html and "Emne" in html


def test_the_norwegian_catalogue_is_complete():
    import shutil
    import subprocess
    from pathlib import Path

    import messaging

    if not shutil.which("msgfmt"):
        pytest.skip("needs GNU gettext's msgfmt: apt-get install gettext")
    catalogue = Path(messaging.__file__).parent / "locale/nb/LC_MESSAGES/django.po"
    result = subprocess.run(
        ["msgfmt", "--check-format", "--statistics", "-o", "/dev/null", str(catalogue)],
        capture_output=True,
        text=True,
        check=True,
        env={"LC_ALL": "C", "PATH": os.environ["PATH"]},
    )
    # e.g. "217 translated messages." and nothing about fuzzy or untranslated ones
    assert re.fullmatch(r"\d+ translated messages\.", result.stderr.strip()), result.stderr


def test_messages_and_receivers_are_named_in_norwegian(make_user, records):
    from django.utils import translation

    with translation.override("nb"):
        assert str(records["deadline"]).startswith(f"Melding nr. {records['deadline'].pk} – ")
        assert str(records["failed"]) == "Assignment 3 deadline → bob@builders.example"


def messaging_menu_urls(user) -> list[str]:
    from django.test import RequestFactory
    from wagtail.admin.menu import admin_menu

    request = RequestFactory().get("/admin/")
    request.user = user
    item = next(i for i in admin_menu.menu_items_for_request(request) if i.name == "messaging")
    return [str(sub.url) for sub in item.menu.menu_items_for_request(request)]


TEMPLATES = "/admin/snippets/messaging/messagetemplate/"
SUPPRESSIONS = "/admin/messaging/suppressions/"
PREFERENCES = "/admin/messaging/preferences/"


def test_suppressed_addresses_show_a_blocked_icon_not_a_close_button(admin_client):
    html = admin_client.get(SUPPRESSIONS).content.decode()
    header = BeautifulSoup(html, "html.parser").select_one("header")
    icons = {use["href"] for use in header.select("svg use")}
    assert "#icon-lock" in icons
    assert "#icon-cross" not in icons


def test_message_templates_are_in_the_messaging_menu_and_under_snippets(admin_client, records):
    root = admin_client.get("/admin/").wsgi_request.user
    assert messaging_menu_urls(root) == [RECEIVERS, MESSAGES, SUPPRESSIONS, TEMPLATES, PREFERENCES]
    assert TEMPLATES in admin_client.get("/admin/snippets/").content.decode()
    assert admin_client.get(TEMPLATES).status_code == 200


def test_message_templates_menu_item_needs_a_template_permission(staff_client, records):
    html = staff_client.get("/admin/").content.decode()
    assert RECEIVERS in html
    assert TEMPLATES not in html
    assert messaging_menu_urls(staff_client.get("/admin/").wsgi_request.user) == [
        RECEIVERS,
        MESSAGES,
    ]
