"""Template + language + context -> subject, HTML and plain text of one email.

Editors' text is compiled by a restricted template engine (:data:`engine`). The site's
layout (``templates/messaging/email/layout.html``) wraps the body and premailer inlines
the stylesheet ``static/messaging/css/email.css``.

Two pipelines give the same output (the tests hold them to it):

- :func:`render_straightforward` renders, inlines and converts each receiver on its own;
- :func:`render_for_users`, used for sending, inlines the CSS once per template and
  language (template tags protected from lxml), then only renders per receiver.
"""

from __future__ import annotations

import html
import logging
import os
import re
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal
from functools import lru_cache
from typing import Any

import premailer
from django.conf import settings
from django.contrib.staticfiles import finders
from django.core.exceptions import ValidationError
from django.template import (
    Context,
    Engine,
    Library,
    TemplateSyntaxError,
    defaultfilters,
    defaulttags,
)
from django.template.base import VariableNode
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.safestring import mark_safe
from modeltranslation.utils import build_localized_fieldname
from wagtail.rich_text import expand_db_html

from . import conf
from .exceptions import TemplateRenderError
from .models import MessageTemplate, html_to_plain

logger = logging.getLogger(__name__)

LAYOUT_TEMPLATE = "messaging/email/layout.html"
STYLESHEET = "messaging/css/email.css"
TRANSLATED_FIELDS = ("subject", "body", "body_text")

# --- the restricted engine ---------------------------------------------------------------

# ``filter`` and ``ifchanged`` are refused too: they read rendered output, which the fast
# path replaces by placeholders (see :class:`PlaceholderVariableNode`).
FORBIDDEN_TAGS = frozenset(
    {
        "load",
        "include",
        "extends",
        "block",
        "debug",
        "ssi",
        "url",
        "csrf_token",
        "autoescape",
        "filter",
        "ifchanged",
    }
)
FORBIDDEN_FILTERS = frozenset({"safe", "safeseq", "pprint"})


def _restricted_library() -> Library:
    library = Library()
    for name, compile_function in defaulttags.register.tags.items():
        if name not in FORBIDDEN_TAGS:
            library.tags[name] = compile_function
    for name, filter_function in defaultfilters.register.filters.items():
        if name not in FORBIDDEN_FILTERS:
            library.filters[name] = filter_function
    return library


class RestrictedEngine(Engine):
    """No loaders, no libraries, no ``{% load %}``, only harmless built-in tags and filters."""

    default_builtins: list[str] = []

    def __init__(self) -> None:
        super().__init__(loaders=[], libraries={}, builtins=[], autoescape=True)
        self.template_builtins = [_restricted_library()]


engine = RestrictedEngine()

TAG_RE = re.compile(r"({{.*?}}|{%.*?%}|{#.*?#})", re.DOTALL)
BLOCK_NAME_RE = re.compile(r"{%\s*(\w+)")
ENTITY_RE = re.compile(r"&(?:[a-zA-Z]+|#\d+|#x[0-9a-fA-F]+);")


def unescape_tags(source: str) -> str:
    """Undo HTML escaping that rich text applied inside template tags (``&gt;``, ``&quot;``)."""
    return TAG_RE.sub(lambda match: html.unescape(match.group(0)), source)


def check_source(source: str) -> None:
    """Raise :class:`TemplateSyntaxError` naming a forbidden tag or filter, or bad syntax."""
    for tag in BLOCK_NAME_RE.findall(source):
        if tag in FORBIDDEN_TAGS:
            raise TemplateSyntaxError(
                f"The tag {{% {tag} %}} is not allowed in messages. Remove it; "
                "messages may use variables, if, for, with and the built-in filters."
            )
    engine.from_string(unescape_tags(source))


def validate_template_field(source: str, field_name: str) -> None:
    """Raise a ``ValidationError`` on ``field_name`` when ``source`` would not render."""
    try:
        check_source(source or "")
    except TemplateSyntaxError as error:
        raise ValidationError({field_name: f"Template error: {error}"}) from error


def validate_template(template: MessageTemplate) -> None:
    """Raise one ``ValidationError`` naming every language field that would not render."""
    errors: dict[str, list[str]] = {}
    for base_name in TRANSLATED_FIELDS:
        for language in site_languages():
            name = build_localized_fieldname(base_name, language)
            try:
                validate_template_field(getattr(template, name, "") or "", name)
            except ValidationError as error:
                errors.update(error.message_dict)
    if errors:
        raise ValidationError(errors)


def compile_source(source: str):
    return engine.from_string(unescape_tags(source))


# --- context -----------------------------------------------------------------------------

PLAIN_TYPES = (str, int, float, bool, type(None))


def plain_value(value: Any) -> Any:
    """A JSON-friendly copy of ``value``: no model instances or callables reach templates."""
    if isinstance(value, PLAIN_TYPES):
        return value
    if isinstance(value, Mapping):
        return {str(key): plain_value(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [plain_value(item) for item in value]
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return str(value)


def plain_context(context: Mapping[str, Any]) -> dict[str, Any]:
    return plain_value(dict(context))


def user_context(user: Any) -> dict[str, str]:
    """The receiver's safe fields, as a plain dict (never the model instance)."""
    if user is None:
        return {"first_name": "", "last_name": "", "full_name": "", "username": "", "email": ""}
    first = getattr(user, "first_name", "") or ""
    last = getattr(user, "last_name", "") or ""
    return {
        "first_name": first,
        "last_name": last,
        "full_name": f"{first} {last}".strip() or user.get_username(),
        "username": user.get_username(),
        "email": getattr(user, "email", "") or "",
    }


# --- languages ---------------------------------------------------------------------------


def site_languages() -> list[str]:
    return [code for code, _name in settings.LANGUAGES]


def default_language() -> str:
    return normalize_language(settings.LANGUAGE_CODE) or site_languages()[0]


def normalize_language(code: str | None) -> str | None:
    """The site language matching ``code`` (``nb-NO`` -> ``nb``), or ``None``."""
    if not code:
        return None
    languages = site_languages()
    code = code.lower()
    if code in languages:
        return code
    primary = code.split("-")[0]
    return primary if primary in languages else None


def default_user_language(user: Any) -> str:
    """Wagtail's ``UserProfile.preferred_language``, else ``LANGUAGE_CODE``."""
    from wagtail.users.models import UserProfile

    profile = UserProfile.objects.filter(user_id=getattr(user, "pk", None)).first()
    preferred = profile.preferred_language if profile else ""
    return preferred or settings.LANGUAGE_CODE


def user_language(user: Any) -> str:
    """The site language to write to ``user`` in (``MESSAGING_USER_LANGUAGE``)."""
    code = conf.user_language_resolver()(user) if user is not None else None
    return normalize_language(code) or default_language()


def user_languages(users: list[Any]) -> list[str]:
    """:func:`user_language` of each user; the default resolver reads all in one query."""
    if conf.user_language_resolver() is not default_user_language:
        return [user_language(user) for user in users]
    from wagtail.users.models import UserProfile

    ids = [user.pk for user in users if user is not None]
    preferred = dict(
        UserProfile.objects.filter(user_id__in=ids).values_list("user_id", "preferred_language")
    )
    fallback = default_language()
    return [
        normalize_language(preferred.get(getattr(user, "pk", None)) or settings.LANGUAGE_CODE)
        or fallback
        for user in users
    ]


def translated(template: MessageTemplate, field: str, language: str) -> str:
    """``field`` in ``language``, falling back to the default language when empty."""
    value = getattr(template, build_localized_fieldname(field, language), None)
    if not value:
        value = getattr(template, build_localized_fieldname(field, default_language()), "")
    return value or ""


# --- layout and CSS ----------------------------------------------------------------------


@lru_cache(maxsize=8)
def _read(path: str, mtime: float) -> str:
    with open(path, encoding="utf-8") as handle:
        return handle.read()


def stylesheet() -> str:
    """The email stylesheet's text, read again when the file changes."""
    found = finders.find(STYLESHEET)
    if not found:
        raise TemplateRenderError(
            f"The email stylesheet {STYLESHEET!r} was not found in the static files. "
            "Restore it or add one at that path in your static directories."
        )
    return _read(found, os.path.getmtime(found))


def render_layout(body_html: str, subject: str, language: str) -> str:
    return render_to_string(
        LAYOUT_TEMPLATE,
        {
            "body": mark_safe(body_html),
            "subject": subject,
            "language": language,
            "site_name": getattr(settings, "WAGTAIL_SITE_NAME", ""),
        },
    )


def inline_css(document: str) -> str:
    return premailer.Premailer(
        document,
        css_text=stylesheet(),
        keep_style_tags=False,
        disable_validation=True,
        allow_network=False,
        cssutils_logging_level=logging.CRITICAL,
    ).transform(pretty_print=False)


# --- results -----------------------------------------------------------------------------


@dataclass(frozen=True)
class RenderedEmail:
    """One receiver's email, ready to store."""

    subject: str
    html: str
    plain: str
    language: str


def one_line(text: str) -> str:
    return " ".join(text.split())


def get_template(template: str | MessageTemplate) -> MessageTemplate:
    """The template given, or the one with that ``key``; a clear error when there is none."""
    if isinstance(template, MessageTemplate):
        return template
    found = MessageTemplate.objects.filter(key=template).first()
    if found is None:
        raise TemplateRenderError(
            f"No message template has the key {template!r}. Create it under "
            "Snippets > Message templates, or fix the key in the calling code."
        )
    return found


def check_direct(subject: str | None, html_body: str | None, plain: str | None) -> None:
    if not subject or not (html_body or plain):
        raise TemplateRenderError(
            "send_message() needs a template, or a subject with html (or plain) content."
        )


def render_direct(
    users: Iterable[Any], subject: str | None, html_body: str | None, plain: str | None
) -> list[RenderedEmail]:
    """Content given by application code, the same for every user."""
    check_direct(subject, html_body, plain)
    html_body = html_body or ""
    email = RenderedEmail(
        subject=one_line(subject),
        html=html_body,
        plain=plain or html_to_plain(html_body),
        language=translation.get_language() or default_language(),
    )
    return [email for _user in users]


def full_context(context: Mapping[str, Any], user: Any) -> dict[str, Any]:
    return {**plain_context(context), "user": user_context(user)}


# --- the straightforward pipeline --------------------------------------------------------


def render_straightforward(
    template: MessageTemplate, user: Any, context: Mapping[str, Any], language: str | None = None
) -> RenderedEmail:
    """Render one receiver from scratch: render, wrap, inline CSS, convert to text."""
    language = language or user_language(user)
    values = full_context(context, user)
    with translation.override(language):
        subject = one_line(
            compile_source(translated(template, "subject", language)).render(
                Context(values, autoescape=False)
            )
        )
        body = compile_source(expand_db_html(translated(template, "body", language)))
        document = inline_css(render_layout(body.render(Context(values)), subject, language))
        text_source = translated(template, "body_text", language)
        if text_source:
            plain = compile_source(text_source).render(Context(values, autoescape=False))
        else:
            plain = html_to_plain(document)
    return RenderedEmail(subject=subject, html=document, plain=plain, language=language)


# --- the fast pipeline -------------------------------------------------------------------

BODY_MARK = "MESSAGINGBODYMARK"


def protect_tags(source: str) -> tuple[str, list[str]]:
    """Replace template tags by placeholders lxml leaves alone; returns them for restoring.

    Inside markup (an attribute) the placeholder is a plain word, which lxml does not
    percent-encode; in text it is an HTML comment, which the parser keeps in place even
    between table rows.
    """
    saved: list[str] = []

    def placeholder(match: re.Match) -> str:
        saved.append(match.group(0))
        before = source[: match.start()]
        in_markup = before.rfind("<") > before.rfind(">")
        index = len(saved) - 1
        return f"msgtag{index}x" if in_markup else f"<!--msgtag{index}x-->"

    return TAG_RE.sub(placeholder, source), saved


def restore_tags(document: str, saved: list[str]) -> str:
    def original(match: re.Match) -> str:
        return saved[int(match.group(1))]

    # lxml may escape a comment it found where only text is allowed (e.g. in <title>).
    return re.sub(r"(?:<!--|&lt;!--)?msgtag(\d+)x(?:-->|--&gt;)?", original, document)


SINK = "__messaging_values__"  # a context key templates cannot name (leading underscore)
PLACEHOLDER = f"msgv{secrets.token_hex(4)}"
PLACEHOLDER_RE = re.compile(PLACEHOLDER + r"n(\d+)z")
BEFORE_DOT_RE = re.compile(PLACEHOLDER + r"n(\d+)z\.")

# What html2text would change in a value: backslashes, brackets and parentheses (escaped
# in link targets), backticks, and runs or kinds of white space other than single spaces.
PLAIN_UNSAFE_CHARS = re.compile(r"[\\\[\]()`]|\s{2,}|[^\S ]")
# Markdown it escapes at the start of a line: "1. ", "- ", "--", "+ ".
PLAIN_UNSAFE_START = re.compile(r"\d+\.(?:\s|$)|-(?:\s|-)|\+\s")


class PlaceholderVariableNode(VariableNode):
    """Outputs a placeholder and records the value when the context carries a sink.

    Rendering with placeholders gives the email's *skeleton*: it depends on the template's
    branches and loops but not on the values, so its plain text is converted once and
    reused, with the values put back in.
    """

    def render(self, context) -> str:
        output = super().render(context)
        sink = context.get(SINK)
        if sink is None:
            return output
        sink.append(output)
        return f"{PLACEHOLDER}n{len(sink) - 1}z"


def with_placeholders(template):
    for node in template.nodelist.get_nodes_by_type(VariableNode):
        node.__class__ = PlaceholderVariableNode
    return template


def fill(text: str, values: list[str]) -> str:
    return PLACEHOLDER_RE.sub(lambda match: values[int(match.group(1))], text)


def plain_safe(value: str, before_dot: bool) -> bool:
    """Whether html2text outputs ``value`` unchanged where its placeholder stands."""
    if not value or value != value.strip() or PLAIN_UNSAFE_CHARS.search(value):
        return False
    if PLAIN_UNSAFE_START.match(value):
        return False
    return not (before_dot and value.isdigit())  # "3" + ". " could start a numbered list


@dataclass(frozen=True)
class CompiledEmail:
    """A template compiled for one language: CSS inlined, ready to render per receiver."""

    language: str
    subject: Any
    document: Any
    text: Any | None
    skeleton_texts: dict[str, tuple[str, set[int]]] = field(default_factory=dict, compare=False)

    def render(self, values: dict[str, Any]) -> RenderedEmail:
        subject = one_line(self.subject.render(Context(values, autoescape=False)))
        sink: list[str] = []
        skeleton = self.document.render(Context({**values, "email_subject": subject, SINK: sink}))
        document = fill(skeleton, sink)
        if self.text is not None:
            plain = self.text.render(Context(values, autoescape=False))
        else:
            plain = self.plain_text(skeleton, sink, document)
        return RenderedEmail(subject=subject, html=document, plain=plain, language=self.language)

    def plain_text(self, skeleton: str, sink: list[str], document: str) -> str:
        """html2text of ``document``, converting each distinct skeleton only once."""
        converted = self.skeleton_texts.get(skeleton)
        if converted is None:
            if len(self.skeleton_texts) > 256:
                self.skeleton_texts.clear()
            text = html_to_plain(skeleton)
            before_dot = {int(index) for index in BEFORE_DOT_RE.findall(text)}
            converted = self.skeleton_texts[skeleton] = (text, before_dot)
        text, before_dot = converted
        values = [html.unescape(value) for value in sink]
        if all(plain_safe(value, i in before_dot) for i, value in enumerate(values)):
            return fill(text, values)
        return html_to_plain(document)  # exact, whatever the values hold


def compile_email(template: MessageTemplate, language: str) -> CompiledEmail:
    """Wrap the body in the layout, inline the CSS once, and compile the result."""
    with translation.override(language):
        body_source = unescape_tags(expand_db_html(translated(template, "body", language)))
        layout = render_layout(BODY_MARK, "{{ email_subject }}", language)
        protected, saved = protect_tags(layout.replace(BODY_MARK, body_source))
        document = restore_tags(inline_css(protected), saved)
        text_source = translated(template, "body_text", language)
        return CompiledEmail(
            language=language,
            subject=compile_source(translated(template, "subject", language)),
            document=with_placeholders(engine.from_string(document)),
            text=compile_source(text_source) if text_source else None,
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


def render_sample(template: MessageTemplate, language: str) -> RenderedEmail:
    """The email as a receiver in ``language`` would get it, with sample values.

    The same code path as sending; rendered inside the language override because
    callers (Wagtail's preview) may evaluate lazy responses after returning.
    """
    language = normalize_language(language) or default_language()
    values = {**sample_context(template.context_type), "user": sample_user(language)}
    with translation.override(language):
        return compile_email(template, language).render(plain_value(values))


def render_preview(template: MessageTemplate, language: str) -> str:
    """The editors' preview page: subject, the HTML in a sandboxed frame, the plain text."""
    email = render_sample(template, language)
    with translation.override(email.language):
        return render_to_string(
            "messaging/snippets/preview.html",
            {"email": email, "to": sample_user(email.language)["email"]},
        )


def render_for_users(
    template: MessageTemplate,
    users: list[Any],
    context: Mapping[str, Any],
    compiled: dict[str, CompiledEmail] | None = None,
) -> list[RenderedEmail]:
    """Every user's email in the user's language, compiling once per language.

    Pass the same ``compiled`` dict to render a long list of users chunk by chunk.
    """
    compiled = {} if compiled is None else compiled
    base = plain_context(context)
    emails = []
    for user, language in zip(users, user_languages(users), strict=True):
        if language not in compiled:
            compiled[language] = compile_email(template, language)
        with translation.override(language):
            emails.append(compiled[language].render({**base, "user": user_context(user)}))
    return emails
