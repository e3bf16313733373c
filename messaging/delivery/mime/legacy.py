"""Django 5.2's email, written without building it (see the package docstring)."""

from __future__ import annotations

import re

from .generator import (
    FAST_COMPAT32,
    PLAIN_VALUE,
    RFC5322_LINE_LIMIT,
    FastBoundaryGenerator,
    quoted_printable,
)
from .shape import (
    MIME_HEADERS,
    folded_safely,
    header_values,
    safe_headers,
    text_bodies,
    versions_checked,
)

# Django 5.2's ``EmailMessage.message()`` builds the email as objects of Python's legacy
# email API and the generator then writes them; together that is most of a worker's time
# per email. For the shape every email of ours has (a plain body, text alternatives, no
# attachments, UTF-8) :func:`legacy_message_bytes` writes the same bytes directly, using
# the functions Django and Python use for the values (header checks, folding, dates,
# boundaries). Two values are written as those functions would return them: a plain
# subject, and the multipart Content-Type, which always folds before its boundary (a
# boundary has no spaces). ``tests/test_mime.py`` compares both ways raw, byte for byte.


NLCRE_BYTES = re.compile(rb"\r\n|\r|\n")  # the line ends the generator rewrites
LIST_HEADERS = ("To", "Cc", "Reply-To")
CRLF_COMPAT32 = FAST_COMPAT32.clone(linesep="\r\n")


def legacy_message_bytes(email) -> bytes | None:
    """What ``email.message().as_bytes(linesep="\\r\\n")`` returns on Django 5.2, or None.

    None when ``email`` is not of the shape written here (another class, attachments, a
    non-text alternative, another charset, text that is not valid Unicode), or on versions
    whose bytes CI does not compare (:data:`CHECKED`): the caller then takes Django's own
    way, which also raises Django's own errors.
    """
    from django.core.mail.message import forbid_multi_line_headers

    if not versions_checked() or not safe_headers(header_values(email)):
        return None
    shape = text_bodies(email)
    # A MIME header given as an extra one changes the parts' own headers.
    if shape is None or MIME_HEADERS & {str(name).lower() for name in email.extra_headers}:
        return None
    bodies, alternatives = shape
    if alternatives and email.alternative_subtype != "alternative":
        return None
    try:
        parts = [_text_part(text, subtype) for text, subtype in bodies]
    except UnicodeEncodeError:
        return None
    # Before the boundary, as in Django: both draw from ``random`` (Message-ID, boundary).
    top_headers = _top_headers(email)
    if alternatives:
        texts = [head + b"\r\n" + payload for head, payload in parts]
        boundary = FastBoundaryGenerator._make_boundary(b"\r\n".join(texts))
        delimiter = f"--{boundary}".encode("ascii")
        head = b'Content-Type: multipart/alternative;\r\n boundary="%s"\r\n' % boundary.encode()
        head += b"MIME-Version: 1.0\r\n"
        body = delimiter + b"\r\n" + (b"\r\n" + delimiter + b"\r\n").join(texts)
        body += b"\r\n" + delimiter + b"--\r\n"
    else:
        head, body = parts[0]
    checked = [
        # A plain subject is what forbid_multi_line_headers returns for it, at a fraction.
        (name, value)
        if name == "Subject" and isinstance(value, str) and simple_subject(value)
        else forbid_multi_line_headers(name, value, "utf-8")
        for name, value in top_headers
    ]  # all checked before any is folded, as Django sets them all before writing
    folded = [CRLF_COMPAT32.fold_binary(name, value) for name, value in checked]
    if not all(folded_safely(header) for header in folded):
        return None  # Python's generator refuses it: Django's way raises its error
    return head + b"".join(folded) + b"\r\n" + body


def simple_subject(value: str) -> bool:
    """Whether Django leaves the subject ``value`` as it is: ``Header(value).encode()``
    returns printable ASCII words separated by single spaces unchanged up to 76 columns."""
    return len(value) <= 76 and PLAIN_VALUE.fullmatch(value) is not None


def _top_headers(email) -> list[tuple[str, str]]:
    """The headers ``EmailMessage.message()`` sets on the whole email, in its order."""
    from email.utils import formatdate, make_msgid

    from django.conf import settings
    from django.core.mail.utils import DNS_NAME

    extra = email.extra_headers
    headers = [("Subject", email.subject), ("From", extra.get("From", email.from_email))]
    for name, values in zip(LIST_HEADERS, (email.to, email.cc, email.reply_to), strict=True):
        if name in extra:
            headers.append((name, extra[name]))
        elif values:
            headers.append((name, ", ".join(str(value) for value in values)))
    names = {name.lower() for name in extra}
    if "date" not in names:
        headers.append(("Date", formatdate(localtime=settings.EMAIL_USE_LOCALTIME)))
    if "message-id" not in names:
        headers.append(("Message-ID", make_msgid(domain=DNS_NAME)))
    skipped = {"from", "to", "cc", "reply-to"}
    headers += [(name, value) for name, value in extra.items() if name.lower() not in skipped]
    return headers


def _text_part(text: str, subtype: str) -> tuple[bytes, bytes]:
    """The headers and body of a ``SafeMIMEText`` part in UTF-8 as the generator writes
    them: 7bit or 8bit, or quoted-printable when a line is over RFC 5322's limit (Django's
    rule)."""
    data = text.encode("utf-8")
    long_lines = any(
        len(line.encode(errors="surrogateescape")) > RFC5322_LINE_LIMIT
        for line in text.splitlines()
    )
    if long_lines:
        cte, payload = "quoted-printable", quoted_printable(data.decode("latin-1")).encode()
    else:
        cte, payload = ("7bit" if text.isascii() else "8bit"), data
    head = (
        f'Content-Type: text/{subtype}; charset="utf-8"\r\nMIME-Version: 1.0\r\n'
        f"Content-Transfer-Encoding: {cte}\r\n"
    )
    if b"\r" not in payload:  # then only "\n" ends a line: a plain replace is the same
        return head.encode("ascii"), payload.replace(b"\n", b"\r\n")
    return head.encode("ascii"), NLCRE_BYTES.sub(b"\r\n", payload)
