"""Signed receiver ids in each email's return path (VERP) and Message-ID.

A bounce comes back to the envelope sender, so ``bounces+r123.k9x2fq7a@example.org``
names the receiver it is about. The signature is a short HMAC keyed from ``SECRET_KEY``:
anyone can send us a report, but only the receiving side of an email we sent knows a
valid one. The Message-ID carries the receiver id the same way, with a random part so
that a resend of the same receiver is a new message for the recipient's mail system.

New signatures are HMAC-SHA256. Those of messaging 0.1 were HMAC-SHA1 (Django's default
then, which Django 2028 changes): they are still matched until
``MESSAGING_BOUNCE_LEGACY_SIGNATURES_UNTIL``, so that the reports about emails sent before
an upgrade are applied.
"""

from __future__ import annotations

import base64
import re
import secrets
from dataclasses import dataclass

from django.core.mail import EmailMessage
from django.core.mail.utils import DNS_NAME
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac

from .. import conf

SALT = "messaging.bounces.verp"
TOKEN_RE = re.compile(r"(?:^|\+)r(\d{1,18})\.([a-z2-7]{1,32})(?:@|$)", re.IGNORECASE)
MESSAGE_ID_RE = re.compile(
    r"<messaging\.r(\d{1,18})\.([0-9a-f]{16})\.([a-z2-7]{1,32})@", re.IGNORECASE
)
SIGNATURE_LENGTH = 8  # 40 bits: guessing one takes about a trillion reports
ALGORITHM = "sha256"
# What messaging 0.1 signed with, by leaving Django's default. Accepting it too doubles a
# forger's chance of guessing, which stays about one in half a trillion.
LEGACY_ALGORITHM = "sha1"


@dataclass(frozen=True)
class Tag:
    """A receiver id read from an address or Message-ID, and whether its HMAC is right."""

    receiver_id: int
    valid: bool


def signature(value: str, algorithm: str = ALGORITHM) -> str:
    """The short, lower-case HMAC of ``value`` (lower case survives MTAs that fold case)."""
    digest = salted_hmac(SALT, value, algorithm=algorithm).digest()
    return base64.b32encode(digest).decode("ascii")[:SIGNATURE_LENGTH].lower()


def is_signed(value: str, given: str) -> bool:
    """Whether ``given`` is the signature of ``value``: the current one, or the legacy one
    on or before ``MESSAGING_BOUNCE_LEGACY_SIGNATURES_UNTIL``."""
    given = given.lower()
    if constant_time_compare(given, signature(value)):
        return True
    until = conf.bounce_legacy_signatures_until()
    if until is None or timezone.localdate() > until:
        return False
    return constant_time_compare(given, signature(value, LEGACY_ALGORITHM))


def token(receiver_id: int) -> str:
    """``r<id>.<hmac>``: what the return path's local part and the webhooks' metadata carry."""
    return f"r{receiver_id}.{signature(str(receiver_id))}"


def return_path(receiver_id: int, bounce_address: str) -> str:
    """``bounce_address`` with :func:`token` after a ``+`` in the local part."""
    local, domain = bounce_address.rsplit("@", 1)
    return f"{local}+{token(receiver_id)}@{domain}"


def message_id(receiver_id: int) -> str:
    """A new Message-ID naming ``receiver_id``, signed together with its random part."""
    nonce = secrets.token_hex(8)
    return f"<messaging.r{receiver_id}.{nonce}.{signature(f'{receiver_id}.{nonce}')}@{DNS_NAME}>"


def read_token(text: str) -> Tag | None:
    """The receiver named by a return path or a bare token; ``None`` when it names none."""
    match = TOKEN_RE.search(text.strip().strip("<>"))
    if match is None:
        return None
    receiver_id, given = match.groups()
    return Tag(int(receiver_id), is_signed(receiver_id, given))


def read_message_id(text: str) -> Tag | None:
    """The receiver named by one of our Message-IDs; ``None`` for anyone else's."""
    match = MESSAGE_ID_RE.search(text)
    if match is None:
        return None
    receiver_id, nonce, given = match.groups()
    return Tag(int(receiver_id), is_signed(f"{receiver_id}.{nonce.lower()}", given))


def mark_email(email: EmailMessage, receiver_id: int) -> None:
    """Give ``email`` a Message-ID naming the receiver and, when bounces are on, its VERP.

    The ``From:`` header stays the sender's address; only the envelope changes. Django's
    SMTP backend (and :mod:`messaging.delivery.pipelining`) use ``from_email`` as the envelope
    sender and an explicit ``From`` header as the header.
    """
    email.extra_headers["Message-ID"] = message_id(receiver_id)
    # Providers sending through django-anymail return this with their tracking events.
    email.metadata = {**getattr(email, "metadata", {}), "messaging_receiver": token(receiver_id)}
    bounce_address = conf.bounce_address()
    if bounce_address:
        email.extra_headers.setdefault("From", email.from_email)
        email.from_email = return_path(receiver_id, bounce_address)
