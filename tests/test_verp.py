"""The signature of each return path and Message-ID: HMAC-SHA256 now, messaging 0.1's
HMAC-SHA1 still matched until MESSAGING_BOUNCE_LEGACY_SIGNATURES_UNTIL, nothing forged."""

from __future__ import annotations

import base64
import datetime

import pytest
from django.utils import timezone
from django.utils.crypto import salted_hmac

from messaging.bounces import verp

BOUNCES = "bounces@example.org"
NONCE = "0123456789abcdef"


def signed(value: str, algorithm: str) -> str:
    """The signature as messaging computes it, with the algorithm named here."""
    digest = salted_hmac(verp.SALT, value, algorithm=algorithm).digest()
    return base64.b32encode(digest).decode("ascii")[:8].lower()


def return_path(receiver_id: int, algorithm: str) -> str:
    return f"bounces+r{receiver_id}.{signed(str(receiver_id), algorithm)}@example.org"


def message_id(receiver_id: int, algorithm: str) -> str:
    return f"<messaging.r{receiver_id}.{NONCE}.{signed(f'{receiver_id}.{NONCE}', algorithm)}@host>"


READERS = {
    "return path": (return_path, verp.read_token),
    "Message-ID": (message_id, verp.read_message_id),
}


@pytest.fixture(params=list(READERS))
def form(request):
    """A way of naming a receiver: (make it signed with an algorithm, read it back)."""
    return READERS[request.param]


def today() -> datetime.date:
    return timezone.localdate()


def test_new_return_paths_and_message_ids_are_signed_with_sha256():
    assert verp.return_path(42, BOUNCES) == return_path(42, "sha256")
    _messaging, _receiver, nonce, rest = verp.message_id(42).split(".", 3)
    assert rest.startswith(signed(f"42.{nonce}", "sha256") + "@")


@pytest.mark.parametrize("algorithm", ["sha256", "sha1"])
def test_both_signatures_are_matched_until_the_last_day(form, algorithm, settings):
    make, read = form
    settings.MESSAGING_BOUNCE_LEGACY_SIGNATURES_UNTIL = today()
    assert read(make(42, algorithm)) == verp.Tag(42, valid=True)


@pytest.mark.parametrize("algorithm", ["sha256", "sha1"])
def test_a_tampered_signature_or_receiver_is_refused(form, algorithm, settings):
    make, read = form
    settings.MESSAGING_BOUNCE_LEGACY_SIGNATURES_UNTIL = today()
    genuine = make(42, algorithm)
    head, _at, host = genuine.partition("@")
    signature = head.rpartition(".")[2]
    changed = signature[:-1] + ("a" if signature[-1] != "a" else "b")
    assert read(f"{head.removesuffix(signature)}{changed}@{host}") == verp.Tag(42, valid=False)
    assert read(genuine.replace("r42.", "r43.", 1)) == verp.Tag(43, valid=False)


@pytest.mark.parametrize("until", ["yesterday", None])
def test_after_the_last_day_only_sha256_is_matched(form, until, settings):
    make, read = form
    if until == "yesterday":
        until = today() - datetime.timedelta(days=1)
    settings.MESSAGING_BOUNCE_LEGACY_SIGNATURES_UNTIL = until
    assert read(make(42, "sha1")) == verp.Tag(42, valid=False)
    assert read(make(42, "sha256")) == verp.Tag(42, valid=True)


def test_the_last_day_may_be_given_as_text(form, settings):
    make, read = form
    settings.MESSAGING_BOUNCE_LEGACY_SIGNATURES_UNTIL = today().isoformat()
    assert read(make(42, "sha1")).valid
    settings.MESSAGING_BOUNCE_LEGACY_SIGNATURES_UNTIL = "2020-01-01"
    assert not read(make(42, "sha1")).valid
