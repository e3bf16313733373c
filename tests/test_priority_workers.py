"""Priority with real workers: a high-priority email enqueued behind a batch of low ones
is sent before the batch finishes, by a ``db_worker`` (django-tasks' priority) and by an
``rqworker`` taking its queues in order (one queue per priority)."""

from __future__ import annotations

import uuid

import pytest
import redis
from django.contrib.auth import get_user_model

from messaging.api import send_message
from messaging.models import MessageReceiver
from messaging.testing.smtp import FaultInjectingHandler, SMTPServer

from .conftest import require_service
from .workers import Processes, db_worker_args, shared_database, wait_until, worker_env

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

LOW_EMAILS = 60
BATCH = 5  # twelve low-priority tasks wait in the queue
RATE = "20"  # emails per second of the worker: the low batch takes three seconds
REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture
def processes():
    running = Processes()
    yield running
    running.stop_all()


def users(prefix: str, count: int) -> list:
    User = get_user_model()
    return User.objects.bulk_create(
        [User(username=f"{prefix}{i}", email=f"{prefix}{i}@example.org") for i in range(count)]
    )


def sent(message) -> int:
    return message.receivers.filter(status=MessageReceiver.Status.SENT).count()


def high_overtakes_low(processes: Processes) -> None:
    """Queue a low message, let the worker start on it, then send one high email: it is
    recorded sent while low emails still wait."""
    low = send_message(
        users=users("low", LOW_EMAILS), subject="Newsletter", html="<p>x</p>", priority="low"
    )
    wait_until(
        lambda: sent(low) >= BATCH, 60, "the worker to start on the low emails", processes.tails
    )
    high = send_message(
        users=users("high", 1), subject="Password reset", html="<p>x</p>", priority="high"
    )
    wait_until(lambda: sent(high) == 1, 60, "the high-priority email", processes.tails)
    low_sent_then = sent(low)
    assert low_sent_then < LOW_EMAILS, "the high email waited for the whole low batch"
    wait_until(lambda: sent(low) == LOW_EMAILS, 60, "the rest of the low emails", processes.tails)


def test_db_worker_sends_high_priority_first(request, processes, settings):
    database_url = shared_database(request)
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    settings.MESSAGING_BATCH_SIZE = BATCH
    with SMTPServer(FaultInjectingHandler(keep_messages=False)) as server:
        env = worker_env(database_url, server.port, MESSAGING_MAX_PER_SECOND=RATE)
        processes.start(db_worker_args(), env)
        high_overtakes_low(processes)


@pytest.fixture
def rq_priority_queues(settings):
    """Queues of this test's own on the machine's Redis, one per priority."""
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
        available, reason = True, ""
    except redis.RedisError as error:
        available, reason = False, f"no Redis at {REDIS_URL} ({error})"
    require_service("redis", available, reason)
    prefix = f"messaging-test-{uuid.uuid4().hex[:12]}"
    queues = {level: f"{prefix}-{level}" for level in ("high", "normal", "low")}
    names = list(queues.values())
    settings.TASKS = {"default": {"BACKEND": "django_tasks_rq.RQBackend", "QUEUES": names}}
    settings.RQ_QUEUES = {name: {"URL": REDIS_URL, "DEFAULT_TIMEOUT": 900} for name in names}
    settings.MESSAGING_TASK_QUEUE = queues["normal"]
    settings.MESSAGING_PRIORITY_QUEUES = {"high": queues["high"], "low": queues["low"]}
    yield queues
    connection = redis.Redis.from_url(REDIS_URL)
    for key in connection.scan_iter(match=f"*{prefix}*"):  # the queues and their registries
        connection.delete(key)


@pytest.mark.redis
def test_rqworker_takes_the_high_queue_first(request, processes, settings, rq_priority_queues):
    database_url = shared_database(request)
    settings.MESSAGING_BATCH_SIZE = BATCH
    queues = rq_priority_queues
    with SMTPServer(FaultInjectingHandler(keep_messages=False)) as server:
        env = worker_env(
            database_url,
            server.port,
            MESSAGING_USE_RQ="1",
            REDIS_URL=REDIS_URL,
            MESSAGING_TASK_QUEUE=queues["normal"],
            MESSAGING_PRIORITY_QUEUES=f"{queues['high']},{queues['low']}",
            MESSAGING_MAX_PER_SECOND=RATE,
        )
        in_order = [queues["high"], queues["normal"], queues["low"]]
        processes.start(["rqworker", "--job-class", "django_tasks_rq.Job", *in_order], env)
        high_overtakes_low(processes)
