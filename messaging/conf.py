"""Settings of the messaging app, each with its default, read at call time.

Every function here reads ``django.conf.settings`` when called, so
``override_settings`` and settings changed after import take effect.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.utils.module_loading import import_string
from django.utils.translation import gettext_lazy as _

from .exceptions import ConfigurationError

_UNSET = object()

DEFAULT_CONTEXT_TYPES: tuple[tuple[str, Any], ...] = (("other", _("Other")),)


def _get(name: str, default: Any) -> Any:
    return getattr(settings, name, default)


def _non_negative_int(name: str, value: Any) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = -1
    if number < 0:
        raise ConfigurationError(
            f"{name} must be a whole number >= 0, got {value!r}. Fix it in your settings."
        )
    return number


def resend_limit() -> int:
    """How many failed attempts a receiver may have before it is marked ``error``.

    ``MESSAGING_RESEND_LIMIT`` wins; when it is not set, the original product's
    ``DEVILRY_MESSAGE_RESEND_LIMIT`` is honoured; the default is 2.
    """
    value = _get("MESSAGING_RESEND_LIMIT", _UNSET)
    name = "MESSAGING_RESEND_LIMIT"
    if value is _UNSET:
        value = _get("DEVILRY_MESSAGE_RESEND_LIMIT", 2)
        name = "DEVILRY_MESSAGE_RESEND_LIMIT"
    return _non_negative_int(name, value)


def batch_size() -> int:
    """Receivers per delivery task; one task reuses one mail connection."""
    return max(1, _non_negative_int("MESSAGING_BATCH_SIZE", _get("MESSAGING_BATCH_SIZE", 100)))


def max_stored_errors() -> int:
    """How many of the newest failed attempts are kept in ``status_data["errors"]``."""
    value = _get("MESSAGING_MAX_STORED_ERRORS", 10)
    return max(1, _non_negative_int("MESSAGING_MAX_STORED_ERRORS", value))


def claim_lease_seconds() -> int:
    """How long a worker's claim on a receiver lasts before another may take it over."""
    value = _get("MESSAGING_CLAIM_LEASE_SECONDS", 600)
    return max(1, _non_negative_int("MESSAGING_CLAIM_LEASE_SECONDS", value))


def retry_base_delay() -> int:
    """Seconds before the first automatic retry of a transient failure.

    RFC 5321 (4.5.4.1) asks senders to wait at least 30 minutes between retries;
    the default waits 30 minutes first and doubles from there.
    """
    value = _get("MESSAGING_RETRY_BASE_DELAY", 30 * 60)
    return _non_negative_int("MESSAGING_RETRY_BASE_DELAY", value)


def retry_max_delay() -> int:
    """Upper bound in seconds of the exponential backoff (default: 4 hours)."""
    value = _get("MESSAGING_RETRY_MAX_DELAY", 4 * 60 * 60)
    return _non_negative_int("MESSAGING_RETRY_MAX_DELAY", value)


def reconnect_limit() -> int:
    """How often one batch reconnects after the server closed the connection (421)
    before it releases the rest of its receivers (default: 10)."""
    value = _get("MESSAGING_RECONNECT_LIMIT", 10)
    return _non_negative_int("MESSAGING_RECONNECT_LIMIT", value)


def max_per_second() -> float | None:
    """Optional rate limit of one worker in emails per second; ``None`` means no limit."""
    value = _get("MESSAGING_MAX_PER_SECOND", None)
    if value in (None, "", 0):
        return None
    try:
        rate = float(value)
    except (TypeError, ValueError):
        rate = -1.0
    if rate <= 0:
        raise ConfigurationError(
            f"MESSAGING_MAX_PER_SECOND must be a positive number or None, got {value!r}."
        )
    return rate


def _first_set(*names: str, default: Any) -> tuple[str | None, Any]:
    """The first of ``names`` that the settings define, with its value; else the default."""
    for name in names:
        value = _get(name, _UNSET)
        if value is not _UNSET:
            return name, value
    return None, default


def task_queue() -> str:
    """The tasks queue that delivery is enqueued on.

    ``MESSAGING_TASK_QUEUE``, else the original's ``DEVILRY_MESSAGE_RQ_QUEUENAME``,
    else ``"default"``.
    """
    name, value = _first_set(
        "MESSAGING_TASK_QUEUE", "DEVILRY_MESSAGE_RQ_QUEUENAME", default="default"
    )
    if not isinstance(value, str) or not value:
        raise ConfigurationError(f"{name} must be the name of a tasks queue, got {value!r}.")
    return value


def task_backends() -> dict[str, dict[str, Any]]:
    """Django's ``TASKS``; an RQ backend there may only name queues that ``RQ_QUEUES`` has."""
    tasks = _get("TASKS", {})
    rq_queues = _get("RQ_QUEUES", {})
    for alias, options in tasks.items():
        if options.get("BACKEND", "").startswith("django_tasks_rq."):
            missing = set(options.get("QUEUES", ["default"])) - set(rq_queues)
            if missing:
                raise ConfigurationError(
                    f"TASKS[{alias!r}] uses queues {sorted(missing)} that RQ_QUEUES lacks. "
                    "Add every queue listed in TASKS to RQ_QUEUES."
                )
    return tasks


def site_name() -> str:
    """The site's name in every email's layout: Wagtail's ``WAGTAIL_SITE_NAME``, else ``""``."""
    return str(_get("WAGTAIL_SITE_NAME", "") or "")


def send_email_to_users() -> bool:
    """Whether emails go out at all (the kill switch).

    ``MESSAGING_SEND_EMAIL_TO_USERS``, else ``DEVILRY_SEND_EMAIL_TO_USERS``, else ``True``.
    """
    name, value = _first_set(
        "MESSAGING_SEND_EMAIL_TO_USERS", "DEVILRY_SEND_EMAIL_TO_USERS", default=True
    )
    if not isinstance(value, bool):
        raise ConfigurationError(f"{name} must be True or False, got {value!r}.")
    return value


def send_email_setting_name() -> str:
    """The name of the setting that decides :func:`send_email_to_users`, for messages."""
    name, _value = _first_set(
        "MESSAGING_SEND_EMAIL_TO_USERS", "DEVILRY_SEND_EMAIL_TO_USERS", default=None
    )
    return name or "MESSAGING_SEND_EMAIL_TO_USERS"


def email_signature(language: str | None = None) -> str:
    """The text appended to every email (HTML and plain text); ``""`` for none.

    ``MESSAGING_EMAIL_SIGNATURE``, else ``DEVILRY_EMAIL_SIGNATURE``. A dict maps language
    codes to text; a language it lacks gets ``LANGUAGE_CODE``'s text, else none.
    """
    name, value = _first_set("MESSAGING_EMAIL_SIGNATURE", "DEVILRY_EMAIL_SIGNATURE", default="")
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
    """Text put before every subject (``MESSAGING_SUBJECT_PREFIX``, default ``""``).

    One line, so that the prefix and a rendered subject make one line together.
    """
    value = _get("MESSAGING_SUBJECT_PREFIX", "")
    if not isinstance(value, str) or len(value.splitlines()) > 1:
        raise ConfigurationError(
            f"MESSAGING_SUBJECT_PREFIX must be one line of text, got {value!r}."
        )
    return value


def from_email() -> str:
    """The sender address.

    ``MESSAGING_FROM_EMAIL``, else ``DEVILRY_EMAIL_DEFAULT_FROM``, else ``DEFAULT_FROM_EMAIL``.
    """
    for name in ("MESSAGING_FROM_EMAIL", "DEVILRY_EMAIL_DEFAULT_FROM", "DEFAULT_FROM_EMAIL"):
        value = _get(name, None)
        if value:
            if not isinstance(value, str):
                raise ConfigurationError(f"{name} must be an email address, got {value!r}.")
            return value
    raise ConfigurationError("No sender address: set MESSAGING_FROM_EMAIL or DEFAULT_FROM_EMAIL.")


def _callable_setting(name: str, default: str, contract: str) -> Callable[[Any], Any]:
    path = _get(name, default)
    try:
        return import_string(path)
    except ImportError as error:
        raise ConfigurationError(
            f"{name}={path!r} cannot be imported ({error}). Give the dotted path of a {contract}."
        ) from error


def user_emails_resolver() -> Callable[[Any], list[str]]:
    """The callable giving a user's addresses (``MESSAGING_USER_EMAILS``)."""
    return _callable_setting(
        "MESSAGING_USER_EMAILS",
        "messaging.users.default_user_emails",
        "callable(user) -> list[str]",
    )


def user_context_resolver() -> Callable[[Any], dict[str, str]]:
    """The callable giving what templates see as ``user`` (``MESSAGING_USER_CONTEXT``)."""
    return _callable_setting(
        "MESSAGING_USER_CONTEXT",
        "messaging.users.default_user_context",
        "callable(user) -> dict[str, str]",
    )


MODES = ("immediate", "daily", "off")  # NotificationPreference.Mode's values


@dataclass(frozen=True)
class ContextType:
    """One entry of ``MESSAGING_CONTEXT_TYPES``: what a message is about.

    ``optional`` types may be turned off or gathered into a daily digest by each user;
    mandatory ones (the default) always go out at once. ``default_mode`` is the mode of a
    user who chose none (``immediate`` unless the site says otherwise).
    """

    value: str
    label: Any
    optional: bool = False
    default_mode: str = "immediate"


def _context_type(entry: Any) -> ContextType:
    if isinstance(entry, dict):
        unknown = set(entry) - {"value", "label", "optional", "default_mode"}
        if unknown or "value" not in entry:
            raise ConfigurationError(
                f"MESSAGING_CONTEXT_TYPES: {entry!r} needs 'value' and may have only 'label', "
                "'optional' and 'default_mode'."
            )
        spec = ContextType(
            value=str(entry["value"]),
            label=entry.get("label", entry["value"]),
            optional=bool(entry.get("optional", False)),
            default_mode=entry.get("default_mode", "immediate"),
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
    return spec


def context_type_specs() -> dict[str, ContextType]:
    """Every context type by value, in the site's order; ``other`` is always there.

    ``MESSAGING_CONTEXT_TYPES`` entries are ``(value, label)`` pairs (mandatory) or dicts
    ``{"value", "label", "optional", "default_mode"}``.
    """
    specs = [_context_type(entry) for entry in _get("MESSAGING_CONTEXT_TYPES", ())]
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
    return dict(_get("MESSAGING_CONTEXT_VARIABLES", {}))


def user_language_resolver() -> Callable[[Any], str]:
    """The callable that gives a user's language code (``MESSAGING_USER_LANGUAGE``)."""
    return _callable_setting(
        "MESSAGING_USER_LANGUAGE",
        "messaging.rendering.default_user_language",
        "callable(user) -> language code",
    )


def secret_setting_names() -> list[str]:
    """Settings whose values are scrubbed from stored error messages and tracebacks.

    A value may be a string or a dict or list of them (``ANYMAIL = {"..._API_KEY": ...}``);
    every string inside is scrubbed.
    """
    extra = list(_get("MESSAGING_SECRET_SETTINGS", []))
    return ["EMAIL_HOST_PASSWORD", "EMAIL_HOST_USER", "SECRET_KEY", *extra]


def secret_values() -> list[Any]:
    """The values of :func:`secret_setting_names` and the credentials in ``MAILERS``."""
    values = [_get(name, None) for name in secret_setting_names()]
    return [*values, *_mailer_credentials()]


def _mailer_credentials() -> list[str]:
    """The user names and passwords in Django 6.1's ``MAILERS`` (the ``EMAIL_*`` settings'
    successor), which hold what ``EMAIL_HOST_USER``/``EMAIL_HOST_PASSWORD`` held."""
    mailers = _get("MAILERS", None)
    if not isinstance(mailers, dict):
        return []
    found = []
    for mailer in mailers.values():
        options = mailer.get("OPTIONS", {}) if isinstance(mailer, dict) else {}
        found += [options.get(key) for key in ("username", "password") if options.get(key)]
    return found


def bounce_address() -> str:
    """The address bounces go to (``MESSAGING_BOUNCE_ADDRESS``); empty turns VERP off.

    When set, e.g. ``bounces@example.org``, each email's envelope sender is
    ``bounces+r<receiver id>.<hmac>@example.org``; the ``From:`` header is unchanged.
    """
    value = str(_get("MESSAGING_BOUNCE_ADDRESS", "") or "").strip()
    if value and (value.count("@") != 1 or "+" in value.split("@")[0]):
        raise ConfigurationError(
            f"MESSAGING_BOUNCE_ADDRESS must be one plain address such as "
            f"'bounces@example.org' (no '+' in the local part), got {value!r}."
        )
    return value


def max_delivery_events() -> int:
    """How many of the newest delivery events a receiver keeps (default 20)."""
    value = _get("MESSAGING_MAX_DELIVERY_EVENTS", 20)
    return max(1, _non_negative_int("MESSAGING_MAX_DELIVERY_EVENTS", value))


def _flag(name: str, default: bool) -> bool:
    value = _get(name, default)
    if not isinstance(value, bool):
        raise ConfigurationError(f"{name} must be True or False, got {value!r}.")
    return value


def smtp_pipelining() -> bool:
    """Whether the envelope is pipelined where the server offers it (default ``True``)."""
    return _flag("MESSAGING_SMTP_PIPELINING", True)


def async_status_writes() -> bool:
    """Whether a success is written while the next envelope is answered (default ``True``)."""
    return _flag("MESSAGING_ASYNC_STATUS_WRITES", True)


def connections_per_worker() -> int:
    """SMTP connections one delivery task sends its batch over at once (default 1)."""
    value = _get("MESSAGING_CONNECTIONS_PER_WORKER", 1)
    return max(1, _non_negative_int("MESSAGING_CONNECTIONS_PER_WORKER", value))


def digest_hour() -> int:
    """The local hour (0-23) at which each user's daily digest goes out (default 7)."""
    value = _non_negative_int("MESSAGING_DIGEST_HOUR", _get("MESSAGING_DIGEST_HOUR", 7))
    if value > 23:
        raise ConfigurationError(f"MESSAGING_DIGEST_HOUR must be an hour 0-23, got {value!r}.")
    return value


def user_timezone_resolver() -> Callable[[Any], str]:
    """The callable that gives a user's time zone name (``MESSAGING_USER_TIMEZONE``)."""
    return _callable_setting(
        "MESSAGING_USER_TIMEZONE",
        "messaging.users.default_user_timezone",
        "callable(user) -> time zone name such as 'Europe/Oslo'",
    )


def unsubscribe_max_age() -> int:
    """Seconds an unsubscribe link stays valid (``MESSAGING_UNSUBSCRIBE_MAX_AGE``, 1 year)."""
    value = _get("MESSAGING_UNSUBSCRIBE_MAX_AGE", 365 * 24 * 60 * 60)
    return max(1, _non_negative_int("MESSAGING_UNSUBSCRIBE_MAX_AGE", value))


def site_url() -> str:
    """The site's address for links in emails, without a trailing slash.

    ``MESSAGING_SITE_URL``, else ``WAGTAILADMIN_BASE_URL``; empty when neither is set.
    """
    value = _get("MESSAGING_SITE_URL", "") or _get("WAGTAILADMIN_BASE_URL", "") or ""
    if not isinstance(value, str) or (value and not value.startswith(("http://", "https://"))):
        raise ConfigurationError(
            f"MESSAGING_SITE_URL must be the site's address such as 'https://example.org', "
            f"got {value!r}."
        )
    return value.rstrip("/")
