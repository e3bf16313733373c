"""The send loop: one claimed batch over one mail connection, each outcome recorded in turn."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from operator import getitem

from .. import conf
from ..models import MessageReceiver
from . import compat
from .claims import LeaseKeeper, release
from .deferred_writes import status_writes
from .failures import Failure, Kind, classify
from .outcomes import record_failure, record_refusals
from .ratelimit import shared_rate_limiter
from .recipients import suppressed_in
from .smtp import close_quietly, send_one
from .stops import ReceiverStopped, Stops
from .throttles import DomainThrottles


@dataclass
class BatchOutcome:
    """What one batch (or one connection's share of it) did; returned by the task."""

    sent: int = 0
    failed: int = 0
    released: int = 0
    reconnects: int = 0
    batch_error: str = ""
    message_ids: set[int] = field(default_factory=set)
    retried: set[int] = field(default_factory=set)  # tried again at once after a 421
    # Receivers whose domain is slowed (.throttles), released for their turn: ids by turn.
    held_back: dict[datetime, list[int]] = field(default_factory=dict)

    def add(self, other: BatchOutcome) -> None:
        """Count ``other`` (another connection's share of the batch) in this one."""
        self.sent += other.sent
        self.failed += other.failed
        self.released += other.released
        self.reconnects += other.reconnects
        self.batch_error = self.batch_error or other.batch_error
        self.message_ids |= other.message_ids
        for turn, ids in other.held_back.items():
            self.held_back.setdefault(turn, []).extend(ids)

    def as_dict(self) -> dict:
        return {
            "sent": self.sent,
            "failed": self.failed,
            "released": self.released,
            "reconnects": self.reconnects,
            "batch_error": self.batch_error,
        }


def deliver_claimed(
    receivers: list[MessageReceiver], token: str, stop: threading.Event | None = None
) -> BatchOutcome:
    """Send claimed receivers over one mail connection, recording each outcome in turn.

    A success is recorded before the next email is delivered, so at most one email is
    ever sent but unrecorded; failures are recorded at once. When the server closes the
    connection (421, e.g. a per-connection message limit), the batch reconnects and goes
    on, up to ``MESSAGING_RECONNECT_LIMIT`` times; see :func:`on_failure`. ``stop`` is
    set when the batch must stop (here, or on a connection beside this one). A receiver
    cancelled or expired since the claim is not sent (:mod:`.stops`): each is asked about
    just before its email goes out, so a stopped message stops at the next receiver.
    """
    stop = stop or threading.Event()
    outcome = BatchOutcome(message_ids={r.message_id for r in receivers})
    connection = compat.mail_connection()
    writes = status_writes(deferred=conf.async_status_writes())
    limiter = shared_rate_limiter(compat.DEFAULT_MAILER)
    lease = LeaseKeeper(receivers, token, writes.flush)
    send = partial(send_one, suppressed=suppressed_in(receivers), pipelined=conf.smtp_pipelining())
    queue = list(receivers)
    index = 0
    stops = Stops()
    throttles = DomainThrottles(compat.DEFAULT_MAILER)
    try:
        while index < len(queue) and not stop.is_set():
            receiver = queue[index]
            index += 1
            if stops.known_stopped(receiver):
                stops.skip(receiver)
                continue
            if throttles.holds_back(receiver, writes.flush):
                continue  # its domain's server asked us to slow down: sent at its turn
            if limiter is not None:  # MESSAGING_MAX_PER_SECOND
                limiter.wait(writes.flush)
            if not lease.holds(receiver, queue[index - 1 :]):
                continue  # taken over after this worker lost its lease
            rest = partial(getitem, queue, slice(index, None))  # read only when one stopped
            stopped = partial(stops.stopped, remaining=rest)
            try:
                address, refused = send(receiver, connection, writes.flush, stopped=stopped)
            except ReceiverStopped:
                stops.skip(receiver)  # staff stopped its message, or it expired
            except Exception as error:
                failure = classify(error)
                if failure.throttled:
                    throttles.note(receiver, failure.message)
                if not failure.connection_survives:
                    close_quietly(connection)
                if on_failure(receiver, token, failure, outcome, queue, index):
                    stop.set()
            else:
                if refused:
                    record_refusals(receiver, token, refused)
                writes.defer(receiver, token, address)
                outcome.sent += 1
    finally:
        writes.flush()
        stops.release(token)
        outcome.held_back = throttles.release(token)
        close_quietly(connection)
    if stop.is_set() and not outcome.batch_error:
        outcome.released = release(queue[index:], token)  # another connection stopped
    return outcome


def on_failure(
    receiver: MessageReceiver,
    token: str,
    failure: Failure,
    outcome: BatchOutcome,
    queue: list[MessageReceiver],
    index: int,
) -> bool:
    """Record ``failure``; returns whether the batch stops (the rest are released).

    A 421 costs one of the batch's reconnects; the receiver that got it is ``failed`` and,
    the first time, tried again at once on the new connection (the server refused the
    connection, not the email). Past the limit, or when every receiver would fail alike
    (:attr:`Kind.SETUP`), the rest are released for ``resend_failed_messages``.
    """
    closing = failure.kind is Kind.CLOSING
    reconnect = closing and outcome.reconnects < conf.reconnect_limit()
    retry_now = reconnect and receiver.pk not in outcome.retried and not failure.asks_to_wait
    if record_failure(receiver, token, failure, retry_now=retry_now) and retry_now:
        outcome.retried.add(receiver.pk)
        queue.insert(index, receiver)
    else:
        outcome.failed += 1
    if reconnect:
        outcome.reconnects += 1
        return False
    if closing or failure.kind is Kind.SETUP:
        outcome.released = release(queue[index:], token)
        outcome.batch_error = failure.message
        return True
    return False
