"""Admin speed on a million receivers: the Wagtail receivers list against the Django admin.

Both lists are asked for the same thing (status ``failed``, searched for one user) by a
logged-in superuser through Django's test client, in process; requests alternate and the
median of each side is compared. A second case searches two words, a username and a word
that every subject holds ("adminbench04246 assignment"): each word must match, and the
common word must not make the search read every receiver. PostgreSQL only: that is where
a million rows live.
"""

from __future__ import annotations

import re
import time
from datetime import timedelta
from typing import TextIO

from django.contrib.auth import get_user_model
from django.db import DEFAULT_DB_ALIAS, connections
from django.test import Client, override_settings
from django.utils import timezone

from messaging.models import Message, MessageReceiver

from .common import clear_messaging_data, create_users, grow_table, median, write_metric

TOTAL_RECEIVERS = 1_000_000
USERS = 20_000
REPEATS = 7
SEARCH_USER = 4246  # i % 10 == 6: this user's receivers are failed
OURS_URL = "/admin/messaging/receivers/?status=failed&q={term}"
BASELINE_URL = "/django-admin/messaging/messagereceiver/?status__exact=failed&q={term}"
# Six in ten sent, two failed, one error, one waiting: a busy term's mix.
STATUS_CYCLE = ["sent"] * 6 + ["failed"] * 2 + ["error", "not_sent"]


def supported() -> bool:
    """The figure is only meaningful on PostgreSQL."""
    return connections[DEFAULT_DB_ALIAS].vendor == "postgresql"


def seed(total: int = TOTAL_RECEIVERS) -> str:
    """Fill the throwaway database with ``total`` receivers; returns the search term."""
    clear_messaging_data()
    users = create_users(USERS, prefix="adminbench")
    messages = Message.objects.bulk_create(
        Message(status=Message.Status.SENT, context_type="other") for _ in range(100)
    )
    now = timezone.now()
    MessageReceiver.objects.bulk_create(
        (
            MessageReceiver(
                message=messages[i % len(messages)],
                user=user,
                send_to=user.email,
                language="en" if i % 3 else "nb",
                subject=f"Deadline moved for Assignment {i % 40} in course {i % 250}",
                message_content_html=f"<p>Hello {user.username}, the deadline moved.</p>",
                message_content_plain=f"Hello {user.username}, the deadline moved.",
                status=STATUS_CYCLE[i % len(STATUS_CYCLE)],
                sending_failed_count=1 if STATUS_CYCLE[i % len(STATUS_CYCLE)] == "failed" else 0,
                created_datetime=now - timedelta(minutes=7 * i),
            )
            for i, user in enumerate(users)
        ),
        batch_size=2000,
    )
    grow_table(MessageReceiver, total)
    with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    return users[SEARCH_USER].username


def logged_in_client() -> Client:
    user_model = get_user_model()
    admin = user_model.objects.create_superuser("benchadmin", "benchadmin@example.org", "x")
    client = Client()
    client.force_login(admin)
    return client


def request_ms(client: Client, url: str) -> float:
    start = time.perf_counter()
    response = client.get(url)
    elapsed = (time.perf_counter() - start) * 1000
    if response.status_code != 200:
        raise RuntimeError(f"GET {url} answered {response.status_code}")
    return elapsed


def measure(client: Client, ours_url: str, baseline_url: str) -> tuple[float, float]:
    """Median milliseconds of each list over alternating requests, after one warm-up."""
    for url in (ours_url, baseline_url):
        request_ms(client, url)
    ours, baseline = [], []
    for repeat in range(REPEATS):
        pair = [(ours, ours_url), (baseline, baseline_url)]
        for times, url in pair if repeat % 2 == 0 else reversed(pair):
            times.append(request_ms(client, url))
    return median(ours), median(baseline)


ROW_PATTERNS = {
    "ours": r"/admin/messaging/receivers/inspect/(\d+)/",
    "baseline": r'name="_selected_action" value="(\d+)"',
}


def report_rows(client: Client, stdout: TextIO, urls: dict[str, str]) -> None:
    """Say how many receivers each first page lists: a page without rows proves nothing."""
    for side, url in urls.items():
        shown = set(re.findall(ROW_PATTERNS[side], client.get(url).content.decode()))
        stdout.write(f"admin: {side} lists {len(shown)} receivers on its first page\n")


def search_cases(username: str) -> dict[str, str]:
    """METRIC name -> search term: one user, and the same user with a common word."""
    return {"admin": username, "admin_multiword": f"{username}+assignment"}


def run(stdout: TextIO, total: int = TOTAL_RECEIVERS) -> None:
    """Print ``METRIC admin ...`` and ``METRIC admin_multiword ...`` (ours, baseline, ratio)."""
    if not supported():
        stdout.write("admin: skipped, needs PostgreSQL (set DATABASE_URL=postgres://...)\n")
        return
    results = {}
    with override_settings(DEBUG=False):
        client = logged_in_client()
        stdout.write(f"admin: generating {total} receivers...\n")
        username = seed(total)
        for metric, term in search_cases(username).items():
            urls = {"ours": OURS_URL.format(term=term), "baseline": BASELINE_URL.format(term=term)}
            stdout.write(f"admin: {metric} searches {term.replace('+', ' ')!r}\n")
            report_rows(client, stdout, urls)
            results[metric] = measure(client, urls["ours"], urls["baseline"])
        clear_messaging_data()
    for metric, (ours, baseline) in results.items():
        write_metric(stdout, metric, ours=ours, baseline=baseline, ratio=baseline / ours)
