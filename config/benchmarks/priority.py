"""``priority``: how long one high-priority email waits behind 20,000 low-priority ones.

One ``db_worker`` (started and idle) sends to the sink of ``send``. Timed: from
``send_message(..., priority="high")`` for one user to its receiver recorded ``sent``
(polled every 2 ms), ``queued`` while the worker is busy with 20,000 low-priority emails
enqueued before it, ``idle`` with nothing else queued (sent at a random moment of the
worker's poll interval). Rounds: 5, alternating which goes first;
medians. Goal: ratio <= 3 (the high email waits for the batch in hand, not the queue).
"""

from __future__ import annotations

import random
import time
from typing import TextIO

from django.test import override_settings
from django_tasks_db.models import DBTaskResult

from messaging.api import send_message
from messaging.models import Message, MessageReceiver
from messaging.tasks import enqueue_batches

from .common import create_users, median, write_metric
from .send import create_message, reset, running_sink
from .send_worker import DB_TASKS, running_workers

ROUNDS = 5
LOW_EMAILS = 20_000
STARTED = 200  # low emails sent before the high one is: the worker is well under way
POLL_SECONDS = 0.002
TIMEOUT_SECONDS = 600
GOAL = 3


def wait_for(condition, what: str) -> None:
    deadline = time.monotonic() + TIMEOUT_SECONDS
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"priority: timed out waiting for {what}")
        time.sleep(POLL_SECONDS)


def high_latency(user) -> float:
    """Seconds from sending one high-priority email to its receiver recorded ``sent``."""
    start = time.perf_counter()
    message = send_message(users=[user], subject="Password reset", html="<p>x</p>", priority="high")
    receiver = MessageReceiver.objects.filter(message=message, status=MessageReceiver.Status.SENT)
    wait_for(receiver.exists, "the high-priority email")
    latency = time.perf_counter() - start
    Message.objects.filter(pk=message.pk).delete()
    return latency


def measure(port: int, user, low: Message | None, low_ids: list[int]) -> float:
    """The high email's latency with the low ones queued first (``low``), or idle."""
    DBTaskResult.objects.all().delete()
    with running_workers(1, port):
        if low is None:
            # At a random moment of the idle worker's poll interval, not just after a poll.
            time.sleep(random.uniform(0, 1))
            return high_latency(user)
        reset(low)
        Message.objects.filter(pk=low.pk).update(priority=Message.Priority.LOW)
        enqueue_batches(low_ids, message_id=low.pk, priority="low")
        sent = MessageReceiver.objects.filter(message=low, status=MessageReceiver.Status.SENT)
        wait_for(lambda: sent.count() >= STARTED, "the worker to start on the low emails")
        return high_latency(user)


def run(stdout: TextIO, sink: str = "auto", low_emails: int = LOW_EMAILS) -> None:
    """Print ``METRIC priority_latency queued=<s> idle=<s> ratio=<queued/idle>``.

    ``low_emails`` is for the harness's own test, which runs it small."""
    times: dict[str, list[float]] = {"queued": [], "idle": []}
    with running_sink(sink) as (sink_name, port), override_settings(TASKS=DB_TASKS):
        stdout.write(
            f"priority_latency: SMTP sink: {sink_name}, one db_worker; s from sending one "
            f"high-priority email to it recorded sent, behind {low_emails} low-priority "
            f"ones (queued) and alone (idle); goal: ratio <= {GOAL}\n"
        )
        low, low_ids, _emails = create_message(low_emails)
        [user] = create_users(1, prefix="prioritybench")
        for round_number in range(ROUNDS):
            order = ("queued", "idle") if round_number % 2 == 0 else ("idle", "queued")
            for side in order:
                queued = side == "queued"
                times[side].append(measure(port, user, low if queued else None, low_ids))
    DBTaskResult.objects.all().delete()
    queued, idle = median(times["queued"]), median(times["idle"])
    write_metric(stdout, "priority_latency", queued=queued, idle=idle, ratio=queued / idle)
