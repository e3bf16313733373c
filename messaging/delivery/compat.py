"""What differs between the supported Django versions (5.2 LTS and 6.1), in one place.

Django 6.0 moved email to Python's modern email API and 6.1 to ``MAILERS``; the old
calls still work there but are deprecated. Callers use these functions and stay the same
on both versions.
"""

from __future__ import annotations

import email.policy
import functools

import django
from django.core.mail import EmailMessage
from django.core.mail.backends.base import BaseEmailBackend

from .. import conf
from . import mime

MODERN_EMAIL = django.VERSION >= (6, 0)
HAS_MAILERS = django.VERSION >= (6, 1)
DEFAULT_MAILER = "default"


def mail_connection(alias: str = DEFAULT_MAILER) -> BaseEmailBackend:
    """A new connection of mailer ``alias`` (a ``MESSAGING_MAILERS`` entry).

    Django 6.1: ``MAILERS[alias]`` (``"default"`` falls back to the ``EMAIL_*`` settings
    where ``MAILERS`` is not set). Django 5.2: ``"default"`` is the ``EMAIL_*`` settings and
    any other alias an entry of ``MESSAGING_MAILER_SETTINGS``, shaped as ``MAILERS``'.
    """
    if HAS_MAILERS:
        from django.core.mail import mailers

        return mailers[alias]
    from django.core.mail import get_connection

    if alias == DEFAULT_MAILER:
        return get_connection()
    entry = conf.mailer_settings()[alias]
    return get_connection(entry.get("BACKEND"), **entry.get("OPTIONS", {}))


def send(email: EmailMessage) -> int:
    """Send ``email`` over a new connection of the site's default mailer; raises on failure.

    Django 6.1 deprecates handing an email its connection: it names a ``MAILERS`` alias.
    """
    if HAS_MAILERS:
        return email.send(using=DEFAULT_MAILER)  # type: ignore[call-arg]  # stubs are 5.2's
    return email.send()


# Python's modern folder turns a word longer than 78 characters (a List-Unsubscribe URL)
# into RFC 2047 encoded words, which mail clients cannot follow; RFC 5322 allows lines of
# 998, which is where Django 5.2's compat32 output leaves such a word too.
SMTP_POLICY = email.policy.SMTP.clone(
    max_line_length=998, header_factory=mime.CachingHeaderRegistry()
)


def message_bytes(message: EmailMessage) -> bytes:
    """``message`` as written in DATA (CRLF line ends); no header line is over 998.

    With ``MESSAGING_DIRECT_MIME`` on (the default), an email of our shape is written
    directly (:mod:`.mime`); with it off, and for every other email, Django builds it and
    Python's generator writes it.
    """
    if conf.direct_mime():
        if MODERN_EMAIL:
            written = mime.modern_message_bytes(message, SMTP_POLICY)
        else:
            written = mime.legacy_message_bytes(message)
        if written is not None:
            return written
    if MODERN_EMAIL:
        return mime.as_bytes(message.message(policy=SMTP_POLICY))
    return mime.as_bytes(message.message(), linesep="\r\n")


def envelope_address(backend: BaseEmailBackend, address: str, encoding: str) -> str:
    """The address for ``MAIL FROM``/``RCPT TO``, as Django's SMTP backend prepares it."""
    if hasattr(backend, "prep_address"):  # Django 6.1
        return backend.prep_address(address)
    return sanitized(address, encoding)


# What ``sanitize_address`` returns unchanged (tests/test_mime.py compares both on a
# corpus), at a fraction of its cost.
PLAIN_ADDRESS = mime.PLAIN_ADDRESS


def sanitized(address: str, encoding: str) -> str:
    """Django 5.2's ``sanitize_address`` of ``address``."""
    if PLAIN_ADDRESS.fullmatch(address):
        return address
    return sanitized_cached(address, encoding)


@functools.lru_cache(maxsize=256)
def sanitized_cached(address: str, encoding: str) -> str:
    # Remembered: the sender (a display name and address) is the same every email.
    from django.core.mail.message import sanitize_address

    return sanitize_address(address, encoding)
