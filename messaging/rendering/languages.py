"""A template's text in a language."""

from __future__ import annotations

from typing import Any

from modeltranslation.utils import build_localized_fieldname

from .. import conf


def translated(template: Any, field: str, language: str) -> str:
    """``field`` in ``language``, falling back to the default language when empty."""
    value = getattr(template, build_localized_fieldname(field, language), None)
    if not value:
        value = getattr(template, build_localized_fieldname(field, conf.default_language()), "")
    return value or ""
