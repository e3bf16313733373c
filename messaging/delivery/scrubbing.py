"""Secrets kept out of stored errors: the values of secret settings, in every spelling."""

from __future__ import annotations

import contextlib
import json

from .. import conf

MASK = "********"


def secret_strings(value) -> list[str]:
    """Every string inside a setting's value (a string, or dicts and lists of them)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, bytes):
        return [value.decode(errors="replace")]
    if isinstance(value, dict):
        return [text for item in value.values() for text in secret_strings(item)]
    if isinstance(value, list | tuple | set | frozenset):
        return [text for item in value for text in secret_strings(item)]
    return []


def spellings(secret: str) -> set[str]:
    """The forms ``secret`` can take in a traceback: itself, the ``repr`` of its bytes,
    ``ascii()``'s ``\\x``/``\\u`` escapes and JSON's ``\\u`` escapes."""
    forms = {secret, ascii(secret)[1:-1], json.dumps(secret)[1:-1]}
    for encoding in ("utf-8", "latin-1"):
        with contextlib.suppress(UnicodeEncodeError):  # not every secret has a latin-1 form
            forms.add(repr(secret.encode(encoding))[2:-1])
    return forms


def scrub(text: str) -> str:
    """Remove the values of secret settings (passwords, keys) from ``text``."""
    secrets = set()
    for value in conf.secret_values():
        for secret in secret_strings(value):
            if len(secret) >= 3:
                secrets |= spellings(secret)
    # Longest first, so a secret's escaped form is not half-replaced by a shorter one.
    for secret in sorted(secrets, key=len, reverse=True):
        text = text.replace(secret, MASK)
    return text
