"""How a setting is read: its default, and the checks every setting shares."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.utils.module_loading import import_string

from ..exceptions import ConfigurationError

UNSET = object()


def get(name: str, default: Any) -> Any:
    return getattr(settings, name, default)


def non_negative_int(name: str, value: Any) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = -1
    if number < 0:
        raise ConfigurationError(
            f"{name} must be a whole number >= 0, got {value!r}. Fix it in your settings."
        )
    return number


def first_set(*names: str, default: Any) -> tuple[str | None, Any]:
    """The first of ``names`` that the settings define, with its value; else the default."""
    for name in names:
        value = get(name, UNSET)
        if value is not UNSET:
            return name, value
    return None, default


def callable_setting(name: str, default: str, contract: str) -> Callable[[Any], Any]:
    path = get(name, default)
    try:
        return import_string(path)
    except ImportError as error:
        raise ConfigurationError(
            f"{name}={path!r} cannot be imported ({error}). Give the dotted path of a {contract}."
        ) from error


def flag(name: str, default: bool) -> bool:
    value = get(name, default)
    if not isinstance(value, bool):
        raise ConfigurationError(f"{name} must be True or False, got {value!r}.")
    return value
