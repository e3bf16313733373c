"""Racing workers, cron and bulk resends on PostgreSQL; a worker killed in mid-batch.

Real ``manage.py db_worker`` and ``resend_failed_messages`` processes work on the test
database while a real SMTP server counts what it accepts for each recipient.
"""

from __future__ import annotations

import random
import signal
import threading
import time

import pytest
from django.db import transaction

from messaging.api import request_sends
from messaging.batching import chunked
from messaging.models import MessageReceiver
from messaging.tasks import enqueue_batches
from messaging.testing.smtp import FaultInjectingHandler, SMTPServer

from .workers import (
    GreylistingHandler,
    Processes,
    db_worker_args,
    make_receivers,
    shared_database,
    wait_until,
    worker_env,
)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

DB_TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}


@pytest.fixture(params=[1, 4], ids=["1-connection", "4-connections"])
def connections(request) -> int:
    """``MESSAGING_CONNECTIONS_PER_WORKER`` of the workers: the guarantees hold for both."""
    return request.param


@pytest.fixture
def processes():
    running = Processes()
    yield running
    running.stop_all()


def unfinished() -> int:
    """Receivers that still have a send asked for or a live claim."""
    pending = MessageReceiver.objects.filter(pending_sends__gt=0)
    claimed = MessageReceiver.objects.filter(claimed_until__isnull=False)
    return pending.count() + claimed.count()


def cron_loop(processes: Processes, env: dict, stop: threading.Event, errors: list) -> None:
    """Run the cron command again and again until ``stop``; alternate ``--all``."""
    rounds = 0
    while not stop.is_set():
        args = ["resend_failed_messages"] + (["--all"] if rounds % 2 else [])
        try:
            processes.run(args, env, timeout=60)
        except Exception as error:  # reported by the test, not lost in a thread
            errors.append(error)
            return
        rounds += 1


def test_workers_cron_and_bulk_resend_deliver_each_request_exactly_once(
    request, processes, settings, connections
):
    shared_db = shared_database(request, postgres_only=True)
    settings.TASKS = DB_TASKS
    settings.MESSAGING_BATCH_SIZE = 100
    rng = random.Random(5)
    grey = [f"grey{i}@example.org" for i in range(100)]
    plain = [f"user{i}@example.org" for i in range(1900)]
    ids = make_receivers(grey + plain)
    address_of = dict(zip(ids, grey + plain, strict=True))
    plain_ids = ids[len(grey) :]
    expected = {address: 1 for address in grey + plain}

    with SMTPServer(GreylistingHandler(keep_messages=False)) as server:
        env = worker_env(
            shared_db,
            server.port,
            MESSAGING_RETRY_BASE_DELAY="0",
            MESSAGING_CONNECTIONS_PER_WORKER=str(connections),
        )
        for _ in range(4):
            processes.start(db_worker_args(), env)
        stop, errors = threading.Event(), []
        crons = [
            threading.Thread(target=cron_loop, args=(processes, env, stop, errors))
            for _ in range(2)
        ]
        try:
            for cron in crons:
                cron.start()
            with transaction.atomic():
                request_sends(ids)
                # Each batch's task three times in a row, so that workers race for the
                # same receivers (as when a job is delivered twice or cron requeues it).
                for batch in chunked(ids, 100):
                    for _ in range(3):
                        enqueue_batches(batch)
            for _ in range(3):  # staff resend a selection while the workers are busy
                time.sleep(0.7)
                chosen = rng.sample(plain_ids, 150)
                request_sends(chosen)
                for pk in chosen:
                    expected[address_of[pk]] += 1

            def done() -> bool:
                return not unfinished() and server.handler.total() >= sum(expected.values())

            wait_until(done, 300, "every send to be delivered", report=processes.tails)
        finally:
            stop.set()
            for cron in crons:
                cron.join(timeout=60)
        assert not errors, errors
        time.sleep(1)  # anything sent twice would arrive now
        deliveries = dict(server.handler.deliveries)

    wrong = {a: (deliveries.get(a, 0), n) for a, n in expected.items() if deliveries.get(a) != n}
    assert not wrong, f"{len(wrong)} receivers got (delivered, asked) {list(wrong.items())[:10]}"
    receivers = MessageReceiver.objects.filter(pk__in=ids)
    assert receivers.exclude(status="sent").count() == 0
    assert receivers.filter(send_to__startswith="grey", sending_failed_count=1).count() == 100
    for receiver in receivers.only("send_to", "sending_success_count"):
        assert receiver.sending_success_count == expected[receiver.send_to]


def test_killed_worker_loses_no_email_and_sends_at_most_one_twice_per_connection(
    request, processes, settings, connections
):
    shared_db = shared_database(request)
    settings.TASKS = DB_TASKS
    settings.MESSAGING_BATCH_SIZE = 40
    addresses = [f"crash{i}@example.org" for i in range(120)]
    ids = make_receivers(addresses)
    lease = 8  # longer than any live batch here, even on a busy machine

    with SMTPServer(FaultInjectingHandler(keep_messages=False)) as server:
        env = worker_env(
            shared_db,
            server.port,
            MESSAGING_CLAIM_LEASE_SECONDS=str(lease),
            MESSAGING_CONNECTIONS_PER_WORKER=str(connections),
        )
        slow = processes.start(db_worker_args(), {**env, "MESSAGING_MAX_PER_SECOND": "10"})
        request_sends(ids)
        wait_until(lambda: server.handler.total() >= 8, 90, "the slow worker to start")
        slow.send_signal(signal.SIGKILL)
        slow.wait(timeout=10)
        killed_at = time.monotonic()
        claimed = MessageReceiver.objects.filter(claimed_until__isnull=False).count()
        assert claimed > 0, "the worker was killed after its batch, not in the middle of it"

        processes.start(db_worker_args(), env)
        wait_until(
            lambda: MessageReceiver.objects.filter(pending_sends__gt=0).count() == 0,
            60,
            "the other batches to be sent",
            report=processes.tails,
        )
        time.sleep(max(0.0, lease + 1 - (time.monotonic() - killed_at)))
        output = processes.run(["resend_failed_messages"], env)
        wait_until(lambda: not unfinished(), 60, "the dead worker's emails", report=processes.tails)
        time.sleep(1)
        deliveries = dict(server.handler.deliveries)

    assert "0 messages were automatically resent" in output  # recovered, not resent
    assert "left by a stopped worker were requeued" in output
    lost = [address for address in addresses if not deliveries.get(address)]
    twice = {address: n for address, n in deliveries.items() if n > 1}
    assert not lost
    # At most the one email in flight on each of the killed worker's connections.
    assert len(twice) <= connections and all(n == 2 for n in twice.values()), twice
    receivers = MessageReceiver.objects.filter(pk__in=ids)
    assert receivers.exclude(status="sent").count() == 0
    assert receivers.filter(claimed_until__isnull=False).count() == 0
    assert receivers.filter(pending_sends__gt=0).count() == 0


def test_batch_slower_than_its_lease_keeps_its_claims_while_cron_runs(
    request, processes, settings, connections
):
    settings.TASKS = DB_TASKS
    settings.MESSAGING_BATCH_SIZE = 30
    addresses = [f"slow{i}@example.org" for i in range(30)]
    ids = make_receivers(addresses)

    with SMTPServer(FaultInjectingHandler(keep_messages=False)) as server:
        env = worker_env(
            shared_database(request),
            server.port,
            MESSAGING_CLAIM_LEASE_SECONDS="3",
            MESSAGING_CONNECTIONS_PER_WORKER=str(connections),
        )
        processes.start(db_worker_args(), {**env, "MESSAGING_MAX_PER_SECOND": "5"})
        request_sends(ids)  # one batch, about 6 s at 5 emails/s: twice the lease
        wait_until(lambda: server.handler.total() >= 1, 30, "the slow batch to start")
        processes.start(db_worker_args(), env)  # idle, ready to take what cron hands out
        recovered = []
        while unfinished():
            output = processes.run(["resend_failed_messages"], env)
            recovered.append("left by a stopped worker" in output)
            assert len(recovered) < 30, processes.tails()
        time.sleep(1)
        deliveries = dict(server.handler.deliveries)

    assert deliveries == dict.fromkeys(addresses, 1)
    assert not any(recovered)


# --- issue 9: nightly cleanup while a message is being prepared ------------------------

# Set by the test: runs the cleanup command in another process, once.
DURING_PREPARE: list = []


def language_while_cleanup_runs(user) -> str:
    """A slow ``MESSAGING_USER_LANGUAGE``: the cleanup cron job runs while it works."""
    while DURING_PREPARE:
        DURING_PREPARE.pop()()
    return "en"


def test_cleanup_never_deletes_a_message_being_prepared(request, processes, settings, make_user):
    from messaging.api import send_message
    from messaging.models import Message
    from tests.factories import make_template

    shared_db = shared_database(request, postgres_only=True)
    settings.MESSAGING_USER_LANGUAGE = f"{__name__}.language_while_cleanup_runs"
    env = worker_env(shared_db, 25)
    outputs = []
    DURING_PREPARE.append(
        lambda: outputs.append(processes.run(["delete_messages_without_receivers"], env))
    )
    template = make_template(
        key="moved", subject_en="Moved", body_en="<p>Moved</p>", subject_nb="", body_nb=""
    )
    users = [make_user() for _ in range(3)]
    message = send_message(template, users=users)
    assert outputs and "Deleted 0 messages without receivers." in outputs[0]
    message.refresh_from_db()
    assert message.status in {Message.Status.SENDING, Message.Status.SENT}
    assert message.receivers.count() == 3
