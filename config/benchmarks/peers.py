"""``peers``: our delivery against django-post-office and django-mailer, in one run.

Every contender sends the same emails (subjects, bodies, addresses of
:func:`send.create_message`) to the same SMTP sink and is timed the same way: its rows are
queued in the database and its sender processes are started and idle; the clock runs from
the go (enqueueing our batches, or a line to the peer's process) until the database shows
every row sent, polled as ``send_worker`` polls. Rounds rotate the order; medians count.

- ``ours_w2``: two ``db_worker`` processes (``send_worker``'s machinery);
- ``post_office_default``: ``send_queued_mail`` as shipped (1 process, 5 threads, batch 100);
- ``post_office_tuned``: 2 processes, batch 1,000, only failures logged;
- ``mailer``: django-mailer's ``send_mail``, one pass through its queue;
- ``bare``: one Django SMTP connection in a loop, in this process, no database.

The peers need their apps and tables, so the part runs under ``config.settings_bench``
(and starts itself there when run under other settings), with the ``bench`` extra.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import TextIO

from django.apps import apps
from django.conf import settings
from django.test import override_settings

from .. import children
from . import send_worker
from .common import clear_messaging_data, format_number, stop_process, timed
from .rounds import alternate
from .send import Email, built_emails, create_message, running_sink, send_baseline, sink_settings

BENCH_SETTINGS = "config.settings_bench"
PEER_APPS = ("post_office", "mailer")
ROUNDS = 3
START_TIMEOUT = 60


def missing_extra() -> str | None:
    """Why the peers cannot run here (their packages are not installed), or None."""
    missing = [app for app in PEER_APPS if importlib.util.find_spec(app) is None]
    if not missing:
        return None
    return (
        f"peers: needs django-post-office and django-mailer ({', '.join(missing)} not "
        'installed). Install the bench extra: pip install -e ".[bench]"'
    )


def in_bench_settings() -> bool:
    """True when the running settings install the peers' apps (their tables get made)."""
    return all(apps.is_installed(app) for app in PEER_APPS)


def run_in_bench_settings(
    receivers: int, stdout: TextIO, sink: str, rtt_ms: float, rounds: int = ROUNDS
) -> None:
    """Run this part in a ``messaging_benchmark`` child under the bench settings."""
    command = [sys.executable, str(settings.BASE_DIR / "manage.py"), "messaging_benchmark"]
    command += ["--only", "peers", "--receivers", str(receivers), "--sink", sink]
    command += ["--rtt-ms", str(rtt_ms), "--rounds", str(rounds), "--settings", BENCH_SETTINGS]
    child = children.start(command, cwd=settings.BASE_DIR, stdout=subprocess.PIPE, text=True)
    for line in child.stdout:
        stdout.write(line)
        stdout.flush()
    if child.wait():
        raise RuntimeError(f"The peers benchmark under {BENCH_SETTINGS} failed; see above.")


# --- the peers' queues ------------------------------------------------------------------


def queue_post_office(emails: list[Email]) -> Callable[[], int]:
    """Queue ``emails`` in post_office's table; returns how to count the sent ones."""
    from post_office.models import PRIORITY, STATUS, Log
    from post_office.models import Email as PostOfficeEmail

    Log.objects.all().delete()
    PostOfficeEmail.objects.all().delete()
    PostOfficeEmail.objects.bulk_create(
        [
            PostOfficeEmail(
                from_email=built.from_email,
                to=built.to,
                subject=built.subject,
                message=built.body,
                html_message=built.alternatives[0][0],
                status=STATUS.queued,
                priority=PRIORITY.medium,
            )
            for built in built_emails(emails)
        ],
        batch_size=500,
    )
    return PostOfficeEmail.objects.filter(status=STATUS.sent).count


def queue_mailer(emails: list[Email]) -> Callable[[], int]:
    """Queue ``emails`` in django-mailer's table; returns how to count the sent ones."""
    from mailer.models import RESULT_SUCCESS, Message, MessageLog, email_to_db

    MessageLog.objects.all().delete()
    Message.objects.all().delete()
    Message.objects.bulk_create(
        [Message(message_data=email_to_db(built)) for built in built_emails(emails)],
        batch_size=500,
    )
    return MessageLog.objects.filter(result=RESULT_SUCCESS).count


# --- timing a peer ----------------------------------------------------------------------


@contextmanager
def idle_peer(name: str, port: int) -> Iterator[subprocess.Popen]:
    """The peer's runner process, set up and waiting for its go; stopped afterwards."""
    with tempfile.TemporaryDirectory() as tmpdir, (Path(tmpdir) / "peer.log").open("w+") as log:
        process = children.start(
            [sys.executable, "-m", "config.benchmarks.peer_runner", name],
            env=send_worker.worker_env(port, {"DJANGO_SETTINGS_MODULE": BENCH_SETTINGS}),
            cwd=settings.BASE_DIR,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
        )
        try:
            if process.stdout.readline().strip() != "ready":
                raise RuntimeError(f"{name} did not start:\n{read_log(log)}")
            yield process
            process.wait(timeout=START_TIMEOUT)
        except Exception as error:
            raise RuntimeError(f"{name} failed: {error}\n{read_log(log)}") from error
        finally:
            stop_process(process)


def read_log(log) -> str:
    log.seek(0)
    return log.read()[-4000:]


def wait_all_sent(process: subprocess.Popen, sent: Callable[[], int], expected: int) -> None:
    deadline = time.monotonic() + send_worker.TIMEOUT_SECONDS
    while (count := sent()) < expected:
        if process.poll() is not None and sent() < expected:
            raise RuntimeError(f"Exited with {sent()} of {expected} emails sent.")
        if time.monotonic() > deadline:
            raise RuntimeError(f"Only {count} of {expected} emails sent in time.")
        time.sleep(send_worker.POLL_SECONDS)


def measure_peer(name: str, port: int, queue: Callable[[], Callable[[], int]], n: int) -> float:
    """Emails per second of peer ``name``, from its go to every queued email sent."""
    sent = queue()
    with idle_peer(name, port) as process:
        start = time.perf_counter()
        process.stdin.write("go\n")
        process.stdin.flush()
        wait_all_sent(process, sent, n)
        return n / (time.perf_counter() - start)


# --- the part ---------------------------------------------------------------------------


def contenders(port: int, emails: list[Email], message, ids: list[int]) -> dict:
    n = len(emails)
    return {
        "ours_w2": partial(send_worker.measure, 2, port, message, ids),
        "post_office_default": partial(
            measure_peer, "post_office_default", port, partial(queue_post_office, emails), n
        ),
        "post_office_tuned": partial(
            measure_peer, "post_office_tuned", port, partial(queue_post_office, emails), n
        ),
        "mailer": partial(measure_peer, "mailer", port, partial(queue_mailer, emails), n),
        "bare": lambda: n / timed(partial(send_baseline, emails)),
    }


def run(
    receivers: int, stdout: TextIO, sink: str = "auto", rtt_ms: float = 0, rounds: int = ROUNDS
) -> None:
    """Print ``METRIC peers ours_w2= post_office_tuned= ratio=`` and a row per contender.

    Rates are emails/s; each ``peers_row`` also gives its ratio to the bare loop.
    """
    tasks = override_settings(TASKS=send_worker.DB_TASKS)
    with running_sink(sink, rtt_ms) as (sink_name, port), sink_settings(port), tasks:
        stdout.write(
            f"peers: SMTP sink: {sink_name} on 127.0.0.1:{port}, {receivers} emails, "
            f"{rounds} alternating rounds, from queued rows to all marked sent\n"
        )
        message, ids, emails = create_message(receivers)
        rates = alternate(contenders(port, emails, message, ids), rounds)
        clear_messaging_data()
    ours, tuned = rates["ours_w2"], rates["post_office_tuned"]
    fields = f"ours_w2={format_number(ours)} post_office_tuned={format_number(tuned)}"
    stdout.write(f"METRIC peers {fields} ratio={format_number(ours / tuned)}\n")
    for name, rate in rates.items():
        ratio = format_number(rate / rates["bare"])
        stdout.write(f"METRIC peers_row name={name} emails_s={format_number(rate)} ratio={ratio}\n")
