"""An email's bytes as Django and Python's email generator write them, with slow steps cut.

Writing the message took about half of a worker's time per email. Each step below is
skipped only where the result is the same byte for byte, with one exception for the
better (boundaries, below). ``tests/test_mime.py`` compares the raw output of both ways on
a corpus of awkward emails and on random ones.

- :func:`legacy_message_bytes` (Django 5.2) and :func:`modern_message_bytes` (Django
  6.1) write our shape of email (text parts, UTF-8, no attachments) directly instead of
  building Python's message objects first, and :func:`quoted_printable` escapes without
  Python's per-character map. A header value that Django and Python would leave as it is
  is written as it is; any other goes through their own functions.
- A multipart boundary is checked against the text with a regular expression compiled
  anew for every email. A boundary that does not occur in the text at all cannot start a
  line of it either, so a substring test decides. Where the random boundary does occur
  (practically never), another is drawn, so the bytes differ from Python's there: Python
  keeps a boundary that occurs mid-line, and, with CRLF line ends, even one that starts a
  line (its check misses it and the email's parts break), which this never does.
- The legacy policy (``compat32``, Django 5.2) folds every header through
  ``email.header.Header``. A value of printable ASCII words separated by single spaces
  that fits on its line comes out of that unchanged, so it is written as it is.
"""

from __future__ import annotations

import binascii
import re
import sys
from datetime import UTC, datetime
from email.generator import BytesGenerator
from email.headerregistry import HeaderRegistry
from email.message import Message
from email.policy import Compat32, Policy
from io import BytesIO

# A bare address of dot-atoms with a lower-case ASCII domain: what Django's
# ``sanitize_address`` and ``smtplib.quoteaddr`` leave as it is (``tests/test_mime.py``
# compares them on a corpus), and what Python's address parser prints back unchanged.
PLAIN_ADDRESS_PATTERN = (
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@[a-z0-9-]{1,63}(?:\.[a-z0-9-]{1,63})*"
)
PLAIN_ADDRESS = re.compile(PLAIN_ADDRESS_PATTERN)
# Printable ASCII words separated by single spaces: what Header folding leaves as it is
# when it fits on the line (it drops a trailing space and may move other whitespace).
PLAIN_VALUE = re.compile(r"[!-~]+(?: [!-~]+)*")


class FastBoundaryGenerator(BytesGenerator):
    """``BytesGenerator`` that tests a new boundary against the text without a regex."""

    @classmethod
    def _make_boundary(cls, text=None):
        boundary = super()._make_boundary()  # a random boundary, not checked
        if text is None:
            return boundary
        needle = boundary if isinstance(text, str) else boundary.encode("ascii")
        if needle not in text:
            return boundary
        return super()._make_boundary(text)  # it occurs: Python's own check and retries


class FastCompat32(Compat32):
    """``compat32`` that writes a header value which folding would leave unchanged as is."""

    def _fold(self, name: str, value, sanitize: bool) -> str:
        if isinstance(value, str) and PLAIN_VALUE.fullmatch(value):
            limit = self.max_line_length
            if limit is None or len(name) + 2 + len(value) <= limit:
                return f"{name}: {value}{self.linesep}"
        return super()._fold(name, value, sanitize)


FAST_COMPAT32 = FastCompat32()


class CachingHeaderRegistry(HeaderRegistry):
    """Python's header factory (modern API, Django 6), making each header class once.

    ``HeaderRegistry`` creates a new class with ``type()`` for every header it parses, a
    seventh of the time Django 6.1 takes to write an email; the classes are all alike.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.made: dict[type, type] = {}

    def __getstate__(self) -> dict:
        # The classes made here cannot be pickled (a policy is, with a pickled message).
        return {**self.__dict__, "made": {}}

    def __getitem__(self, name: str) -> type:
        kind = self.registry.get(name.lower(), self.default_class)
        made = self.made.get(kind)
        if made is None:
            made = self.made[kind] = super().__getitem__(name)
        return made


def as_bytes(message: Message, policy: Policy | None = None, linesep: str | None = None) -> bytes:
    """``message`` written as ``message.as_bytes`` would, with ``policy`` (default: the
    message's own; a legacy ``compat32`` policy takes the fast folding above)."""
    policy = policy or message.policy
    if type(policy) is Compat32:
        policy = FAST_COMPAT32.clone(**{k: getattr(policy, k) for k in policy.__dict__})
    fp = BytesIO()
    FastBoundaryGenerator(fp, mangle_from_=False, policy=policy).flatten(message, linesep=linesep)
    return fp.getvalue()


# --- Django 5.2's email, written without building it --------------------------------------
#
# Django 5.2's ``EmailMessage.message()`` builds the email as objects of Python's legacy
# email API and the generator then writes them; together that is most of a worker's time
# per email. For the shape every email of ours has (a plain body, text alternatives, no
# attachments, UTF-8) :func:`legacy_message_bytes` writes the same bytes directly, using
# the functions Django and Python use for the values (header checks, folding, dates,
# boundaries). Two values are written as those functions would return them: a plain
# subject, and the multipart Content-Type, which always folds before its boundary (a
# boundary has no spaces). ``tests/test_mime.py`` compares both ways raw, byte for byte.

NLCRE_BYTES = re.compile(rb"\r\n|\r|\n")  # the line ends the generator rewrites
# A text subtype short enough that the part's Content-Type line is never folded.
SUBTYPE = re.compile(r"[a-z0-9.+-]{1,40}")
MIME_HEADERS = {"content-type", "content-transfer-encoding", "mime-version"}
# What quoted-printable escapes in a body besides "=": control characters other than tab
# and line ends, DEL and every byte over 127 (``email.quoprimime``'s body map, which
# leaves characters over 255 as they are: its callers give it Latin-1 text).
QP_UNSAFE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\xff]+")
RFC5322_LINE_LIMIT = 998  # Django's RFC5322_EMAIL_LINE_LENGTH_LIMIT
LIST_HEADERS = ("To", "Cc", "Reply-To")
CRLF_COMPAT32 = FAST_COMPAT32.clone(linesep="\r\n")


def quoted_printable(body: str, maxlinelen: int = 76) -> str:
    """``email.quoprimime.body_encode(body)``, the same string, faster.

    Python escapes with ``str.translate`` and a 256-entry map, which is slow for the
    long HTML of an email; here "=" is replaced in one pass and the rest (rare in HTML)
    by a regular expression. The line wrapping below is Python's, unchanged. Like
    Python's, it expects Latin-1 text (UTF-8 bytes decoded as Latin-1).
    """
    if not body:
        return body
    body = body.replace("=", "=3D")
    if not plain_ascii(body):
        body = QP_UNSAFE.sub(_qp_escape, body)
    if maxlinelen < 4:
        raise ValueError("maxlinelen must be at least 4")
    soft_break = "=\n"
    maxlinelen1 = maxlinelen - 1
    encoded_body: list[str] = []
    append = encoded_body.append
    for line in body.splitlines():
        start = 0
        laststart = len(line) - 1 - maxlinelen
        while start <= laststart:
            stop = start + maxlinelen1
            if line[stop - 2] == "=":  # never split an escape sequence
                append(line[start : stop - 1])
                start = stop - 2
            elif line[stop - 1] == "=":
                append(line[start:stop])
                start = stop - 1
            else:
                append(line[start:stop] + "=")
                start = stop
        if line and line[-1] in " \t":  # whitespace at a line's end is quoted
            room = start - laststart
            if room >= 3:
                last = _qp_escape_char(line[-1])
            elif room == 2:
                last = line[-1] + soft_break
            else:
                last = soft_break + _qp_escape_char(line[-1])
            append(line[start:-1] + last)
        else:
            append(line[start:])
    if body[-1] in "\r\n":
        append("")
    return "\n".join(encoded_body)


def plain_ascii(text: str) -> bool:
    """Whether ``text`` is ASCII without control characters other than tab and line ends
    (tested with string methods: a regular expression takes ten times as long)."""
    if not text.isascii():
        return False
    return text.replace("\n", "").replace("\r", "").replace("\t", "").isprintable()


def _qp_escape_char(char: str) -> str:
    return f"={ord(char):02X}"


def _qp_escape(match: re.Match) -> str:
    return "".join(f"={ord(char):02X}" for char in match[0])


def text_bodies(email) -> tuple[list[tuple[str, str]], bool] | None:
    """The text and subtype of each part of ``email``, and whether it has alternatives,
    when it is of the shape written directly; else None.

    That shape: exactly Django's ``EmailMessage`` or ``EmailMultiAlternatives``, no
    attachments, text alternatives added by ``attach_alternative()``, the charset exactly
    the string "utf-8" (Django 5.2 quotes long lines only then; a Charset object equal to
    it means base64), and the extra headers a plain dict (a subclass may answer lookups of
    missing headers, which Django makes).
    """
    from django.conf import settings
    from django.core.mail import EmailMessage, EmailMultiAlternatives
    from django.core.mail.message import EmailAlternative

    if type(email) not in (EmailMessage, EmailMultiAlternatives) or email.attachments:
        return None
    encoding = email.encoding or settings.DEFAULT_CHARSET
    if type(encoding) is not str or encoding != "utf-8" or not isinstance(email.body, str):
        return None
    if type(email.extra_headers) is not dict:
        return None
    alternatives = email.alternatives if type(email) is EmailMultiAlternatives else []
    bodies = [(email.body, email.content_subtype)] if email.body or not alternatives else []
    for alternative in alternatives:
        if not isinstance(alternative, EmailAlternative):
            return None  # Django's own way raises on it
        basetype, _, subtype = str(alternative.mimetype).partition("/")
        if basetype != "text" or not isinstance(alternative.content, str):
            return None
        bodies.append((alternative.content, subtype))
    if not all(SUBTYPE.fullmatch(subtype) for _, subtype in bodies):
        return None
    return bodies, bool(alternatives)


# (Django, Python) minor versions whose bytes tests/test_mime.py compares with Django's own
# in CI (.ci/run). Other versions take Django's way until they are compared too.
CHECKED = {((5, 2), (3, 11)), ((6, 1), (3, 12)), ((6, 1), (3, 13))}


def versions_checked() -> bool:
    """Whether the direct writers run here: on a pair of :data:`CHECKED` only."""
    import django

    return (django.VERSION[:2], sys.version_info[:2]) in CHECKED


def legacy_message_bytes(email) -> bytes | None:
    """What ``email.message().as_bytes(linesep="\\r\\n")`` returns on Django 5.2, or None.

    None when ``email`` is not of the shape written here (another class, attachments, a
    non-text alternative, another charset, text that is not valid Unicode), or on versions
    whose bytes CI does not compare (:data:`CHECKED`): the caller then takes Django's own
    way, which also raises Django's own errors.
    """
    from django.core.mail.message import forbid_multi_line_headers

    if not versions_checked():
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
    for name, value in checked:
        head += CRLF_COMPAT32.fold_binary(name, value)
    return head + b"\r\n" + body


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


# --- Django 6.1's email, written without building it --------------------------------------
#
# Django 6 builds the email with Python's modern email API, which parses every header value
# into a tree when it is set and folds it from that tree when it is written: 940 µs per
# email even with the header classes cached, against 65 µs for the direct way above.
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

    if not versions_checked():
        return None
    shape = text_bodies(email)
    if shape is None:
        return None
    bodies, alternatives = shape
    if alternatives and hasattr(email, "alternative_subtype"):
        return None  # Django 6.1 refuses it
    try:
        parts = [_modern_text(text, subtype, policy.max_line_length) for text, subtype in bodies]
    except UnicodeEncodeError:
        return None
    if any(part is None for part in parts):
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
