"""Relay health, in one place: when a relay goes down, how it is probed, when it is up again.

A relay's state is its :class:`~messaging.models.RelayState` row, so every worker and
machine sees the same. Sends that fail for a reason of the relay's own
(:attr:`.failures.Failure.relay_fault`) are counted in a row; at
``MESSAGING_RELAY_FAILURES`` the relay is ``down`` and ``relay_down`` is sent. While it is
down no batch sends through it (:func:`usable_mailers`), and one worker at a time probes
it (:func:`check`: a connection and ``NOOP``) at growing intervals. The probe that finds it
answering marks it ``up`` and sends ``relay_up``; whoever called it enqueues the waiting
receivers (:mod:`messaging.tasks`). Each write is a conditional UPDATE, so of racing
workers exactly one marks a relay down or up, and sends the signal.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import DateTimeField, F, Q, Value
from django.db.models.functions import Coalesce
from django.dispatch import Signal
from django.utils import timezone

from .. import conf, signals
from ..models import MessageReceiver, RelayState
from . import compat
from .failures import Failure, classify
from .smtp import close_quietly

logger = logging.getLogger(__name__)

State = RelayState.State
# How long one worker's probe may take before another may probe instead, and the
# connection timeout of a probe whose mailer sets none (a relay that drops packets would
# hold the probing worker forever): well within the lease.
PROBE_LEASE = timedelta(minutes=2)
PROBE_TIMEOUT = 30.0
# A relay's last success is written at most this often (per batch otherwise): the state
# stays current for monitoring without a write per email.
SUCCESS_EVERY = timedelta(seconds=10)


def usable_mailers() -> list[str]:
    """The ``MESSAGING_MAILERS`` aliases whose relay is not down, in their order."""
    aliases = conf.mailers()
    down = RelayState.objects.filter(mailer__in=aliases, state=State.DOWN)
    gone = set(down.values_list("mailer", flat=True))
    return [alias for alias in aliases if alias not in gone]


def ensure_rows() -> None:
    """A row for each configured mailer, so monitoring lists every relay (cron calls it)."""
    rows = [RelayState(mailer=alias) for alias in conf.mailers()]
    RelayState.objects.bulk_create(rows, ignore_conflicts=True)


def record_relay_failure(mailer: str, failure: Failure, *, after_success: bool = False) -> bool:
    """Count a relay fault of ``mailer``; returns whether this call marked the relay down.

    ``after_success``: the caller's connection sent an email since its last fault, so the
    run of failures starts again at this one.
    """
    now = timezone.now()
    RelayState.objects.get_or_create(mailer=mailer)
    up = RelayState.objects.filter(mailer=mailer, state=State.UP)
    if after_success:
        up.update(consecutive_failures=1, first_failure_at=now, reason=failure.message)
    else:
        since = Coalesce(F("first_failure_at"), Value(now, output_field=DateTimeField()))
        up.update(
            consecutive_failures=F("consecutive_failures") + 1,
            first_failure_at=since,
            reason=failure.message,
        )
    interval = conf.relay_probe_interval()
    tripped = up.filter(consecutive_failures__gte=conf.relay_failures()).update(
        state=State.DOWN,
        down_since=now,
        next_probe_at=now + interval,
        probe_interval=interval,
        probe_claimed_until=None,
    )
    if tripped:
        row = RelayState.objects.get(mailer=mailer)
        logger.warning("Mail relay %r is down: %s", mailer, row.reason)
        announce(signals.relay_down, row)
    return bool(tripped)


def record_relay_success(mailer: str) -> None:
    """Note that ``mailer`` took an email: its run of failures ends. Called once per batch;
    it writes only when there is a run to end or the last success is old."""
    now = timezone.now()
    RelayState.objects.filter(mailer=mailer, state=State.UP).filter(
        Q(consecutive_failures__gt=0)
        | Q(last_success_at__isnull=True)
        | Q(last_success_at__lt=now - SUCCESS_EVERY)
    ).update(consecutive_failures=0, first_failure_at=None, last_success_at=now)


def probe(mailer: str) -> str:
    """Open a connection to ``mailer``'s relay, say ``NOOP`` (SMTP backends), close it.

    Returns ``""`` when the relay answered, else why it did not (scrubbed).
    """
    connection = compat.mail_connection(mailer)
    if getattr(connection, "timeout", 0) is None:  # Django's SMTP backend: EMAIL_TIMEOUT unset
        connection.timeout = PROBE_TIMEOUT  # type: ignore[attr-defined]
    try:
        connection.open()
        session = getattr(connection, "connection", None)
        if session is not None and hasattr(session, "noop"):
            code, reply = session.noop()
            if code != 250:
                return f"The relay answered NOOP with {code}: {reply!r}"
        return ""
    except Exception as error:
        return classify(error).message
    finally:
        close_quietly(connection)


@dataclass(frozen=True)
class Check:
    """What :func:`check` found."""

    up: bool
    """The relay is up (now, or it was never down)."""
    came_up: bool = False
    """This check found it answering again and marked it up: enqueue what waits."""
    next_probe_at: datetime | None = None
    """While it is down: when it is to be checked next."""
    down_since: datetime | None = None
    """While it is down: since when (the outage's identity)."""


def check(mailer: str) -> Check:
    """Probe ``mailer`` if it is down and its probe is due and no other worker probes it.

    A failed probe doubles the wait for the next one, up to
    ``MESSAGING_RELAY_PROBE_MAX_INTERVAL``; a successful one marks the relay up
    (:func:`mark_up`).
    """
    now = timezone.now()
    row = RelayState.objects.filter(mailer=mailer).first()
    if row is None or row.state == State.UP:
        return Check(up=True)
    leased = (
        RelayState.objects.filter(pk=row.pk, state=State.DOWN)
        .filter(due_by(now))
        .filter(Q(probe_claimed_until__isnull=True) | Q(probe_claimed_until__lt=now))
        .update(probe_claimed_until=now + PROBE_LEASE)
    )
    if not leased:  # not due yet, or another worker probes it now
        later = max(filter(None, [row.next_probe_at, row.probe_claimed_until, now]))
        return Check(up=False, next_probe_at=later, down_since=row.down_since)
    error = probe(mailer)
    if not error:
        return Check(up=True, came_up=mark_up(mailer))
    interval = min(max(row.probe_interval * 2, conf.relay_probe_interval()), max_interval())
    next_at = timezone.now() + interval
    RelayState.objects.filter(pk=row.pk, state=State.DOWN).update(
        next_probe_at=next_at, probe_interval=interval, probe_claimed_until=None, reason=error
    )
    return Check(up=False, next_probe_at=next_at, down_since=row.down_since)


def max_interval() -> timedelta:
    return max(conf.relay_probe_max_interval(), conf.relay_probe_interval())


def due_by(now: datetime) -> Q:
    """Relays whose next probe is due at ``now`` (or was never set: marked down by hand)."""
    return Q(next_probe_at__isnull=True) | Q(next_probe_at__lte=now)


def due_for_probe() -> list[str]:
    """The mailers that are down and whose next probe time has passed (cron's safety net)."""
    due = RelayState.objects.filter(due_by(timezone.now()), state=State.DOWN)
    return list(due.order_by("mailer").values_list("mailer", flat=True))


def mark_up(mailer: str) -> bool:
    """Mark ``mailer``'s relay up and send ``relay_up``; returns whether this call did.

    The outage is added to ``downtime_total``; the time every relay was down is given
    back to the ``MESSAGING_GIVE_UP_AFTER`` budget of failing receivers.
    """
    now = timezone.now()
    row = RelayState.objects.filter(mailer=mailer, state=State.DOWN).first()
    if row is None:
        return False
    down_since = row.down_since or now
    flipped = RelayState.objects.filter(
        pk=row.pk, state=State.DOWN, down_since=row.down_since
    ).update(
        state=State.UP,
        consecutive_failures=0,
        first_failure_at=None,
        down_since=None,
        next_probe_at=None,
        probe_interval=timedelta(0),
        probe_claimed_until=None,
        last_success_at=now,
        downtime_total=row.downtime_total + (now - down_since),
    )
    if not flipped:
        return False
    give_back_outage(mailer, down_since, now)
    logger.warning("Mail relay %r is up again (down since %s)", mailer, down_since)
    announce(signals.relay_up, row, down_since=down_since)
    return True


def announce(signal: Signal, row: RelayState, **extra: object) -> None:
    """Send ``relay_down`` or ``relay_up`` about ``row`` (as it was read before the change):
    its mailer, the last failure's reason and the first failure's time."""
    signals.send(
        signal,
        RelayState,
        mailer=row.mailer,
        reason=row.reason,
        first_failure_at=row.first_failure_at,
        **extra,
    )


def give_back_outage(mailer: str, down_since: datetime, now: datetime) -> int:
    """Move on the ``failing_since`` of failing receivers by the time no relay was up.

    That is since the last of the relays went down, when every other one is down too;
    while another was up, emails went on through it and the budget ran. A receiver whose
    failures began during the outage starts its budget now.
    """
    others = [alias for alias in conf.mailers() if alias != mailer]
    rows = RelayState.objects.filter(mailer__in=others, state=State.DOWN)
    starts = list(rows.values_list("down_since", flat=True))
    if len(starts) < len(others):
        return 0  # another relay was up
    start = max([down_since, *filter(None, starts)])
    failing = MessageReceiver.objects.filter(
        status=MessageReceiver.Status.FAILED, failing_since__isnull=False
    )
    # Those whose failures began during the outage first: the others, moved on, join them.
    during = failing.filter(failing_since__gte=start).update(failing_since=now)
    before = failing.filter(failing_since__lt=start)
    return during + before.update(failing_since=F("failing_since") + (now - start))
