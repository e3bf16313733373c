"""Python's email generator, with two slow steps cut, and quoted-printable, faster.

Used by both direct writers and by Django's own way (see :mod:`.`): the boundary check and
the legacy header folding below are the exceptions the package docstring describes.
"""

from __future__ import annotations

import re
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


# What quoted-printable escapes in a body besides "=": control characters other than tab
# and line ends, DEL and every byte over 127 (``email.quoprimime``'s body map, which
# leaves characters over 255 as they are: its callers give it Latin-1 text).
QP_UNSAFE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\xff]+")
RFC5322_LINE_LIMIT = 998  # Django's RFC5322_EMAIL_LINE_LENGTH_LIMIT


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
