"""Django 6.1's email, written without building it (see the package docstring)."""

from __future__ import annotations

import binascii
import re
from datetime import UTC, datetime

from .generator import (
    PLAIN_ADDRESS_PATTERN,
    PLAIN_VALUE,
    RFC5322_LINE_LIMIT,
    FastBoundaryGenerator,
    quoted_printable,
)
from .legacy import LIST_HEADERS
from .shape import folded_safely, header_values, safe_headers, text_bodies, versions_checked

# Django 6 builds the email with Python's modern email API, which parses every header value
# into a tree when it is set and folds it from that tree when it is written: 940 µs per
# email even with the header classes cached, against 65 µs for the direct way of :mod:`.legacy`.
# :func:`modern_message_bytes` writes the same bytes for our shape of email when every
# header value is of a form whose tree prints back as it is (plain ASCII words, plain
# addresses, plain Message-IDs); any other email takes Django's way. The bytes are
# compared with Django 6.1's on Python 3.12 and 3.13, the versions CI runs (CHECKED).
# Structured headers other than the ones handled below (their parsers may rewrite them).
MODERN_SPECIAL = {
    "bcc", "content-disposition", "content-transfer-encoding", "content-type", "date",
    "mime-version", "orig-date", "resent-bcc", "resent-cc", "resent-date", "resent-from",
    "resent-sender", "resent-to", "sender",
}  # fmt: skip
MODERN_ADDRESS = {"from", "to", "cc", "reply-to"}
HEADER_NAME = re.compile(r"[A-Za-z0-9-]+")
ATOMS = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?: [A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
MAILBOX = rf"(?:{ATOMS} <{PLAIN_ADDRESS_PATTERN}>|{PLAIN_ADDRESS_PATTERN})"
ADDRESS_LIST = re.compile(rf"{MAILBOX}(?:, {MAILBOX})*")
HOST_NAME = r"[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63})*"
MESSAGE_ID = re.compile(rf"<[A-Za-z0-9!#$%&'*+/=?^_`{{|}}~.-]+@{HOST_NAME}>")
# The host name that make_msgid() puts in a Message-ID made for the email.
MESSAGE_ID_HOST = re.compile(HOST_NAME)


def modern_message_bytes(email, policy) -> bytes | None:
    """What ``email.message(policy=policy).as_bytes()`` returns on Django 6.1, or None.

    ``policy`` is ``compat.SMTP_POLICY`` (CRLF, lines of up to 998). None for any email
    not of the shape written here; the caller then takes Django's own way.
    """
    from django.conf import settings

    if not versions_checked() or not safe_headers(header_values(email)):
        return None
    shape = text_bodies(email)
    if shape is None:
        return None
    bodies, alternatives = shape
    if alternatives and hasattr(email, "alternative_subtype"):
        return None  # Django 6.1 refuses it
    try:
        made = [_modern_text(text, subtype, policy.max_line_length) for text, subtype in bodies]
    except UnicodeEncodeError:
        return None
    parts = [part for part in made if part is not None]
    if len(parts) < len(made):
        return None
    # The headers last: making a Message-ID draws from ``random``, so no refusal may come
    # after it (Django's way would draw again, and the bytes would not be Django's).
    headers = _modern_top_headers(email, settings, policy)
    if headers is None:
        return None
    if not alternatives:
        head, cte, payload = parts[0]
        head += b"Content-Transfer-Encoding: %s\r\nMIME-Version: 1.0\r\n" % cte
        return head + headers + b"\r\n" + payload
    texts = []
    for index, (head, cte, payload) in enumerate(parts):
        head += b"Content-Transfer-Encoding: %s\r\n" % cte
        if index or not email.body:  # made by add_alternative(): a MIME-Version of its own
            head += b"MIME-Version: 1.0\r\n"
        texts.append(head + b"\r\n" + payload)
    boundary = FastBoundaryGenerator._make_boundary(b"\r\n".join(texts)).encode("ascii")
    top = b"MIME-Version: 1.0\r\n" if email.body else b""
    top += b'Content-Type: multipart/alternative; boundary="%s"\r\n' % boundary
    delimiter = b"--" + boundary
    body = delimiter + b"\r\n" + (b"\r\n" + delimiter + b"\r\n").join(texts)
    return top + headers + b"\r\n" + body + b"\r\n" + delimiter + b"--\r\n"


def _modern_top_headers(email, settings, policy) -> bytes | None:
    """The whole email's headers as Django 6.1's ``message()`` sets them and Python writes
    them; None when one is a structured header not written here.

    Every other header is written (or refused) before the Date and Message-ID are made:
    making a Message-ID draws from ``random``, as Django's own way does after a refusal.
    """
    from email.utils import format_datetime, make_msgid

    from django.core.mail.utils import DNS_NAME
    from django.utils.encoding import force_str
    from django.utils.timezone import get_current_timezone

    extra = email.extra_headers
    names = {str(name).lower() for name in extra}
    # A structured header given as an extra one is parsed (and may be rewritten); a second
    # Subject, or a name given twice in different cases, may be refused by Python.
    if names & (MODERN_SPECIAL | {"subject"}) or len(names) < len(extra):
        return None
    headers = [("Subject", str(email.subject)), ("From", str(extra.get("From", email.from_email)))]
    for name, values in zip(LIST_HEADERS, (email.to, email.cc, email.reply_to), strict=True):
        if name in extra:
            headers.append((name, extra[name]))
        elif values:
            headers.append((name, ", ".join(str(value) for value in values)))
    extras = [
        (name, force_str(value, strings_only=True))
        for name, value in extra.items()
        if str(name).lower() not in MODERN_ADDRESS
    ]
    before, after = _modern_written(headers, policy), _modern_written(extras, policy)
    if before is None or after is None:
        return None
    if "message-id" not in names and not MESSAGE_ID_HOST.fullmatch(str(DNS_NAME)):
        return None  # an odd host name: the Message-ID is left to Python's parser
    tz = get_current_timezone() if settings.EMAIL_USE_LOCALTIME else UTC
    made = f"Date: {format_datetime(datetime.now(tz))}\r\n"  # as Python's Date header
    if "message-id" not in names:
        made += f"Message-ID: {make_msgid(domain=DNS_NAME)}\r\n"
    return before + made.encode("ascii") + after


def _modern_written(headers: list[tuple], policy) -> bytes | None:
    """``headers`` as Python writes them, or None where Django's way must decide."""
    written = []
    for name, value in headers:
        if not isinstance(name, str) or not HEADER_NAME.fullmatch(name):
            return None
        if not isinstance(value, str):
            return None
        if _modern_plain(name, value):
            written.append(f"{name}: {value}\r\n".encode("ascii"))
        elif name.lower() in MODERN_ADDRESS:
            return None  # Django may rewrite its domains (IDNA) after parsing
        else:
            # Parsed and folded as Python does (a non-ASCII subject becomes encoded words).
            try:
                written.append(policy.fold_binary(*policy.header_store_parse(name, value)))
            except Exception:  # noqa: BLE001 - Django's own way raises its own error
                return None
        if not folded_safely(written[-1]):
            return None  # Python's generator refuses it: Django's way raises its error
    return b"".join(written)


def _modern_plain(name: str, value: str) -> bool:
    """Whether Python's parser and folder give ``value`` back as it is (for a Date we
    wrote, true)."""
    if len(name) + 2 + len(value) > RFC5322_LINE_LIMIT:
        return False
    lower = name.lower()
    if lower == "date":
        return True
    if "=?" in value:
        return False  # Python decodes encoded words, in addresses and Message-IDs too
    if lower in MODERN_ADDRESS:
        return ADDRESS_LIST.fullmatch(value) is not None
    if lower == "message-id":
        return MESSAGE_ID.fullmatch(value) is not None
    return PLAIN_VALUE.fullmatch(value) is not None


def _modern_text(
    text: str, subtype: str, max_line_length: int
) -> tuple[bytes, bytes, bytes] | None:
    """The Content-Type line, transfer encoding and written body of a text part, as
    ``email.contentmanager`` sets them on Python 3.12 (``_encode_text``); None where it
    would take base64 (left to Python)."""
    lines = text.encode("utf-8").splitlines()
    head = b'Content-Type: text/%s; charset="utf-8"\r\n' % subtype.encode("ascii")
    if max((len(line) for line in lines), default=0) <= max_line_length:
        body = b"\r\n".join(lines) + b"\r\n"
        return head, (b"7bit" if body.isascii() else b"8bit"), body
    sniff = b"\r\n".join(lines[:10]) + b"\r\n"
    sniff_qp = quoted_printable(sniff.decode("latin-1"), max_line_length)
    if len(sniff_qp) > len(binascii.b2a_base64(sniff)):
        return None
    if len(lines) <= 10:
        encoded = sniff_qp
    else:
        normal = b"\n".join(lines) + b"\n"
        encoded = quoted_printable(normal.decode("latin-1"), max_line_length)
    return head, b"quoted-printable", encoded.replace("\n", "\r\n").encode("ascii")
