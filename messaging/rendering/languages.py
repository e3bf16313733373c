"""Which site language each receiver gets, and a template's text in a language."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from modeltranslation.utils import build_localized_fieldname

from .. import conf


def site_languages() -> list[str]:
    return [code for code, _name in settings.LANGUAGES]


def default_language() -> str:
    return normalize_language(settings.LANGUAGE_CODE) or site_languages()[0]


def normalize_language(code: str | None) -> str | None:
    """The site language matching ``code`` (``nb-NO`` -> ``nb``), or ``None``."""
    if not code:
        return None
    languages = site_languages()
    code = code.lower()
    if code in languages:
        return code
    primary = code.split("-")[0]
    return primary if primary in languages else None


def default_user_language(user: Any) -> str:
    """Wagtail's ``UserProfile.preferred_language``, else ``LANGUAGE_CODE``."""
    from wagtail.users.models import UserProfile

    profile = UserProfile.objects.filter(user_id=getattr(user, "pk", None)).first()
    preferred = profile.preferred_language if profile else ""
    return preferred or settings.LANGUAGE_CODE


def user_language(user: Any) -> str:
    """The site language to write to ``user`` in (``MESSAGING_USER_LANGUAGE``)."""
    code = conf.user_language_resolver()(user) if user is not None else None
    return normalize_language(code) or default_language()


def user_languages(users: list[Any]) -> list[str]:
    """:func:`user_language` of each user; the default resolver reads all in one query."""
    if conf.user_language_resolver() is not default_user_language:
        return [user_language(user) for user in users]
    from wagtail.users.models import UserProfile

    ids = [user.pk for user in users if user is not None]
    preferred = dict(
        UserProfile.objects.filter(user_id__in=ids).values_list("user_id", "preferred_language")
    )
    fallback = default_language()
    return [
        normalize_language(preferred.get(getattr(user, "pk", None)) or settings.LANGUAGE_CODE)
        or fallback
        for user in users
    ]


def translated(template: Any, field: str, language: str) -> str:
    """``field`` in ``language``, falling back to the default language when empty."""
    value = getattr(template, build_localized_fieldname(field, language), None)
    if not value:
        value = getattr(template, build_localized_fieldname(field, default_language()), "")
    return value or ""
