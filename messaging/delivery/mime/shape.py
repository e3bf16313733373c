"""Which emails the direct writers take, and on which versions they run.

A direct writer writes an email only when it has the shape written directly
(:func:`text_bodies`), the (Django, Python) pair is one whose bytes CI compares
(:data:`CHECKED`), and every header value is one Python's own hardening would accept
(:func:`safe_headers`). Any other email takes Django's way, so Django's and Python's own
checks and security fixes apply to it.
"""

from __future__ import annotations

import re
import sys

SUBTYPE = re.compile(r"[a-z0-9.+-]{1,40}")
MIME_HEADERS = {"content-type", "content-transfer-encoding", "mime-version"}


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


# What Python refuses in a header value (a line break or NUL would end the header early or
# be read as one); Python's generator also refuses a written header whose line breaks are
# not folds (CVE-2024-6923): a line break followed by anything but a space or a tab.
UNSAFE_HEADER_VALUE = re.compile(r"[\r\n\x00]")
NEWLINE_WITHOUT_FOLD = re.compile(rb"\r\n[^ \t]|\r[^ \n\t]|\n[^ \t]")


def safe_headers(values: list[object]) -> bool:
    """Whether no header value holds a CR, LF or NUL (non-strings are Django's to decide)."""
    return not any(isinstance(value, str) and UNSAFE_HEADER_VALUE.search(value) for value in values)


def folded_safely(written: bytes) -> bool:
    """Whether one written header (``Name: value\r\n``, maybe folded) breaks its line only
    where it folds, as Python's generator verifies (``verify_generated_headers``)."""
    return written.endswith(b"\r\n") and not NEWLINE_WITHOUT_FOLD.search(written[:-2])


def header_values(email) -> list[object]:
    """Every header value of ``email`` that a writer puts in its headers."""
    values: list[object] = [email.subject, email.from_email, *email.to, *email.cc]
    values += [*email.reply_to, *email.extra_headers, *email.extra_headers.values()]
    return values
