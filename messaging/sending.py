"""Delivery: ask for sends, claim receivers, send them over one connection, record outcomes.

The pipeline, for one batch of receiver ids (see :func:`deliver`):

1. :func:`claim` takes the receivers that have a send asked for and no live claim,
   in one short transaction, and gives them a lease.
2. :func:`deliver_claimed` sends each over one mail connection, recording each
   outcome in its own small update (no row lock is held across SMTP I/O) and renewing
   the lease of the rest while the batch lasts (:class:`LeaseKeeper`).
3. :func:`finish_batch` moves finished messages to ``sent`` and re-enqueues sends that
   were asked for while this batch held the claim.

A send asked for is counted in ``pending_sends``; each claim consumes one, so every
request gives exactly one delivery attempt however many workers race for it.
"""

from __future__ import annotations

import logging
import smtplib
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache, partial

from django.core.exceptions import ValidationError
from django.core.mail import EmailMultiAlternatives
from django.core.validators import validate_email
from django.db import DatabaseError, transaction
from django.db import connection as db_connection
from django.db.models import Case, Exists, F, OuterRef, When
from django.utils import timezone

from . import compat, conf, pipelining, preferences, signals, users
from .bounces import suppression, verp
from .exceptions import InvalidRecipientError, SendingDisabledError
from .failures import ConnectionOpenError, Failure, Kind
from .models import Message, MessageReceiver

logger = logging.getLogger(__name__)

Status = MessageReceiver.Status


def chunked(items: Sequence[int], size: int) -> Iterator[list[int]]:
    for start in range(0, len(items), size):
        yield list(items[start : start + size])


# --- asking for sends -------------------------------------------------------------------


def request_sends(receiver_ids: Iterable[int], *, message_id: int | None = None) -> int:
    """Ask for one more delivery of each receiver; returns how many were asked for.

    Delivery is enqueued in batches once the current transaction commits.
    """
    ids = sorted(set(receiver_ids))
    now = timezone.now()
    for chunk in chunked(ids, 1000):
        MessageReceiver.objects.filter(pk__in=chunk).update(
            pending_sends=F("pending_sends") + 1, send_requested_at=now
        )
    if ids:
        transaction.on_commit(lambda: enqueue_batches(ids, message_id=message_id))
    return len(ids)


def enqueue_batches(receiver_ids: Sequence[int], *, message_id: int | None = None) -> None:
    """Enqueue delivery tasks of at most ``MESSAGING_BATCH_SIZE`` receivers each.

    When the task backend refuses, the message is marked ``error`` with the traceback;
    the receivers keep their pending send, which ``resend_failed_messages`` picks up.
    """
    from .tasks import deliver_receivers

    task = deliver_receivers.using(queue_name=conf.task_queue())
    try:
        for chunk in chunked(list(receiver_ids), conf.batch_size()):
            task.enqueue(chunk)
    except Exception as error:
        logger.exception("Enqueuing delivery failed")
        if message_id is None:
            raise
        mark_message_error(message_id, error, stage="enqueue")


def mark_message_error(message_id: int, error: BaseException, *, stage: str) -> None:
    """Record on the message that ``stage`` failed, with a scrubbed traceback.

    Never raises because the message is gone (deleted meanwhile): the error is logged,
    so the caller's own error is the one that propagates.
    """
    message = Message.objects.filter(pk=message_id).first()
    if message is None:
        logger.error("Message %s vanished; its %s error was: %s", message_id, stage, error)
        return
    entry = {"stage": stage, **Failure.of(error).entry()}
    errors = [*message.status_data.get("errors", []), entry]
    message.status_data = {**message.status_data, "errors": errors[-conf.max_stored_errors() :]}
    message.status = Message.Status.ERROR
    message.save(update_fields=["status", "status_data"])
    signals.send(signals.message_error, Message, message=message, error=entry, stage=stage)


# --- claiming ---------------------------------------------------------------------------


def claim(receiver_ids: Sequence[int], token: str) -> list[MessageReceiver]:
    """Claim the receivers among ``receiver_ids`` that are waiting for a send.

    A claimed receiver has one pending send consumed and a lease until
    ``now + MESSAGING_CLAIM_LEASE_SECONDS``; ones claimed by a live worker are skipped,
    ones whose claim expired are taken over (see :func:`consumed_send`).
    """
    now = timezone.now()
    candidates = MessageReceiver.objects.filter(pk__in=receiver_ids).filter_claimable(now)
    with transaction.atomic():
        if db_connection.features.has_select_for_update_skip_locked:
            locked = candidates.select_for_update(skip_locked=True).values_list("pk", flat=True)
            candidates = MessageReceiver.objects.filter(pk__in=list(locked))
        # On SQLite the conditional UPDATE itself is the claim: the database's write lock
        # makes its WHERE hold for exactly one writer.
        candidates.update(
            pending_sends=consumed_send(now),
            claimed_until=now + timedelta(seconds=conf.claim_lease_seconds()),
            claim_token=token,
        )
    claimed = MessageReceiver.objects.filter(pk__in=receiver_ids, claim_token=token)
    # status_data is read only when an attempt fails; it loads then. The message comes
    # along for the headers (context type, digest flag), without its big JSON columns.
    fields = ("status_data", "metadata", "user__password", *MESSAGE_BIG_FIELDS)
    return list(claimed.select_related("user", "message").defer(*fields).order_by("pk"))


MESSAGE_BIG_FIELDS = tuple(
    f"message__{name}" for name in ("status_data", "template_context", "virtual_message_receivers")
)


def consumed_send(now: datetime) -> Case:
    """``pending_sends`` after a claim takes one send.

    Taking over an expired claim first gives back the send its dead worker had taken
    (as ``maintenance.recover_abandoned`` would), so a send asked for meanwhile is not lost.
    """
    return Case(
        When(claimed_until__lt=now, then=F("pending_sends")),
        default=F("pending_sends") - 1,
    )


# --- retry timing ---------------------------------------------------------------------


def backoff_delay(failed_count: int) -> timedelta:
    """Exponential backoff before the automatic retry after ``failed_count`` failures."""
    base, cap = conf.retry_base_delay(), conf.retry_max_delay()
    return timedelta(seconds=min(cap, base * 2 ** max(0, failed_count - 1)))


# --- recording outcomes -----------------------------------------------------------------


def record_success(receiver: MessageReceiver, token: str, address: str) -> bool:
    """Mark ``receiver`` sent to ``address`` (the addresses, comma-separated) and release it.

    One statement, its own commit. This runs once per email on the hot path, so the UPDATE
    is written once in SQL rather than built by the ORM each time (which costs more than
    running it on SQLite).
    """
    params = [
        Status.SENT,
        db_connection.ops.adapt_datetimefield_value(timezone.now()),
        address,
        receiver.pk,
        token,
    ]
    with db_connection.cursor() as cursor:
        cursor.execute(success_sql(), params)
        return cursor.rowcount == 1


@cache
def _success_sql(vendor: str) -> str:
    meta, quote = MessageReceiver._meta, db_connection.ops.quote_name

    def column(name: str) -> str:
        return quote(meta.get_field(name).column)

    return (
        f"UPDATE {quote(meta.db_table)} SET {column('status')} = %s, "
        f"{column('sent_datetime')} = %s, "
        f"{column('sending_success_count')} = {column('sending_success_count')} + 1, "
        f"{column('send_to')} = %s, {column('next_attempt_at')} = NULL, "
        f"{column('claimed_until')} = NULL "
        f"WHERE {column('id')} = %s AND {column('claim_token')} = %s"
    )


def success_sql() -> str:
    return _success_sql(db_connection.vendor)


@contextmanager
def relaxed_commits() -> Iterator[None]:
    """On PostgreSQL, let this connection's commits return before the WAL reaches disk.

    A worker that dies still loses at most the status of the email in flight: what was
    committed is in the server's memory. Only a crash of the database server itself could
    lose the last fraction of a second of statuses, and those receivers are sent again.
    """
    if db_connection.vendor != "postgresql":
        yield
        return
    with db_connection.cursor() as cursor:
        cursor.execute("SET synchronous_commit TO OFF")
    try:
        yield
    finally:
        with db_connection.cursor() as cursor:
            cursor.execute("RESET synchronous_commit")


def record_failure(
    receiver: MessageReceiver, token: str, failure: Failure, *, retry_now: bool = False
) -> bool:
    """Count a failed attempt: ``failed`` while within the resend limit, else ``error``.

    With ``retry_now`` the receiver keeps its claim: this batch tries it again at once.
    The in-memory ``receiver`` is updated too, so a second failure adds to the first.
    """
    failed = receiver.sending_failed_count + 1
    final = failure.permanent or failed > conf.resend_limit()
    retry_now = retry_now and not final
    errors = [*receiver.status_data.get("errors", []), failure.entry()]
    status_data = {**receiver.status_data, "errors": errors[-conf.max_stored_errors() :]}
    changes = {
        "status": Status.ERROR if final else Status.FAILED,
        "sending_failed_count": F("sending_failed_count") + 1,
        "status_data": status_data,
        "next_attempt_at": None if final or retry_now else timezone.now() + backoff_delay(failed),
        "send_to": receiver.send_to,
    }
    if not retry_now:
        changes["claimed_until"] = None
    updated = MessageReceiver.objects.filter(pk=receiver.pk, claim_token=token).update(**changes)
    receiver.sending_failed_count, receiver.status_data = failed, status_data
    if updated:
        signals.send(
            signals.receiver_failed,
            MessageReceiver,
            message_receiver=receiver,
            error=status_data["errors"][-1],
            final=final,
        )
    return bool(updated)


def record_refusals(receiver: MessageReceiver, token: str, refused: dict) -> None:
    """Store the addresses refused in a transaction that others accepted.

    The receiver counts as sent (the user got the email); the refusal is kept among its
    errors, marked ``partial``, without counting as a failed attempt.
    """
    entry = {**Failure.of(smtplib.SMTPRecipientsRefused(refused)).entry(), "partial": True}
    receiver.refresh_from_db(fields=["status_data"])
    errors = [*receiver.status_data.get("errors", []), entry]
    MessageReceiver.objects.filter(pk=receiver.pk, claim_token=token).update(
        status_data={**receiver.status_data, "errors": errors[-conf.max_stored_errors() :]}
    )


def release(receivers: Iterable[MessageReceiver], token: str) -> int:
    """Give claimed, unattempted receivers their pending send back for a later run."""
    ids = [receiver.pk for receiver in receivers]
    return MessageReceiver.objects.filter(pk__in=ids, claim_token=token).update(
        pending_sends=F("pending_sends") + 1, claimed_until=None, claim_token=""
    )


# --- sending ----------------------------------------------------------------------------


def deliverable(addresses: list[str], suppressed: dict | None) -> list[str]:
    """``addresses`` without suppressed ones; when every one is suppressed, the
    :class:`~messaging.exceptions.SuppressedAddressError` of the first says why."""
    entries = suppression.lookup(addresses) if suppressed is None else suppressed
    kept = [address for address in addresses if not suppression.is_suppressed(address, entries)]
    if not kept:
        suppression.refuse_suppressed(addresses[0], entries)
    return kept


def suppressed_in(receivers: list[MessageReceiver]) -> dict:
    """The suppression entries of the batch's users' addresses, in one query."""
    addresses = []
    for receiver in receivers:
        if receiver.user is not None:
            addresses += users.user_emails(receiver.user)
    return suppression.lookup(addresses)


def recipient_addresses(receiver: MessageReceiver) -> list[str]:
    """The user's current addresses (``MESSAGING_USER_EMAILS``), or
    :class:`InvalidRecipientError` saying what to fix."""
    user = receiver.user
    if user is None:
        raise InvalidRecipientError(
            "This receiver's user was deleted, so there is no address to send to."
        )
    addresses = users.user_emails(user)
    if not addresses:
        raise InvalidRecipientError(
            f"User {user.get_username()!r} (id {user.pk}) has no email address. "
            "Add one to the user, then resend this receiver."
        )
    for address in addresses:
        try:
            validate_email(address)
        except ValidationError as error:
            raise InvalidRecipientError(
                f"User {user.get_username()!r} (id {user.pk}) has an invalid email address "
                f"{address!r}. Correct it on the user, then resend this receiver."
            ) from error
    return addresses


def check_sending_enabled() -> None:
    """Raise :class:`SendingDisabledError` while the kill switch is off."""
    if not conf.send_email_to_users():
        name = conf.send_email_setting_name()
        raise SendingDisabledError(
            f"Not sent: {name} is False, so no email goes to users. Set it to True, "
            "then resend this receiver."
        )


def one_line(text: str) -> str:
    """``text`` with line breaks and runs of white space folded into single spaces."""
    return " ".join(text.split())


def build_email(
    receiver: MessageReceiver, addresses: list[str], connection
) -> EmailMultiAlternatives:
    email = EmailMultiAlternatives(
        subject=one_line(receiver.subject),
        body=receiver.message_content_plain,
        from_email=conf.from_email(),
        to=addresses,
        connection=connection,
    )
    if receiver.message_content_html:
        email.attach_alternative(receiver.message_content_html, "text/html")
    email.extra_headers.update(preferences.headers_for(receiver))
    verp.mark_email(email, receiver.pk)
    return email


class RateLimiter:
    """Spaces sends so that one worker stays under ``MESSAGING_MAX_PER_SECOND``."""

    def __init__(self, per_second: float | None) -> None:
        self.interval = 1.0 / per_second if per_second else 0.0
        self.next_at = 0.0

    def wait(self) -> None:
        if not self.interval:
            return
        now = time.monotonic()
        if now < self.next_at:
            time.sleep(self.next_at - now)
        self.next_at = max(now, self.next_at) + self.interval


_limiters: dict[float | None, RateLimiter] = {}


def worker_rate_limiter() -> RateLimiter:
    """This process's limiter, shared by its batches so the rate holds across them too."""
    rate = conf.max_per_second()
    if rate not in _limiters:
        _limiters[rate] = RateLimiter(rate)
    return _limiters[rate]


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


@dataclass
class BatchOutcome:
    """What one batch did; returned by the delivery task."""

    sent: int = 0
    failed: int = 0
    released: int = 0
    reconnects: int = 0
    batch_error: str = ""
    message_ids: set[int] = field(default_factory=set)
    retried: set[int] = field(default_factory=set)  # tried again at once after a 421

    def as_dict(self) -> dict:
        return {
            "sent": self.sent,
            "failed": self.failed,
            "released": self.released,
            "reconnects": self.reconnects,
            "batch_error": self.batch_error,
        }


def close_quietly(connection) -> None:
    try:
        connection.close()
    except Exception:  # a broken connection may fail to say QUIT; it is closed anyway
        logger.debug("Closing the mail connection failed", exc_info=True)
    # Django's SMTP backend keeps a dead socket after some errors; forget it.
    if hasattr(connection, "connection"):
        connection.connection = None


def open_connection(connection) -> None:
    try:
        connection.open()
    except Exception as error:
        raise ConnectionOpenError(str(error)) from error


def send_one(
    receiver: MessageReceiver,
    connection,
    record_previous: Callable[[], None],
    suppressed: dict | None = None,
) -> tuple[str, dict]:
    """Send one receiver's email to all of the user's addresses in one transaction.

    Returns the addresses (comma-separated, as ``send_to`` stores them) and those the
    server refused while accepting others. Raises on any failure, including every
    address refused. ``record_previous`` is called once before this email can be
    delivered; with a server that offers pipelining, while it answers this envelope.
    Suppressed addresses never reach the mail server (``suppressed``: the batch's
    entries, see :func:`suppressed_in`); when all are, it raises before connecting.
    """
    envelope = None
    try:
        check_sending_enabled()
        addresses = deliverable(recipient_addresses(receiver), suppressed)
        receiver.send_to = ", ".join(addresses)
        open_connection(connection)  # a no-op when already open
        email = build_email(receiver, addresses, connection)
        envelope = pipelining.start(connection, email)
    finally:
        record_previous()
    if envelope is not None:
        refused = pipelining.finish(envelope)
    else:
        refused = pipelining.send_whole(connection, email)
    return receiver.send_to, refused


class DeferredRecord:
    """The previous email's success, written while the next email's envelope is answered."""

    def __init__(self) -> None:
        self.pending: Callable[[], object] | None = None
        self.sent: MessageReceiver | None = None

    def defer(self, receiver: MessageReceiver, token: str, address: str) -> None:
        self.flush()
        self.pending = partial(record_success, receiver, token, address)
        self.sent = receiver

    def flush(self) -> None:
        write, self.pending = self.pending, None
        if write is not None:
            write()
        self.announce()

    def announce(self) -> None:
        """Send ``receiver_sent`` for the success just recorded (the connection is idle)."""
        receiver, self.sent = self.sent, None
        if receiver is not None:
            addresses = receiver.send_to.split(", ")
            signals.send(
                signals.receiver_sent,
                MessageReceiver,
                message_receiver=receiver,
                addresses=addresses,
            )


class PipelinedRecord(DeferredRecord):
    """On PostgreSQL, sends each success's UPDATE at once and waits for it in :meth:`flush`.

    The database runs the UPDATE and commits while this worker builds the next email and
    sends its envelope; the next email is still delivered only after the commit. Nothing
    else may use the connection in between, so every other query flushes first.
    """

    def __init__(self) -> None:
        super().__init__()
        self.pgconn = None

    def defer(self, receiver: MessageReceiver, token: str, address: str) -> None:
        self.flush()
        db_connection.ensure_connection()
        self.pgconn = db_connection.connection.pgconn
        now = timezone.now().isoformat()
        params = [Status.SENT, now, address, str(receiver.pk), token]
        self.pgconn.send_query_params(
            numbered_success_sql().encode(), [value.encode() for value in params]
        )
        self.sent = receiver

    def flush(self) -> None:
        from psycopg import pq

        pgconn, self.pgconn = self.pgconn, None
        if pgconn is None:
            return
        results = []
        while (result := pgconn.get_result()) is not None:
            results.append(result)
        failed = [r for r in results if r.status != pq.ExecStatus.COMMAND_OK]
        if failed:
            message = failed[0].error_message.decode(errors="replace")
            raise DatabaseError(f"Recording a sent email failed: {message}")
        self.announce()


def numbered_success_sql() -> str:
    """The success UPDATE with libpq's $1..$5 placeholders."""
    parts = success_sql().split("%s")
    return "".join(f"{part}${index}" for index, part in enumerate(parts[:-1], 1)) + parts[-1]


def recorder() -> DeferredRecord:
    """Pipelined on a PostgreSQL connection in autocommit (a worker), else the plain one."""
    if db_connection.vendor == "postgresql" and not db_connection.in_atomic_block:
        return PipelinedRecord()
    return DeferredRecord()


def deliver_claimed(receivers: list[MessageReceiver], token: str) -> BatchOutcome:
    """Send claimed receivers over one mail connection, recording each outcome in turn.

    A success is recorded before the next email is delivered, so at most one email is
    ever sent but unrecorded; failures are recorded at once. When the server closes the
    connection (421, e.g. a per-connection message limit), the batch reconnects and goes
    on, up to ``MESSAGING_RECONNECT_LIMIT`` times; see :func:`on_failure`.
    """
    outcome = BatchOutcome(message_ids={r.message_id for r in receivers})
    connection = compat.mail_connection()
    previous = recorder()
    limiter, lease = worker_rate_limiter(), LeaseKeeper(receivers, token, previous.flush)
    queue = list(receivers)
    suppressed = suppressed_in(receivers)
    try:
        index = 0
        while index < len(queue):
            receiver = queue[index]
            index += 1
            limiter.wait()
            if not lease.holds(receiver, queue[index - 1 :]):
                continue  # taken over after this worker lost its lease
            try:
                address, refused = send_one(receiver, connection, previous.flush, suppressed)
            except Exception as error:
                failure = Failure.of(error)
                if not failure.connection_survives:
                    close_quietly(connection)
                if on_failure(receiver, token, failure, outcome, queue, index):
                    break
            else:
                if refused:
                    record_refusals(receiver, token, refused)
                previous.defer(receiver, token, address)
                outcome.sent += 1
    finally:
        previous.flush()
        close_quietly(connection)
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
    retry_now = reconnect and receiver.pk not in outcome.retried
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


def finish_batch(receiver_ids: Sequence[int], message_ids: set[int], requeue: bool) -> None:
    """Mark finished messages ``sent``; re-enqueue sends asked for during the claim.

    After a batch error (e.g. authentication refused) nothing is re-enqueued: the
    released receivers wait for ``resend_failed_messages`` instead of failing in a loop.
    """
    unattempted = MessageReceiver.objects.filter(
        message=OuterRef("pk"), sending_success_count=0, sending_failed_count=0
    )
    Message.objects.filter(pk__in=message_ids, status=Message.Status.SENDING).exclude(
        Exists(unattempted)
    ).update(status=Message.Status.SENT)
    if not requeue:
        return
    leftover = MessageReceiver.objects.filter(pk__in=receiver_ids).filter_claimable()
    leftover_ids = list(leftover.values_list("pk", flat=True))
    if leftover_ids:
        transaction.on_commit(lambda: enqueue_batches(leftover_ids))


def deliver(receiver_ids: Sequence[int]) -> dict:
    """Deliver one batch: claim, send, record, finish. Safe to run twice or concurrently."""
    token = uuid.uuid4().hex
    with relaxed_commits():
        receivers = claim(receiver_ids, token)
        outcome = deliver_claimed(receivers, token) if receivers else BatchOutcome()
    if outcome.batch_error:
        logger.error("Delivery batch stopped: %s", outcome.batch_error)
    finish_batch(receiver_ids, outcome.message_ids, requeue=not outcome.batch_error)
    return outcome.as_dict()
