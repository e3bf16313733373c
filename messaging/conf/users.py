"""Where a user's addresses, values, language and time zone come from."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .base import callable_setting


def user_emails_resolver() -> Callable[[Any], list[str]]:
    """The callable giving a user's addresses (``MESSAGING_USER_EMAILS``)."""
    return callable_setting(
        "MESSAGING_USER_EMAILS",
        "messaging.users.default_user_emails",
        "callable(user) -> list[str]",
    )


def user_context_resolver() -> Callable[[Any], dict[str, str]]:
    """The callable giving what templates see as ``user`` (``MESSAGING_USER_CONTEXT``)."""
    return callable_setting(
        "MESSAGING_USER_CONTEXT",
        "messaging.users.default_user_context",
        "callable(user) -> dict[str, str]",
    )


def user_language_resolver() -> Callable[[Any], str]:
    """The callable that gives a user's language code (``MESSAGING_USER_LANGUAGE``)."""
    return callable_setting(
        "MESSAGING_USER_LANGUAGE",
        "messaging.users.default_user_language",
        "callable(user) -> language code",
    )


def user_timezone_resolver() -> Callable[[Any], str]:
    """The callable that gives a user's time zone name (``MESSAGING_USER_TIMEZONE``)."""
    return callable_setting(
        "MESSAGING_USER_TIMEZONE",
        "messaging.users.default_user_timezone",
        "callable(user) -> time zone name such as 'Europe/Oslo'",
    )
