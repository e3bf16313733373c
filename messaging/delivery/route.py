"""The relay one connection of a batch sends through, and the move to the next one.

A batch starts on the first of ``MESSAGING_MAILERS`` whose relay is up. A relay fault is
counted on the relay (:func:`.relays.record_relay_failure`); while the relay is not down
the batch goes on through it, and once it is down, through the next relay that is up.
"""

from __future__ import annotations

from collections import Counter
from enum import Enum

from django.core.mail.backends.base import BaseEmailBackend

from . import compat
from .failures import Failure
from .relays import record_relay_failure, record_relay_success, usable_mailers
from .smtp import close_quietly


class After(Enum):
    """Where a batch's sends go after a relay fault."""

    SAME = "same"
    """The relay is not down (yet): the next email tries it again."""
    NEXT = "next"
    """The relay is down and another is up: the batch goes on through that one."""
    NONE = "none"
    """Every relay is down: the batch stops, its receivers wait for one to come back."""


class Route:
    """One connection's relay: its mail connection, the successes and faults it saw."""

    def __init__(self, mailers: list[str]) -> None:
        """``mailers``: the usable ones, in order (:func:`.relays.usable_mailers`)."""
        self.mailer = mailers[0]
        self.connection: BaseEmailBackend = compat.mail_connection(self.mailer)
        self.sent: Counter[str] = Counter()  # successes per mailer
        self.went_down: list[str] = []  # the relays this connection marked down
        self.sent_since_fault = False

    def succeeded(self) -> None:
        self.sent[self.mailer] += 1
        self.sent_since_fault = True

    def relay_failed(self, failure: Failure) -> After:
        """Count ``failure`` on the current relay; switch to the next one once it is down."""
        if record_relay_failure(self.mailer, failure, after_success=self.sent_since_fault):
            self.went_down.append(self.mailer)
        self.sent_since_fault = False
        usable = usable_mailers()
        if self.mailer in usable:
            return After.SAME
        if not usable:
            return After.NONE
        close_quietly(self.connection)
        self.mailer = usable[0]
        self.connection = compat.mail_connection(self.mailer)
        return After.NEXT

    def close(self) -> None:
        close_quietly(self.connection)

    def record_successes(self) -> None:
        """Tell each relay that took an email that its run of failures, if any, is over."""
        for mailer in self.sent:
            record_relay_success(mailer)
