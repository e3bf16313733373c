"""Time of the cron commands as their work grows: ``resend_time`` and ``delete_time``.

Each command runs in this process, with a task backend that discards what is enqueued, on
10,000 and on 100,000 receivers to handle; the figure is its time over a run with nothing
to do on the same table. Rounds alternate the order of the sizes and medians are kept.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from io import StringIO
from typing import TextIO

from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import connection
from django.db.models import QuerySet
from django.test import override_settings
from django.utils import timezone

from messaging.models import Message, MessageReceiver

from .common import (
    clear_messaging_data,
    create_users,
    grow_table,
    insert_sample_receivers,
    median,
    timed,
    write_metric,
)

SIZES = (10_000, 100_000)
ROUNDS = 3  # alternating rounds; the machine is shared, medians tame the noise
KEEP = 1_000  # receivers that are never due nor old: the table is never empty
DISCARD_TASKS = {"default": {"BACKEND": "config.benchmarks.memory.DiscardingBackend"}}


def seed(count: int) -> None:
    """Make the table hold at least ``count`` receivers, all sent, recent and idle."""
    if not MessageReceiver.objects.exists():
        message = Message.objects.create(status=Message.Status.SENT, context_type="other")
        insert_sample_receivers(message, bench_users())
    grow_table(MessageReceiver, count)
    MessageReceiver.objects.update(
        status=MessageReceiver.Status.SENT,
        sending_failed_count=0,
        pending_sends=0,
        send_requested_at=None,
        claimed_until=None,
        claim_token="",
        next_attempt_at=None,
        created_datetime=timezone.now(),
    )


def bench_users() -> list:
    """``KEEP`` users, made once: the table is emptied between parts, the users stay."""
    users = list(get_user_model().objects.filter(username__startswith="cronbench")[:KEEP])
    return users or create_users(KEEP, prefix="cronbench")


def analyze() -> None:
    """Give PostgreSQL's planner fresh statistics, as autovacuum does for a real table.

    Seeding rewrites 100,000 rows in seconds; with the stale statistics that leaves, the
    planner would take the index on ``pending_sends`` for a batch instead of the keys.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"VACUUM ANALYZE {MessageReceiver._meta.db_table}")


def first_pks(count: int | None) -> QuerySet:
    """The receivers after the first ``KEEP``, up to ``count`` of them, by primary key."""
    start = MessageReceiver.objects.order_by("pk").values_list("pk", flat=True)[KEEP - 1]
    return MessageReceiver.objects.filter(pk__gt=start).order_by("pk")[:count]


def make_due(count: int) -> None:
    """``count`` receivers failed once and due for a resend, in a table of KEEP + max size."""
    seed(KEEP + max(SIZES))
    due = MessageReceiver.objects.filter(pk__in=first_pks(count).values("pk"))
    due.update(
        status=MessageReceiver.Status.FAILED,
        sending_failed_count=1,
        status_data={"errors": [{"error_message": "451 try again later"}]},
    )
    analyze()


def make_old(count: int) -> None:
    """``count`` receivers two years old in a table of KEEP + max size, the rest recent.

    The table has the same size for every count (as for :func:`make_due`), so the figure
    grows with the rows deleted, not with a table that is itself ten times larger.
    """
    seed(KEEP + max(SIZES))
    old = timezone.now() - timedelta(days=730)
    MessageReceiver.objects.filter(pk__in=first_pks(count).values("pk")).update(
        created_datetime=old
    )
    analyze()


def run_command(expected: str, *args: str) -> None:
    out = StringIO()
    with override_settings(TASKS=DISCARD_TASKS):
        call_command(*args, stdout=out, stderr=StringIO())
    if expected not in out.getvalue():
        raise RuntimeError(f"Expected {expected!r} from {args[0]}, got:\n{out.getvalue()}")


def resend(count: int) -> float:
    make_due(count)
    expected = f"{count} messages were automatically resent."
    return timed(lambda: run_command(expected, "resend_failed_messages"))


def delete(count: int) -> float:
    make_old(count)
    expected = f"Deleted {count} message receivers"
    return timed(lambda: run_command(expected, "delete_message_receivers", "365"))


def over_empty(measure: Callable[[int], float]) -> dict[int, float]:
    """Median seconds of ``measure(size)`` minus the median of ``measure(0)``, per size."""
    sizes = (0, *SIZES)
    times: dict[int, list[float]] = {size: [] for size in sizes}
    for round_number in range(ROUNDS):
        for size in sizes if round_number % 2 == 0 else reversed(sizes):
            times[size].append(measure(size))
    empty = median(times[0])
    return {size: max(median(times[size]) - empty, 1e-6) for size in SIZES}


def report(stdout: TextIO, name: str, seconds: dict[int, float]) -> None:
    small, large = (seconds[size] for size in SIZES)
    write_metric(stdout, name, n10k=small, n100k=large, ratio=large / small)


def run_resend(stdout: TextIO) -> None:
    """Print ``METRIC resend_time n10k=<s> n100k=<s> ratio=<n100k/n10k>``."""
    clear_messaging_data()
    stdout.write(f"resend_time: resend_failed_messages, {SIZES} due, s over an empty run\n")
    report(stdout, "resend_time", over_empty(resend))
    clear_messaging_data()


def run_delete(stdout: TextIO) -> None:
    """Print ``METRIC delete_time n10k=<s> n100k=<s> ratio=<n100k/n10k>``."""
    clear_messaging_data()
    stdout.write(f"delete_time: delete_message_receivers, {SIZES} old, s over an empty run\n")
    report(stdout, "delete_time", over_empty(delete))
    clear_messaging_data()
