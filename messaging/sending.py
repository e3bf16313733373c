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
import socket
import time
import traceback
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache, partial

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import EmailMultiAlternatives, get_connection
from django.core.validators import validate_email
from django.db import DatabaseError, transaction
from django.db import connection as db_connection
from django.db.models import Case, Exists, F, OuterRef, When
from django.utils import timezone

from . import conf, pipelining
from .bounces import suppression, verp
from .exceptions import InvalidRecipientError
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
    """Record on the message that ``stage`` failed, with a scrubbed traceback."""
    message = Message.objects.get(pk=message_id)
    errors = list(message.status_data.get("errors", []))
    errors.append({"stage": stage, **error_entry(error)})
    message.status_data = {**message.status_data, "errors": errors[-conf.max_stored_errors() :]}
    message.status = Message.Status.ERROR
    message.save(update_fields=["status", "status_data"])


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
    # status_data is read only when an attempt fails; it loads then.
    fields = ("status_data", "metadata", "user__password")
    return list(claimed.select_related("user").defer(*fields).order_by("pk"))


def consumed_send(now: datetime) -> Case:
    """``pending_sends`` after a claim takes one send.

    Taking over an expired claim first gives back the send its dead worker had taken
    (as ``maintenance.recover_abandoned`` would), so a send asked for meanwhile is not lost.
    """
    return Case(
        When(claimed_until__lt=now, then=F("pending_sends")),
        default=F("pending_sends") - 1,
    )


# --- classifying failures ---------------------------------------------------------------

# Errors that say the mail setup itself is wrong: every receiver would fail the same way.
BATCH_ERRORS: tuple[type[BaseException], ...] = (
    smtplib.SMTPAuthenticationError,
    smtplib.SMTPSenderRefused,
    smtplib.SMTPNotSupportedError,
)


# Errors of the mail setup or server rather than of the recipient: never permanent for it.
SETUP_ERRORS: tuple[type[BaseException], ...] = (
    *BATCH_ERRORS,
    smtplib.SMTPConnectError,
    smtplib.SMTPHeloError,
)


class ConnectionOpenError(Exception):
    """Opening the mail connection failed; wraps the original error."""


def smtp_code(error: BaseException) -> int | None:
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _msg in error.recipients.values()]
        return max(codes) if codes else None
    return getattr(error, "smtp_code", None)


def is_permanent(error: BaseException) -> bool:
    """A refusal that a retry cannot fix: a bad address or a 5xx reply about the recipient.

    A 5xx reply about the setup (e.g. 535 authentication refused) is not permanent for
    the receiver: it is retried once the setup is fixed.
    """
    if isinstance(error, InvalidRecipientError):
        return True
    if isinstance(error, SETUP_ERRORS):
        return False
    code = smtp_code(error)
    return code is not None and 500 <= code < 600


def error_message(error: BaseException) -> str:
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        parts = []
        for address, (code, text) in error.recipients.items():
            reply = text.decode(errors="replace") if isinstance(text, bytes) else str(text)
            parts.append(f"{address}: {code} {reply}")
        return "The mail server refused the recipient: " + "; ".join(parts)
    if isinstance(error, smtplib.SMTPResponseException):
        reply = error.smtp_error
        text = reply.decode(errors="replace") if isinstance(reply, bytes) else str(reply)
        return f"The mail server answered {error.smtp_code}: {text}"
    if isinstance(error, socket.timeout | TimeoutError):
        return f"The mail server did not answer in time ({error or 'timeout'})."
    return f"{type(error).__name__}: {error}"


def scrub(text: str) -> str:
    """Remove the values of secret settings (passwords, keys) from ``text``."""
    for name in conf.secret_setting_names():
        value = getattr(settings, name, None)
        if value and isinstance(value, str) and len(value) >= 3:
            text = text.replace(value, "********")
    return text


def error_entry(error: BaseException) -> dict:
    """The record of one failed attempt stored in ``status_data["errors"]``."""
    trace = "".join(traceback.format_exception(error))
    return {
        "error_message": scrub(error_message(error)),
        "timestamp": timezone.now().isoformat(),
        "exception_traceback": scrub(trace),
        "exception_class": f"{type(error).__module__}.{type(error).__qualname__}",
        "smtp_code": smtp_code(error),
        "permanent": is_permanent(error),
    }


def backoff_delay(failed_count: int) -> timedelta:
    """Exponential backoff before the automatic retry after ``failed_count`` failures."""
    base, cap = conf.retry_base_delay(), conf.retry_max_delay()
    return timedelta(seconds=min(cap, base * 2 ** max(0, failed_count - 1)))


# --- recording outcomes -----------------------------------------------------------------


def record_success(receiver: MessageReceiver, token: str, address: str) -> bool:
    """Mark ``receiver`` sent and release its claim, in one statement (its own commit).

    This runs once per email on the hot path, so the UPDATE is written once in SQL rather
    than built by the ORM each time (which costs more than running it on SQLite).
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


def record_failure(receiver: MessageReceiver, token: str, error: BaseException) -> bool:
    """Count a failed attempt: ``failed`` while within the resend limit, else ``error``."""
    failed = receiver.sending_failed_count + 1
    permanent = is_permanent(error)
    final = permanent or failed > conf.resend_limit()
    errors = [*receiver.status_data.get("errors", []), error_entry(error)]
    updated = MessageReceiver.objects.filter(pk=receiver.pk, claim_token=token).update(
        status=Status.ERROR if final else Status.FAILED,
        sending_failed_count=F("sending_failed_count") + 1,
        status_data={**receiver.status_data, "errors": errors[-conf.max_stored_errors() :]},
        next_attempt_at=None if final else timezone.now() + backoff_delay(failed),
        send_to=receiver.send_to,
        claimed_until=None,
    )
    return bool(updated)


def release(receivers: Iterable[MessageReceiver], token: str) -> int:
    """Give claimed, unattempted receivers their pending send back for a later run."""
    ids = [receiver.pk for receiver in receivers]
    return MessageReceiver.objects.filter(pk__in=ids, claim_token=token).update(
        pending_sends=F("pending_sends") + 1, claimed_until=None, claim_token=""
    )


# --- sending ----------------------------------------------------------------------------


def recipient_address(receiver: MessageReceiver) -> str:
    """The user's current address, or :class:`InvalidRecipientError` saying what to fix."""
    user = receiver.user
    if user is None:
        raise InvalidRecipientError(
            "This receiver's user was deleted, so there is no address to send to."
        )
    address = (getattr(user, user.get_email_field_name(), "") or "").strip()
    if not address:
        raise InvalidRecipientError(
            f"User {user.get_username()!r} (id {user.pk}) has no email address. "
            "Add one to the user, then resend this receiver."
        )
    try:
        validate_email(address)
    except ValidationError as error:
        raise InvalidRecipientError(
            f"User {user.get_username()!r} (id {user.pk}) has an invalid email address "
            f"{address!r}. Correct it on the user, then resend this receiver."
        ) from error
    return address


def one_line(text: str) -> str:
    """``text`` with line breaks and runs of white space folded into single spaces."""
    return " ".join(text.split())


def build_email(receiver: MessageReceiver, address: str, connection) -> EmailMultiAlternatives:
    email = EmailMultiAlternatives(
        subject=one_line(receiver.subject),
        body=receiver.message_content_plain,
        from_email=getattr(settings, "MESSAGING_FROM_EMAIL", None) or settings.DEFAULT_FROM_EMAIL,
        to=[address],
        connection=connection,
    )
    if receiver.message_content_html:
        email.attach_alternative(receiver.message_content_html, "text/html")
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
    batch_error: str = ""
    message_ids: set[int] = field(default_factory=set)

    def as_dict(self) -> dict:
        return {
            "sent": self.sent,
            "failed": self.failed,
            "released": self.released,
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
) -> str:
    """Send one receiver's email; returns the address used. Raises on any failure.

    ``record_previous`` is called once before this email can be delivered; with a server
    that offers pipelining, while the server answers this email's envelope. A suppressed
    address raises before the mail server is spoken to (``suppressed``: the batch's
    entries, see :func:`suppressed_in`).
    """
    envelope = None
    try:
        address = recipient_address(receiver)
        receiver.send_to = address
        suppression.refuse_suppressed(address, suppressed)
        open_connection(connection)  # a no-op when already open
        email = build_email(receiver, address, connection)
        envelope = pipelining.start(connection, email)
    finally:
        record_previous()
    if envelope is not None:
        pipelining.finish(envelope)
    elif not connection.send_messages([email]):
        raise smtplib.SMTPException("The mail backend reported that nothing was sent.")
    return address


class DeferredRecord:
    """The previous email's success, written while the next email's envelope is answered."""

    def __init__(self) -> None:
        self.pending: Callable[[], object] | None = None

    def defer(self, receiver: MessageReceiver, token: str, address: str) -> None:
        self.flush()
        self.pending = partial(record_success, receiver, token, address)

    def flush(self) -> None:
        write, self.pending = self.pending, None
        if write is not None:
            write()


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
    ever sent but unrecorded; failures are recorded at once.
    """
    outcome = BatchOutcome(message_ids={r.message_id for r in receivers})
    connection = get_connection()
    previous = recorder()
    limiter, lease = worker_rate_limiter(), LeaseKeeper(receivers, token, previous.flush)
    suppressed = suppressed_in(receivers)
    try:
        for index, receiver in enumerate(receivers):
            limiter.wait()
            if not lease.holds(receiver, receivers[index:]):
                continue  # taken over after this worker lost its lease
            try:
                address = send_one(receiver, connection, previous.flush, suppressed)
            except Exception as error:
                record_failure(receiver, token, batch_cause(error))
                outcome.failed += 1
                if not keeps_connection(error):
                    close_quietly(connection)
                if isinstance(error, (ConnectionOpenError, *BATCH_ERRORS)):
                    outcome.released = release(receivers[index + 1 :], token)
                    outcome.batch_error = error_message(batch_cause(error))
                    break
            else:
                previous.defer(receiver, token, address)
                outcome.sent += 1
    finally:
        previous.flush()
        close_quietly(connection)
    return outcome


def suppressed_in(receivers: list[MessageReceiver]) -> dict:
    """The suppression entries of the batch's users' addresses, in one query."""
    addresses = []
    for receiver in receivers:
        if receiver.user is not None:
            addresses.append(getattr(receiver.user, receiver.user.get_email_field_name(), ""))
    return suppression.lookup(address or "" for address in addresses)


def keeps_connection(error: BaseException) -> bool:
    """Whether the mail connection is still good after ``error``: a refused recipient."""
    if isinstance(error, InvalidRecipientError):
        return True
    return isinstance(error, smtplib.SMTPRecipientsRefused) and smtp_code(error) != 421


def batch_cause(error: BaseException) -> BaseException:
    if isinstance(error, ConnectionOpenError) and error.__cause__ is not None:
        return error.__cause__
    return error


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
