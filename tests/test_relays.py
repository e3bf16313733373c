"""Relay health (issue 28): a relay that fails for its own reasons goes down, is probed and
comes back; a second relay takes over meanwhile; ``MESSAGING_GIVE_UP_AFTER`` gives up by age
and leaves outages out of its budget.

In-process tests run delivery on the Immediate task backend against real SMTP servers and
move the clock; the ``slow`` ones run real ``db_worker`` processes on the shared test
database (PostgreSQL, or a SQLite file).
"""

from __future__ import annotations

import smtplib
import ssl
import uuid
from collections import Counter
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core.checks import run_checks
from django.test import Client
from django.utils import timezone

from config.mail import local_smtp
from messaging import signals
from messaging.api import request_sends, send_message
from messaging.delivery import classify, relays
from messaging.exceptions import ConnectionOpenError
from messaging.maintenance import resend_failed
from messaging.models import MessageReceiver, RelayState
from messaging.tasks import check_relay, enqueue_batches
from messaging.testing.smtp import FaultInjectingHandler, SMTPServer

from . import signal_log
from .workers import Processes, db_worker_args, shared_database, wait_until, worker_env

Status = MessageReceiver.Status
DB_TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}


def opening(error: BaseException) -> ConnectionOpenError:
    """``error`` as the delivery loop sees it when opening the connection failed."""
    try:
        raise ConnectionOpenError(str(error)) from error
    except ConnectionOpenError as wrapped:
        return wrapped


# --- the classification -------------------------------------------------------------------


@pytest.mark.parametrize(
    "error",
    [
        opening(ConnectionRefusedError(111, "Connection refused")),
        opening(TimeoutError("timed out")),
        opening(ssl.SSLError(1, "wrong version number")),
        opening(smtplib.SMTPConnectError(421, b"Too busy, try later")),
        opening(smtplib.SMTPAuthenticationError(535, b"Authentication credentials invalid")),
    ],
    ids=["refused", "timeout", "tls", "421-at-greeting", "login-refused"],
)
def test_failures_to_reach_the_relay_are_its_fault(error):
    failure = classify(error)
    assert failure.relay_fault
    assert not failure.permanent
    assert failure.entry()["relay_fault"] is True


@pytest.mark.parametrize(
    "error",
    [
        smtplib.SMTPRecipientsRefused({"a@example.org": (550, b"No such user")}),
        smtplib.SMTPRecipientsRefused({"a@example.org": (451, b"Try later")}),
        smtplib.SMTPSenderRefused(421, b"Too many messages", "from@example.org"),
        smtplib.SMTPServerDisconnected("Connection unexpectedly closed"),
        TimeoutError("timed out"),  # a stalled session, not a failed connect
    ],
    ids=["550-recipient", "451-recipient", "421-mid-session", "dropped", "stalled"],
)
def test_failures_of_an_email_are_not_the_relays(error):
    assert not classify(error).relay_fault
    assert "relay_fault" not in classify(error).entry()


# --- settings -----------------------------------------------------------------------------


def test_a_relay_fault_is_stored_as_text_whatever_the_server_said(db):
    greeting = smtplib.SMTPConnectError(421, b"busy\x00\x1b[31m now")
    opening = ConnectionOpenError("no connection")
    opening.__cause__ = greeting
    failure = classify(opening)
    assert failure.relay_fault
    assert failure.message == "The mail server answered 421: busy[31m now"
    relays.record_relay_failure("default", failure)
    assert RelayState.objects.get(mailer="default").reason == failure.message


def test_a_mailer_that_is_not_configured_is_a_system_check_error(settings):
    settings.MESSAGING_MAILERS = ["default", "nowhere"]
    errors = [e for e in run_checks() if e.id == "messaging.E050"]
    assert len(errors) == 1 and "nowhere" in errors[0].msg


@pytest.mark.parametrize(
    ("name", "value", "check_id"),
    [
        ("MESSAGING_GIVE_UP_AFTER", "5 days", "messaging.E055"),
        ("MESSAGING_RELAY_PROBE_INTERVAL", -1, "messaging.E053"),
        ("MESSAGING_RELAY_FAILURES", "many", "messaging.E052"),
    ],
)
def test_wrong_relay_settings_are_system_check_errors(settings, name, value, check_id):
    setattr(settings, name, value)
    assert check_id in {e.id for e in run_checks()}


def test_the_credentials_of_the_further_mailers_are_secret(settings):
    """Django 5.2's further mailers (MESSAGING_MAILER_SETTINGS) are scrubbed as MAILERS'."""
    from messaging import conf

    login = {"username": "backup-user", "password": "backup-password"}
    settings.MESSAGING_MAILER_SETTINGS = {"backup": {"OPTIONS": login}}
    assert {"backup-user", "backup-password"} <= set(conf.secret_values())


# --- in process: down, probed, up ---------------------------------------------------------


@pytest.fixture
def relay_signals():
    """The relay signals sent during the test, as (name, kwargs)."""
    seen: list[tuple[str, dict]] = []

    def down(sender, **kwargs):
        seen.append(("relay_down", kwargs))

    def up(sender, **kwargs):
        seen.append(("relay_up", kwargs))

    signals.relay_down.connect(down)
    signals.relay_up.connect(up)
    yield seen
    signals.relay_down.disconnect(down)
    signals.relay_up.disconnect(up)


@pytest.fixture
def clock(monkeypatch):
    """``clock.move(delta)`` moves ``timezone.now`` (everywhere) by ``delta`` from now on."""
    real_now = timezone.now

    class Clock:
        offset = timedelta(0)

        def move(self, delta: timedelta) -> None:
            self.offset += delta

        def now(self):
            return real_now() + self.offset

    moved = Clock()
    monkeypatch.setattr(timezone, "now", moved.now)
    return moved


def stopped_port() -> tuple[int, FaultInjectingHandler]:
    """The port of an SMTP server that was started and stopped (connections are refused)."""
    handler = FaultInjectingHandler()
    server = SMTPServer(handler).start()
    server.stop()
    return server.port, handler


def users(count: int, domain: str = "example.org") -> list:
    prefix = uuid.uuid4().hex[:8]
    return get_user_model().objects.bulk_create(
        [
            get_user_model()(username=f"{prefix}{i}", email=f"{prefix}{i}@{domain}")
            for i in range(count)
        ]
    )


def failed_counts(message) -> Counter:
    return Counter(message.receivers.values_list("sending_failed_count", flat=True))


@pytest.mark.django_db(transaction=True)
def test_a_relay_goes_down_after_failures_in_a_row_and_up_at_its_probe(
    settings, use_mailer, on_commit, relay_signals, clock
):
    settings.MESSAGING_RELAY_FAILURES = 3
    port, handler = stopped_port()
    use_mailer(**local_smtp(port, timeout=1))
    message = on_commit(send_message, users=users(8), subject="Hi", html="<p>Hi</p>")
    relay = RelayState.objects.get(mailer="default")
    assert (relay.state, relay.consecutive_failures) == ("down", 3)
    # Three receivers counted one attempt each; nobody's send was used up.
    assert failed_counts(message) == Counter({0: 5, 1: 3})
    assert set(message.receivers.values_list("pending_sends", flat=True)) == {1}
    assert [name for name, _kwargs in relay_signals] == ["relay_down"]
    down = relay_signals[0][1]
    assert down["mailer"] == "default" and "Connection refused" in down["reason"]
    assert down["first_failure_at"] == relay.first_failure_at

    # While it is down, delivery claims nothing and counts nothing.
    ids = list(message.receivers.values_list("pk", flat=True))
    on_commit(enqueue_batches, ids)
    assert failed_counts(message) == Counter({0: 5, 1: 3})
    assert not message.receivers.filter(claimed_until__isnull=False).exists()
    # Before its time, nobody probes it; after, a failed probe doubles the wait.
    assert check_relay("default").next_probe_at == relay.next_probe_at
    clock.move(timedelta(seconds=31))
    assert not check_relay("default").up
    assert RelayState.objects.get().probe_interval == timedelta(seconds=60)

    with SMTPServer(handler, port=port):
        clock.move(timedelta(seconds=61))
        assert on_commit(check_relay, "default").came_up
    # Sending resumed at once: every email went out exactly once.
    assert set(message.receivers.values_list("status", flat=True)) == {Status.SENT}
    assert set(handler.deliveries.values()) == {1} and len(handler.deliveries) == 8
    assert set(message.receivers.values_list("sent_via", flat=True)) == {"default"}
    assert [name for name, _kwargs in relay_signals] == ["relay_down", "relay_up"]
    relay = RelayState.objects.get()
    assert (relay.state, relay.consecutive_failures, relay.down_since) == ("up", 0, None)
    assert relay.downtime_total >= timedelta(seconds=92)


@pytest.mark.django_db
def test_probes_wait_thirty_seconds_doubling_to_ten_minutes(use_mailer, clock):
    port, _handler = stopped_port()
    use_mailer(**local_smtp(port, timeout=1))
    failure = classify(opening(ConnectionRefusedError(111, "Connection refused")))
    for _ in range(5):
        relays.record_relay_failure("default", failure)
    waits = []
    for _ in range(7):
        relay = RelayState.objects.get()
        waits.append(relay.probe_interval)
        clock.move(relay.probe_interval)
        assert not relays.check("default").up
    assert [wait.total_seconds() / 60 for wait in waits] == [0.5, 1, 2, 4, 8, 10, 10]


@pytest.mark.django_db
def test_each_outage_has_one_chain_of_probe_tasks(settings, use_mailer, clock):
    from django_tasks import task_backends

    from messaging.tasks import probe_relay, schedule_probe

    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.dummy.DummyBackend"}}
    queued = task_backends["default"].results
    port, _handler = stopped_port()
    use_mailer(**local_smtp(port, timeout=1))
    failure = classify(opening(ConnectionRefusedError(111, "Connection refused")))
    for _ in range(5):
        relays.record_relay_failure("default", failure)
    schedule_probe("default")
    relay = RelayState.objects.get()
    [first] = queued
    assert first.args == ["default", relay.down_since.isoformat()]
    assert first.task.run_after == relay.next_probe_at
    clock.move(timedelta(seconds=31))
    assert probe_relay.call(*first.args) is False  # still refused: the next one is queued
    assert len(queued) == 2 and queued[1].task.run_after == RelayState.objects.get().next_probe_at
    # Up, and down again: the first outage's chain ends; the new outage has its own.
    relays.mark_up("default")
    for _ in range(5):
        relays.record_relay_failure("default", failure)
    probe_relay.call(*queued[1].args)
    assert len(queued) == 2


@pytest.mark.django_db
def test_a_relay_marked_down_by_hand_is_probed_at_once(use_mailer, smtp_server):
    RelayState.objects.create(mailer="default", state="down", down_since=timezone.now())
    assert relays.due_for_probe() == ["default"]
    assert check_relay("default").came_up


@pytest.mark.django_db
def test_only_one_worker_probes_at_a_time(use_mailer, smtp_server, clock):
    now = timezone.now()
    RelayState.objects.create(
        mailer="default",
        state="down",
        down_since=now,
        next_probe_at=now,
        probe_claimed_until=now + timedelta(seconds=60),  # another worker probes it now
    )
    clock.move(timedelta(seconds=1))
    assert not check_relay("default").up
    assert RelayState.objects.get().state == "down"
    clock.move(timedelta(seconds=60))  # that worker died: its lease ran out
    assert check_relay("default").came_up
    assert RelayState.objects.get().state == "up"


@pytest.mark.django_db(transaction=True)
def test_cron_probes_a_relay_that_is_due_and_resends_nothing_while_it_is_down(
    settings, use_mailer, on_commit, clock
):
    settings.MESSAGING_RELAY_FAILURES = 1
    settings.MESSAGING_RETRY_BASE_DELAY = 0
    port, handler = stopped_port()
    use_mailer(**local_smtp(port, timeout=1))
    message = on_commit(send_message, users=users(3), subject="Hi", html="<p>Hi</p>")
    assert RelayState.objects.get().state == "down"
    clock.move(timedelta(hours=1))  # past every backoff and lease
    report = on_commit(resend_failed)
    assert report.relays_down == ["default"] and report.resent == 0
    assert failed_counts(message) == Counter({0: 2, 1: 1})
    with SMTPServer(handler, port=port):
        clock.move(timedelta(hours=1))
        report = on_commit(resend_failed)
    assert report.relays_down == []
    assert set(message.receivers.values_list("status", flat=True)) == {Status.SENT}
    assert set(handler.deliveries.values()) == {1} and len(handler.deliveries) == 3


@pytest.mark.django_db(transaction=True)
def test_cron_gives_up_on_nobody_while_every_relay_is_down(settings, use_mailer, on_commit, clock):
    settings.MESSAGING_RELAY_FAILURES = 1
    settings.MESSAGING_GIVE_UP_AFTER = timedelta(hours=1)
    port, _handler = stopped_port()
    use_mailer(**local_smtp(port, timeout=1))
    on_commit(send_message, users=users(1), subject="Hi", html="x")
    assert RelayState.objects.get().state == "down"
    waiting = on_commit(send_message, users=users(1), subject="Hi", html="x").receivers
    # A receiver that failed before the outage and has been failing for two hours.
    waiting.update(
        status=Status.FAILED,
        pending_sends=0,
        sending_failed_count=1,
        failing_since=timezone.now() - timedelta(hours=2),
    )
    on_commit(resend_failed)
    assert waiting.get().status == Status.FAILED


@pytest.mark.django_db(transaction=True)
def test_a_run_of_relay_faults_counts_once_and_never_makes_an_error(
    settings, use_mailer, on_commit
):
    settings.MESSAGING_RESEND_LIMIT = 0
    port, _handler = stopped_port()
    use_mailer(**local_smtp(port, timeout=1))
    receiver = on_commit(send_message, users=users(1), subject="Hi", html="x").receivers.get()
    for _ in range(3):
        on_commit(enqueue_batches, [receiver.pk])
    receiver.refresh_from_db()
    assert RelayState.objects.get().consecutive_failures == 4
    assert (receiver.status, receiver.sending_failed_count) == (Status.FAILED, 1)
    # One entry per counted attempt: the newest fault of the run.
    assert receiver.pending_sends == 1 and len(receiver.status_data["errors"]) == 1


# --- in process: a second relay -----------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_sends_go_to_the_next_relay_while_the_first_is_down(
    settings, use_mailers, on_commit, relay_signals
):
    settings.MESSAGING_RELAY_FAILURES = 2
    first_port, first = stopped_port()
    with SMTPServer() as second:
        use_mailers(default=local_smtp(first_port, timeout=1), backup=local_smtp(second.port))
        message = on_commit(send_message, users=users(6), subject="Hi", html="<p>Hi</p>")
        assert set(message.receivers.values_list("status", flat=True)) == {Status.SENT}
        assert set(message.receivers.values_list("sent_via", flat=True)) == {"backup"}
        assert failed_counts(message) == Counter({0: 4, 1: 2})
        # The next message goes straight to the second relay: the first is not tried.
        later = on_commit(send_message, users=users(3), subject="Hi", html="<p>Hi</p>")
        assert set(later.receivers.values_list("sent_via", flat=True)) == {"backup"}
        assert failed_counts(later) == Counter({0: 3})
    assert set(second.handler.deliveries.values()) == {1} and len(second.handler.deliveries) == 9
    assert first.total() == 0
    assert [(name, kwargs["mailer"]) for name, kwargs in relay_signals] == [
        ("relay_down", "default")
    ]
    assert RelayState.objects.get(mailer="default").state == "down"


# --- giving up by age ---------------------------------------------------------------------


@pytest.fixture
def deferring_smtp(use_mailer):
    """A relay that answers 451 (try later) for every recipient at slow.example.org."""
    with SMTPServer(FaultInjectingHandler(defer_domains=("slow.example.org",))) as server:
        use_mailer(**local_smtp(server.port, timeout=1))
        yield server


@pytest.mark.django_db(transaction=True)
def test_a_receiver_failing_longer_than_give_up_after_is_an_error_whatever_its_count(
    settings, deferring_smtp, on_commit, clock
):
    settings.MESSAGING_RESEND_LIMIT = 50
    settings.MESSAGING_GIVE_UP_AFTER = timedelta(days=5)
    message = on_commit(send_message, users=users(1, "slow.example.org"), subject="Hi", html="x")
    receiver = message.receivers.get()
    started = receiver.failing_since
    assert receiver.status == Status.FAILED and started is not None
    clock.move(timedelta(days=4))
    on_commit(resend_failed, ignore_backoff=True)
    receiver.refresh_from_db()
    assert (receiver.status, receiver.sending_failed_count) == (Status.FAILED, 2)
    assert receiver.failing_since == started  # counted from the first failure
    clock.move(timedelta(days=1, seconds=1))
    on_commit(request_sends, [receiver.pk])  # a staff member's resend: one more attempt
    receiver.refresh_from_db()
    assert (receiver.status, receiver.sending_failed_count) == (Status.ERROR, 3)


@pytest.mark.django_db(transaction=True)
def test_a_failing_receiver_that_is_sent_is_failing_no_more(settings, use_mailer, on_commit):
    handler = FaultInjectingHandler(defer_domains=("slow.example.org",))
    with SMTPServer(handler) as server:
        use_mailer(**local_smtp(server.port, timeout=1))
        message = on_commit(
            send_message, users=users(1, "slow.example.org"), subject="Hi", html="x"
        )
        handler.defer_domains.clear()
        on_commit(resend_failed, ignore_backoff=True)
    receiver = message.receivers.get()
    assert receiver.status == Status.SENT and receiver.failing_since is None


@pytest.mark.django_db(transaction=True)
def test_an_outage_of_every_relay_is_left_out_of_the_give_up_budget(
    settings, use_mailer, on_commit, clock
):
    settings.MESSAGING_RESEND_LIMIT = 50
    settings.MESSAGING_GIVE_UP_AFTER = timedelta(days=5)
    settings.MESSAGING_RELAY_FAILURES = 1
    handler = FaultInjectingHandler(defer_domains=("slow.example.org",))
    server = SMTPServer(handler).start()
    port = server.port
    use_mailer(**local_smtp(port, timeout=1))
    slow = on_commit(send_message, users=users(1, "slow.example.org"), subject="Hi", html="x")
    receiver = slow.receivers.get()
    started = receiver.failing_since
    server.stop()
    clock.move(timedelta(days=1))  # the relay goes down a day in, for three days
    on_commit(send_message, users=users(1), subject="Hi", html="x")
    assert RelayState.objects.get().state == "down"
    clock.move(timedelta(days=3))
    with SMTPServer(handler, port=port):
        assert on_commit(check_relay, "default").came_up
        receiver.refresh_from_db()
        outage = RelayState.objects.get().downtime_total
        assert timedelta(days=3) <= outage < timedelta(days=3, minutes=1)
        assert receiver.failing_since == started + outage
        clock.move(timedelta(days=1, hours=1))  # 5 days and an hour since the first failure
        on_commit(resend_failed, ignore_backoff=True)
        receiver.refresh_from_db()
        assert receiver.status == Status.FAILED  # 2 days and an hour of its budget used
        clock.move(timedelta(days=3))
        on_commit(resend_failed)  # cron gives up on it without another attempt
    receiver.refresh_from_db()
    assert receiver.status == Status.ERROR


# --- real workers -------------------------------------------------------------------------


@pytest.fixture
def processes():
    running = Processes()
    yield running
    running.stop_all()


def waiting_deliveries() -> int:
    """Delivery tasks not finished yet (django-tasks-db's queue)."""
    from django_tasks_db.models import DBTaskResult

    return DBTaskResult.objects.filter(
        task_path__endswith="deliver_receivers", status__in=["READY", "RUNNING"]
    ).count()


def worker_settings(settings, database_url: str, port: int, tmp_path, **env: str) -> dict:
    """Delivery in batches of 50 on the database queue; probes every 0.3 to 1 s."""
    settings.TASKS = DB_TASKS
    settings.MESSAGING_BATCH_SIZE = 50
    return worker_env(
        database_url,
        port,
        MESSAGING_BATCH_SIZE="50",
        MESSAGING_RELAY_PROBE_INTERVAL="0.3",
        MESSAGING_RELAY_PROBE_MAX_INTERVAL="1",
        MESSAGING_TEST_SIGNAL_LOG=str(tmp_path / "signals.jsonl"),
        **env,
    )


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_an_outage_of_the_relay_loses_no_email_and_sends_none_twice(
    request, settings, tmp_path, processes
):
    database_url = shared_database(request)
    port, handler = stopped_port()  # the relay stopped while 500 emails wait
    env = worker_settings(settings, database_url, port, tmp_path)
    message = send_message(users=users(500), subject="Exam moved", html="<p>Room 2</p>")
    processes.start(db_worker_args(), env)
    tails = processes.tails

    def relay() -> RelayState | None:
        return RelayState.objects.filter(mailer="default").first()

    wait_until(lambda: getattr(relay(), "state", "") == "down", 60, "the relay down", tails)
    wait_until(lambda: waiting_deliveries() == 0, 60, "the delivery tasks to end", tails)
    # Probes keep failing, at growing intervals.
    wait_until(lambda: relay().probe_interval == timedelta(seconds=1), 30, "probes", tails)
    processes.run(["resend_failed_messages", "--all"], env)  # cron resends nothing meanwhile
    assert not message.receivers.exclude(status__in=[Status.NOT_SENT, Status.FAILED]).exists()
    assert set(message.receivers.values_list("pending_sends", flat=True)) == {1}
    assert failed_counts(message) == Counter({0: 495, 1: 5})
    assert handler.total() == 0
    staff = Client()
    staff.force_login(get_user_model().objects.create_superuser("staff", "staff@example.org"))
    banner = "Mail server unreachable since"
    page = staff.get("/admin/messaging/receivers/").content.decode()
    assert banner in page and "500 emails waiting" in page and "Connection refused" in page

    with SMTPServer(handler, port=port):
        sent = lambda: message.receivers.filter(status=Status.SENT).count()  # noqa: E731
        wait_until(lambda: sent() == 500, 120, "every email delivered", tails)
        wait_until(lambda: waiting_deliveries() == 0, 60, "the delivery tasks to end", tails)
    assert len(handler.deliveries) == 500 and set(handler.deliveries.values()) == {1}
    assert max(failed_counts(message)) <= 1
    assert set(message.receivers.values_list("sent_via", flat=True)) == {"default"}
    recorded = signal_log.read(env["MESSAGING_TEST_SIGNAL_LOG"])
    assert [(s["signal"], s["mailer"]) for s in recorded] == [
        ("relay_down", "default"),
        ("relay_up", "default"),
    ]
    assert "Connection refused" in recorded[0]["reason"]
    assert recorded[0]["first_failure_at"] == recorded[1]["first_failure_at"] is not None
    assert relay().state == "up" and relay().downtime_total > timedelta(0)
    assert banner not in staff.get("/admin/messaging/receivers/").content.decode()


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_second_relay_takes_the_sends_when_the_first_stops(
    request, settings, tmp_path, processes
):
    database_url = shared_database(request)
    with SMTPServer() as first, SMTPServer() as second:
        env = worker_settings(
            settings,
            database_url,
            first.port,
            tmp_path,
            MESSAGING_BACKUP_SMTP_PORT=str(second.port),
            MESSAGING_MAX_PER_SECOND="100",
        )
        message = send_message(users=users(500), subject="Exam moved", html="<p>Room 2</p>")
        processes.start(db_worker_args(), env)
        tails = processes.tails
        sent = lambda: message.receivers.filter(status=Status.SENT).count()  # noqa: E731
        wait_until(lambda: sent() >= 100, 60, "the first hundred emails", tails)
        first.refuse_connections()
        wait_until(lambda: sent() == 500, 120, "every email delivered", tails)
        wait_until(lambda: waiting_deliveries() == 0, 60, "the delivery tasks to end", tails)
        one, two = first.handler.deliveries, second.handler.deliveries
    assert len(one) >= 100 and len(two) >= 100
    assert not set(one) & set(two)
    assert len(one) + len(two) == 500 and set(one.values()) | set(two.values()) == {1}
    via = dict(message.receivers.values_list("send_to", "sent_via"))
    assert {address for address, mailer in via.items() if mailer == "default"} == set(one)
    assert {address for address, mailer in via.items() if mailer == "backup"} == set(two)
    assert max(failed_counts(message)) <= 1
    recorded = signal_log.read(env["MESSAGING_TEST_SIGNAL_LOG"])
    assert [(s["signal"], s["mailer"]) for s in recorded] == [("relay_down", "default")]


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_workers_and_cron_give_up_on_a_receiver_by_age(request, settings, tmp_path, processes):
    database_url = shared_database(request)
    handler = FaultInjectingHandler(defer_domains=("slow.example.org",))
    with SMTPServer(handler) as server:
        env = worker_settings(
            settings,
            database_url,
            server.port,
            tmp_path,
            MESSAGING_RESEND_LIMIT="50",
            MESSAGING_RETRY_BASE_DELAY="0",
            MESSAGING_GIVE_UP_AFTER="3",
        )
        message = send_message(users=users(1, "slow.example.org"), subject="Hi", html="x")
        processes.start(db_worker_args(), env)
        receiver = message.receivers.get()
        tails = processes.tails

        def failed_once() -> bool:
            receiver.refresh_from_db()
            return receiver.sending_failed_count >= 1

        wait_until(failed_once, 60, "the first failed attempt", tails)
        assert receiver.status == Status.FAILED
        for _ in range(20):  # each cron run retries it, until it gives up on it
            processes.run(["resend_failed_messages"], env)
            wait_until(lambda: waiting_deliveries() == 0, 60, "the retry", tails)
            receiver.refresh_from_db()
            if receiver.status != Status.FAILED:
                break
    assert receiver.status == Status.ERROR
    assert timezone.now() - receiver.failing_since >= timedelta(seconds=3)
    assert receiver.sending_failed_count < 50  # by age, far within the resend limit
