"""Peak memory of a staff member's "select all" resend in the admin as the selection grows.

The resend is one POST through Django's test client, in this process, with a task
backend that discards what is enqueued (nothing is sent). ``tracemalloc`` traces the
Python allocations of that request alone; each receiver carries a 20 KB HTML body (and
a short plain text), which a resend must never load. ``DEBUG`` is off, as in
production: Django would otherwise keep every query's SQL in memory.
"""

from __future__ import annotations

import tracemalloc
from typing import TextIO

from django.contrib.auth import get_user_model
from django.test import Client, override_settings
from django.urls import reverse

from messaging.models import Message, MessageReceiver

from .common import (
    clear_messaging_data,
    create_users,
    grow_table,
    insert_sample_receivers,
    write_metric,
)

SIZES = (10_000, 50_000)
SEED_ROWS = 1_000
BODY_BYTES = 20_000
DISCARD_TASKS = {"default": {"BACKEND": "config.benchmarks.memory.DiscardingBackend"}}


def big_html(index: int) -> str:
    paragraph = f"<p>Receiver {index}: the deadline of Assignment 3 moved to 12 December.</p>"
    return (paragraph * (BODY_BYTES // len(paragraph) + 1))[:BODY_BYTES]


def seed(count: int, message: Message, users: list) -> None:
    """Make ``message`` have exactly ``count`` receivers with 20 KB bodies."""
    if not message.receivers.exists():
        insert_sample_receivers(
            message,
            users[:count],
            html=big_html,
            batch_size=200,
            status=MessageReceiver.Status.FAILED,
        )
    grow_table(MessageReceiver, count)
    MessageReceiver.objects.update(pending_sends=0, send_requested_at=None)


def resend_url(message: Message, status: str) -> str:
    resend = reverse("wagtail_bulk_action", args=["messaging", "messagereceiver", "resend"])
    listing = reverse("messaging_receivers:index")
    return f"{resend}?id=all&message={message.pk}&status={status}&next={listing}"


def traced_post(client: Client, url: str) -> float:
    """Peak MB of Python allocations while ``url`` is posted; fails unless redirected."""
    tracemalloc.start()
    try:
        response = client.post(url)
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    if response.status_code != 302:
        raise RuntimeError(f"POST {url} answered {response.status_code}")
    return peak / 1024 / 1024


def measure(client: Client, message: Message, users: list, count: int) -> float:
    """Peak MB of a select-all resend of ``count`` receivers; checks all were asked for."""
    seed(count, message, users)
    client.post(resend_url(message, "sent"))  # warm-up: same code, nothing selected
    peak = traced_post(client, resend_url(message, "failed"))
    asked = MessageReceiver.objects.filter(pending_sends=1).count()
    if asked != count:
        raise RuntimeError(f"Expected {count} receivers asked for, found {asked}.")
    return peak


def run(stdout: TextIO, sizes: tuple[int, int] = SIZES) -> None:
    """Print ``METRIC bulk_resend_memory n10k=<MB> n50k=<MB> ratio=<n50k/n10k>``."""
    clear_messaging_data()
    admin = get_user_model().objects.create_superuser(
        "bulkbenchadmin", "bulkbenchadmin@example.org", "x"
    )
    client = Client()
    client.force_login(admin)
    users = create_users(SEED_ROWS, prefix="bulkbench")
    message = Message.objects.create(status=Message.Status.SENT)
    with override_settings(TASKS=DISCARD_TASKS, ALLOWED_HOSTS=["*"], DEBUG=False):
        small, large = (measure(client, message, users, count) for count in sizes)
    clear_messaging_data()
    stdout.write(
        f"bulk_resend_memory: tracemalloc peak MB of a select-all resend of {sizes} "
        f"receivers with {BODY_BYTES // 1000} KB bodies\n"
    )
    write_metric(stdout, "bulk_resend_memory", n10k=small, n50k=large, ratio=large / small)
