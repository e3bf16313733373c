"""SMTP with the envelope pipelined (RFC 2920), so a worker records one email meanwhile.

Django's SMTP backend sends an email in four round trips (MAIL, RCPT, DATA, the body). When
the server offers PIPELINING, :func:`start` writes MAIL, RCPT and DATA at once and returns;
the caller records the previous email's status while the server answers; :func:`finish`
then reads the three answers and sends the body. An email is only delivered by its final
``.``, which comes after the previous status was committed, so a worker that dies still
leaves at most one email sent but unrecorded.

Without PIPELINING, :func:`transact` sends the same commands one at a time. Both write the
body with :func:`send_data`, which knows whether a lost connection came after the final
``.`` (the email may have been delivered) or before it.
"""

from __future__ import annotations

import functools
import re
import smtplib
from dataclasses import dataclass

from django.conf import settings
from django.core.mail import EmailMessage
from django.core.mail.backends.smtp import EmailBackend as SMTPBackend

from ..exceptions import DeliveryUnconfirmedError
from . import compat

LEADING_DOT = re.compile(rb"(?m)^\.")
CLOSING = 421  # RFC 5321 4.2.3: the server is closing the transmission channel


@dataclass(frozen=True)
class Envelope:
    """An email whose envelope was written; :func:`finish` completes it."""

    smtp: smtplib.SMTP
    sender: str
    recipients: tuple[str, ...]
    data: bytes


def pipelining(backend) -> smtplib.SMTP | None:
    """The open SMTP connection of ``backend`` when its server offers PIPELINING."""
    if not isinstance(backend, SMTPBackend) or backend.connection is None:
        return None
    smtp = backend.connection
    smtp.ehlo_or_helo_if_needed()
    return smtp if smtp.has_extn("pipelining") else None


def envelope_parts(backend, email: EmailMessage) -> tuple[str, list[str], bytes]:
    """Sender, recipients and bytes of ``email``, as Django's SMTP backend sends them."""
    encoding = email.encoding or settings.DEFAULT_CHARSET
    sender = compat.envelope_address(backend, email.from_email, encoding)
    recipients = [
        compat.envelope_address(backend, address, encoding) for address in email.recipients()
    ]
    return sender, recipients, compat.message_bytes(email)


def start(backend, email: EmailMessage) -> Envelope | None:
    """Write the envelope of ``email`` without waiting; ``None`` when not possible."""
    smtp = pipelining(backend)
    if smtp is None or not email.recipients():
        return None
    sender, recipients, data = envelope_parts(backend, email)
    size = f" SIZE={len(data)}" if smtp.has_extn("size") else ""
    rcpts = "".join(f"RCPT TO:{quoted(address)}\r\n" for address in recipients)
    commands = f"MAIL FROM:{quoted(sender)}{size}\r\n{rcpts}DATA\r\n"
    if not commands.isascii():
        return None  # leave internationalised addresses to smtplib's own handling
    smtp.send(commands.encode("ascii"))
    return Envelope(smtp, sender, tuple(recipients), data)


def quoted(address: str) -> str:
    """``smtplib.quoteaddr(address)``: a plain address in angle brackets without parsing it
    (``tests/test_mime.py`` compares both)."""
    if compat.PLAIN_ADDRESS.fullmatch(address):
        return f"<{address}>"
    return quoted_parsed(address)


@functools.lru_cache(maxsize=256)
def quoted_parsed(address: str) -> str:
    # Remembered: a sender with a display name is the same for every email.
    return smtplib.quoteaddr(address)


def dot_stuffed(data: bytes) -> bytes:
    """``data`` with every line that starts with "." given a second one (RFC 5321 4.5.2).

    Most emails have no such line, and finding that out with two substring tests takes a
    fraction of the regular expression's scan (which took a twelfth of a worker's time).
    """
    if b"\n." not in data and not data.startswith(b"."):
        return data
    return LEADING_DOT.sub(b"..", data)


def finish(envelope: Envelope) -> dict[str, tuple[int, bytes]]:
    """Read the envelope's answers and send the body; raises as ``smtplib.sendmail`` does.

    Returns the recipients refused while others were accepted, as ``sendmail`` does.
    """
    smtp = envelope.smtp
    mail = smtp.getreply()
    if mail[0] == CLOSING:  # the server is closing: no more answers will come
        raise smtplib.SMTPSenderRefused(*mail, envelope.sender)
    refused = {}
    for recipient in envelope.recipients:
        rcpt = smtp.getreply()
        if rcpt[0] == CLOSING:
            raise smtplib.SMTPRecipientsRefused({recipient: rcpt})
        if rcpt[0] not in (250, 251):
            refused[recipient] = rcpt
    data = smtp.getreply()
    none_accepted = len(refused) == len(envelope.recipients)
    if mail[0] != 250 or none_accepted or data[0] != 354:
        abandon(smtp, data_open=data[0] == 354)
        if mail[0] != 250:
            raise smtplib.SMTPSenderRefused(*mail, envelope.sender)
        if none_accepted:
            raise smtplib.SMTPRecipientsRefused(refused)
        raise smtplib.SMTPDataError(*data)
    send_data(smtp, envelope.data)
    return refused


def send_data(smtp: smtplib.SMTP, data: bytes) -> None:
    """Write ``data`` and the final ``.`` after the server's 354, then read its answer.

    The final ``.`` delivers the email, so a connection lost after it was written is a
    :class:`DeliveryUnconfirmedError` (the server may have taken the email: a resend may
    duplicate it); one lost before it is smtplib's own error. A refusal is
    ``SMTPDataError``.
    """
    body = dot_stuffed(data)
    if not body.endswith(b"\r\n"):
        body += b"\r\n"
    smtp.send(body + b".\r\n")
    try:
        code, reply = smtp.getreply()
    except (smtplib.SMTPServerDisconnected, OSError) as error:
        raise DeliveryUnconfirmedError(
            "The connection broke after the email was sent, before the server confirmed it: "
            "the server may have delivered it, so a resend may duplicate it."
        ) from error
    if code != 250:
        abandon(smtp, data_open=False)
        raise smtplib.SMTPDataError(code, reply)


def send_whole(backend, email: EmailMessage) -> dict[str, tuple[int, bytes]]:
    """Send ``email`` one command at a time; returns the recipients refused among accepted.

    On Django's SMTP backend this is :func:`transact` on its open connection, which raises
    ``SMTPRecipientsRefused`` only when every recipient was refused and reports the others
    here (the backend itself would drop that report). Other backends send as usual.
    """
    if isinstance(backend, SMTPBackend) and backend.connection is not None:
        sender, recipients, data = envelope_parts(backend, email)
        return transact(backend.connection, sender, recipients, data)
    if not backend.send_messages([email]):
        raise smtplib.SMTPException("The mail backend reported that nothing was sent.")
    return {}


def transact(
    smtp: smtplib.SMTP, sender: str, recipients: list[str], data: bytes
) -> dict[str, tuple[int, bytes]]:
    """MAIL, each RCPT and DATA, each answered before the next, then :func:`send_data`.

    Raises and returns as ``smtplib.SMTP.sendmail`` does; unlike it, says whether a lost
    connection came after the final ``.`` (see :func:`send_data`).
    """
    smtp.ehlo_or_helo_if_needed()
    mail = smtp.mail(sender, [f"SIZE={len(data)}"] if smtp.has_extn("size") else [])
    if mail[0] != 250:
        if mail[0] != CLOSING:  # a server that is closing answers nothing more
            abandon(smtp, data_open=False)
        raise smtplib.SMTPSenderRefused(*mail, sender)
    refused = {}
    for recipient in recipients:
        rcpt = smtp.rcpt(recipient)
        if rcpt[0] == CLOSING:
            raise smtplib.SMTPRecipientsRefused({recipient: rcpt})
        if rcpt[0] not in (250, 251):
            refused[recipient] = rcpt
    if len(refused) == len(recipients):
        abandon(smtp, data_open=False)
        raise smtplib.SMTPRecipientsRefused(refused)
    reply = smtp.docmd("DATA")
    if reply[0] != 354:
        if reply[0] != CLOSING:
            abandon(smtp, data_open=False)
        raise smtplib.SMTPDataError(*reply)
    send_data(smtp, data)
    return refused


def drop(envelope: Envelope) -> None:
    """Give up an envelope whose email must not go out after all: close the connection
    without ending its data, so the server delivers nothing (RFC 5321 4.1.1.4)."""
    envelope.smtp.close()


def abandon(smtp: smtplib.SMTP, *, data_open: bool) -> None:
    """Leave a failed transaction so the connection can carry the next email."""
    try:
        if data_open:  # no recipient was accepted, so ending the data delivers nothing
            smtp.send(b".\r\n")
            smtp.getreply()
        smtp.rset()
    except smtplib.SMTPServerDisconnected:
        pass
