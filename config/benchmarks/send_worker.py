"""``send_worker``: delivery by real ``db_worker`` processes, one and then two of them.

The clock runs from enqueuing the batches to every receiver marked ``sent``, with the
workers already started and idle; the database is polled five times a second. Rounds
alternate which worker count goes first and the medians are compared.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import TextIO

from django.conf import settings
from django.test import override_settings

from messaging import conf
from messaging.models import Message, MessageReceiver
from messaging.tasks import enqueue_batches

from .. import children
from .common import database_url, median, stop_process, write_metric
from .send import create_message, reset, running_sink

ROUNDS = 3
WORKER_COUNTS = (1, 2)
POLL_SECONDS = 0.2
TIMEOUT_SECONDS = 600
DB_TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}


def worker_env(port: int, extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": database_url(),
        "TASKS_BACKEND": DB_TASKS["default"]["BACKEND"],
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(port),
        "EMAIL_USE_TLS": "0",
        "DEBUG": "0",  # as in production: DEBUG keeps every query's SQL
    }
    env.pop("MESSAGING_USE_RQ", None)
    return {**env, **(extra or {})}


@contextmanager
def running_workers(count: int, port: int, env: dict[str, str] | None = None) -> Iterator[None]:
    """``count`` ``db_worker`` processes, started and idle; stopped afterwards.

    ``env`` adds to the workers' environment, e.g. another settings module."""
    command = [sys.executable, str(settings.BASE_DIR / "manage.py"), "db_worker"]
    command += ["--queue-name", conf.task_queue(), "--interval", "0.1"]
    command += ["--no-startup-delay", "--no-reload"]
    with ExitStack() as stack:
        logs = []
        for _ in range(count):
            log = Path(stack.enter_context(tempfile.TemporaryDirectory())) / "worker.log"
            with log.open("w") as output:
                process = children.start(
                    command,
                    env=worker_env(port, env),
                    cwd=settings.BASE_DIR,
                    stdout=output,
                    stderr=subprocess.STDOUT,
                )
            stack.callback(stop_process, process)
            logs.append((process, log))
        for process, log in logs:
            wait_for_start(process, log)
        yield


def wait_for_start(process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 60
    while "Starting worker" not in log.read_text():
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"db_worker did not start:\n{log.read_text()}")
        time.sleep(0.1)


def wait_all_sent(message: Message, expected: int) -> None:
    sent = MessageReceiver.objects.filter(message=message, status=MessageReceiver.Status.SENT)
    deadline = time.monotonic() + TIMEOUT_SECONDS
    while sent.count() < expected:
        if time.monotonic() > deadline:
            raise RuntimeError(f"Only {sent.count()} of {expected} sent by the workers.")
        time.sleep(POLL_SECONDS)


def measure(
    workers: int, port: int, message: Message, ids: list[int], env: dict[str, str] | None = None
) -> float:
    """Emails per second delivered by ``workers`` db_worker processes."""
    reset(message)
    with running_workers(workers, port, env):
        start = time.perf_counter()
        enqueue_batches(ids, message_id=message.pk)
        wait_all_sent(message, len(ids))
        return len(ids) / (time.perf_counter() - start)


def run(receivers: int, stdout: TextIO, sink: str = "auto", rtt_ms: float = 0) -> None:
    """Print ``METRIC send_worker workers1=<emails/s> workers2=<emails/s> ratio=<2/1>``."""
    rates: dict[int, list[float]] = {count: [] for count in WORKER_COUNTS}
    with running_sink(sink, rtt_ms) as (sink_name, port), override_settings(TASKS=DB_TASKS):
        stdout.write(
            f"send_worker: SMTP sink: {sink_name}, {receivers} emails, db_worker processes "
            f"{WORKER_COUNTS}, from enqueue to all sent\n"
        )
        message, ids, _emails = create_message(receivers)
        for round_number in range(ROUNDS):
            order = WORKER_COUNTS if round_number % 2 == 0 else WORKER_COUNTS[::-1]
            for count in order:
                rates[count].append(measure(count, port, message, ids))
    one, two = (median(rates[count]) for count in WORKER_COUNTS)
    write_metric(stdout, "send_worker", workers1=one, workers2=two, ratio=two / one)
