"""``manage.py messaging_benchmark``: speed figures printed as ``METRIC`` lines.

Each part lives in its own module with a ``run`` function; :func:`run` runs the chosen
parts in one throwaway database (a temporary SQLite file, or a ``messaging_bench_<pid>``
database on the PostgreSQL server that ``DATABASE_URL`` names), dropped afterwards.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TextIO

from .common import throwaway_database

PARTS = ("prepare", "send", "resend_memory", "admin", "bounces")


def run_part(part: str, receivers: int, stdout: TextIO, sink: str) -> None:
    from . import admin, bounces, memory, prepare, send

    if part == "prepare":
        prepare.run(receivers, stdout)
    elif part == "send":
        send.run(receivers, stdout, sink=sink)
    elif part == "resend_memory":
        memory.run(stdout)
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
