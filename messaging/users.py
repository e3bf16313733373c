"""Where a user's addresses and template values come from (``MESSAGING_USER_*``).

Sites whose user model has no ``email`` field (the original product keeps addresses in a
``UserEmail`` table) point ``MESSAGING_USER_EMAILS`` and ``MESSAGING_USER_CONTEXT`` at
their own callables; see the README's recipe.
"""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings

from . import conf
from .exceptions import ConfigurationError

USER_KEYS = ("first_name", "last_name", "full_name", "username", "email")


def default_user_emails(user: Any) -> list[str]:
    """The user model's email field, when it is set."""
    field = getattr(user, "get_email_field_name", lambda: "email")()
    address = (getattr(user, field, "") or "").strip()
    return [address] if address else []


def default_user_context(user: Any) -> dict[str, str]:
    """``first_name``, ``last_name``, ``full_name`` (else the username), ``username``, ``email``."""
    first = getattr(user, "first_name", "") or ""
    last = getattr(user, "last_name", "") or ""
    emails = user_emails(user)
    return {
        "first_name": first,
        "last_name": last,
        "full_name": f"{first} {last}".strip() or user.get_username(),
        "username": user.get_username(),
        "email": emails[0] if emails else "",
    }


def user_search_fields() -> list[str]:
    """The user fields the admin's searches look in (``MESSAGING_USER_SEARCH_FIELDS``)."""
    return conf.user_search_fields()


def user_name_fields() -> list[str]:
    """The user model's own name, username and email fields, which lists show."""
    return conf.default_user_search_fields()


def user_emails(user: Any) -> list[str]:
    """The addresses to send ``user``'s email to, in order, without blanks or duplicates."""
    addresses = conf.user_emails_resolver()(user)
    if isinstance(addresses, str) or not all(isinstance(item, str) for item in addresses or ()):
        raise ConfigurationError(
            f"MESSAGING_USER_EMAILS must return a list of addresses (text), got {addresses!r}."
        )
    cleaned = (address.strip() for address in addresses or ())
    return list(dict.fromkeys(address for address in cleaned if address))


def user_context(user: Any) -> dict[str, str]:
    """What templates see as ``user``: a plain dict of text, never the model instance.

    The keys of :data:`USER_KEYS` are always there (empty when the resolver leaves one out);
    every value is made text, so a template can never reach an object through it.
    """
    if user is None:
        return dict.fromkeys(USER_KEYS, "")
    values = conf.user_context_resolver()(user)
    if not isinstance(values, dict):
        raise ConfigurationError(
            f"MESSAGING_USER_CONTEXT must return a dict of text, got {values!r}."
        )
    return {
        **dict.fromkeys(USER_KEYS, ""),
        **{str(key): "" if value is None else str(value) for key, value in values.items()},
    }


def default_user_timezone(user: Any) -> str:
    """Wagtail's ``UserProfile.current_time_zone``, else ``TIME_ZONE``."""
    from wagtail.users.models import UserProfile

    profile = UserProfile.objects.filter(user_id=getattr(user, "pk", None)).first()
    return (profile.current_time_zone if profile else "") or settings.TIME_ZONE or "UTC"


def user_timezone(user: Any) -> ZoneInfo:
    """The time zone ``user`` lives in (``MESSAGING_USER_TIMEZONE``); ``TIME_ZONE`` when the
    resolver names none or an unknown one."""
    name = conf.user_timezone_resolver()(user) or settings.TIME_ZONE or "UTC"
    try:
        return ZoneInfo(str(name))
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(settings.TIME_ZONE or "UTC")


def default_user_language(user: Any) -> str:
    """Wagtail's ``UserProfile.preferred_language``, else ``LANGUAGE_CODE``."""
    from wagtail.users.models import UserProfile  # a model: not importable while apps load

    profile = UserProfile.objects.filter(user_id=getattr(user, "pk", None)).first()
    preferred = profile.preferred_language if profile else ""
    return preferred or settings.LANGUAGE_CODE


def user_language(user: Any) -> str:
    """The site language to write to ``user`` in (``MESSAGING_USER_LANGUAGE``)."""
    code = conf.user_language_resolver()(user) if user is not None else None
    return conf.normalize_language(code) or conf.default_language()


def user_languages(users: list[Any]) -> list[str]:
    """:func:`user_language` of each user; the default resolver reads all in one query."""
    if conf.user_language_resolver() is not default_user_language:
        return [user_language(user) for user in users]
    from wagtail.users.models import UserProfile  # a model: not importable while apps load

    ids = [user.pk for user in users if user is not None]
    preferred = dict(
        UserProfile.objects.filter(user_id__in=ids).values_list("user_id", "preferred_language")
    )
    fallback = conf.default_language()
    return [
        conf.normalize_language(preferred.get(getattr(user, "pk", None)) or settings.LANGUAGE_CODE)
        or fallback
        for user in users
    ]
