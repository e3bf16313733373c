"""How fast each mailer may send: one rate shared by every worker, and where it is kept."""

from __future__ import annotations

from typing import Any

from ..exceptions import ConfigurationError
from .base import get
from .delivery import rq_queue_names

RATE_LIMIT_STORES = ("auto", "database", "redis")


def max_per_second(mailer: str = "default") -> float | None:
    """The most emails per second that ``mailer`` sends, all workers and machines together;
    ``None`` (the default) means no limit.

    ``MESSAGING_MAX_PER_SECOND`` is a number, which applies to each mailer, or a dict of
    mailer alias to number (``{"default": 20, "bulk": 5}``), where a mailer left out has no
    limit. A token bucket shared by every worker holds it (see
    :func:`rate_limit_store`); it lets through a burst of at most a tenth of a second's
    worth after an idle spell.
    """
    value = get("MESSAGING_MAX_PER_SECOND", None)
    if isinstance(value, dict):
        checked = {alias: rate_value(rate) for alias, rate in value.items()}
        return checked.get(mailer)
    return rate_value(value)


def rate_value(value: Any) -> float | None:
    if value in (None, "", 0):
        return None
    try:
        rate = float(value)
    except (TypeError, ValueError):
        rate = -1.0
    if rate <= 0 or isinstance(value, bool):
        raise ConfigurationError(
            "MESSAGING_MAX_PER_SECOND must be a positive number, a dict of mailer alias to "
            f"positive number, or None; got {value!r}."
        )
    return rate


def rate_limit_store() -> str:
    """Where the shared token bucket of :func:`max_per_second` is kept: ``"database"`` (a
    row per mailer in the site's database) or ``"redis"`` (a key per mailer on the Redis of
    the RQ queue that delivery uses).

    ``MESSAGING_RATE_LIMIT_STORE`` is ``"auto"`` (the default: Redis when ``TASKS["default"]``
    is django-tasks-rq, else the database), ``"database"`` or ``"redis"`` (which needs the
    RQ backend).
    """
    value = get("MESSAGING_RATE_LIMIT_STORE", "auto")
    if value not in RATE_LIMIT_STORES:
        raise ConfigurationError(
            f"MESSAGING_RATE_LIMIT_STORE must be one of {', '.join(RATE_LIMIT_STORES)}; "
            f"got {value!r}."
        )
    uses_rq = rq_queue_names() is not None
    if value == "redis" and not uses_rq:
        raise ConfigurationError(
            "MESSAGING_RATE_LIMIT_STORE is 'redis', which uses the Redis of the RQ task "
            "backend, but TASKS['default'] is not django-tasks-rq. Set it to 'auto' or "
            "'database', or run the tasks on RQ."
        )
    if value == "auto":
        return "redis" if uses_rq else "database"
    return value
