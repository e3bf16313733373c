"""Walk the rows of a large queryset once, batch by batch, without holding them or a lock.

The cron commands change or delete up to millions of receivers. :func:`walk_ids` runs the
query once (a temporary table on SQLite, a server-side cursor on PostgreSQL) and hands out
its ids in ascending batches; :func:`still_matching` finds the rows of one batch by primary
key that still match, so each batch costs its own rows and the whole walk is O(n).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from itertools import islice
from typing import TypeVar, cast
from uuid import uuid4

from django.core.exceptions import EmptyResultSet
from django.db import connection
from django.db.models import Exists, OuterRef, QuerySet

QS = TypeVar("QS", bound=QuerySet)


def walk_ids(queryset: QuerySet, batch: int) -> Iterator[list[int]]:
    """Primary keys of ``queryset`` in ascending lists of at most ``batch``.

    The query runs once, so the walk costs one scan and flat memory however many rows
    match: rows already handed out are never read again. It sees the rows as they were
    when it started; rows may change while the ids are walked, so callers check them again
    (:func:`still_matching`), and rows that begin to match later are left to the next run.
    """
    ids = queryset.order_by("pk").values_list("pk", flat=True)
    if connection.vendor == "sqlite":
        yield from snapshot_ids(ids, batch)
    elif connection.vendor == "postgresql":
        yield from cursor_ids(ids, batch)
    else:  # no tested way to hold one scan open while writing: key-ordered pages
        yield from paged_ids(ids, batch)


def cursor_ids(ids: QuerySet, batch: int) -> Iterator[list[int]]:
    """Walk PostgreSQL ids through a server-side cursor: one scan, fetched ``batch`` at a time.

    Outside a transaction Django declares the cursor ``WITH HOLD``: the server keeps its
    result when the implicit transaction commits, so each batch's own UPDATE may commit
    while the walk goes on, and no lock or snapshot is held between batches.
    """
    streamed = ids.iterator(chunk_size=batch)
    while chunk := list(islice(streamed, batch)):
        yield chunk


def paged_ids(ids: QuerySet, batch: int) -> Iterator[list[int]]:
    """Key-ordered pages (``pk > last``); each page costs a query, and, depending on the
    plan the database picks, a re-read of rows already passed."""
    last = 0
    while chunk := list(ids.filter(pk__gt=last)[:batch]):
        yield chunk
        last = chunk[-1]


def snapshot_ids(ids: QuerySet, batch: int) -> Iterator[list[int]]:
    """Walk SQLite ids through a temporary table rather than an open statement.

    An open statement pins its snapshot: while the caller writes, the write-ahead log can
    not be checkpointed and grows by every changed row (400 MB for 100,000 receivers).
    """
    try:
        sql, params = ids.query.sql_with_params()
    except EmptyResultSet:  # ``.none()``, or a filter that can match nothing
        return
    table = f"temp.messaging_walk_{uuid4().hex}"
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE TABLE {table} AS {sql}", params)
    try:
        last = 0
        while True:
            with connection.cursor() as cursor:
                cursor.execute(
                    f"SELECT rowid, * FROM {table} WHERE rowid > %s ORDER BY rowid LIMIT %s",
                    [last, batch],
                )
                rows = cursor.fetchall()
            if not rows:
                return
            last = rows[-1][0]
            yield [pk for _rowid, pk in rows]
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS {table}")


def chunked(items: Sequence[int], size: int) -> Iterator[list[int]]:
    """``items`` in lists of at most ``size``, in order."""
    for start in range(0, len(items), size):
        yield list(items[start : start + size])


def still_matching(queryset: QS, ids: list[int]) -> QS:
    """The rows among ``ids`` that ``queryset`` matches now, found by primary key.

    SQLite's planner, with no statistics, prefers an index on the queryset's conditions
    over the key, so an UPDATE of 100 ids would scan every failed row. Checking the
    conditions in a subquery keyed on the primary key keeps each batch's cost to its own
    rows; SQLite's single writer makes the check and the write one atomic step. PostgreSQL,
    with statistics, picks the key by itself, and it must see the conditions on the row
    itself: it rechecks them on a row changed concurrently, so a receiver that a worker or
    staff member took meanwhile is left alone (a subquery would read the old row).
    """
    if connection.vendor != "sqlite":
        return queryset.filter(pk__in=ids)
    matching = Exists(queryset.filter(pk=OuterRef("pk")))
    # The model's own queryset class, as ``queryset`` is (its methods stay usable).
    return cast(QS, queryset.model._default_manager.filter(matching, pk__in=ids).order_by())
