"""``manage.py messaging_benchmark``: speed figures printed as ``METRIC`` lines.

Each part lives in its own module with a ``run`` function; :func:`run` runs the chosen
parts in one throwaway database (a temporary SQLite file, or a ``messaging_bench_<pid>``
database on the PostgreSQL server that ``DATABASE_URL`` names), dropped afterwards.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TextIO

from .common import throwaway_database

PARTS = (
    "prepare",
    "prepare_memory",
    "send",
    "send_worker",
    "resend_memory",
    "bulk_resend_memory",
    "resend_time",
    "delete_time",
    "admin",
    "bounces",
)


def run_part(part: str, receivers: int, stdout: TextIO, sink: str) -> None:
    from . import (
        admin,
        bounces,
        bulk_resend,
        cron,
        memory,
        prepare,
        prepare_memory,
        send,
        send_worker,
    )

    if part == "prepare":
        prepare.run(receivers, stdout)
    elif part == "prepare_memory":
        prepare_memory.run(stdout)
    elif part == "send":
        send.run(receivers, stdout, sink=sink)
    elif part == "send_worker":
        send_worker.run(receivers, stdout, sink=sink)
    elif part == "resend_memory":
        memory.run(stdout)
    elif part == "bulk_resend_memory":
        bulk_resend.run(stdout)
    elif part == "resend_time":
        cron.run_resend(stdout)
    elif part == "delete_time":
        cron.run_delete(stdout)
    elif part == "admin":
        admin.run(stdout)
    elif part == "bounces":
        bounces.run(stdout)


def run(parts: Sequence[str], receivers: int, stdout: TextIO, sink: str = "auto") -> None:
    """Run ``parts`` (in the order of :data:`PARTS`), each printing its METRIC line."""
    from . import admin

    chosen = [part for part in PARTS if part in parts]
    if "admin" in chosen and not admin.supported():
        stdout.write("admin: skipped, needs PostgreSQL (set DATABASE_URL=postgres://...)\n")
        chosen.remove("admin")
    if not chosen:
        return
    with throwaway_database():
        for part in chosen:
            run_part(part, receivers, stdout, sink)
            stdout.flush()
