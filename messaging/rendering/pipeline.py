"""One pipeline from template + language + context to subject, HTML and plain text.

Per template and language, :func:`compile_email` wraps the body in the layout, inlines the
CSS with premailer and converts the result to plain text with html2text, every template
tag protected as a mark (see :mod:`.protect`). Per receiver only Django renders: the HTML
with autoescaping, the text with values as they are.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.template.base import TokenType
from django.utils import translation
from django.utils.translation import gettext as _
from modeltranslation.utils import build_localized_fieldname
from wagtail.rich_text import expand_db_html

from .. import conf
from ..exceptions import TemplateRenderError
from ..users import user_languages
from . import protect
from .context import check_context, frozen, plain_context, user_context
from .controls import without_controls
from .engine import RestrictedEngine, limited_context, render_limited
from .languages import translated
from .layout import (
    add_unsubscribe_footer,
    html_to_plain,
    inline_css,
    render_layout,
    with_signature,
)
from .source import check_source, compile_source, tokens
from .urls import internal_library

TRANSLATED_FIELDS = ("subject", "body", "body_text")
SUBJECT_LIMIT = 998  # RFC 5322's line limit, and the receiver's subject column
BODY_MARK, SUBJECT_MARK = protect.mark(10**9), protect.mark(10**9 + 1)

document_engine = RestrictedEngine(internal_library())


@dataclass(frozen=True)
class RenderedEmail:
    """One receiver's email, ready to store."""

    subject: str
    html: str
    plain: str
    language: str


def one_line(text: str) -> str:
    """``text`` on one line: each run of whitespace (line breaks too) is one space, and the
    other control characters are removed (see :mod:`.controls`)."""
    words = (without_controls(word) for word in text.split())
    return " ".join(word for word in words if word)


def subject_line(text: str) -> str:
    """One :func:`one_line` of at most :data:`SUBJECT_LIMIT` characters, cut with an
    ellipsis."""
    line = one_line(text)
    return line if len(line) <= SUBJECT_LIMIT else line[: SUBJECT_LIMIT - 1] + "…"


def prefixed_subject(subject: str, prefix: str | None = None) -> str:
    """``prefix`` (by default ``MESSAGING_SUBJECT_PREFIX``) then ``subject``, as one
    :func:`subject_line`: cut after the prefix is added, so that the whole fits the
    receiver's subject column and one header line."""
    prefix = conf.subject_prefix() if prefix is None else prefix
    return subject_line(prefix + subject)


@dataclass(frozen=True)
class CompiledBody:
    """The body in the layout, CSS inlined, as a template for the HTML and for the text."""

    html: Any
    text: Any | None  # None: html2text dropped a block tag; text is converted per receiver


def compile_body(source: str, language: str) -> CompiledBody:
    """Protect the tags of ``source``, check where they stand, inline once, put them back."""
    check_source(source)
    body, saved = protect.protect(tokens(source))
    layout = render_layout(BODY_MARK, SUBJECT_MARK, language)
    document = layout.replace(BODY_MARK, body).replace(SUBJECT_MARK, protect.mark(len(saved)))
    where = protect.positions(document)
    protect.check_blocks(saved, where)
    replacements = [protect.replacement(token, where.get(i)) for i, token in enumerate(saved)]
    replacements.append("{% email_subject %}")
    inlined = inline_css(document)
    if sorted(protect.marks_in(inlined)) != list(range(len(replacements))):
        raise TemplateRenderError(_("Inlining the CSS lost or repeated a template tag."))
    html = document_engine.from_string(protect.restored(inlined, replacements))
    blocks = {i for i, token in enumerate(saved) if token.token_type is TokenType.BLOCK}
    return CompiledBody(html, compile_text(html_to_plain(inlined), blocks, replacements))


def compile_text(skeleton: str, blocks: set[int], replacements: list[str]) -> Any | None:
    """The plain text as a template, or None when html2text dropped or repeated a block tag."""
    kept = protect.marks_in(skeleton)
    if any(kept.count(index) != 1 for index in blocks):
        return None
    text = protect.trim_block_lines(skeleton, blocks)
    return document_engine.from_string(protect.restored(text, replacements))


@dataclass(frozen=True)
class CompiledEmail:
    """A template compiled for one language, ready to render per receiver."""

    language: str
    subject: Any
    body: CompiledBody
    body_text: Any | None

    def render(self, values: dict[str, Any]) -> RenderedEmail:
        """The email for ``values``; a :class:`TemplateRenderError` says what went wrong."""
        try:
            subject = subject_line(render_limited(self.subject, limited_context(values, False)))
            html = render_limited(self.body.html, subject_context(values, subject, True))
            plain = without_controls(self.plain(values, subject, html))
            html = without_controls(html)
        except TemplateRenderError:
            raise
        except Exception as error:
            raise TemplateRenderError(
                _("The template failed to render in %(language)s: %(error)s")
                % {"language": self.language, "error": f"{type(error).__name__}: {error}"}
            ) from error
        return RenderedEmail(subject=subject, html=html, plain=plain, language=self.language)

    def plain(self, values: dict[str, Any], subject: str, html: str) -> str:
        if self.body_text is not None:
            plain = render_limited(self.body_text, limited_context(values, False))
            return with_signature(plain, self.language)
        if self.body.text is None:
            return html_to_plain(html)
        return render_limited(self.body.text, subject_context(values, subject, False))


def subject_context(values: dict[str, Any], subject: str, autoescape: bool):
    context = limited_context(values, autoescape)
    context.messaging_subject = subject  # an attribute: no context name is taken
    return context


def compile_email(template: Any, language: str) -> CompiledEmail:
    """Compile ``template``'s fields in ``language`` (empty ones fall back to the default)."""
    with translation.override(language):
        body_text = translated(template, "body_text", language)
        return CompiledEmail(
            language=language,
            subject=compile_field(translated(template, "subject", language)),
            body=compile_body(expand_db_html(translated(template, "body", language)), language),
            body_text=compile_field(body_text) if body_text else None,
        )


def compile_field(source: str) -> Any:
    check_source(source)
    return compile_source(source)


# --- public face -------------------------------------------------------------------------


def render_for_users(
    template: Any,
    users: list[Any],
    context: Mapping[str, Any],
    compiled: dict[str, CompiledEmail] | None = None,
    language: str | None = None,
) -> list[RenderedEmail]:
    """Every user's email in the user's language (or in ``language`` when given),
    compiling once per language.

    Pass the same ``compiled`` dict to render a long list of users chunk by chunk.
    """
    check_context(context)
    compiled = {} if compiled is None else compiled
    base = frozen(plain_context(context))
    languages = [language] * len(users) if language else user_languages(users)
    emails = []
    for user, code in zip(users, languages, strict=True):
        if code not in compiled:
            compiled[code] = compile_email(template, code)
        with translation.override(code):
            user_values = frozen(user_context(user))
            emails.append(compiled[code].render({**base, "user": user_values}))
    return emails


def check_direct(subject: str | None, html_body: str | None, plain: str | None) -> None:
    if not subject or not (html_body or plain):
        raise TemplateRenderError(
            "send_message() needs a template, or a subject with html (or plain) content."
        )


def render_direct(
    users: Iterable[Any], subject: str | None, html_body: str | None, plain: str | None
) -> list[RenderedEmail]:
    """Content given by application code, the same for every user (control characters
    removed from the HTML and text, see :mod:`.controls`)."""
    check_direct(subject, html_body, plain)
    html_body = without_controls(html_body or "")
    email = RenderedEmail(
        subject=subject_line(subject),
        html=html_body,
        plain=without_controls(plain) if plain else html_to_plain(html_body),
        language=translation.get_language() or conf.default_language(),
    )
    return [email for _user in users]


def language_name(code: str) -> str:
    return str(dict(settings.LANGUAGES).get(code, code))


def field_name(base: str, language: str) -> str:
    return build_localized_fieldname(base, language)


def with_unsubscribe_link(email: RenderedEmail, url: str) -> RenderedEmail:
    """``email`` with a footer linking to ``url`` (unsubscribe), in the email's language."""
    html, plain = add_unsubscribe_footer(email.html, email.plain, url, email.language)
    return RenderedEmail(subject=email.subject, html=html, plain=plain, language=email.language)
