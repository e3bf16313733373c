"""Per-domain slowdowns: a recipient domain that says we send too fast gets fewer emails,
the other domains go on at full speed.

Some providers limit what they take from one sender and say so with a 4xx naming the
limit (:data:`DOMAIN_RATE_LIMITS`). The refused email counts as one failed attempt as any
4xx does; in addition its domain gets a :class:`~messaging.models.DomainSlowdown` row
shared by every worker of the mailer: at most one email to that domain per
``interval``, for :data:`SLOWDOWN_FOR` after the last such reply. The interval starts at
:data:`FIRST_INTERVAL` and doubles with each further refusal while slowed, up to
:data:`LONGEST_INTERVAL`. An email whose turn has not come is not attempted: its claim
is released with ``next_attempt_at`` at its turn, without counting as a failure, and
its delivery is enqueued for then.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from datetime import datetime, timedelta

from django.db.models import F, Q
from django.utils import timezone

from .. import users
from ..models import DomainSlowdown, MessageReceiver
from ..rendering import without_controls
from .claims import drop_claims

FIRST_INTERVAL = timedelta(seconds=1)
LONGEST_INTERVAL = timedelta(seconds=60)
SLOWDOWN_FOR = timedelta(minutes=15)
# How often a sending connection reads the slowdowns that other workers noted.
REFRESH_SECONDS = 1.0

RATE_WORDS = re.compile(r"\brate\b|too many (?:messages|emails|mails)|throttl|slow down", re.I)
# The enhanced status code (RFC 3463) of a reply that limits the rate of a recipient
# domain, and the words it must also hold (None: the code says enough).
DOMAIN_RATE_LIMITS: dict[str, re.Pattern[str] | None] = {
    "4.7.28": None,  # Gmail: "unusual rate of unsolicited mail" from this sender
    "4.2.1": RATE_WORDS,  # "too many messages", Gmail's "receiving mail at a rate"
    "4.7.0": RATE_WORDS,  # Microsoft, Yahoo: "rate limited", "too many messages"
    "4.7.1": RATE_WORDS,
    "4.3.2": RATE_WORDS,
}
ENHANCED_CODE = re.compile(r"\b(4\.\d{1,3}\.\d{1,3})\b")
# "Too many messages on this connection": a limit per connection, which reconnecting
# meets (see the send loop), not one of the domain.
PER_CONNECTION = re.compile(r"\bconnection\b", re.I)


def slows_domain(code: int | None, reply: str) -> bool:
    """Whether a 4xx ``reply`` says that its domain limits our rate (see the table)."""
    if code is None or not 400 <= code < 500 or PER_CONNECTION.search(reply):
        return False
    for enhanced in ENHANCED_CODE.findall(reply):
        if enhanced in DOMAIN_RATE_LIMITS:
            words = DOMAIN_RATE_LIMITS[enhanced]
            return words is None or bool(words.search(reply))
    return False


def domains_of(addresses: list[str]) -> set[str]:
    return {address.rsplit("@", 1)[-1].lower() for address in addresses if "@" in address}


class DomainThrottles:
    """The slowed-down domains of ``mailer``, as one connection's share of a batch sees
    them: read at its start and again every :data:`REFRESH_SECONDS`, with those it slows
    itself added at once."""

    def __init__(self, mailer: str) -> None:
        self.mailer = mailer
        self.read()
        self.turns: dict[str, datetime] = {}  # the next turn this share gave out, by domain
        self.held: dict[datetime, list[MessageReceiver]] = {}

    def read(self) -> None:
        active = DomainSlowdown.objects.filter(mailer=self.mailer, until__gt=timezone.now())
        self.intervals = dict(active.values_list("domain", "interval"))
        self.read_at = time.monotonic()

    def holds_back(self, receiver: MessageReceiver, idle: Callable[[], None]) -> bool:
        """Whether ``receiver`` must wait for its domain's turn (it is then kept for
        :meth:`release`); otherwise it takes the turn. Does nothing while no domain is
        slowed; else calls ``idle`` first (the database connection must be free)."""
        if time.monotonic() - self.read_at > REFRESH_SECONDS:
            idle()
            self.read()  # another worker may have slowed a domain meanwhile
        if not self.intervals or receiver.user is None:
            return False
        idle()
        for domain in domains_of(users.user_emails(receiver.user)) & self.intervals.keys():
            turn = self.take_turn(domain)
            if turn is not None:
                self.held.setdefault(turn, []).append(receiver)
                return True
        return False

    def take_turn(self, domain: str) -> datetime | None:
        """``None`` when an email to ``domain`` may go now (the turn is taken, for every
        worker); else when its turn comes."""
        now = timezone.now()
        interval = self.intervals[domain]
        row = DomainSlowdown.objects.filter(mailer=self.mailer, domain=domain, until__gt=now)
        due = Q(next_send_at__isnull=True) | Q(next_send_at__lte=now)
        if row.filter(due).update(next_send_at=now + interval):
            return None
        next_send_at = row.values_list("next_send_at", flat=True).first()
        if next_send_at is None:  # the slowdown ended meanwhile
            del self.intervals[domain]
            return None
        turn = max(next_send_at, self.turns.get(domain, next_send_at))
        self.turns[domain] = turn + interval
        return turn

    def note(self, receiver: MessageReceiver, reason: str) -> None:
        """Slow down the domains of ``receiver``'s addresses: its server said we send too
        fast. A domain slowed already waits twice as long between emails."""
        now = timezone.now()
        for domain in domains_of(receiver.send_to.split(", ")):
            current = DomainSlowdown.objects.filter(
                mailer=self.mailer, domain=domain, until__gt=now
            ).first()
            interval = min(LONGEST_INTERVAL, current.interval * 2) if current else FIRST_INTERVAL
            DomainSlowdown.objects.update_or_create(
                mailer=self.mailer,
                domain=domain,
                defaults={
                    "interval": interval,
                    "next_send_at": now + interval,
                    "until": now + SLOWDOWN_FOR,
                    "reason": without_controls(reason),  # a server's words: no NUL
                },
            )
            self.intervals[domain] = interval

    def release(self, token: str) -> dict[datetime, list[int]]:
        """Give the held-back receivers their send back for their turn; their ids by turn."""
        by_turn = {}
        for turn, receivers in self.held.items():
            mine = MessageReceiver.objects.filter(
                pk__in=[receiver.pk for receiver in receivers], claim_token=token
            )
            drop_claims(mine.filter(status__in=MessageReceiver.STOPPED))
            mine = mine.exclude(status__in=MessageReceiver.STOPPED)
            ids = list(mine.values_list("pk", flat=True))
            mine.update(
                pending_sends=F("pending_sends") + 1,
                claimed_until=None,
                claim_token="",
                next_attempt_at=turn,
            )
            by_turn[turn] = ids
        self.held = {}
        return by_turn
