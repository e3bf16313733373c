"""How and how fast emails go out: retries, batches, tasks, speed tricks, secrets, bounces."""

from __future__ import annotations

import datetime
from typing import Any

from django.conf import settings

from ..exceptions import ConfigurationError
from .base import UNSET, first_set, flag, get, non_negative_int


def resend_limit() -> int:
    """How many failed attempts a receiver may have before it is marked ``error``.

    ``MESSAGING_RESEND_LIMIT`` wins; when it is not set, the original product's
    ``DEVILRY_MESSAGE_RESEND_LIMIT`` is honoured; the default is 2.
    """
    value = get("MESSAGING_RESEND_LIMIT", UNSET)
    name = "MESSAGING_RESEND_LIMIT"
    if value is UNSET:
        value = get("DEVILRY_MESSAGE_RESEND_LIMIT", 2)
        name = "DEVILRY_MESSAGE_RESEND_LIMIT"
    return non_negative_int(name, value)


def batch_size() -> int:
    """Receivers per delivery task; one task reuses one mail connection."""
    return max(1, non_negative_int("MESSAGING_BATCH_SIZE", get("MESSAGING_BATCH_SIZE", 100)))


def max_stored_errors() -> int:
    """How many of the newest failed attempts are kept in ``status_data["errors"]``."""
    value = get("MESSAGING_MAX_STORED_ERRORS", 10)
    return max(1, non_negative_int("MESSAGING_MAX_STORED_ERRORS", value))


def claim_lease_seconds() -> int:
    """How long a worker's claim on a receiver lasts before another may take it over."""
    value = get("MESSAGING_CLAIM_LEASE_SECONDS", 600)
    return max(1, non_negative_int("MESSAGING_CLAIM_LEASE_SECONDS", value))


def retry_base_delay() -> int:
    """Seconds before the first automatic retry of a transient failure.

    RFC 5321 (4.5.4.1) asks senders to wait at least 30 minutes between retries;
    the default waits 30 minutes first and doubles from there.
    """
    value = get("MESSAGING_RETRY_BASE_DELAY", 30 * 60)
    return non_negative_int("MESSAGING_RETRY_BASE_DELAY", value)


def retry_max_delay() -> int:
    """Upper bound in seconds of the exponential backoff (default: 4 hours)."""
    value = get("MESSAGING_RETRY_MAX_DELAY", 4 * 60 * 60)
    return non_negative_int("MESSAGING_RETRY_MAX_DELAY", value)


def reconnect_limit() -> int:
    """How often one batch reconnects after the server closed the connection (421)
    before it releases the rest of its receivers (default: 10)."""
    value = get("MESSAGING_RECONNECT_LIMIT", 10)
    return non_negative_int("MESSAGING_RECONNECT_LIMIT", value)


def task_queue(priority: str = "normal") -> str:
    """The tasks queue that delivery of ``priority`` is enqueued on.

    ``normal``: ``MESSAGING_TASK_QUEUE``, else the original's ``DEVILRY_MESSAGE_RQ_QUEUENAME``,
    else ``"default"``. ``high`` and ``low``: ``MESSAGING_PRIORITY_QUEUES`` (default
    ``{"high": "high", "low": "low"}``), used only on a backend that cannot order tasks by
    priority itself (RQ), whose workers take the queues in order (``high default low``).
    """
    if priority != "normal":
        return priority_queues()[priority]
    name, value = first_set(
        "MESSAGING_TASK_QUEUE", "DEVILRY_MESSAGE_RQ_QUEUENAME", default="default"
    )
    if not isinstance(value, str) or not value:
        raise ConfigurationError(f"{name} must be the name of a tasks queue, got {value!r}.")
    return value


def priority_queues() -> dict[str, str]:
    """The queue of each priority on a backend without priorities, ``normal`` included.

    ``MESSAGING_PRIORITY_QUEUES`` names the ``high`` and ``low`` ones; an RQ backend of
    ``TASKS["default"]`` must offer all three (in ``QUEUES`` when given, and ``RQ_QUEUES``).
    """
    value = get("MESSAGING_PRIORITY_QUEUES", {"high": "high", "low": "low"})
    if (
        not isinstance(value, dict)
        or set(value) != {"high", "low"}
        or not all(isinstance(queue, str) and queue for queue in value.values())
    ):
        raise ConfigurationError(
            "MESSAGING_PRIORITY_QUEUES must name the queue of high and of low priority "
            f"emails, e.g. {{'high': 'high', 'low': 'low'}}; got {value!r}."
        )
    # The normal queue as set (messaging.E011 says when it is unusable).
    _name, normal = first_set(
        "MESSAGING_TASK_QUEUE", "DEVILRY_MESSAGE_RQ_QUEUENAME", default="default"
    )
    queues = {"high": value["high"], "normal": normal, "low": value["low"]}
    if len(set(queues.values())) < 3:
        raise ConfigurationError(
            f"MESSAGING_PRIORITY_QUEUES and MESSAGING_TASK_QUEUE must name three different "
            f"queues, got {queues!r}."
        )
    accepted = rq_queue_names()
    missing = [q for q in queues.values() if q not in accepted] if accepted is not None else []
    if missing:
        raise ConfigurationError(
            f"TASKS['default'] is RQ, which orders emails by priority through queues, and "
            f"lacks {missing}. Add {list(queues.values())} to its QUEUES and to RQ_QUEUES, "
            f"and run workers on them in that order: rqworker {' '.join(queues.values())}."
        )
    return queues


def rq_queue_names() -> set[str] | None:
    """The queues an RQ backend of ``TASKS["default"]`` accepts; ``None`` for another."""
    options = get("TASKS", {}).get("default", {})
    if not options.get("BACKEND", "").startswith("django_tasks_rq."):
        return None
    return set(options.get("QUEUES") or get("RQ_QUEUES", {}))


def task_backends() -> dict[str, dict[str, Any]]:
    """Django's ``TASKS``; an RQ backend there may only name queues that ``RQ_QUEUES`` has."""
    tasks = get("TASKS", {})
    rq_queues = get("RQ_QUEUES", {})
    for alias, options in tasks.items():
        if options.get("BACKEND", "").startswith("django_tasks_rq."):
            missing = set(options.get("QUEUES", ["default"])) - set(rq_queues)
            if missing:
                raise ConfigurationError(
                    f"TASKS[{alias!r}] uses queues {sorted(missing)} that RQ_QUEUES lacks. "
                    "Add every queue listed in TASKS to RQ_QUEUES."
                )
    return tasks


def send_email_to_users() -> bool:
    """Whether emails go out at all (the kill switch).

    ``MESSAGING_SEND_EMAIL_TO_USERS``, else ``DEVILRY_SEND_EMAIL_TO_USERS``, else ``True``.
    While it is ``False``, every receiver is still recorded with its content, but as
    ``error`` with a reason naming the setting, and no send is asked for: nothing goes out
    later by surprise.
    """
    name, value = first_set(
        "MESSAGING_SEND_EMAIL_TO_USERS", "DEVILRY_SEND_EMAIL_TO_USERS", default=True
    )
    if not isinstance(value, bool):
        raise ConfigurationError(f"{name} must be True or False, got {value!r}.")
    return value


def send_email_setting_name() -> str:
    """The name of the setting that decides :func:`send_email_to_users`, for messages."""
    name, _value = first_set(
        "MESSAGING_SEND_EMAIL_TO_USERS", "DEVILRY_SEND_EMAIL_TO_USERS", default=None
    )
    return name or "MESSAGING_SEND_EMAIL_TO_USERS"


# Django 6.1 deprecates them for MAILERS: read only where a site still sets them, since
# reading one (even its empty default) warns there.
EMAIL_CREDENTIALS = ("EMAIL_HOST_PASSWORD", "EMAIL_HOST_USER")


def secret_setting_names() -> list[str]:
    """Settings whose values are scrubbed from stored error messages and tracebacks:
    ``SECRET_KEY``, ``MESSAGING_SECRET_SETTINGS``, and ``EMAIL_HOST_PASSWORD`` and
    ``EMAIL_HOST_USER`` where the site sets them.

    ``MESSAGING_SECRET_SETTINGS`` names more of them. A value may be a string or a dict or
    list of them (``ANYMAIL = {"..._API_KEY": ...}``); every string inside is scrubbed.
    ``EMAIL_HOST_PASSWORD``, ``EMAIL_HOST_USER``, ``SECRET_KEY`` and the user names and
    passwords in ``MAILERS`` always are.
    """
    extra = list(get("MESSAGING_SECRET_SETTINGS", []))
    # django-stubs does not know LazySettings.is_overridden.
    email = [name for name in EMAIL_CREDENTIALS if settings.is_overridden(name)]  # type: ignore[misc]
    return [*email, "SECRET_KEY", *extra]


def secret_values() -> list[Any]:
    """The values of :func:`secret_setting_names` and the credentials of every ``MAILERS``
    entry (Django 6.1's successor of ``EMAIL_HOST_USER``/``EMAIL_HOST_PASSWORD``)."""
    values = [get(name, None) for name in secret_setting_names()]
    return [*values, *_mailer_credentials()]


def _mailer_credentials() -> list[str]:
    # MESSAGING_MAILER_SETTINGS holds Django 5.2's further mailers, shaped as MAILERS.
    entries = [get(name, None) for name in ("MAILERS", "MESSAGING_MAILER_SETTINGS")]
    found = []
    for mailer in [m for e in entries if isinstance(e, dict) for m in e.values()]:
        options = mailer.get("OPTIONS", {}) if isinstance(mailer, dict) else {}
        found += [options.get(key) for key in ("username", "password") if options.get(key)]
    return found


def bounce_address() -> str:
    """The address bounces go to (``MESSAGING_BOUNCE_ADDRESS``); empty turns VERP off.

    When set, e.g. ``bounces@example.org``, each email's envelope sender is
    ``bounces+r<receiver id>.<hmac>@example.org``; the ``From:`` header is unchanged.
    """
    value = str(get("MESSAGING_BOUNCE_ADDRESS", "") or "").strip()
    if value and (value.count("@") != 1 or "+" in value.split("@")[0]):
        raise ConfigurationError(
            f"MESSAGING_BOUNCE_ADDRESS must be one plain address such as "
            f"'bounces@example.org' (no '+' in the local part), got {value!r}."
        )
    return value


# Reports about emails sent before an upgrade arrive within days (bounces) or weeks
# (complaints); sites upgrading after this date should set a later one.
LEGACY_SIGNATURES_UNTIL = datetime.date(2027, 12, 31)


def bounce_legacy_signatures_until() -> datetime.date | None:
    """The last day on which the HMAC-SHA1 signatures of messaging 0.1's return paths and
    Message-IDs are matched (``MESSAGING_BOUNCE_LEGACY_SIGNATURES_UNTIL``, a date or an
    ISO ``"YYYY-MM-DD"``, default 31 December 2027); ``None`` matches none."""
    value = get("MESSAGING_BOUNCE_LEGACY_SIGNATURES_UNTIL", LEGACY_SIGNATURES_UNTIL)
    if value is None or (
        isinstance(value, datetime.date) and not isinstance(value, datetime.datetime)
    ):
        return value
    try:
        return datetime.date.fromisoformat(value)
    except (TypeError, ValueError):
        raise ConfigurationError(
            "MESSAGING_BOUNCE_LEGACY_SIGNATURES_UNTIL must be a date such as "
            f"datetime.date(2027, 12, 31) or '2027-12-31', or None, got {value!r}."
        ) from None


def max_delivery_events() -> int:
    """How many of the newest delivery events a receiver keeps (default 20)."""
    value = get("MESSAGING_MAX_DELIVERY_EVENTS", 20)
    return max(1, non_negative_int("MESSAGING_MAX_DELIVERY_EVENTS", value))


def smtp_pipelining() -> bool:
    """Whether each envelope is pipelined (RFC 2920) where the server offers it (default
    ``True``); a speed trick, see Performance."""
    return flag("MESSAGING_SMTP_PIPELINING", True)


def async_status_writes() -> bool:
    """Whether a success is written while the next envelope is answered (default ``True``;
    libpq's pipeline on PostgreSQL); a speed trick, see Performance."""
    return flag("MESSAGING_ASYNC_STATUS_WRITES", True)


def direct_mime() -> bool:
    """Whether an email of the app's own shape is written directly, byte for byte as Django
    and Python would write it, on the (Django, Python) versions CI compares (default
    ``True``); a speed trick, see Performance. Off, Django builds every email."""
    return flag("MESSAGING_DIRECT_MIME", True)


def connections_per_worker() -> int:
    """SMTP connections one delivery task sends its batch over at once, one thread each
    (default 1); see Workers and scale-out."""
    value = get("MESSAGING_CONNECTIONS_PER_WORKER", 1)
    return max(1, non_negative_int("MESSAGING_CONNECTIONS_PER_WORKER", value))
