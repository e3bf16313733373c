"""One delivery task's batch: claim it, send it over one or more connections, finish it."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence

from django.db import connection as db_connection

from .. import conf
from ..models import Message, MessageReceiver, finish_messages
from .claims import claim
from .concurrent import deliver_concurrently
from .loop import BatchOutcome, deliver_claimed
from .outcomes import leftover, not_yet_due
from .relays import usable_mailers

logger = logging.getLogger(__name__)


def deliver(receiver_ids: Sequence[int]) -> dict:
    """Deliver one batch: claim, send, record, finish. Safe to run twice or concurrently.

    A scheduled message whose receiver is claimed (its ``send_at`` has come) becomes
    ``sending``; finished messages become ``sent``. The result's ``leftover`` lists the
    receivers with a send asked for while this batch held the claim, for the caller to
    enqueue again; it is empty when the batch stopped on an error (e.g. authentication
    refused): then the released receivers wait for ``resend_failed_messages`` instead of
    failing in a loop. ``early`` maps a time to the receivers the batch could not claim
    yet because their message's ``send_at`` is still to come (the task ran early), and
    those held back for their domain's turn (:mod:`.throttles`).
    While every relay is down nothing is claimed: the receivers keep their sends, which
    are enqueued when a relay is up again. ``relays_down`` lists the relays this batch
    marked down, whose probes the caller schedules.
    """
    mailers = usable_mailers()
    if not mailers:
        early = not_yet_due(sorted(receiver_ids))
        return {**BatchOutcome().as_dict(), "leftover": [], "early": early, "relays_down": []}
    token = uuid.uuid4().hex
    receivers = claim(receiver_ids, token)
    start_scheduled(receivers)
    connections = min(conf.connections_per_worker(), len(receivers))
    # Threads have their own database connections: they cannot see an open transaction.
    if connections > 1 and not db_connection.in_atomic_block:
        outcome = deliver_concurrently(receivers, token, connections, mailers)
    else:
        outcome = (
            deliver_claimed(receivers, token, mailers=mailers) if receivers else BatchOutcome()
        )
    if outcome.batch_error:
        logger.error("Delivery batch stopped: %s", outcome.batch_error)
    finish_messages(outcome.message_ids)
    held = {pk for ids in outcome.held_back.values() for pk in ids}  # sent at their turn
    again = [] if outcome.batch_error else [pk for pk in leftover(receiver_ids) if pk not in held]
    unclaimed = set(receiver_ids) - {receiver.pk for receiver in receivers}
    early = not_yet_due(sorted(unclaimed)) if unclaimed else {}
    for turn, ids in outcome.held_back.items():
        early.setdefault(turn, []).extend(ids)
    relays_down = sorted(set(outcome.went_down))
    return {**outcome.as_dict(), "leftover": again, "early": early, "relays_down": relays_down}


def start_scheduled(receivers: list[MessageReceiver]) -> None:
    """Mark ``sending`` the scheduled messages of ``receivers`` (claimed: their time came)."""
    waiting = {r.message_id for r in receivers if r.message.status == Message.Status.SCHEDULED}
    if waiting:
        Message.objects.filter(pk__in=waiting).mark_started()
