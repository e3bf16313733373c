"""Helpers shared by the benchmarks: a throwaway database, timing, METRIC lines, seeding."""

from __future__ import annotations

import copy
import os
import shutil
import socket
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TextIO
from urllib.parse import quote

import django
from django.contrib.auth import get_user_model
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models import Model

from messaging.models import Message, MessageReceiver

BENCH_DB_PREFIX = "messaging_bench"
# create_test_db() serializes the new database unless told not to on Django 5.2; Django 6.1
# does not, and deprecates the argument.
NO_SERIALIZE = {} if django.VERSION >= (6, 1) else {"serialize": False}

# A realistic email body: a few kilobytes of inlined-CSS HTML and its plain text.
SAMPLE_HTML = (
    '<html><body style="font-family: Arial, sans-serif; color: #222;">'
    '<table role="presentation" width="100%" style="max-width: 600px; margin: 0 auto;">'
    + "".join(
        f'<tr><td style="padding: 8px 16px; line-height: 1.5;"><p style="margin: 0 0 12px;">'
        f"Paragraph {i}: the deadline of Assignment 3 in INF1000 moved to 12 December at "
        f'23:59. <a href="https://example.org/assignments/3?p={i}" style="color: #0b5;">'
        f"Open the assignment</a>.</p></td></tr>"
        for i in range(12)
    )
    + "</table></body></html>"
)
SAMPLE_PLAIN = "\n\n".join(
    f"Paragraph {i}: the deadline of Assignment 3 in INF1000 moved to 12 December at 23:59. "
    f"Open the assignment: https://example.org/assignments/3?p={i}"
    for i in range(12)
)


def write_metric(stdout: TextIO, name: str, **values: float) -> None:
    """Print ``METRIC <name> key=value ...``, the line format other tools parse."""
    fields = " ".join(f"{key}={format_number(value)}" for key, value in values.items())
    stdout.write(f"METRIC {name} {fields}\n")


def format_number(value: float) -> str:
    if abs(value) >= 100:
        return f"{value:.1f}"
    return f"{value:.3f}".rstrip("0").rstrip(".") if value else "0"


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def timed(function: Callable[[], object]) -> float:
    """Seconds that ``function()`` took (wall clock)."""
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


# --- the throwaway database -------------------------------------------------------------


_active_databases: set[str] = set()


@contextmanager
def throwaway_database() -> Iterator[str]:
    """Point the default connection at a new, migrated database; drop it afterwards.

    SQLite gets a file in a temporary directory, PostgreSQL a database named
    ``messaging_bench_<pid>`` on the same server. The site's connection is set aside
    untouched (even an in-memory test database survives) and put back at the end.
    Used inside another ``throwaway_database()``, it reuses that one.
    """
    original = connections[DEFAULT_DB_ALIAS]
    original_name = original.settings_dict["NAME"]
    if original_name in _active_databases:  # already inside one: reuse it
        yield original_name
        return
    tmpdir = tempfile.mkdtemp(prefix="messaging-bench-") if original.vendor == "sqlite" else ""
    name = os.path.join(tmpdir, "bench.sqlite3") if tmpdir else f"{BENCH_DB_PREFIX}_{os.getpid()}"
    settings_dict = copy.deepcopy(original.settings_dict)
    settings_dict["TEST"] = {**settings_dict.get("TEST", {}), "NAME": name}
    bench = original.__class__(settings_dict, DEFAULT_DB_ALIAS)
    connections[DEFAULT_DB_ALIAS] = bench
    _active_databases.add(name)
    try:
        bench.creation.create_test_db(verbosity=0, autoclobber=True, **NO_SERIALIZE)
        yield name
    finally:
        _active_databases.discard(name)
        bench.close()
        # Only ever drop the database this function created, never the site's.
        if bench.settings_dict["NAME"] == name:
            bench.creation.destroy_test_db(original_name, verbosity=0)
        # create_test_db() also renames the site's entry in settings.DATABASES.
        original.settings_dict["NAME"] = original_name
        connections[DEFAULT_DB_ALIAS] = original
        if tmpdir:
            shutil.rmtree(tmpdir, ignore_errors=True)


def database_url() -> str:
    """A ``DATABASE_URL`` for subprocesses that points at the current (throwaway) database."""
    settings_dict = connections[DEFAULT_DB_ALIAS].settings_dict
    if connections[DEFAULT_DB_ALIAS].vendor == "sqlite":
        return f"sqlite:///{settings_dict['NAME']}"
    user = quote(settings_dict.get("USER") or "")
    password = quote(settings_dict.get("PASSWORD") or "")
    credentials = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    host, port = settings_dict.get("HOST") or "", settings_dict.get("PORT") or ""
    return f"postgres://{credentials}{host}{':' if port else ''}{port}/{settings_dict['NAME']}"


def assert_throwaway() -> None:
    name = str(connections[DEFAULT_DB_ALIAS].settings_dict["NAME"])
    if name not in _active_databases:
        raise RuntimeError(f"Refusing to write benchmark data to {name!r}: not a bench database.")


# --- seeding ----------------------------------------------------------------------------


def clear_messaging_data() -> None:
    """Delete every message and receiver (in the throwaway database only)."""
    assert_throwaway()
    MessageReceiver.objects.all().delete()
    Message.objects.all().delete()


def create_users(count: int, prefix: str = "bench") -> list:
    """``count`` users named ``<prefix>00000``... with addresses at example.org."""
    user_model = get_user_model()
    users = [
        user_model(
            username=f"{prefix}{i:05d}",
            email=f"{prefix}{i:05d}@example.org",
            first_name=f"First{i % 97}",
            last_name=f"Last{i % 89}",
        )
        for i in range(count)
    ]
    return user_model.objects.bulk_create(users, batch_size=1000)


def grow_table(model: type[Model], target: int) -> None:
    """Copy the table's own rows (all but the key) into it until it holds ``target`` rows.

    Plain ``INSERT ... SELECT`` on the same table: works on SQLite and PostgreSQL and fills
    hundreds of thousands of rows in seconds.
    """
    assert_throwaway()
    connection = connections[DEFAULT_DB_ALIAS]
    quote_name = connection.ops.quote_name
    table = quote_name(model._meta.db_table)
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    columns = ", ".join(quote_name(f.column) for f in fields)
    while (count := model.objects.count()) < target:
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {table} ({columns}) SELECT {columns} FROM {table} LIMIT %s",
                [min(count, target - count)],
            )


# --- processes --------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_smtp(port: int, process: subprocess.Popen, timeout: float = 15.0) -> bool:
    """True once an SMTP greeting comes from ``127.0.0.1:port``; False if ``process`` died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
                if sock.recv(64).startswith(b"220"):
                    return True
        except OSError:
            time.sleep(0.05)
    return False


def stop_process(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def insert_sample_receivers(
    message: Message,
    users: Sequence,
    *,
    html: Callable[[int], str] | None = None,
    batch_size: int = 500,
    **fields,
) -> None:
    """One receiver of ``message`` per user with the sample email (``html(index)`` gives
    another body); ``fields`` set the rest, e.g. a status."""
    MessageReceiver.objects.bulk_create(
        [
            MessageReceiver(
                message=message,
                user=user,
                send_to=user.email,
                subject="Deadline moved for Assignment 3",
                message_content_html=html(index) if html else SAMPLE_HTML,
                message_content_plain=SAMPLE_PLAIN,
                **fields,
            )
            for index, user in enumerate(users)
        ],
        batch_size=batch_size,
    )
