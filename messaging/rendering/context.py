"""What templates see: plain, read-only copies of the context and of the receiver."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, time
from types import MappingProxyType
from typing import Any

from django.utils.translation import gettext as _

from .. import conf, users
from ..exceptions import TemplateRenderError
from .controls import without_controls

#: Names the pipeline gives templates itself; a context may not use them.
RESERVED_NAMES = frozenset({"user"})

PLAIN_TYPES = (str, int, float, bool, type(None))


def plain_value(value: Any) -> Any:
    """A JSON-friendly copy of ``value``: no model instances or callables reach templates.

    Its text (keys too) holds no control character but tab, line feed and carriage
    return (see :mod:`.controls`), so it is stored alike by every database.
    """
    if isinstance(value, str):
        return without_controls(value)
    if isinstance(value, PLAIN_TYPES):
        return value
    if isinstance(value, Mapping):
        return {plain_value(str(key)): plain_value(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [plain_value(item) for item in value]
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    return without_controls(str(value))  # Decimal and anything else: its text


def plain_context(context: Mapping[str, Any]) -> dict[str, Any]:
    return plain_value(dict(context))


def user_context(user: Any) -> dict[str, str]:
    """The receiver's values as a plain dict of text (``MESSAGING_USER_CONTEXT``)."""
    return users.user_context(user)


def frozen(value: Any) -> Any:
    """A read-only copy of a plain value.

    Templates call methods that take no argument (``{{ items.pop }}``), so a list or dict
    shared by all receivers must not be the mutable one.
    """
    if isinstance(value, Mapping):
        return MappingProxyType({key: frozen(item) for key, item in value.items()})
    if isinstance(value, list | tuple):
        return tuple(frozen(item) for item in value)
    return value


def full_context(context: Mapping[str, Any], user: Any) -> dict[str, Any]:
    """What a template sees for ``user``: the plain, read-only context and ``user``."""
    return {**frozen(plain_context(context)), "user": frozen(user_context(user))}


def check_context(context: Mapping[str, Any]) -> None:
    """Refuse a context key that collides with a name the pipeline sets."""
    taken = RESERVED_NAMES.intersection(str(key) for key in context)
    if taken:
        raise TemplateRenderError(
            _(
                "The context has the key %(keys)s, which templates use for the receiver. "
                "Rename it in the code that sends the message."
            )
            % {"keys": ", ".join(sorted(taken))}
        )


def sample_context(context_type: str) -> dict[str, Any]:
    """The sample values of a context type (``MESSAGING_CONTEXT_VARIABLES``)."""
    return dict(conf.context_variables().get(context_type, {}))


def sample_user(language: str) -> dict[str, str]:
    first, last = ("Ola", "Nordmann") if language == "nb" else ("Alex", "Example")
    return {
        "first_name": first,
        "last_name": last,
        "full_name": f"{first} {last}",
        "username": first.lower(),
        "email": f"{first.lower()}@example.org",
    }


def sample_values(context_type: str, language: str) -> dict[str, Any]:
    """What a template sees in the preview and when it is checked on save."""
    values = {**sample_context(context_type), "user": sample_user(language)}
    return dict(frozen(plain_value(values)))
