"""Mail relays: which ones are used in turn, when one counts as down, how it is probed, when to
give up on a failing email."""

from __future__ import annotations

import datetime
from typing import Any

import django

from ..exceptions import ConfigurationError
from .base import get, non_negative_int

HAS_MAILERS = django.VERSION >= (6, 1)  # Django 6.1's MAILERS; 5.2 has the EMAIL_* settings


def mailers() -> list[str]:
    """The mailers emails are sent through, in order (default ``["default"]``): while the
    first one's relay is down (see ``MESSAGING_RELAY_FAILURES``) sends go to the next one
    that is up, and each receiver records the one that accepted it (``sent_via``).

    Each is an alias of Django 6.1's ``MAILERS``; on Django 5.2, ``"default"`` is the
    ``EMAIL_*`` settings and any other alias is an entry of ``MESSAGING_MAILER_SETTINGS``.
    """
    value = get("MESSAGING_MAILERS", ["default"])
    if (
        not isinstance(value, list | tuple)
        or not value
        or not all(isinstance(alias, str) and alias for alias in value)
        or len(set(value)) < len(value)
    ):
        raise ConfigurationError(
            f"MESSAGING_MAILERS must list mailer aliases, each once, such as "
            f"['default', 'backup'], got {value!r}."
        )
    configured = configured_mailers()
    missing = [alias for alias in value if alias != "default" and alias not in configured]
    if missing:
        where = "MAILERS" if HAS_MAILERS else "MESSAGING_MAILER_SETTINGS"
        raise ConfigurationError(
            f"MESSAGING_MAILERS names {missing}, which {where} lacks. Add an entry for each "
            f"to {where}, e.g. {{'backup': {{'BACKEND': "
            f"'django.core.mail.backends.smtp.EmailBackend', 'OPTIONS': {{'host': ...}}}}}}."
        )
    return list(value)


def configured_mailers() -> dict[str, dict[str, Any]]:
    """The mailers the site configured besides its default: ``MAILERS`` on Django 6.1,
    ``MESSAGING_MAILER_SETTINGS`` on 5.2."""
    if HAS_MAILERS:
        value = get("MAILERS", {})
        return value if isinstance(value, dict) else {}
    return mailer_settings()


def mailer_settings() -> dict[str, dict[str, Any]]:
    """Django 5.2 only: the mailers other than ``"default"`` (the ``EMAIL_*`` settings),
    shaped as Django 6.1's ``MAILERS`` entries, so a site writes the same on both versions::

        MESSAGING_MAILER_SETTINGS = {
            "backup": {
                "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
                "OPTIONS": {"host": "smtp2.example.org", "port": 587, "use_tls": True},
            },
        }

    ``OPTIONS`` are the keyword arguments of the backend (``host``, ``port``, ``username``,
    ``password``, ``use_tls``, ``use_ssl``, ``timeout``). Their user names and passwords are
    scrubbed from stored errors as ``MAILERS``' are. Django 6.1 reads ``MAILERS`` instead.
    """
    value = get("MESSAGING_MAILER_SETTINGS", {})
    valid = isinstance(value, dict) and all(
        isinstance(alias, str)
        and isinstance(entry, dict)
        and isinstance(entry.get("BACKEND", ""), str)
        and isinstance(entry.get("OPTIONS", {}), dict)
        for alias, entry in value.items()
    )
    if not valid:
        raise ConfigurationError(
            "MESSAGING_MAILER_SETTINGS must map mailer aliases to {'BACKEND': dotted path, "
            f"'OPTIONS': {{...}}}}, as Django 6.1's MAILERS does, got {value!r}."
        )
    return value


def relay_failures() -> int:
    """How many sends in a row may fail for a reason of the relay's own (connection refused,
    timeout or TLS failure while connecting, 421 at the greeting, login refused) before the
    relay is marked down (default 5). While it is down nothing is claimed for it, no
    attempt is counted, and one worker probes it (``MESSAGING_RELAY_PROBE_INTERVAL``)."""
    value = get("MESSAGING_RELAY_FAILURES", 5)
    return max(1, non_negative_int("MESSAGING_RELAY_FAILURES", value))


def relay_probe_interval() -> datetime.timedelta:
    """How long after a relay went down it is first probed (a connection and ``NOOP``);
    each failed probe doubles the wait, up to ``MESSAGING_RELAY_PROBE_MAX_INTERVAL``. A
    ``timedelta`` or seconds (default 30 seconds)."""
    value = get("MESSAGING_RELAY_PROBE_INTERVAL", datetime.timedelta(seconds=30))
    return positive_duration("MESSAGING_RELAY_PROBE_INTERVAL", value)


def relay_probe_max_interval() -> datetime.timedelta:
    """The longest wait between two probes of a relay that is down. A ``timedelta`` or
    seconds (default 10 minutes)."""
    value = get("MESSAGING_RELAY_PROBE_MAX_INTERVAL", datetime.timedelta(minutes=10))
    return positive_duration("MESSAGING_RELAY_PROBE_MAX_INTERVAL", value)


def give_up_after() -> datetime.timedelta | None:
    """How long a receiver may go on failing before it becomes ``error``, whatever its
    count of attempts (default ``None``: only ``MESSAGING_RESEND_LIMIT`` decides). Time
    while every relay was down is not counted. RFC 5321's 4-5 days:
    ``MESSAGING_GIVE_UP_AFTER = timedelta(days=5)``."""
    value = get("MESSAGING_GIVE_UP_AFTER", None)
    if value is None:
        return None
    return positive_duration("MESSAGING_GIVE_UP_AFTER", value)


def positive_duration(name: str, value: Any) -> datetime.timedelta:
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = datetime.timedelta(seconds=value)
    if not isinstance(value, datetime.timedelta) or value <= datetime.timedelta(0):
        raise ConfigurationError(
            f"{name} must be a positive datetime.timedelta or number of seconds, got {value!r}."
        )
    return value
