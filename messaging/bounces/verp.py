"""Signed receiver ids in each email's return path (VERP) and Message-ID.

A bounce comes back to the envelope sender, so ``bounces+r123.k9x2fq7a@example.org``
names the receiver it is about. The signature is a short HMAC keyed from ``SECRET_KEY``:
anyone can send us a report, but only the receiving side of an email we sent knows a
valid one. The Message-ID carries the receiver id the same way, with a random part so
that a resend of the same receiver is a new message for the recipient's mail system.
"""

from __future__ import annotations

import base64
import re
import secrets
from dataclasses import dataclass

from django.core.mail import EmailMessage
from django.core.mail.utils import DNS_NAME
from django.utils.crypto import constant_time_compare, salted_hmac

from .. import conf

SALT = "messaging.bounces.verp"
TOKEN_RE = re.compile(r"(?:^|\+)r(\d{1,18})\.([a-z2-7]{1,32})(?:@|$)", re.IGNORECASE)
MESSAGE_ID_RE = re.compile(
    r"<messaging\.r(\d{1,18})\.([0-9a-f]{16})\.([a-z2-7]{1,32})@", re.IGNORECASE
)
SIGNATURE_LENGTH = 8  # 40 bits: guessing one takes about a trillion reports


@dataclass(frozen=True)
class Tag:
    """A receiver id read from an address or Message-ID, and whether its HMAC is right."""

    receiver_id: int
    valid: bool


def signature(value: str) -> str:
    """The short, lower-case HMAC of ``value`` (lower case survives MTAs that fold case)."""
    digest = salted_hmac(SALT, value).digest()
    return base64.b32encode(digest).decode("ascii")[:SIGNATURE_LENGTH].lower()


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
    return Tag(int(receiver_id), constant_time_compare(given.lower(), signature(receiver_id)))


def read_message_id(text: str) -> Tag | None:
    """The receiver named by one of our Message-IDs; ``None`` for anyone else's."""
    match = MESSAGE_ID_RE.search(text)
    if match is None:
        return None
    receiver_id, nonce, given = match.groups()
    expected = signature(f"{receiver_id}.{nonce.lower()}")
    return Tag(int(receiver_id), constant_time_compare(given.lower(), expected))


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
