"""The straightforward rendering pipeline, as a reference for tests and benchmarks.

A site that customises the layout, the CSS or the user context can check, in its own
tests, that what its users get equals what rendering each email from scratch gives.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.utils import translation
from wagtail.rich_text import expand_db_html

from ..rendering.context import full_context
from ..rendering.controls import without_controls
from ..rendering.engine import limited_context, render_limited
from ..rendering.languages import translated
from ..rendering.layout import html_to_plain, inline_css, render_layout, with_signature
from ..rendering.pipeline import RenderedEmail, compile_field, subject_line
from ..users import user_language


def render_straightforward(
    template: Any, user: Any, context: Mapping[str, Any], language: str | None = None
) -> RenderedEmail:
    """One receiver from scratch: render, wrap, inline CSS, convert to text.

    The reference that :func:`messaging.rendering.render_for_users` is compared with (it
    compiles once per language and renders per receiver; this does everything per
    receiver). It neither encodes values in links nor checks their schemes, so it is never
    used to send.
    """
    language = language or user_language(user)
    values = full_context(context, user)
    with translation.override(language):
        subject = subject_line(
            render_limited(
                compile_field(translated(template, "subject", language)),
                limited_context(values, False),
            )
        )
        body = compile_field(expand_db_html(translated(template, "body", language)))
        html = inline_css(
            render_layout(render_limited(body, limited_context(values)), subject, language)
        )
        text_source = translated(template, "body_text", language)
        if text_source:
            plain = render_limited(compile_field(text_source), limited_context(values, False))
            plain = with_signature(plain, language)
        else:
            plain = html_to_plain(html)
    return RenderedEmail(
        subject=subject,
        html=without_controls(html),
        plain=without_controls(plain),
        language=language,
    )
