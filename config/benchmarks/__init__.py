"""``manage.py messaging_benchmark``: speed figures printed as ``METRIC`` lines.

Each part lives in its own module with a ``run`` function; :func:`run` runs the chosen
parts in one throwaway database (a temporary SQLite file, or a ``messaging_bench_<pid>``
database on the PostgreSQL server that ``DATABASE_URL`` names), dropped afterwards.
``peers`` needs the peers' apps, so under other settings it runs in a child process
under ``config.settings_bench``, with its own throwaway database.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TextIO

# Nothing here imports models at import time: the benchmark's worker settings and the
# peers' runner live in this package and are imported before Django is set up.

PARTS = (
    "prepare",
    "prepare_memory",
    "send",
    "send_worker",
    "send_rtt10",
    "rate_limit_overhead",
    "peers",
    "resend_memory",
    "bulk_resend_memory",
    "resend_time",
    "delete_time",
    "admin",
    "bounces",
    "priority",
)


def run_part(
    part: str, receivers: int, stdout: TextIO, sink: str, rtt_ms: float, rounds: int
) -> None:
    from . import (
        admin,
        bounces,
        bulk_resend,
        cron,
        memory,
        peers,
        prepare,
        prepare_memory,
        priority,
        rate_limit,
        send,
        send_rtt,
        send_worker,
    )

    if part == "prepare":
        prepare.run(receivers, stdout)
    elif part == "prepare_memory":
        prepare_memory.run(stdout)
    elif part == "send":
        send.run(receivers, stdout, sink=sink, rtt_ms=rtt_ms)
    elif part == "send_worker":
        send_worker.run(receivers, stdout, sink=sink, rtt_ms=rtt_ms)
    elif part == "send_rtt10":
        send_rtt.run(receivers, stdout, rounds=rounds)
    elif part == "rate_limit_overhead":
        rate_limit.run(receivers, stdout, sink=sink, rtt_ms=rtt_ms)
    elif part == "peers":
        peers.run(receivers, stdout, sink=sink, rtt_ms=rtt_ms, rounds=rounds)
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
    elif part == "priority":
        priority.run(stdout, sink=sink)


def run(
    parts: Sequence[str],
    receivers: int,
    stdout: TextIO,
    sink: str = "auto",
    rtt_ms: float = 0,
    rounds: int = 3,
) -> None:
    """Run ``parts`` (in the order of :data:`PARTS`), each printing its METRIC line.

    ``rtt_ms`` delays every reply of the sink of ``send``, ``send_worker`` and ``peers``;
    ``rounds`` is how many alternating rounds ``peers`` and ``send_rtt10`` take.
    """
    from . import admin, peers
    from .common import throwaway_database

    chosen = [part for part in PARTS if part in parts]
    if "admin" in chosen and not admin.supported():
        stdout.write("admin: skipped, needs PostgreSQL (set DATABASE_URL=postgres://...)\n")
        chosen.remove("admin")
    peers_apart = False
    if "peers" in chosen and not peers.in_bench_settings():
        chosen.remove("peers")
        if reason := peers.missing_extra():
            stdout.write(f"{reason}; skipped\n")
        else:
            peers_apart = True
    if chosen:
        with throwaway_database():
            for part in chosen:
                run_part(part, receivers, stdout, sink, rtt_ms, rounds)
                stdout.flush()
    if peers_apart:
        peers.run_in_bench_settings(receivers, stdout, sink, rtt_ms, rounds)
