"""Where a user's addresses, values, language and time zone come from, and how staff
search for users."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import FieldError

from ..exceptions import ConfigurationError
from .base import callable_setting, get

# Name fields the default search looks in, when the user model has them: Django's, and the
# original product's (Devilry's fullname and shortname).
USER_NAME_FIELDS = ("first_name", "last_name", "fullname", "shortname")


def user_emails_resolver() -> Callable[[Any], list[str]]:
    """The callable giving a user's addresses (``MESSAGING_USER_EMAILS``).

    A dotted path of a ``callable(user) -> list[str]``. Default: the user model's email
    field, when it is set. A user's email goes to all of them in one SMTP transaction.
    """
    return callable_setting(
        "MESSAGING_USER_EMAILS",
        "messaging.users.default_user_emails",
        "callable(user) -> list[str]",
    )


def user_context_resolver() -> Callable[[Any], dict[str, str]]:
    """The callable giving what templates see as ``user`` (``MESSAGING_USER_CONTEXT``).

    A dotted path of a ``callable(user) -> dict[str, str]``. Default: ``first_name``,
    ``last_name``, ``full_name`` (else the username), ``username`` and ``email`` (the first
    address). Every value is made text.
    """
    return callable_setting(
        "MESSAGING_USER_CONTEXT",
        "messaging.users.default_user_context",
        "callable(user) -> dict[str, str]",
    )


def user_language_resolver() -> Callable[[Any], str]:
    """The callable that gives a user's language code (``MESSAGING_USER_LANGUAGE``).

    A dotted path of a ``callable(user) -> language code``. Default: the Wagtail profile's
    preferred language, else ``LANGUAGE_CODE``.
    """
    return callable_setting(
        "MESSAGING_USER_LANGUAGE",
        "messaging.users.default_user_language",
        "callable(user) -> language code",
    )


def user_timezone_resolver() -> Callable[[Any], str]:
    """The callable that gives a user's time zone name (``MESSAGING_USER_TIMEZONE``).

    A dotted path of a ``callable(user) -> time zone name``. Default: the Wagtail profile's
    time zone, else ``TIME_ZONE``. Digests go out at each user's local hour.
    """
    return callable_setting(
        "MESSAGING_USER_TIMEZONE",
        "messaging.users.default_user_timezone",
        "callable(user) -> time zone name such as 'Europe/Oslo'",
    )


def user_search_fields() -> list[str]:
    """The user fields the admin's searches look in (``MESSAGING_USER_SEARCH_FIELDS``).

    A list of field names of the user model, or lookups through its relations such as
    ``"useremail__email"``. Default (``None``): of ``first_name``, ``last_name``,
    ``fullname``, ``shortname``, the username field and the email field, those that the
    user model has.
    """
    value = get("MESSAGING_USER_SEARCH_FIELDS", None)
    if value is None:
        return default_user_search_fields()
    if isinstance(value, str) or not value or not all(isinstance(n, str) for n in value):
        raise ConfigurationError(
            f"MESSAGING_USER_SEARCH_FIELDS must be a list of user field names, got {value!r}."
        )
    users = get_user_model()._default_manager
    for name in value:
        try:
            users.filter(**{f"{name}__icontains": ""})
        except FieldError as error:
            raise ConfigurationError(
                f"MESSAGING_USER_SEARCH_FIELDS: the user model cannot be searched by {name!r} "
                f"({error}). Name a text field of it, or one through a relation."
            ) from error
    return list(value)


def default_user_search_fields() -> list[str]:
    """Of ``first_name``, ``last_name``, ``fullname``, ``shortname``, the username field and
    the email field, those that the user model has."""
    model = get_user_model()
    names = [*USER_NAME_FIELDS, model.USERNAME_FIELD, model.get_email_field_name()]
    concrete = {field.name for field in model._meta.concrete_fields}
    return [name for name in dict.fromkeys(names) if name in concrete]
