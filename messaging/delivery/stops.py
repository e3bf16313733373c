"""A batch stops at the next receiver when staff stop its message or the message expires.

A worker claims a batch, then sends it one email at a time; meanwhile staff may stop the
message (its waiting receivers become ``cancelled``) or its ``expires_at`` may pass. The
send loop asks :meth:`Stops.stopped` about each receiver just before its email is handed
over for good, where the database connection is idle anyway (after the previous status
is written). Expiry is read from the message loaded with the batch, with no query.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from django.db import connection as db_connection
from django.utils import timezone

from ..exceptions import MessagingError
from ..models import MessageReceiver
from .claims import drop_claims


class ReceiverStopped(MessagingError):
    """The receiver's message was stopped or expired while its batch waited: not sent."""


class StoppedQuery:
    """Whether one receiver is cancelled or expired: the ORM's SQL for
    ``MessageReceiver.objects.filter(status__in=STOPPED, pk=pk)``, built once per batch and
    run with each receiver's key (building it costs several times the query itself, once
    per email otherwise). ``tests/test_stopping.py`` compares it with the ORM's answer."""

    SENTINEL = -1  # no receiver has it; its place in the parameters is the key's

    def __init__(self) -> None:
        stopped = MessageReceiver.objects.filter(
            status__in=MessageReceiver.STOPPED, pk=self.SENTINEL
        )
        self.sql, params = stopped.values_list("pk").query.sql_with_params()
        self.params = list(params)
        self.key_at = self.params.index(self.SENTINEL)

    def __call__(self, pk: int) -> bool:
        params = [*self.params]
        params[self.key_at] = pk
        with db_connection.cursor() as cursor:
            cursor.execute(self.sql, params)
            return cursor.fetchone() is not None


class Stops:
    """Which receivers of one connection's share of a batch are no longer to be sent."""

    def __init__(self) -> None:
        self.known: set[int] = set()  # found cancelled or expired: skipped without a query
        self.skipped: list[MessageReceiver] = []
        self.is_stopped = StoppedQuery()

    def expired(self, receiver: MessageReceiver) -> bool:
        """Whether ``receiver``'s message is past its ``expires_at`` (no query)."""
        expires_at = receiver.message.expires_at
        return expires_at is not None and expires_at <= timezone.now()

    def known_stopped(self, receiver: MessageReceiver) -> bool:
        """Whether ``receiver`` is already known not to be sent (no query)."""
        return receiver.pk in self.known or self.expired(receiver)

    def stopped(
        self, receiver: MessageReceiver, remaining: Callable[[], Sequence[MessageReceiver]]
    ) -> bool:
        """Whether ``receiver`` is cancelled or expired now (one query). When it is, the
        ``remaining()`` receivers that are too become known, so they cost no query."""
        if self.known_stopped(receiver):
            return True
        if not self.is_stopped(receiver.pk):
            return False
        ids = [other.pk for other in remaining()]
        stopped = MessageReceiver.objects.filter(status__in=MessageReceiver.STOPPED)
        self.known |= set(stopped.filter(pk__in=ids).values_list("pk", flat=True))
        self.known.add(receiver.pk)
        return True

    def skip(self, receiver: MessageReceiver) -> None:
        self.skipped.append(receiver)

    def release(self, token: str) -> int:
        """Release the claims of the receivers skipped (no send is asked for them); the
        expiry sweep marks an expired one ``expired`` if its status does not say so yet."""
        ids = [receiver.pk for receiver in self.skipped]
        return drop_claims(MessageReceiver.objects.filter(pk__in=ids, claim_token=token))
