"""The cron commands cost O(n): their queries grow linearly in chunks, with no re-scan.

Speed itself is a benchmark (``messaging_benchmark --only resend_time delete_time``); here
the shape of the work is counted in queries. A re-scan is visible in the counts: key-ordered
paging (``pk > last ORDER BY pk LIMIT n``) runs the due query once per chunk, and on a
database that plans it through the index on status each of those reads passes again every
row already asked for. One read of the due receivers per run, whatever their number, is what
keeps the walk linear.
"""

from __future__ import annotations

import re
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import TestCase
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from messaging import maintenance, sends
from messaging.models import Message, MessageReceiver

pytestmark = pytest.mark.django_db

CHUNK = 100  # receivers per statement in these tests, so that 5,000 make 50 chunks


@pytest.fixture
def small_chunks(monkeypatch):
    monkeypatch.setattr(sends, "CHUNK", CHUNK)
    monkeypatch.setattr(maintenance, "DELETE_CHUNK", CHUNK)


@pytest.fixture
def dummy_tasks(settings):
    """Tasks are recorded, not run: what the command enqueued can be inspected."""
    from django_tasks import task_backends

    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.dummy.DummyBackend"}}
    settings.MESSAGING_BATCH_SIZE = 50
    backend = task_backends["default"]
    backend.clear()
    return backend


def make_receivers(count: int, **fields) -> None:
    """``count`` receivers beside 300 sent and recent ones that no command may touch."""
    MessageReceiver.objects.all().delete()
    message = Message.objects.create(status="sent")
    MessageReceiver.objects.bulk_create(
        [MessageReceiver(message=message, subject="S", **fields) for _ in range(count)]
        + [MessageReceiver(message=message, status="sent", subject="S") for _ in range(300)]
    )


def run(*args: str) -> tuple[str, list[str]]:
    """The command's output and the SQL it ran, enqueueing included (as after its commits)."""
    out = StringIO()
    with (
        CaptureQueriesContext(connection) as queries,
        TestCase.captureOnCommitCallbacks(execute=True),
    ):
        call_command(*args, stdout=out, stderr=StringIO())
    return out.getvalue(), [query["sql"] for query in queries.captured_queries]


def resend_queries(count: int) -> list[str]:
    make_receivers(count, status="failed", sending_failed_count=1)
    out, queries = run("resend_failed_messages")
    assert f"{count} messages were automatically resent." in out
    assert MessageReceiver.objects.filter(pending_sends=1).count() == count
    assert MessageReceiver.objects.filter(status="sent", pending_sends=0).count() == 300
    return queries


def reads_due(sql: str) -> bool:
    """A read of the due receivers (not an UPDATE of them by key)."""
    return '"sending_failed_count" <=' in sql and not sql.startswith("UPDATE")


def asks_again(sql: str) -> bool:
    return sql.startswith("UPDATE") and '"pending_sends" = (' in sql


def test_resend_reads_the_due_receivers_once_and_asks_again_chunk_by_chunk(
    small_chunks, dummy_tasks
):
    empty, small, large = (resend_queries(count) for count in (0, 500, 5000))

    # One read of the due receivers however many there are: no page re-reads them.
    assert [sum(map(reads_due, queries)) for queries in (empty, small, large)] == [1, 1, 1]
    # One UPDATE per chunk of 100: 5 for 500 receivers, 50 for 5,000.
    assert [sum(map(asks_again, queries)) for queries in (empty, small, large)] == [0, 5, 50]
    # Every other query grows by the chunk, never by the receiver: per chunk, one UPDATE
    # asks again, and (where the walk reads ids by query, not by a server-side cursor, whose
    # fetches are not logged) its ids are read, and read back to enqueue it.
    grown, chunks = len(large) - len(small), 50 - 5
    assert grown % chunks == 0 and 1 <= grown // chunks <= 3
    # Each receiver enqueued once, in tasks of MESSAGING_BATCH_SIZE.
    sizes = [len(result.args[0]) for result in dummy_tasks.results]
    assert sum(sizes) == 5500 and max(sizes) == 50


def test_each_update_names_only_its_own_chunk(small_chunks, dummy_tasks):
    """Each UPDATE finds its rows by key, at most a chunk of them, so none scans the table."""
    queries = resend_queries(1000)
    updates = [sql for sql in queries if asks_again(sql)]
    assert len(updates) == 10
    keys = [re.search(r'"id" IN \(([\d, ]+)\)', sql).group(1).split(",") for sql in updates]
    assert [len(chunk) for chunk in keys] == [CHUNK] * 10


def test_resend_skips_a_receiver_taken_meanwhile(small_chunks, dummy_tasks, monkeypatch):
    """A receiver that a worker or staff member took after the walk started is not asked for
    twice: each chunk's UPDATE checks the conditions again."""
    make_receivers(250, status="failed", sending_failed_count=1)
    ids = list(MessageReceiver.objects.filter(status="failed").order_by("pk"))
    taken = [ids[10].pk, ids[150].pk]
    walk = sends.walk_ids

    def walk_then_take(queryset, batch):
        for chunk in walk(queryset, batch):
            if taken[0] in chunk:  # the walk has read the ids; staff resend two meanwhile
                MessageReceiver.objects.filter(pk__in=taken).update(pending_sends=1)
            yield chunk

    monkeypatch.setattr(sends, "walk_ids", walk_then_take)
    out, _queries = run("resend_failed_messages")
    assert "248 messages were automatically resent." in out
    taken_pending = MessageReceiver.objects.filter(pk__in=taken).values_list("pending_sends")
    assert sorted(taken_pending) == [(1,), (1,)]
    assert MessageReceiver.objects.filter(status="failed", pending_sends=1).count() == 250


def delete_queries(count: int) -> list[str]:
    make_receivers(count, status="sent", created_datetime=timezone.now() - timedelta(days=40))
    out, queries = run("delete_message_receivers", "30")
    assert f"Deleted {count} message receivers older than 30 days." in out
    assert MessageReceiver.objects.count() == 300
    return queries


def test_delete_reads_the_old_receivers_once_and_deletes_chunk_by_chunk(small_chunks):
    empty, small, large = (delete_queries(count) for count in (0, 500, 5000))

    def reads_old(sql: str) -> bool:
        """A read of the old receivers not limited to one chunk of ids (a re-scan)."""
        chunk = '"id" IN (' in sql
        return '"created_datetime" <' in sql and not sql.startswith("DELETE") and not chunk

    def deletes(sql: str) -> bool:
        return sql.startswith("DELETE")

    assert [sum(map(reads_old, queries)) for queries in (empty, small, large)] == [1, 1, 1]
    assert [sum(map(deletes, queries)) for queries in (empty, small, large)] == [0, 5, 50]
    assert len(large) - len(empty) == 10 * (len(small) - len(empty))
    # Deleting reads keys, never the stored emails.
    assert not [sql for sql in large if "message_content_html" in sql]
