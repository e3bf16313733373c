"""Claims: which worker may send a receiver now, and for how long (its lease).

A send asked for is counted in ``pending_sends``; each claim consumes one, so every
request gives exactly one delivery attempt however many workers race for it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta

from django.db import connection as db_connection
from django.db import transaction
from django.db.models import Case, F, QuerySet, When
from django.utils import timezone

from .. import conf
from ..models import Message, MessageReceiver


def claim(receiver_ids: Sequence[int], token: str) -> list[MessageReceiver]:
    """Claim the receivers among ``receiver_ids`` that are waiting for a send.

    A claimed receiver has one pending send consumed and a lease until
    ``now + MESSAGING_CLAIM_LEASE_SECONDS``; ones claimed by a live worker are skipped,
    ones whose claim expired are taken over (see :func:`consumed_send`). Cancelled and
    expired receivers are refused, and so are those whose message's ``send_at`` is still to
    come or whose ``expires_at`` has passed (``filter_claimable``).
    """
    now = timezone.now()
    candidates = MessageReceiver.objects.filter(pk__in=receiver_ids).filter_claimable(now)
    with transaction.atomic():
        if db_connection.features.has_select_for_update_skip_locked:
            # Only the receivers' rows: their messages are read, never locked.
            mine = candidates.select_for_update(skip_locked=True, of=("self",))
            locked = mine.values_list("pk", flat=True)
            candidates = MessageReceiver.objects.filter(pk__in=list(locked))
        # On SQLite the conditional UPDATE itself is the claim: the database's write lock
        # makes its WHERE hold for exactly one writer.
        candidates.update(
            pending_sends=consumed_send(now),
            claimed_until=now + timedelta(seconds=conf.claim_lease_seconds()),
            claim_token=token,
        )
    claimed = MessageReceiver.objects.filter(pk__in=receiver_ids, claim_token=token)
    # status_data is read only when an attempt fails; it loads then.
    fields = ("status_data", "metadata", "user__password")
    receivers = list(claimed.select_related("user").defer(*fields).order_by("pk"))
    attach_messages(receivers)
    return receivers


def attach_messages(receivers: list[MessageReceiver]) -> None:
    """Give each receiver its message's context type and metadata (the headers read them),
    status and expiry time, with one query per batch; the message's big JSON columns are
    not loaded."""
    ids = {receiver.message_id for receiver in receivers}
    fields = ("id", "context_type", "metadata", "status", "expires_at")
    messages = Message.objects.only(*fields).in_bulk(ids)
    for receiver in receivers:
        receiver.message = messages[receiver.message_id]


def consumed_send(now: datetime) -> Case:
    """``pending_sends`` after a claim takes one send.

    Taking over an expired claim first gives back the send its dead worker had taken
    (as ``maintenance.recover_abandoned`` would), so a send asked for meanwhile is not lost.
    """
    return Case(
        When(claimed_until__lt=now, then=F("pending_sends")),
        default=F("pending_sends") - 1,
    )


def release(receivers: Iterable[MessageReceiver], token: str) -> int:
    """Give claimed, unattempted receivers their pending send back for a later run.

    Cancelled and expired ones get no send back, only their claim released.
    """
    ids = [receiver.pk for receiver in receivers]
    mine = MessageReceiver.objects.filter(pk__in=ids, claim_token=token)
    drop_claims(mine.filter(status__in=MessageReceiver.STOPPED))
    return mine.exclude(status__in=MessageReceiver.STOPPED).update(
        pending_sends=F("pending_sends") + 1, claimed_until=None, claim_token=""
    )


def drop_claims(receivers: QuerySet) -> int:
    """Release the claims of ``receivers`` without asking for any send."""
    return receivers.update(claimed_until=None, claim_token="")


class LeaseKeeper:
    """Renews a batch's claims while it is sent, so a long batch is never taken over.

    A batch slower than the lease (a stalling mail server, a low rate limit) would
    otherwise see cron hand its remaining receivers to another worker: sent twice.
    """

    def __init__(
        self,
        receivers: list[MessageReceiver],
        token: str,
        before_renew: Callable[[], None] = lambda: None,
    ) -> None:
        self.token = token
        self.before_renew = before_renew  # the connection must be idle for the renewal
        self.lease = conf.claim_lease_seconds()
        self.renew_at = time.monotonic() + self.lease / 3
        self.held = {receiver.pk for receiver in receivers}

    def holds(self, receiver: MessageReceiver, remaining: list[MessageReceiver]) -> bool:
        """Whether ``receiver`` is still this batch's; renews ``remaining`` when due."""
        if time.monotonic() >= self.renew_at:
            self.before_renew()
            self.renew(remaining)
        return receiver.pk in self.held

    def renew(self, remaining: list[MessageReceiver]) -> None:
        until = timezone.now() + timedelta(seconds=self.lease)
        mine = MessageReceiver.objects.filter(
            pk__in=[receiver.pk for receiver in remaining],
            claim_token=self.token,
            claimed_until__isnull=False,
        )
        mine.update(claimed_until=until)
        self.held = set(mine.values_list("pk", flat=True))
        self.renew_at = time.monotonic() + self.lease / 3
