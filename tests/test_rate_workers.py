"""Rate limits with real worker processes and a real SMTP server: one rate for all workers
(the database bucket with ``db_worker``, the Redis bucket with ``rqworker``), a 4xx's
retry-after, and a domain that asks us to slow down."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from itertools import pairwise

import pytest
import redis
from django.contrib.auth import get_user_model
from django.utils import timezone

from messaging.api import send_message
from messaging.models import DomainSlowdown, MessageReceiver

from .conftest import require_redis
from .test_rate_limits import RateHandler
from .workers import Processes, db_worker_args, shared_database, wait_until, worker_env

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

REDIS_URL = "redis://127.0.0.1:6379/7"  # a database of these tests' own
Start = Callable[..., Processes]


def users(addresses: list[str]) -> list:
    User = get_user_model()
    return User.objects.bulk_create(
        [User(username=address, email=address) for address in addresses]
    )


@pytest.fixture(params=["db", "rq"], ids=["db_worker", "rqworker"])
def start_workers(request, settings) -> Iterator[Callable[..., Processes]]:
    """``start_workers(handler, count, **env)``: ``count`` workers of the backend sending to
    a real SMTP server run by ``handler``; returns once they all listen."""
    database_url = shared_database(request)
    processes, servers = Processes(), []
    backend_env: dict[str, str] = {}
    queue = ""
    if request.param == "db":
        settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
        command, ready = db_worker_args(), "Starting worker"
    else:
        request.applymarker(pytest.mark.redis)
        require_redis(REDIS_URL)
        queue = f"messaging-test-{uuid.uuid4().hex[:12]}"
        queues = ["default", queue]
        settings.TASKS = {"default": {"BACKEND": "django_tasks_rq.RQBackend", "QUEUES": queues}}
        settings.RQ_QUEUES = {name: {"URL": REDIS_URL, "DEFAULT_TIMEOUT": 900} for name in queues}
        settings.MESSAGING_TASK_QUEUE = queue
        backend_env = {"MESSAGING_USE_RQ": "1", "REDIS_URL": REDIS_URL}
        backend_env["MESSAGING_TASK_QUEUE"] = queue
        command = ["rqworker", "--job-class", "django_tasks_rq.Job", "--with-scheduler", queue]
        ready = "Listening on"
        redis.Redis.from_url(REDIS_URL).delete("messaging:rate:default")

    def start(handler: RateHandler, count: int, **env: str) -> Processes:
        from messaging.testing.smtp import SMTPServer

        server = SMTPServer(handler).start()
        servers.append(server)
        environment = worker_env(database_url, server.port, **backend_env, **env)
        for _ in range(count):
            worker = processes.start(command, environment)
            listening = lambda worker=worker: ready in processes.output(worker)  # noqa: E731
            wait_until(listening, 60, "a worker to listen", processes.tails)
        return processes

    yield start
    processes.stop_all()
    for server in servers:
        server.stop()
    if queue:
        connection = redis.Redis.from_url(REDIS_URL)
        for key in connection.scan_iter(match=f"*{queue}*"):
            connection.delete(key)


def test_two_workers_together_keep_one_rate(start_workers):
    handler = RateHandler(keep_messages=False)
    processes = start_workers(handler, 2, MESSAGING_MAX_PER_SECOND="20", MESSAGING_BATCH_SIZE="10")
    message = send_message(
        users=users([f"r{i}@example.org" for i in range(200)]), subject="Hi", html="<p>x</p>"
    )
    sent = lambda: message.receivers.filter(status="sent").count() == 200  # noqa: E731
    wait_until(sent, 60, "200 emails", processes.tails)
    assert handler.total() == 200  # each once
    # 20 a second for both: a worker of its own rate each would take 5 seconds.
    assert handler.span() >= 9.5, processes.tails()


def test_a_4xx_naming_a_time_holds_the_retry_back_that_long(start_workers):
    handler = RateHandler({"wait.test": "451 4.7.1 Try again in 5 minutes"})
    processes = start_workers(handler, 1, MESSAGING_RETRY_BASE_DELAY="60")
    before = timezone.now()
    message = send_message(users=users(["ola@wait.test"]), subject="Hi", html="<p>x</p>")
    failed = lambda: message.receivers.filter(status="failed").exists()  # noqa: E731
    wait_until(failed, 60, "the refusal", processes.tails)
    receiver = message.receivers.get()
    assert receiver.sending_failed_count == 1
    assert receiver.next_attempt_at >= before + timedelta(minutes=5)


def test_a_domain_that_asks_to_slow_down_gets_its_emails_spaced(start_workers):
    reply = "421 4.7.28 Our system has detected an unusual rate of unsolicited mail"
    handler = RateHandler({"slow.test": reply}, keep_messages=False)
    processes = start_workers(handler, 2, MESSAGING_BATCH_SIZE="10")
    addresses = [f"f{i}@fast.test" for i in range(30)] + [f"s{i}@slow.test" for i in range(5)]
    message = send_message(users=users(addresses), subject="Hi", html="<p>x</p>")
    receivers = MessageReceiver.objects.filter(message=message)
    fast_sent = lambda: receivers.filter(status="sent", send_to__endswith="fast.test").count()  # noqa: E731
    wait_until(lambda: fast_sent() == 30, 30, "the other domain's emails", processes.tails)
    # The one refused waits for its backoff; the other four go one a second.
    slow_sent = lambda: receivers.filter(status="sent", send_to__endswith="slow.test").count()  # noqa: E731
    wait_until(lambda: slow_sent() == 4, 60, "the slowed domain's emails", processes.tails)
    fast_times = sorted(at for at, address in handler.accepted_at if address.endswith("fast.test"))
    slow_times = sorted(at for at, address in handler.accepted_at if address.endswith("slow.test"))
    assert fast_times[-1] - fast_times[0] < 5  # at full speed, not a second apart
    assert all(later - earlier >= 0.9 for earlier, later in pairwise(slow_times))
    assert handler.total() == 34  # nothing twice
    counts = sorted(receivers.values_list("sending_failed_count", flat=True))
    assert counts == [0] * 34 + [1]  # only the one real refusal counts as a failure
    assert DomainSlowdown.objects.get().domain == "slow.test"
