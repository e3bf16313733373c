"""One classification of delivery failures: what kind, whether the connection survives,
what to store, whether the relay is at fault.

Every decision the delivery loop takes about a failed attempt reads the :class:`Failure`
that :func:`classify` returns: ``failure.kind`` says whether the receiver is refused for
good, should be retried later, whether the mail setup is wrong (stop the batch), or the
server is closing the connection (reconnect and go on); ``failure.connection_survives``
whether the next email may use the same connection; :meth:`Failure.entry` is what is
stored in ``status_data["errors"]``; ``failure.relay_fault`` whether the relay itself
failed (it counts towards marking the relay down, :mod:`.relays`).
"""

from __future__ import annotations

import smtplib
import socket
import traceback
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

from django.utils import timezone

from ..exceptions import (
    ConnectionOpenError,
    DeliveryUnconfirmedError,
    InvalidRecipientError,
    SendingDisabledError,
)
from ..rendering import without_controls
from .retry_after import retry_after
from .scrubbing import scrub
from .throttles import slows_domain

# Errors that say the mail setup itself is wrong: every receiver would fail the same way.
SETUP_ERRORS: tuple[type[BaseException], ...] = (
    smtplib.SMTPAuthenticationError,
    smtplib.SMTPSenderRefused,
    smtplib.SMTPNotSupportedError,
    smtplib.SMTPConnectError,
    smtplib.SMTPHeloError,
)
CLOSING_CODE = 421  # RFC 5321 4.2.3: the server is closing this transmission channel


class Kind(StrEnum):
    """What a failed attempt means for its receiver and for the rest of the batch."""

    RECIPIENT = "recipient"
    """Refused for good (a bad address, a 5xx about the recipient): ``error`` at once."""
    TRANSIENT = "transient"
    """Might work later (4xx, timeout, dropped connection): ``failed``, retried with backoff."""
    SETUP = "setup"
    """Every receiver would fail the same way (login refused, server unreachable): the
    batch stops and the rest wait for ``resend_failed_messages``."""
    CLOSING = "closing"
    """The server closes this connection (421): reconnect and go on with the batch."""


@dataclass(frozen=True)
class Failure:
    """A classified failed attempt; build it with :func:`classify`."""

    error: BaseException
    kind: Kind
    connection_survives: bool
    message: str
    smtp_code: int | None
    ambiguous: bool = False
    """The server may have taken the email (the connection dropped after its data)."""
    retry_after: timedelta | None = None
    """How long the server asked us to wait (a 4xx naming a time: :mod:`.retry_after`)."""
    throttled: bool = False
    """The recipient's domain limits our rate (:mod:`.throttles`): slow down sends to it."""

    @property
    def asks_to_wait(self) -> bool:
        """Whether the server asked for time: no retry on a new connection at once."""
        return self.retry_after is not None or self.throttled

    relay_fault: bool = False
    """The relay failed, not this email: no connection could be opened to it (refused,
    timeout, TLS failure, 421 at the greeting, login refused). Such failures in a row mark
    the relay down (``MESSAGING_RELAY_FAILURES``); one never makes a receiver ``error``."""

    @property
    def permanent(self) -> bool:
        return self.kind is Kind.RECIPIENT

    def entry(self) -> dict:
        """The record of this attempt stored in ``status_data["errors"]``.

        Its text holds no control character but tab, line feed and carriage return (see
        :mod:`messaging.rendering.controls`): an error may quote any input.
        """
        trace = "".join(traceback.format_exception(self.error))
        error_class = f"{type(self.error).__module__}.{type(self.error).__qualname__}"
        entry = {
            "error_message": without_controls(self.message),
            "timestamp": timezone.now().isoformat(),
            "exception_traceback": without_controls(scrub(trace)),
            "exception_class": without_controls(error_class),
            "smtp_code": self.smtp_code,
            "permanent": self.permanent,
            "kind": str(self.kind),
        }
        if self.ambiguous:
            entry["ambiguous"] = True
        if self.retry_after is not None:
            entry["retry_after_seconds"] = round(self.retry_after.total_seconds())
        if self.relay_fault:
            entry["relay_fault"] = True
        return entry


def classify(error: BaseException) -> Failure:
    """The one classification of a failed attempt, used by the send loop, the stored
    entry and the admin."""
    opening = isinstance(error, ConnectionOpenError)
    cause = (error.__cause__ if opening else None) or error
    code = smtp_code(cause)
    kind = kind_of(cause, code)
    if opening and kind is Kind.TRANSIENT:
        kind = Kind.SETUP  # no connection at all: the next receiver would fail alike
    message = without_controls(scrub(error_message(cause)))  # a reply may hold anything
    return Failure(
        error=cause,
        kind=kind,
        connection_survives=survives(cause, code),
        message=message,
        smtp_code=code,
        ambiguous=dropped_after_data(cause),
        retry_after=retry_after(code, message),
        throttled=slows_domain(code, message),
        # Opening the connection is the relay's part alone (connect, greeting, TLS, login):
        # no recipient has been named yet.
        relay_fault=opening and not slows_domain(code, message),
    )


def smtp_code(error: BaseException) -> int | None:
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        # The lowest: when any address was only deferred (4xx), a retry may still reach it.
        codes = [code for code, _msg in error.recipients.values()]
        return min(codes) if codes else None
    return getattr(error, "smtp_code", None)


def kind_of(error: BaseException, code: int | None) -> Kind:
    if isinstance(error, InvalidRecipientError | SendingDisabledError):
        return Kind.RECIPIENT
    if code == CLOSING_CODE:
        return Kind.CLOSING
    if isinstance(error, SETUP_ERRORS):
        # A connect or greeting failure other than 421 is as wrong for every receiver.
        return Kind.SETUP
    if code is not None and 500 <= code < 600:
        return Kind.RECIPIENT
    return Kind.TRANSIENT


def survives(error: BaseException, code: int | None) -> bool:
    """A refused recipient leaves the session usable; anything else may have broken it."""
    if isinstance(error, InvalidRecipientError | SendingDisabledError):
        return True
    return isinstance(error, smtplib.SMTPRecipientsRefused) and code != CLOSING_CODE


def dropped_after_data(error: BaseException) -> bool:
    """Whether the connection broke after the email's final ``.`` was written.

    The server may then have taken the email although no reply says so (RFC 5321 6.1
    calls this the "reliable delivery" gap), so a resend may duplicate it. Our own writing
    of the data (:func:`messaging.delivery.pipelining.send_data`) knows when that is and
    raises :class:`DeliveryUnconfirmedError`.
    """
    return isinstance(error, DeliveryUnconfirmedError)


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
