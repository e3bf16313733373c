"""Secrets kept out of stored errors: the values of secret settings, in every spelling."""

from __future__ import annotations

import contextlib
import json

from django.conf import settings

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


def mailer_credentials() -> list[str]:
    """The user names and passwords in Django 6.1's ``MAILERS`` (the ``EMAIL_*`` settings'
    successor), which hold what ``EMAIL_HOST_USER``/``EMAIL_HOST_PASSWORD`` held."""
    mailers = getattr(settings, "MAILERS", None)
    if not isinstance(mailers, dict):
        return []
    found = []
    for mailer in mailers.values():
        options = mailer.get("OPTIONS", {}) if isinstance(mailer, dict) else {}
        found += [options.get(key) for key in ("username", "password") if options.get(key)]
    return found


def scrub(text: str) -> str:
    """Remove the values of secret settings (passwords, keys) from ``text``."""
    secrets = set()
    values = [getattr(settings, name, None) for name in conf.secret_setting_names()]
    for value in [*values, *mailer_credentials()]:
        for secret in secret_strings(value):
            if len(secret) >= 3:
                secrets |= spellings(secret)
    # Longest first, so a secret's escaped form is not half-replaced by a shorter one.
    for secret in sorted(secrets, key=len, reverse=True):
        text = text.replace(secret, MASK)
    return text
