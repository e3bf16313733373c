"""Templates checked on save and previewed, rendered with the context type's sample values."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.template import VariableDoesNotExist
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from wagtail.rich_text import expand_db_html

from .. import conf
from ..exceptions import TemplateRenderError
from .context import sample_user, sample_values
from .engine import limited_context, render_limited
from .pipeline import (
    TRANSLATED_FIELDS,
    RenderedEmail,
    compile_body,
    compile_email,
    compile_field,
    field_name,
    language_name,
    subject_context,
)
from .source import check_source

FIELD_LABELS = {
    "subject": gettext_lazy("Subject"),
    "body": gettext_lazy("Body"),
    "body_text": gettext_lazy("Plain-text body"),
}


def render_sample(template: Any, language: str) -> RenderedEmail:
    """The email as a receiver in ``language`` would get it, with sample values.

    The same code path as sending; rendered inside the language override because
    callers (Wagtail's preview) may evaluate lazy responses after returning.
    """
    language = conf.normalize_language(language) or conf.default_language()
    with translation.override(language):
        values = sample_values(template.context_type, language)
        return compile_email(template, language).render(values)


def render_preview(template: Any, language: str) -> str:
    """The editors' preview page: subject, the HTML in a sandboxed frame, the plain text."""
    email = render_sample(template, language)
    with translation.override(email.language):
        return render_to_string(
            "messaging/snippets/preview.html",
            {"email": email, "to": sample_user(email.language)["email"]},
        )


def check_field(source: str, base: str, language: str, values: dict[str, Any]) -> None:
    """Compile and render one field with sample values; raise if it would fail to send."""
    if base != "body":
        render_limited(compile_field(source), limited_context(values, False))
        return
    body = compile_body(expand_db_html(source), language)
    render_limited(body.html, subject_context(values, "", True))
    if body.text is not None:
        render_limited(body.text, subject_context(values, "", False))


def field_error(base: str, language: str, error: Exception) -> str:
    if isinstance(error, VariableDoesNotExist):
        reason = _(
            "%(name)s has no value among the sample values of this context type. Use a "
            "variable listed under Variables, or give it a default (|default:'...')."
        ) % {"name": error.params[0] if error.params else "?"}
    elif isinstance(error, TemplateRenderError):
        reason = str(error)
    else:
        reason = f"{type(error).__name__}: {error}"
    return _("%(field)s (%(language)s): %(reason)s") % {
        "field": FIELD_LABELS[base],
        "language": language_name(language),
        "reason": reason,
    }


def validate_template(template: Any) -> None:
    """Raise one ``ValidationError`` naming every language field that would not render.

    Each non-empty field is rendered with the context type's sample values and a sample
    user, under the same limits as sending.
    """
    errors: dict[str, list[str]] = {}
    for language in conf.site_languages():
        values = sample_values(template.context_type, language)
        for base in TRANSLATED_FIELDS:
            source = getattr(template, field_name(base, language), "") or ""
            if not source:
                continue
            try:
                # What editors may write is checked in the editor's own language, so the
                # refusal reads in it; the render runs in the field's language.
                check_source(expand_db_html(source) if base == "body" else source)
                with translation.override(language):
                    check_field(source, base, language, values)
            except (TemplateRenderError, Exception) as error:  # noqa: BLE001 - shown to editors
                errors[field_name(base, language)] = [field_error(base, language, error)]
    if errors:
        raise ValidationError(errors)
