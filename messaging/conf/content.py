"""What every email says: sender, subject prefix, signature, context types, links."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.utils.translation import gettext_lazy as _

from ..exceptions import ConfigurationError
from .base import first_set, get, non_negative_int

DEFAULT_CONTEXT_TYPES: tuple[tuple[str, Any], ...] = (("other", _("Other")),)


def site_name() -> str:
    """The site's name in every email's layout: Wagtail's ``WAGTAIL_SITE_NAME``, else ``""``."""
    return str(get("WAGTAIL_SITE_NAME", "") or "")


def email_signature(language: str | None = None) -> str:
    """The text after every email, in its HTML (escaped, line breaks kept) and its plain
    text: in a template's layout, and at the end of a direct send's HTML body and plain
    text; ``""`` for none.

    ``MESSAGING_EMAIL_SIGNATURE``, else ``DEVILRY_EMAIL_SIGNATURE``. A dict
    ``{"en": ..., "nb": ...}`` maps language codes to text; a language it lacks gets
    ``LANGUAGE_CODE``'s text, else none.
    """
    name, value = first_set("MESSAGING_EMAIL_SIGNATURE", "DEVILRY_EMAIL_SIGNATURE", default="")
    if isinstance(value, dict):
        if not all(isinstance(text, str) for text in value.values()):
            raise ConfigurationError(f"{name} must map language codes to text, got {value!r}.")
        value = value.get(language or "", value.get(settings.LANGUAGE_CODE, ""))
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ConfigurationError(
            f"{name} must be text or a dict of language code -> text, got {value!r}."
        )
    return value


def subject_prefix() -> str:
    """Text put before every subject, and recorded with it on the receiver
    (``MESSAGING_SUBJECT_PREFIX``, default ``""``).

    One line, so that the prefix and a rendered subject make one line together.
    """
    value = get("MESSAGING_SUBJECT_PREFIX", "")
    if not isinstance(value, str) or len(value.splitlines()) > 1:
        raise ConfigurationError(
            f"MESSAGING_SUBJECT_PREFIX must be one line of text, got {value!r}."
        )
    return value


def from_email() -> str:
    """The sender address.

    ``MESSAGING_FROM_EMAIL``, else ``DEVILRY_EMAIL_DEFAULT_FROM``, else ``DEFAULT_FROM_EMAIL``;
    a site sets one of them.
    """
    for name in ("MESSAGING_FROM_EMAIL", "DEVILRY_EMAIL_DEFAULT_FROM", "DEFAULT_FROM_EMAIL"):
        value = get(name, None)
        if value:
            if not isinstance(value, str):
                raise ConfigurationError(f"{name} must be an email address, got {value!r}.")
            return value
    raise ConfigurationError("No sender address: set MESSAGING_FROM_EMAIL or DEFAULT_FROM_EMAIL.")


MODES = ("immediate", "daily", "off")  # NotificationPreference.Mode's values
PRIORITIES = ("high", "normal", "low")  # Message.Priority's values, first served first
CONTEXT_TYPE_KEYS = {"value", "label", "optional", "default_mode", "expires_after", "priority"}


@dataclass(frozen=True)
class ContextType:
    """One entry of ``MESSAGING_CONTEXT_TYPES``: what a message is about.

    ``optional`` types may be turned off or gathered into a daily digest by each user;
    mandatory ones (the default) always go out at once. ``default_mode`` is the mode of a
    user who chose none (``immediate`` unless the site says otherwise). ``expires_after``
    (a ``timedelta``) gives its messages an ``expires_at`` that long after they start, and
    ``priority`` is their default priority.
    """

    value: str
    label: Any
    optional: bool = False
    default_mode: str = "immediate"
    expires_after: timedelta | None = None
    priority: str = "normal"


def _context_type(entry: Any) -> ContextType:
    if isinstance(entry, dict):
        unknown = set(entry) - CONTEXT_TYPE_KEYS
        if unknown or "value" not in entry:
            raise ConfigurationError(
                f"MESSAGING_CONTEXT_TYPES: {entry!r} needs 'value' and may have only "
                f"{', '.join(sorted(CONTEXT_TYPE_KEYS - {'value'}))}."
            )
        spec = ContextType(
            value=str(entry["value"]),
            label=entry.get("label", entry["value"]),
            optional=bool(entry.get("optional", False)),
            default_mode=entry.get("default_mode", "immediate"),
            expires_after=entry.get("expires_after"),
            priority=entry.get("priority", "normal"),
        )
    elif isinstance(entry, list | tuple) and len(entry) == 2:
        spec = ContextType(value=str(entry[0]), label=entry[1])
    else:
        raise ConfigurationError(
            f"MESSAGING_CONTEXT_TYPES: {entry!r} must be a (value, label) pair or a dict "
            "with value, label, optional and default_mode."
        )
    if spec.default_mode not in MODES or (not spec.optional and spec.default_mode != "immediate"):
        raise ConfigurationError(
            f"MESSAGING_CONTEXT_TYPES: {spec.value!r} has default_mode {spec.default_mode!r}; "
            f"use one of {', '.join(MODES)} (mandatory types only 'immediate')."
        )
    return checked_timing(spec)


def checked_timing(spec: ContextType) -> ContextType:
    """``spec``, once its ``expires_after`` and ``priority`` are known to be usable."""
    after = spec.expires_after
    if after is not None and (not isinstance(after, timedelta) or after <= timedelta(0)):
        raise ConfigurationError(
            f"MESSAGING_CONTEXT_TYPES: {spec.value!r} has expires_after {after!r}; "
            "give a positive datetime.timedelta, e.g. timedelta(days=2), or leave it out."
        )
    if spec.priority not in PRIORITIES:
        raise ConfigurationError(
            f"MESSAGING_CONTEXT_TYPES: {spec.value!r} has priority {spec.priority!r}; "
            f"use one of {', '.join(PRIORITIES)}."
        )
    return spec


def context_type_specs() -> dict[str, ContextType]:
    """Every context type by value, in the site's order; ``other`` is always there.

    ``MESSAGING_CONTEXT_TYPES`` says what messages can be about. Its entries are
    ``(value, label)`` pairs, mandatory types that always go out at once, or dicts
    ``{"value", "label", "optional", "default_mode"}``: an optional type may be turned off
    or gathered into a daily digest by each user, and ``default_mode`` (``immediate``,
    ``daily`` or ``off``) is the mode of users who chose none. A dict may also carry
    ``expires_after`` (a timedelta: receivers not sent that long after the start expire)
    and ``priority`` (``high``, ``normal`` or ``low``), the defaults of ``send_message``.
    """
    specs = [_context_type(entry) for entry in get("MESSAGING_CONTEXT_TYPES", ())]
    if not specs:
        specs = [ContextType(*pair) for pair in DEFAULT_CONTEXT_TYPES]
    by_value = {spec.value: spec for spec in specs}
    by_value.setdefault("other", ContextType(*DEFAULT_CONTEXT_TYPES[0]))
    return by_value


def context_types() -> list[tuple[str, Any]]:
    """Choices of what a message is about, registered by the site: ``(value, label)`` pairs.

    See :func:`context_type_specs` for the forms ``MESSAGING_CONTEXT_TYPES`` may take;
    ``other`` is always offered.
    """
    return [(spec.value, spec.label) for spec in context_type_specs().values()]


def context_variables() -> dict[str, dict[str, Any]]:
    """Variables each context type offers to editors, with sample values for the preview.

    ``MESSAGING_CONTEXT_VARIABLES`` maps a context type to ``{name: sample value}``;
    ``user`` (first_name, last_name, full_name, username, email) is always there.
    """
    return dict(get("MESSAGING_CONTEXT_VARIABLES", {}))


def digest_hour() -> int:
    """The local hour (0-23) at which each user's daily digest goes out (default 7)."""
    value = non_negative_int("MESSAGING_DIGEST_HOUR", get("MESSAGING_DIGEST_HOUR", 7))
    if value > 23:
        raise ConfigurationError(f"MESSAGING_DIGEST_HOUR must be an hour 0-23, got {value!r}.")
    return value


def unsubscribe_max_age() -> int:
    """Seconds an unsubscribe link stays valid (``MESSAGING_UNSUBSCRIBE_MAX_AGE``, 1 year)."""
    value = get("MESSAGING_UNSUBSCRIBE_MAX_AGE", 365 * 24 * 60 * 60)
    return max(1, non_negative_int("MESSAGING_UNSUBSCRIBE_MAX_AGE", value))


def site_url() -> str:
    """The site's address (``https://...``) for links in emails, such as the unsubscribe
    links, without a trailing slash.

    ``MESSAGING_SITE_URL``, else ``WAGTAILADMIN_BASE_URL``; empty when neither is set.
    """
    value = get("MESSAGING_SITE_URL", "") or get("WAGTAILADMIN_BASE_URL", "") or ""
    if not isinstance(value, str) or (value and not value.startswith(("http://", "https://"))):
        raise ConfigurationError(
            f"MESSAGING_SITE_URL must be the site's address such as 'https://example.org', "
            f"got {value!r}."
        )
    return value.rstrip("/")


def site_languages() -> list[str]:
    """The codes of ``LANGUAGES``, the languages templates are written in."""
    return [code for code, _name in settings.LANGUAGES]


def default_language() -> str:
    """The site language of ``LANGUAGE_CODE``, else the first of ``LANGUAGES``."""
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
