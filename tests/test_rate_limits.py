"""Rate limits and what the server says about retrying: the shared token bucket (database
and Redis), a 4xx's retry-after, per-domain slowdowns; on a real SMTP server in this
process. ``test_rate_workers.py`` runs the same with real worker processes."""

from __future__ import annotations

import time
import uuid
from datetime import timedelta
from itertools import pairwise

import pytest
import redis
from django.core.checks import Error
from django.utils import timezone

from config.mail import local_smtp
from messaging.checks import check_settings
from messaging.conf import max_per_second, rate_limit_store
from messaging.delivery import buckets, deliver
from messaging.delivery.buckets import DatabaseBucket, RedisBucket
from messaging.delivery.ratelimit import SharedRateLimiter, shared_rate_limiter
from messaging.delivery.retry_after import retry_after
from messaging.delivery.throttles import DomainThrottles, slows_domain
from messaging.exceptions import ConfigurationError
from messaging.models import DomainSlowdown, Message, MessageReceiver
from messaging.testing.smtp import FaultInjectingHandler, SMTPServer

from .conftest import require_redis

pytestmark = pytest.mark.django_db
REDIS_URL = "redis://127.0.0.1:6379/7"  # a database of these tests' own


class RateHandler(FaultInjectingHandler):
    """Records when each email was accepted; answers the recipients of a domain in
    ``replies`` with that reply, ``times`` times (then accepts them)."""

    def __init__(self, replies: dict[str, str] | None = None, times: int = 1, **kwargs) -> None:
        super().__init__(**kwargs)
        self.replies = replies or {}
        self.left = dict.fromkeys(self.replies, times)
        self.accepted_at: list[tuple[float, str]] = []  # (time.time(), recipient)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        domain = address.rsplit("@", 1)[-1].lower()
        with self.lock:
            refuse = self.left.get(domain, 0) > 0
            if refuse:
                self.left[domain] -= 1
        if refuse:
            return self.replies[domain]
        return await super().handle_RCPT(server, session, envelope, address, rcpt_options)

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.accepted_at += [(time.time(), address) for address in envelope.rcpt_tos]
        return await super().handle_DATA(server, session, envelope)

    def span(self) -> float:
        """Seconds from the first accepted email to the last."""
        times = sorted(at for at, _address in self.accepted_at)
        return times[-1] - times[0]


def pending(make_user, addresses: list[str]) -> list[int]:
    """A message with one receiver per address, each with a send asked for."""
    message = Message.objects.create(status="sending")
    return [
        MessageReceiver.objects.create(
            message=message,
            user=make_user(email=address),
            subject="Hi",
            message_content_plain="Hi",
            pending_sends=1,
        ).pk
        for address in addresses
    ]


@pytest.fixture
def rq_settings(settings):
    """TASKS on RQ with its queue on this test's Redis database."""
    require_redis(REDIS_URL)
    settings.TASKS = {"default": {"BACKEND": "django_tasks_rq.RQBackend", "QUEUES": ["default"]}}
    settings.RQ_QUEUES = {"default": {"URL": REDIS_URL, "DEFAULT_TIMEOUT": 900}}
    return settings


# --- settings ---------------------------------------------------------------------------


def test_max_per_second_is_a_number_for_every_mailer_or_a_dict_by_mailer(settings):
    settings.MESSAGING_MAX_PER_SECOND = 20
    assert (max_per_second(), max_per_second("bulk")) == (20.0, 20.0)
    settings.MESSAGING_MAX_PER_SECOND = {"default": 20, "bulk": 2.5}
    assert (max_per_second(), max_per_second("bulk"), max_per_second("other")) == (20, 2.5, None)
    settings.MESSAGING_MAX_PER_SECOND = None
    assert max_per_second() is None


@pytest.mark.parametrize("value", [-1, "fast", True, {"default": 0.0 - 5}, [20]])
def test_a_bad_max_per_second_is_reported_by_a_system_check(settings, value):
    settings.MESSAGING_MAX_PER_SECOND = value
    with pytest.raises(ConfigurationError, match="MESSAGING_MAX_PER_SECOND"):
        max_per_second()
    assert "messaging.E004" in [error.id for error in check_settings()]


def test_the_bucket_is_in_the_database_unless_the_site_runs_rq(settings, rq_settings):
    assert rate_limit_store() == "redis"
    settings.MESSAGING_RATE_LIMIT_STORE = "database"
    assert rate_limit_store() == "database"
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    settings.MESSAGING_RATE_LIMIT_STORE = "auto"
    assert rate_limit_store() == "database"
    settings.MESSAGING_RATE_LIMIT_STORE = "redis"  # there is no RQ Redis to keep it on
    [error] = [e for e in check_settings() if e.id == "messaging.E056"]
    assert isinstance(error, Error) and "MESSAGING_RATE_LIMIT_STORE" in error.msg
    settings.MESSAGING_RATE_LIMIT_STORE = "memcached"
    assert "messaging.E056" in [error.id for error in check_settings()]


# --- the shared bucket ------------------------------------------------------------------


@pytest.fixture(params=["database", "redis"])
def make_bucket(request, settings):
    """Buckets of one mailer of this test's own, as two workers would each hold them."""
    mailer = f"test-{uuid.uuid4().hex[:8]}"
    if request.param == "redis":
        request.getfixturevalue("rq_settings")
        yield lambda: RedisBucket(mailer)
        redis.Redis.from_url(REDIS_URL).delete(f"messaging:rate:{mailer}")
    else:
        yield lambda: DatabaseBucket(mailer)


def test_a_bucket_grants_its_capacity_then_what_the_rate_adds(make_bucket):
    first, second = make_bucket(), make_bucket()
    assert first.take(5, 50.0, 5.0) == (5, 0.0)  # a new bucket is full
    granted, wait = second.take(5, 50.0, 5.0)  # the other worker finds it empty
    assert granted == 0
    assert 0.05 < wait <= 0.1  # about the time five tokens take
    time.sleep(0.05)
    granted, _wait = first.take(5, 50.0, 5.0)
    assert 1 <= granted <= 3  # 2.5 tokens came in 50 ms, and a few ms more passed
    time.sleep(0.3)  # 15 would come: it holds 5 at most
    assert second.take(10, 50.0, 5.0)[0] == 5


def test_workers_sharing_a_bucket_never_exceed_the_rate_together(make_bucket):
    workers = [make_bucket(), make_bucket(), make_bucket()]
    granted, start = 0, time.monotonic()
    while time.monotonic() - start < 0.5:
        for worker in workers:
            granted += worker.take(2, 40.0, 4.0)[0]
    # 4 to start with and 40 a second: never more, whichever worker asks.
    assert 18 <= granted <= 4 + 40 * (time.monotonic() - start)


def test_of_two_workers_that_read_the_same_state_only_one_takes_tokens(db):
    first, second = DatabaseBucket("race"), DatabaseBucket("race")
    first.take(1, 10.0, 1.0)
    state = first.read()
    now = timezone.now()
    assert first.swap(*state, 0.0, now)
    assert not second.swap(*state, 0.0, now)


def test_without_a_limit_the_loop_gets_no_limiter(settings, monkeypatch):
    settings.MESSAGING_MAX_PER_SECOND = None
    monkeypatch.setattr(buckets, "bucket_for", None)  # no bucket may even be made
    assert shared_rate_limiter() is None


def test_limiters_of_two_workers_together_keep_the_rate(db):
    # Two processes' limiters over one bucket, taking turns: 30 emails at 50 a second.
    limiters = [SharedRateLimiter(DatabaseBucket("pair"), 50.0) for _ in range(2)]
    start = time.monotonic()
    for number in range(30):
        limiters[number % 2].wait()
    assert time.monotonic() - start >= (30 - 5 - 2) / 50  # less the burst and the grants


@pytest.mark.parametrize("connections", [1, 3])
@pytest.mark.django_db(transaction=True)
def test_a_worker_sends_at_the_rate_over_one_or_more_connections(
    make_user, use_mailer, settings, connections
):
    settings.MESSAGING_MAX_PER_SECOND = 40
    settings.MESSAGING_CONNECTIONS_PER_WORKER = connections
    ids = pending(make_user, [f"r{i}@example.org" for i in range(30)])
    with SMTPServer(RateHandler()) as server:
        use_mailer(**local_smtp(server.port, timeout=2))
        assert deliver(ids)["sent"] == 30
    assert server.handler.span() >= (30 - 4) / 40 - 0.05


# --- what the server says about retrying ------------------------------------------------

MINUTE = timedelta(minutes=1)


@pytest.mark.parametrize(
    "code, reply, expected",
    [
        (451, "4.7.1 Try again in 5 minutes", 5 * MINUTE),
        (421, "Too busy, retry after 120 seconds", 2 * MINUTE),
        (450, "4.2.0 greylisted, retry in 30s", timedelta(seconds=30)),
        (452, "Quota reached. TRY AGAIN AFTER 2 HOURS", timedelta(hours=2)),
        (451, "Retry-After: 90", timedelta(seconds=90)),
        (451, "try again in 1.5 min", timedelta(seconds=90)),
        (451, "Try again in 9999 hours", timedelta(days=1)),  # at most a day
        (451, "4.3.0 Local error, try again later", None),  # no time named
        (550, "5.1.1 No such user, try again in 5 minutes", None),  # not a 4xx
        (None, "try again in 5 minutes", None),
    ],
)
def test_retry_after_reads_the_wait_a_4xx_names(code, reply, expected):
    assert retry_after(code, reply) == expected


@pytest.mark.parametrize(
    "code, reply, expected",
    [
        (421, "4.7.28 Our system has detected an unusual rate of unsolicited mail", True),
        (450, "4.2.1 Too many messages for this domain, slow down", True),
        (450, "4.2.1 The user is receiving mail at a rate that prevents more", True),
        (451, "4.7.1 Rate limit exceeded for example.org", True),
        (421, "4.7.0 Too many messages on this connection, closing", False),  # reconnect
        (451, "4.7.1 Greylisted, try again later", False),
        (450, "4.2.1 Mailbox busy, try again later", False),
        (550, "5.7.28 unusual rate", False),
    ],
)
def test_slows_domain_recognises_per_domain_rate_limits(code, reply, expected):
    assert slows_domain(code, reply) is expected


def served(handler: RateHandler, use_mailer) -> SMTPServer:
    server = SMTPServer(handler).start()
    use_mailer(**local_smtp(server.port, timeout=2))
    return server


@pytest.mark.parametrize("code", [451, 421])
def test_a_4xx_naming_a_time_sets_the_next_attempt_at_least_that_late(
    make_user, use_mailer, settings, code
):
    settings.MESSAGING_RETRY_BASE_DELAY = 60  # the backoff alone would retry in a minute
    handler = RateHandler({"wait.test": f"{code} 4.7.1 Try again in 5 minutes"}, times=2)
    server = served(handler, use_mailer)
    [pk] = pending(make_user, ["ola@wait.test"])
    before = timezone.now()
    try:
        outcome = deliver([pk])
    finally:
        server.stop()
    receiver = MessageReceiver.objects.get(pk=pk)
    assert (receiver.status, receiver.sending_failed_count, outcome["failed"]) == ("failed", 1, 1)
    assert receiver.next_attempt_at >= before + timedelta(minutes=5)
    assert receiver.status_data["errors"][-1]["retry_after_seconds"] == 300
    assert handler.left["wait.test"] == 1  # a 421 asking for time is not retried at once


def test_a_domain_rate_limit_slows_that_domain_only(make_user, use_mailer):
    reply = "421 4.7.28 Our system has detected an unusual rate of unsolicited mail"
    handler = RateHandler({"slow.test": reply})
    server = served(handler, use_mailer)
    addresses = [f"u{i}@{'slow' if i % 2 else 'fast'}.test" for i in range(10)]
    ids = pending(make_user, addresses)
    try:
        outcome = deliver(ids)
    finally:
        server.stop()
    receivers = {r.send_to or r.user.email: r for r in MessageReceiver.objects.filter(pk__in=ids)}
    fast = [r for address, r in receivers.items() if address.endswith("fast.test")]
    slow = [r for address, r in receivers.items() if address.endswith("slow.test")]
    assert {r.status for r in fast} == {"sent"}
    assert sorted(address for _at, address in handler.accepted_at) == sorted(
        r.user.email for r in fast
    )
    # The refused one failed once; the others were held back, not attempted.
    assert sorted(r.sending_failed_count for r in slow) == [0, 0, 0, 0, 1]
    assert outcome["failed"] == 1
    held = [r for r in slow if not r.sending_failed_count]
    assert {(r.status, r.pending_sends, r.claimed_until) for r in held} == {("not_sent", 1, None)}
    turns = sorted(r.next_attempt_at for r in held)
    assert all(later - earlier >= timedelta(seconds=1) for earlier, later in pairwise(turns))
    assert sorted(pk for ids in outcome["early"].values() for pk in ids) == sorted(
        r.pk for r in held
    )
    assert outcome["leftover"] == []  # held back: enqueued for their turns, not at once
    slowdown = DomainSlowdown.objects.get(domain="slow.test")
    assert slowdown.interval == timedelta(seconds=1)
    assert slowdown.until > timezone.now() + timedelta(minutes=10)


def test_a_second_refusal_while_slowed_doubles_the_interval(make_user, use_mailer):
    reply = "450 4.2.1 Too many messages, slow down"
    handler = RateHandler({"slow.test": reply}, times=2)
    server = served(handler, use_mailer)
    try:
        deliver(pending(make_user, ["a@slow.test"]))
        DomainSlowdown.objects.update(next_send_at=None)  # its turn came
        deliver(pending(make_user, ["b@slow.test"]))
    finally:
        server.stop()
    assert DomainSlowdown.objects.get().interval == timedelta(seconds=2)


def test_a_slowed_domain_goes_again_once_its_turn_comes(make_user, use_mailer):
    handler = RateHandler()
    server = served(handler, use_mailer)
    now = timezone.now()
    DomainSlowdown.objects.create(
        mailer="default", domain="slow.test", interval=timedelta(seconds=1), until=now + MINUTE
    )
    try:
        outcome = deliver(pending(make_user, ["a@slow.test", "b@slow.test"]))
    finally:
        server.stop()
    assert outcome["sent"] == 1  # the turn was free: one goes, the next waits a second
    assert len(outcome["early"]) == 1


def test_a_slowdown_keeps_the_servers_words_without_control_characters(db):
    receiver = MessageReceiver(send_to="a@slow.test, b@Other.test")
    DomainThrottles("default").note(receiver, "421 4.7.28 unusual\x00 rate")
    reasons = dict(DomainSlowdown.objects.values_list("domain", "reason"))
    assert reasons == {
        "slow.test": "421 4.7.28 unusual rate",
        "other.test": "421 4.7.28 unusual rate",
    }
