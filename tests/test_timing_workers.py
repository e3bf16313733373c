"""When and in what order, with real workers on both task backends: ``db_worker``
(django-tasks' priority and ``run_after``) and ``rqworker`` (a queue per priority, taken in
order, and RQ's scheduler). A high email overtakes a low batch, a scheduled message goes
at its time and not before, a stopped message stops a worker mid-batch, and an expiry
that passes mid-batch stops it too."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from datetime import timedelta

import pytest
import redis
from django.contrib.auth import get_user_model
from django.utils import timezone

from messaging import control
from messaging.api import send_message
from messaging.models import Message, MessageReceiver
from messaging.testing.smtp import FaultInjectingHandler, SMTPServer

from .conftest import require_redis
from .workers import Processes, db_worker_args, shared_database, wait_until, worker_env

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

Status = MessageReceiver.Status
LOW_EMAILS = 60
BATCH = 5  # twelve low-priority tasks wait in the queue
RATE = "20"  # emails per second of the worker: sixty take three seconds
REDIS_URL = "redis://127.0.0.1:6379/0"


def rq_settings(settings) -> tuple[dict[str, str], str]:
    """Queues of this test's own on the machine's Redis, one per priority: the worker's
    environment for them, and the prefix that names them all."""
    require_redis(REDIS_URL)
    prefix = f"messaging-test-{uuid.uuid4().hex[:12]}"
    queues = {level: f"{prefix}-{level}" for level in ("high", "normal", "low")}
    names = list(queues.values())
    settings.TASKS = {"default": {"BACKEND": "django_tasks_rq.RQBackend", "QUEUES": names}}
    settings.RQ_QUEUES = {name: {"URL": REDIS_URL, "DEFAULT_TIMEOUT": 900} for name in names}
    settings.MESSAGING_TASK_QUEUE = queues["normal"]
    settings.MESSAGING_PRIORITY_QUEUES = {"high": queues["high"], "low": queues["low"]}
    env = {
        "MESSAGING_USE_RQ": "1",
        "REDIS_URL": REDIS_URL,
        "MESSAGING_TASK_QUEUE": queues["normal"],
        "MESSAGING_PRIORITY_QUEUES": f"{queues['high']},{queues['low']}",
    }
    return env, prefix


@pytest.fixture(params=["db", "rq"], ids=["db_worker", "rqworker"])
def start_worker(request, settings) -> Callable[[], None]:
    """Starts one worker of the backend, sending at ``RATE`` to a real SMTP server."""
    database_url = shared_database(request)
    settings.MESSAGING_BATCH_SIZE = BATCH
    processes = Processes()
    server = SMTPServer(FaultInjectingHandler(keep_messages=False)).start()
    prefix = ""
    if request.param == "db":
        settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
        backend_env, command, ready = {}, db_worker_args(), "Starting worker"
    else:
        request.applymarker(pytest.mark.redis)
        backend_env, prefix = rq_settings(settings)
        queues = [f"{prefix}-{level}" for level in ("high", "normal", "low")]
        command = ["rqworker", "--job-class", "django_tasks_rq.Job", "--with-scheduler", *queues]
        ready = "Scheduler for"
    env = worker_env(database_url, server.port, MESSAGING_MAX_PER_SECOND=RATE, **backend_env)

    def start() -> None:
        """Start the worker; returns once it listens, so the test's clock starts then."""
        worker = processes.start(command, env)
        listening = lambda: ready in processes.output(worker)  # noqa: E731
        wait_until(listening, 60, "the worker to listen", processes.tails)

    start.processes = processes  # type: ignore[attr-defined]
    yield start
    processes.stop_all()
    server.stop()
    if prefix:
        connection = redis.Redis.from_url(REDIS_URL)
        for key in connection.scan_iter(match=f"*{prefix}*"):  # queues and registries
            connection.delete(key)


def users(count: int) -> list:
    User = get_user_model()
    prefix = uuid.uuid4().hex[:8]
    return User.objects.bulk_create(
        [User(username=f"{prefix}{i}", email=f"{prefix}{i}@example.org") for i in range(count)]
    )


def count(message: Message, status: str = Status.SENT) -> int:
    return message.receivers.filter(status=status).count()


def test_a_high_email_overtakes_a_low_batch(start_worker):
    tails = start_worker.processes.tails
    start_worker()
    low = send_message(users=users(LOW_EMAILS), subject="News", html="<p>x</p>", priority="low")
    wait_until(lambda: count(low) >= BATCH, 60, "the worker to start on the low emails", tails)
    high = send_message(users=users(1), subject="Reset", html="<p>x</p>", priority="high")
    wait_until(lambda: count(high) == 1, 60, "the high-priority email", tails)
    assert count(low) < LOW_EMAILS, "the high email waited for the whole low batch"
    wait_until(lambda: count(low) == LOW_EMAILS, 60, "the rest of the low emails", tails)


def test_a_scheduled_message_goes_at_its_time_and_not_before(start_worker):
    tails = start_worker.processes.tails
    start_worker()
    send_at = timezone.now() + timedelta(seconds=3)
    message = send_message(users=users(3), subject="Exam", html="<p>x</p>", send_at=send_at)
    wait_until(lambda: count(message) == 3, 60, "the scheduled emails", tails)
    first = message.receivers.order_by("sent_datetime").first().sent_datetime
    assert first >= send_at
    assert first < send_at + timedelta(seconds=30)  # the backend ran it: cron never did
    message.refresh_from_db()
    assert message.status == Message.Status.SENT


def test_stopping_a_message_stops_a_worker_mid_batch(start_worker):
    tails = start_worker.processes.tails
    start_worker()
    message = send_message(users=users(LOW_EMAILS), subject="Oops", html="<p>x</p>")
    wait_until(lambda: count(message) >= 2, 60, "the worker to start", tails)
    cancelled = control.stop(message)
    time.sleep(1)  # the worker would have sent twenty more by now
    sent = count(message)
    # At most the email being handed over when staff stopped it went out after: it was
    # cancelled, then recorded sent.
    assert LOW_EMAILS - cancelled <= sent <= LOW_EMAILS - cancelled + 1
    assert count(message, Status.CANCELLED) == LOW_EMAILS - sent
    wait_until(
        lambda: not message.receivers.filter(claimed_until__isnull=False).exists(),
        60,
        "the worker to release its claims",
        tails,
    )
    assert count(message) == sent


def test_an_expiry_passing_mid_batch_stops_the_worker(start_worker):
    tails = start_worker.processes.tails
    start_worker()
    expires_at = timezone.now() + timedelta(seconds=2)
    message = send_message(
        users=users(LOW_EMAILS), subject="Flash sale", html="<p>x</p>", expires_at=expires_at
    )
    wait_until(lambda: count(message) >= 1, 60, "the worker to start", tails)
    wait_until(
        lambda: (
            not message.receivers.filter(claimed_until__isnull=False).exists()
            and timezone.now() > expires_at + timedelta(seconds=1)
        ),
        60,
        "the worker to stop at the expiry",
        tails,
    )
    sent = count(message)
    assert 0 < sent < LOW_EMAILS
    late = message.receivers.filter(sent_datetime__gt=expires_at + timedelta(milliseconds=500))
    assert not late.exists()  # none after the time (but the one being handed over)
