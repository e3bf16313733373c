"""The send loop: one claimed batch over one mail connection, each outcome recorded in turn."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from operator import getitem

from .. import conf
from ..models import MessageReceiver
from .claims import LeaseKeeper, release
from .deferred_writes import status_writes
from .failures import Failure, Kind, classify
from .outcomes import record_failure, record_refusals
from .ratelimit import shared_rate_limiter
from .recipients import suppressed_in
from .relays import usable_mailers
from .route import After, Route
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
    # Why the last attempt failed, when it was its relay's fault: the batch ends as if
    # stopped, and the receivers it gave back wait for the relay (its probe, or cron).
    relay_trouble: str = ""
    went_down: list[str] = field(default_factory=list)  # relays this batch marked down

    def add(self, other: BatchOutcome) -> None:
        """Count ``other`` (another connection's share of the batch) in this one."""
        self.sent += other.sent
        self.failed += other.failed
        self.released += other.released
        self.reconnects += other.reconnects
        self.batch_error = self.batch_error or other.batch_error
        self.message_ids |= other.message_ids
        self.hold(other.held_back)
        self.relay_trouble = self.relay_trouble or other.relay_trouble
        self.went_down += other.went_down

    def hold(self, held_back: dict[datetime, list[int]]) -> None:
        """Add receivers released for their domain's turn (ids by turn)."""
        for turn, ids in held_back.items():
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
    receivers: list[MessageReceiver],
    token: str,
    stop: threading.Event | None = None,
    mailers: list[str] | None = None,
) -> BatchOutcome:
    """Send claimed receivers over one mail connection, recording each outcome in turn.

    A success is recorded before the next email is delivered, so at most one email is
    ever sent but unrecorded; failures are recorded at once. When the server closes the
    connection (421, e.g. a per-connection message limit), the batch reconnects and goes
    on, up to ``MESSAGING_RECONNECT_LIMIT`` times; see :func:`on_failure`. ``stop`` is
    set when the batch must stop (here, or on a connection beside this one). A receiver
    cancelled or expired since the claim is not sent (:mod:`.stops`): each is asked about
    just before its email goes out, so a stopped message stops at the next receiver.
    The batch sends through the first relay that is up, and moves on to the next when it
    goes down (:mod:`.route`); with none up, every receiver is released. ``mailers``:
    the relays that are up, in order, when the caller has just read them.
    """
    stop = stop or threading.Event()
    outcome = BatchOutcome(message_ids={r.message_id for r in receivers})
    mailers = usable_mailers() if mailers is None else mailers
    if not mailers:
        outcome.released = release(receivers, token)
        outcome.batch_error = "Every mail relay is down."
        return outcome
    route = Route(mailers)
    outcome.went_down = route.went_down
    writes = status_writes(deferred=conf.async_status_writes())
    limiter = shared_rate_limiter(route.mailer)
    lease = LeaseKeeper(receivers, token, writes.flush)
    send = partial(send_one, suppressed=suppressed_in(receivers), pipelined=conf.smtp_pipelining())
    queue = list(receivers)
    index = 0
    stops = Stops()
    throttles = DomainThrottles(route.mailer)  # a domain's limit is per relay (its IP)
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
                address, refused = send(receiver, route.connection, writes.flush, stopped=stopped)
            except ReceiverStopped:
                stops.skip(receiver)  # staff stopped its message, or it expired
            except Exception as error:
                failure = classify(error)
                if failure.throttled:
                    throttles.note(receiver, failure.message)
                if not failure.connection_survives:
                    close_quietly(route.connection)
                if on_failure(Attempt(receiver, failure, token, queue, index), outcome, route):
                    stop.set()
                elif route.mailer != throttles.mailer:  # moved on to the next relay
                    outcome.hold(throttles.release(token))
                    limiter = shared_rate_limiter(route.mailer)
                    throttles = DomainThrottles(route.mailer)
            else:
                if refused:
                    record_refusals(receiver, token, refused)
                writes.defer(receiver, token, address, route.mailer)
                route.succeeded()
                outcome.sent += 1
                outcome.relay_trouble = ""
    finally:
        writes.flush()
        stops.release(token)
        outcome.hold(throttles.release(token))
        route.close()
    route.record_successes()
    outcome.batch_error = outcome.batch_error or outcome.relay_trouble
    if stop.is_set() and not outcome.batch_error:
        outcome.released = release(queue[index:], token)  # another connection stopped
    return outcome


@dataclass
class Attempt:
    """A failed attempt in its batch: what :func:`on_failure` decides about."""

    receiver: MessageReceiver
    failure: Failure
    token: str
    queue: list[MessageReceiver]
    index: int  # where the rest of the queue starts

    def record(self, outcome: BatchOutcome, retry_now: bool) -> bool:
        """Record the failure; with ``retry_now`` (and the receiver still this batch's),
        put the receiver back at the head of the rest. Returns whether it will be retried."""
        receiver = self.receiver
        if record_failure(receiver, self.token, self.failure, retry_now=retry_now) and retry_now:
            self.queue.insert(self.index, receiver)
            return True
        outcome.failed += 1
        return False

    def stop_batch(self, outcome: BatchOutcome) -> bool:
        """Release the rest of the queue and end the batch with this failure's message."""
        outcome.released = release(self.queue[self.index :], self.token)
        outcome.batch_error = self.failure.message
        return True


def on_failure(attempt: Attempt, outcome: BatchOutcome, route: Route) -> bool:
    """Record a failed attempt; returns whether the batch stops (the rest are released).

    A 421 costs one of the batch's reconnects; the receiver that got it is ``failed`` and,
    the first time, tried again at once on the new connection (the server refused the
    connection, not the email). Past the limit, or when every receiver would fail alike
    (:attr:`Kind.SETUP`), the rest are released for ``resend_failed_messages``. A relay
    fault is :func:`on_relay_fault`'s.
    """
    failure = attempt.failure
    if failure.relay_fault:
        return on_relay_fault(attempt, outcome, route)
    closing = failure.kind is Kind.CLOSING
    reconnect = closing and outcome.reconnects < conf.reconnect_limit()
    first_retry = attempt.receiver.pk not in outcome.retried
    if attempt.record(outcome, reconnect and first_retry and not failure.asks_to_wait):
        outcome.retried.add(attempt.receiver.pk)
    if reconnect:
        outcome.reconnects += 1
        return False
    if closing or failure.kind is Kind.SETUP:
        return attempt.stop_batch(outcome)
    return False


def on_relay_fault(attempt: Attempt, outcome: BatchOutcome, route: Route) -> bool:
    """Record a relay fault; returns whether the batch stops (the rest are released).

    The receiver keeps its send (see :func:`.outcomes.record_failure`). The batch goes on
    through the same relay while it is not down, so a run of faults falls on different
    receivers; once it is down, through the next relay that is up, this receiver first;
    with every relay down it stops, and its receivers wait for a relay to come back.
    """
    after = route.relay_failed(attempt.failure)
    outcome.relay_trouble = attempt.failure.message
    attempt.record(outcome, retry_now=after is After.NEXT)
    if after is not After.NONE:
        return False
    return attempt.stop_batch(outcome)
