"""Template + language + context -> subject, HTML and plain text of one email.

The public face is :func:`render_for_users` (sending) and :func:`render_sample` (preview
and checks on save). Modules: ``engine`` (allowlisted tags and filters, limits),
``context`` (what templates see), ``controls`` (the control-character rule for all
stored text), ``languages``, ``layout`` (layout, CSS, html2text),
``protect`` and ``urls`` (tags through lxml/premailer/html2text, values in links),
``pipeline`` (one pipeline) and ``samples`` (preview, checks on save).
This package never imports ``messaging.models``.
"""

from .context import (
    frozen,
    full_context,
    plain_context,
    plain_value,
    sample_context,
    sample_user,
    user_context,
)
from .controls import check_no_controls, without_controls
from .engine import ALLOWED_FILTERS, ALLOWED_TAGS, engine
from .languages import translated
from .layout import BODY_FEATURES, html_to_plain, inline_css, render_layout, stylesheet
from .pipeline import (
    CompiledEmail,
    RenderedEmail,
    check_direct,
    compile_email,
    one_line,
    prefixed_subject,
    render_direct,
    render_for_users,
    subject_line,
    with_unsubscribe_link,
)
from .samples import render_preview, render_sample, validate_template
from .source import check_source

__all__ = [
    "ALLOWED_FILTERS",
    "BODY_FEATURES",
    "ALLOWED_TAGS",
    "CompiledEmail",
    "RenderedEmail",
    "check_direct",
    "check_no_controls",
    "check_source",
    "compile_email",
    "engine",
    "frozen",
    "full_context",
    "html_to_plain",
    "inline_css",
    "one_line",
    "plain_context",
    "plain_value",
    "prefixed_subject",
    "render_direct",
    "render_for_users",
    "render_layout",
    "render_preview",
    "render_sample",
    "sample_context",
    "sample_user",
    "stylesheet",
    "subject_line",
    "translated",
    "user_context",
    "validate_template",
    "with_unsubscribe_link",
    "without_controls",
]
