"""Scale-out on Redis: real ``rqworker`` processes deliver a message to 500 receivers."""

from __future__ import annotations

import uuid

import pytest
import redis
from django.contrib.auth import get_user_model

from messaging.api import send_message
from messaging.models import Message
from messaging.testing.smtp import FaultInjectingHandler, SMTPServer

from .conftest import require_redis
from .workers import Processes, shared_database, worker_env

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.redis, pytest.mark.slow]

REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture
def rq_queue(request, settings):
    """A queue of this test's own on the machine's Redis; the test process enqueues on it."""
    require_redis(REDIS_URL)
    name = f"messaging-test-{uuid.uuid4().hex[:12]}"
    queues = ["default", name]  # every queue in TASKS must also be in RQ_QUEUES
    settings.TASKS = {"default": {"BACKEND": "django_tasks_rq.RQBackend", "QUEUES": queues}}
    settings.RQ_QUEUES = {queue: {"URL": REDIS_URL, "DEFAULT_TIMEOUT": 900} for queue in queues}
    settings.MESSAGING_TASK_QUEUE = name
    yield name
    connection = redis.Redis.from_url(REDIS_URL)
    for key in connection.scan_iter(match=f"*{name}*"):  # the queue and its registries
        connection.delete(key)


def test_rqworkers_deliver_a_message_to_500_receivers(request, rq_queue, settings):
    database_url = shared_database(request)
    users = get_user_model().objects.bulk_create(
        [get_user_model()(username=f"rq{i}", email=f"rq{i}@example.org") for i in range(500)]
    )
    processes = Processes()
    with SMTPServer(FaultInjectingHandler(keep_messages=False)) as server:
        env = worker_env(
            database_url,
            server.port,
            MESSAGING_USE_RQ="1",
            REDIS_URL=REDIS_URL,
            MESSAGING_TASK_QUEUE=rq_queue,
        )
        message = send_message(users=users, subject="Exam moved", html="<p>Room 4</p>")
        try:
            workers = [
                processes.start(
                    ["rqworker", "--job-class", "django_tasks_rq.Job", "--burst", rq_queue], env
                )
                for _ in range(2)
            ]
            for worker in workers:
                worker.wait(timeout=90)
        finally:
            processes.stop_all()
        assert all(worker.returncode == 0 for worker in workers), processes.tails()
        deliveries = dict(server.handler.deliveries)

    assert deliveries == {f"rq{i}@example.org": 1 for i in range(500)}, processes.tails()
    message.refresh_from_db()
    assert message.status == Message.Status.SENT
    statuses = set(message.receivers.values_list("status", "pending_sends", "claimed_until"))
    assert statuses == {("sent", 0, None)}
