"""Where sending stands: the emails waiting and the health of each mail relay.

What the admin's banner and dashboard panel and the ``messaging_status`` command read.
Reads only: the relay rows (one per mailer, a tiny table) and one aggregate over the
waiting receivers. The relays' rows are written by the send loop (``messaging.delivery``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import IntEnum

from django.db.models import Count, DateTimeField, Min, Q
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone

from . import conf
from .models import MessageReceiver, RelayState

Status = MessageReceiver.Status


@dataclass(frozen=True)
class Queue:
    """The emails waiting to go out."""

    waiting: int  # not sent yet and still may be (``filter_waiting``), digests' too
    failed: int  # of those, how many failed and wait for a retry
    # When the oldest email that should be out by now became due (its creation, or its
    # scheduled message's ``send_at``); emails held for a digest wait by choice, left out.
    oldest_due_at: datetime | None

    def oldest_age(self, now: datetime) -> timedelta | None:
        """How long the oldest due email has waited at ``now``; ``None`` when none waits."""
        return max(now - self.oldest_due_at, timedelta(0)) if self.oldest_due_at else None


def queue(now: datetime | None = None) -> Queue:
    """The waiting emails at ``now`` (default: the current time), in one query."""
    now = now or timezone.now()
    due_at = Greatest(
        "created_datetime",
        Coalesce("message__send_at", "created_datetime"),
        output_field=DateTimeField(),
    )
    due = Q(status__in=[Status.NOT_SENT, Status.FAILED]) & (
        Q(message__send_at__isnull=True) | Q(message__send_at__lte=now)
    )
    totals = (
        MessageReceiver.objects.filter_waiting()
        .order_by()
        .aggregate(
            waiting=Count("pk"),
            failed=Count("pk", filter=Q(status=Status.FAILED)),
            oldest=Min(due_at, filter=due),
        )
    )
    return Queue(totals["waiting"], totals["failed"], totals["oldest"])


def relays() -> list[RelayState]:
    """Every mailer's state: the mailers of ``MESSAGING_MAILERS`` in their order, then any
    other mailer with a row, by alias.

    A mailer that has sent nothing yet has no row: it is given an unsaved one, ``up``, with
    no ``last_success_at`` ("no send yet").
    """
    rows = {relay.mailer: relay for relay in RelayState.objects.all()}
    configured = conf.mailers()
    listed = [
        rows.pop(alias) if alias in rows else RelayState(mailer=alias) for alias in configured
    ]
    return listed + [rows[alias] for alias in sorted(rows)]


def down_relays() -> list[RelayState]:
    """The mailers down now, the longest down first (one query on a tiny table)."""
    return list(
        RelayState.objects.filter(state=RelayState.State.DOWN).order_by("down_since", "mailer")
    )


class Level(IntEnum):
    """How a monitoring check reads the state; the values are the plugins' exit codes."""

    OK = 0  # relays up, nothing waiting too long
    WARNING = 1  # a relay failing but not yet down, or the oldest email late
    CRITICAL = 2  # a relay down, or the oldest email very late


@dataclass(frozen=True)
class Limits:
    """When the oldest waiting email makes the check a warning or critical, and how many
    failed emails (waiting for a retry) make it a warning (0: never)."""

    warning_age: timedelta = timedelta(minutes=15)
    critical_age: timedelta = timedelta(hours=1)
    warning_failed: int = 100


@dataclass(frozen=True)
class Check:
    """The state of sending as a monitoring check sees it."""

    now: datetime
    queue: Queue
    relays: list[RelayState]
    level: Level
    problems: list[str] = field(default_factory=list)  # worst first, in English

    def as_dict(self) -> dict:
        """What ``messaging_status --json`` prints: JSON types only, times in ISO 8601."""
        age = self.queue.oldest_age(self.now)
        return {
            "status": self.level.name,
            "exit_code": int(self.level),
            "problems": self.problems,
            "waiting": self.queue.waiting,
            "failed": self.queue.failed,
            "oldest_waiting_due_at": iso(self.queue.oldest_due_at),
            "oldest_waiting_age_seconds": int(age.total_seconds()) if age is not None else None,
            "relays": [relay_dict(relay) for relay in self.relays],
        }


def check(limits: Limits, now: datetime | None = None) -> Check:
    """Where sending stands at ``now``, with the level the worst problem gives."""
    now = now or timezone.now()
    waiting, states = queue(now), relays()
    found = [*relay_problems(states), *queue_problems(waiting, limits, now)]
    found.sort(key=lambda problem: -problem[0])
    level = found[0][0] if found else Level.OK
    return Check(now, waiting, states, level, [text for _level, text in found])


def relay_dict(relay: RelayState) -> dict:
    return {
        "mailer": relay.mailer,
        "state": relay.state,
        "consecutive_failures": relay.consecutive_failures,
        "down_since": iso(relay.down_since),
        "reason": relay.reason,
        "next_check": iso(relay.next_probe_at),
        "last_success": iso(relay.last_success_at),
    }


def iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def relay_problems(states: list[RelayState]) -> list[tuple[Level, str]]:
    problems = []
    for relay in states:
        if relay.state == RelayState.State.DOWN:
            since = local(relay.down_since)
            reason = f" ({one_line(relay.reason)})" if relay.reason else ""
            problems.append((Level.CRITICAL, f"relay {relay.mailer} down since {since}{reason}"))
        elif relay.consecutive_failures:
            failures = relay.consecutive_failures
            text = f"relay {relay.mailer} failing ({failures} failures in a row)"
            problems.append((Level.WARNING, text))
    return problems


def queue_problems(waiting: Queue, limits: Limits, now: datetime) -> list[tuple[Level, str]]:
    problems = []
    age = waiting.oldest_age(now)
    if age is not None and age >= limits.warning_age:
        level = Level.CRITICAL if age >= limits.critical_age else Level.WARNING
        problems.append((level, f"oldest waiting email due {minutes(age)} min ago"))
    if limits.warning_failed and waiting.failed >= limits.warning_failed:
        problems.append((Level.WARNING, f"{waiting.failed} failed emails waiting for a retry"))
    return problems


def local(moment: datetime | None) -> str:
    """``moment`` in the site's time zone, to the minute, for people reading a log."""
    if moment is None:
        return "an unknown time"
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M %Z")


def one_line(text: str, limit: int = 200) -> str:
    """``text`` (a server's reply: several lines, any length) as one line of ``limit``."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def minutes(age: timedelta) -> int:
    return int(age.total_seconds() // 60)
