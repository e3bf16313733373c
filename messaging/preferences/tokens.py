"""Signed unsubscribe tokens: they name a user and a context type, and expire."""

from __future__ import annotations

from dataclasses import dataclass

from django.core import signing
from django.urls import reverse

from .. import conf

SALT = "messaging.preferences.unsubscribe"


@dataclass(frozen=True)
class Unsubscribe:
    """What a valid token asks for: turn ``context_type`` off for the user ``user_id``."""

    user_id: int
    context_type: str


def make_token(user_id: int, context_type: str) -> str:
    """A URL-safe token signed with ``SECRET_KEY``, valid ``MESSAGING_UNSUBSCRIBE_MAX_AGE``."""
    return signing.dumps({"u": user_id, "c": context_type}, salt=SALT)


def read_token(token: str) -> Unsubscribe:
    """The request a token carries; :class:`django.core.signing.BadSignature` (or its
    subclass ``SignatureExpired``) when it was tampered with or is too old."""
    data = signing.loads(token, salt=SALT, max_age=conf.unsubscribe_max_age())
    if not isinstance(data, dict) or not isinstance(data.get("c"), str):
        raise signing.BadSignature("The token does not name a user and a context type.")
    return Unsubscribe(user_id=int(data["u"]), context_type=data["c"])


def unsubscribe_url(user_id: int, context_type: str) -> str:
    """The absolute one-click unsubscribe address (``MESSAGING_SITE_URL`` + the path)."""
    path = reverse("messaging:unsubscribe", args=[make_token(user_id, context_type)])
    return conf.site_url() + path


def preferences_url() -> str:
    """The absolute address of the preferences page."""
    return conf.site_url() + reverse("messaging:preferences")
