"""``send_rtt10``: delivery to a relay 10 ms away, where round trips bound a connection.

The latency sink answers every SMTP command 10 ms after it arrives. ``bare`` is the
one-connection Django loop, unpipelined: four round trips per email (``MAIL``, ``RCPT``,
``DATA`` and the message). ``ours`` is one ``db_worker`` with
``MESSAGING_CONNECTIONS_PER_WORKER=4``, timed as ``send_worker`` times it, from enqueuing
to every receiver marked sent. At most 300 emails, so that the bare loop's rounds end
in seconds; rounds alternate and the medians are compared.
"""

from __future__ import annotations

import json
from functools import partial
from typing import TextIO

from django.test import override_settings

from . import send_worker
from .common import clear_messaging_data, timed, write_metric
from .rounds import alternate
from .send import create_message, running_sink, send_baseline, sink_settings

RTT_MS = 10
MAX_EMAILS = 300
CONNECTIONS_PER_WORKER = 4
ROUNDS = 3


def worker_env() -> dict[str, str]:
    """One worker's settings: the site's, with several SMTP connections per worker."""
    overrides = {"MESSAGING_CONNECTIONS_PER_WORKER": CONNECTIONS_PER_WORKER}
    return {
        "DJANGO_SETTINGS_MODULE": "config.benchmarks.worker_settings",
        "MESSAGING_BENCH_SETTINGS": json.dumps(overrides),
    }


def run(receivers: int, stdout: TextIO, rounds: int = ROUNDS) -> None:
    """Print ``METRIC send_rtt10 ours=<emails/s> bare=<emails/s> ratio=<ours/bare>``."""
    count = min(receivers, MAX_EMAILS)
    tasks = override_settings(TASKS=send_worker.DB_TASKS)
    with running_sink(rtt_ms=RTT_MS) as (sink_name, port), sink_settings(port), tasks:
        stdout.write(
            f"send_rtt10: SMTP sink: {sink_name}, {RTT_MS} ms per reply, {count} emails, one "
            f"db_worker with {CONNECTIONS_PER_WORKER} connections against the bare loop\n"
        )
        message, ids, emails = create_message(count)
        sides = {
            "ours": partial(send_worker.measure, 1, port, message, ids, worker_env()),
            "bare": lambda: count / timed(partial(send_baseline, emails)),
        }
        rates = alternate(sides, rounds)
        clear_messaging_data()
    write_metric(stdout, "send_rtt10", **rates, ratio=rates["ours"] / rates["bare"])
