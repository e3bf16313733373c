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
from types import MappingProxyType
from typing import Any

import lxml.html
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
from django.utils.formats import localize
from django.utils.safestring import SafeData, mark_safe
from modeltranslation.utils import build_localized_fieldname
from wagtail.rich_text import expand_db_html

from . import conf, users
from .exceptions import TemplateRenderError
from .models import MessageTemplate, html_to_plain

logger = logging.getLogger(__name__)

LAYOUT_TEMPLATE = "messaging/email/layout.html"
STYLESHEET = "messaging/css/email.css"
TRANSLATED_FIELDS = ("subject", "body", "body_text")

# --- the restricted engine ---------------------------------------------------------------

# Only these tags (and their end/intermediate tags) are allowed. ``filter`` and
# ``ifchanged`` are left out too: they read rendered output, which the fast path replaces
# by placeholders (see :class:`PlaceholderVariableNode`).
ALLOWED_TAGS = frozenset(
    {
        "if",
        "for",
        "with",
        "firstof",
        "cycle",
        "resetcycle",
        "now",
        "comment",
        "spaceless",
        "verbatim",
        "templatetag",
        "widthratio",
        "regroup",
        "lorem",
    }
)
INNER_TAGS = frozenset({"else", "elif", "empty"})
FORBIDDEN_FILTERS = frozenset({"safe", "safeseq", "pprint"})
# Filters the fast path appends to each variable, by where it stands (see protect_tags).
TEXT_FILTER, ATTRIBUTE_FILTER, URI_FILTER = "email_text", "email_attribute", "email_uri"
URI_ATTRIBUTES = frozenset({"href", "src", "action"})


class ExactRenderNeeded(Exception):
    """The fast path cannot reproduce this receiver exactly; render it the plain way."""


def lxml_input(value: Any) -> str:
    """The text lxml would have read for ``value`` in the straightforward pipeline."""
    if isinstance(value, SafeData):
        if "<" in value or "&" in value:  # markup from a filter: lxml would restyle it
            raise ExactRenderNeeded(value)
        return str(value)
    return str(localize(value))  # as Django renders a variable


def lxml_serialized(element, prefix: str, suffix: str) -> str:
    serialized = lxml.html.tostring(element, encoding="unicode")
    if not (serialized.startswith(prefix) and serialized.endswith(suffix)):
        raise ExactRenderNeeded(serialized)  # e.g. an attribute lxml quotes with '
    return mark_safe(serialized[len(prefix) : -len(suffix)])


# Strings lxml would serialize unchanged: as text, as an attribute, as a URI attribute.
# Control characters (and CR, which parsing turns into LF) are left to the full pipeline.
CONTROL_RE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
AS_IS_TEXT_RE = re.compile(r"[^&<>\x00-\x08\x0b-\x1f\x7f]*")
AS_IS_ATTRIBUTE_RE = re.compile(r"[^&<>\"\x00-\x08\x0b-\x1f\x7f]*")
AS_IS_URI_RE = re.compile(r"[A-Za-z0-9\-_.!~*'()@/:=?;#%,+]*")


def as_lxml_text(value: Any) -> str:
    """``value`` escaped as lxml serializes text (quotes stay as they are)."""
    text = lxml_input(value)
    if AS_IS_TEXT_RE.fullmatch(text):
        return mark_safe(text)
    if CONTROL_RE.search(text):
        raise ExactRenderNeeded(text)
    element = lxml.html.Element("p")
    element.text = text
    return lxml_serialized(element, "<p>", "</p>")


def as_lxml_attribute(value: Any, name: str = "title") -> str:
    """``value`` escaped as lxml serializes an attribute; href/src/action are percent-encoded."""
    text = lxml_input(value)
    uri = name in URI_ATTRIBUTES
    if (AS_IS_URI_RE if uri else AS_IS_ATTRIBUTE_RE).fullmatch(text):
        return mark_safe(text)
    if CONTROL_RE.search(text) or (uri and text[:1].isspace()):
        raise ExactRenderNeeded(text)  # lxml leaves an attribute's leading blanks as is
    element = lxml.html.Element("a", **{name: text})
    return lxml_serialized(element, f'<a {name}="', '"></a>')


def as_lxml_uri(value: Any) -> str:
    return as_lxml_attribute(value, "href")


def _restricted_library() -> Library:
    library = Library()
    for name, compile_function in defaulttags.register.tags.items():
        if name in ALLOWED_TAGS:
            library.tags[name] = compile_function
    for name, filter_function in defaultfilters.register.filters.items():
        if name not in FORBIDDEN_FILTERS:
            library.filters[name] = filter_function
    return library


def _fast_path_library() -> Library:
    library = Library()
    library.filter(TEXT_FILTER, as_lxml_text)
    library.filter(ATTRIBUTE_FILTER, as_lxml_attribute)
    library.filter(URI_FILTER, as_lxml_uri)
    return library


class RestrictedEngine(Engine):
    """No loaders, no libraries, no ``{% load %}``, only harmless built-in tags and filters."""

    default_builtins: list[str] = []

    def __init__(self, *extra: Library) -> None:
        super().__init__(loaders=[], libraries={}, builtins=[], autoescape=True)
        self.template_builtins = [_restricted_library(), *extra]


engine = RestrictedEngine()
# Compiles the inlined documents of the fast path; editors' text never names its filter.
document_engine = RestrictedEngine(_fast_path_library())

TAG_RE = re.compile(r"({{.*?}}|{%.*?%}|{#.*?#})", re.DOTALL)
BLOCK_NAME_RE = re.compile(r"{%\s*(\w+)")


def unescape_tags(source: str) -> str:
    """Undo HTML escaping that rich text applied inside template tags (``&gt;``, ``&quot;``)."""
    return TAG_RE.sub(lambda match: html.unescape(match.group(0)), source)


QUOTED_MARKUP_RE = re.compile(r"\"[^\"]*[<&][^\"]*\"|'[^']*[<&][^']*'")


def check_source(source: str) -> None:
    """Raise :class:`TemplateSyntaxError` naming a forbidden tag, quoted markup or bad syntax."""
    source = unescape_tags(source)
    for tag in BLOCK_NAME_RE.findall(source):
        name = tag.removeprefix("end")
        if name not in ALLOWED_TAGS and tag not in INNER_TAGS:
            allowed = ", ".join(sorted(ALLOWED_TAGS))
            raise TemplateSyntaxError(
                f"The tag {{% {tag} %}} is not allowed in messages. Remove it; messages may "
                f"use variables, the built-in filters and the tags {allowed}."
            )
    for tag in TAG_RE.findall(source):
        if QUOTED_MARKUP_RE.search(tag):
            raise TemplateSyntaxError(
                f"Text in quotes inside {tag} contains '<' or '&'. Write markup in the "
                "message text itself, not inside a template tag."
            )
    engine.from_string(source)


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
    """The receiver's values as a plain dict of text (``MESSAGING_USER_CONTEXT``)."""
    return users.user_context(user)


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
            "signature": conf.email_signature(language),
        },
    )


def with_signature(plain: str, language: str) -> str:
    """An editor's plain-text body with the signature (``MESSAGING_EMAIL_SIGNATURE``) after it.

    The HTML gets the signature from the layout; a plain text made from that HTML has it
    already.
    """
    signature = conf.email_signature(language)
    if not signature:
        return plain
    return f"{plain.rstrip()}\n\n{signature}\n"


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


# --- the straightforward pipeline --------------------------------------------------------


def render_straightforward(
    template: MessageTemplate, user: Any, context: Mapping[str, Any], language: str | None = None
) -> RenderedEmail:
    """Render one receiver from scratch: render, wrap, inline CSS, convert to text."""
    language = language or user_language(user)
    return render_values(template, full_context(context, user), language)


def render_values(template: MessageTemplate, values: dict, language: str) -> RenderedEmail:
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
            plain = with_signature(plain, language)
        else:
            plain = html_to_plain(document)
    return RenderedEmail(subject=subject, html=document, plain=plain, language=language)


# --- the fast pipeline -------------------------------------------------------------------

BODY_MARK = "MESSAGINGBODYMARK"
SUBJECT_MARK = "MESSAGINGSUBJECTMARK"


ATTRIBUTE_RE = re.compile(r"\b([\w-]+)\s*=\s*[\"']?[^\"'<>=]*$")


def protect_tags(source: str) -> tuple[str, list[str]]:
    """Replace template tags by placeholders lxml leaves alone; returns them for restoring.

    Inside markup (an attribute) the placeholder is a plain word, which lxml does not
    percent-encode; in text it is an HTML comment, which the parser keeps in place even
    between table rows. Each variable gets a filter that escapes its value as lxml would
    have where it stands, so the result equals the straightforward pipeline's.
    """
    saved: list[str] = []

    def placeholder(match: re.Match) -> str:
        tag, before = match.group(0), source[: match.start()]
        in_markup = before.rfind("<") > before.rfind(">")
        if tag.startswith("{{"):
            tag = f"{tag[:-2].rstrip()}|{escaping_filter(before, in_markup)} }}}}"
        saved.append(tag)
        index = len(saved) - 1
        return f"msgtag{index}x" if in_markup else f"<!--msgtag{index}x-->"

    return TAG_RE.sub(placeholder, source), saved


def escaping_filter(before: str, in_markup: bool) -> str:
    if not in_markup:
        return TEXT_FILTER
    attribute = ATTRIBUTE_RE.search(before)
    if attribute and attribute.group(1).lower() in URI_ATTRIBUTES:
        return URI_FILTER
    return ATTRIBUTE_FILTER


def literal_layout(document: str) -> str:
    """The site layout's text, with any ``{`` made literal for the restricted engine."""
    return document.replace("{", "{% templatetag openbrace %}")


def restore_tags(document: str, saved: list[str]) -> str:
    def original(match: re.Match) -> str:
        return saved[int(match.group(1))]

    # lxml may escape a comment it found where only text is allowed (e.g. in <title>).
    return re.sub(r"(?:<!--|&lt;!--)?msgtag(\d+)x(?:-->|--&gt;)?", original, document)


SINK = "__messaging_values__"  # a context key templates cannot name (leading underscore)
PLACEHOLDER = f"msgv{secrets.token_hex(4)}"
PLACEHOLDER_RE = re.compile(PLACEHOLDER + r"n(\d+)z")

# What html2text would change in a value: backslashes, brackets and parentheses (escaped
# in link targets), backticks, runs or kinds of white space other than single spaces, and
# the characters that reach it as HTML entities (& < >), which split its text runs.
PLAIN_UNSAFE_CHARS = re.compile(r"[\\\[\]()`&<>]|\s{2,}|[^\S ]")
# html2text escapes Markdown where a run of text starts ("1. ", "- ", "+ ", a backslash
# before punctuation); a value starting so may form one with the text before it.
PLAIN_UNSAFE_START = re.compile(r"[-+.!#*_{}`]|\d+\.")
# html2text writes a link whose text is its address as <address>, and drops links to "#...".
LINK_QUIRKS_RE = re.compile(r"\[([^\]\n]+)\]\(<\1>\)|\]\(<#")


class PlaceholderVariableNode(VariableNode):
    """Outputs a placeholder for a plain-safe value when the context carries a sink.

    Rendering so gives the email's *skeleton*: the values html2text would pass through
    unchanged are placeholders, the others stay as they are. Receivers who differ only in
    such values (names, mostly) share a skeleton, so its plain text is converted once and
    reused with the values put back in.
    """

    def render(self, context) -> str:
        output = super().render(context)
        sink = context.get(SINK)
        if sink is None or not plain_safe(html.unescape(output)):
            return output
        sink.append(output)
        return f"{PLACEHOLDER}n{len(sink) - 1}z"


def with_placeholders(template):
    for node in template.nodelist.get_nodes_by_type(VariableNode):
        node.__class__ = PlaceholderVariableNode
    return template


def fill(text: str, values: list[str]) -> str:
    return PLACEHOLDER_RE.sub(lambda match: values[int(match.group(1))], text)


def plain_safe(value: str) -> bool:
    """Whether html2text outputs ``value`` unchanged wherever it stands in text."""
    if not value or value != value.strip() or PLAIN_UNSAFE_CHARS.search(value):
        return False
    # Digits alone could form "1. " with the text after them; punctuation could start
    # Markdown with the text before.
    return not (value.isdigit() or PLAIN_UNSAFE_START.match(value))


@dataclass(frozen=True)
class CompiledEmail:
    """A template compiled for one language: CSS inlined, ready to render per receiver."""

    template: MessageTemplate
    language: str
    subject: Any
    document: Any
    text: Any | None
    skeleton_texts: dict[str, str] = field(default_factory=dict, compare=False)

    def render(self, values: dict[str, Any]) -> RenderedEmail:
        subject = one_line(self.subject.render(Context(values, autoescape=False)))
        sink: list[str] = []
        try:
            skeleton = self.document.render(
                Context({**values, "email_subject": subject, SINK: sink})
            )
        except ExactRenderNeeded:
            return render_values(self.template, values, self.language)
        document = fill(skeleton, sink)
        if self.text is not None:
            plain = with_signature(
                self.text.render(Context(values, autoescape=False)), self.language
            )
        else:
            plain = self.plain_text(skeleton, sink, document)
        return RenderedEmail(subject=subject, html=document, plain=plain, language=self.language)

    def plain_text(self, skeleton: str, sink: list[str], document: str) -> str:
        """html2text of ``document``, converting each distinct skeleton only once."""
        text = self.skeleton_texts.get(skeleton)
        if text is None:
            if len(self.skeleton_texts) > 256:
                self.skeleton_texts.clear()
            text = self.skeleton_texts[skeleton] = html_to_plain(skeleton)
        plain = fill(text, [html.unescape(value) for value in sink])
        if LINK_QUIRKS_RE.search(plain):
            return html_to_plain(document)  # a link html2text writes its own way
        return plain


def compile_email(template: MessageTemplate, language: str) -> CompiledEmail:
    """Wrap the body in the layout, inline the CSS once, and compile the result."""
    with translation.override(language):
        body_source = unescape_tags(expand_db_html(translated(template, "body", language)))
        layout = literal_layout(render_layout(BODY_MARK, SUBJECT_MARK, language))
        layout = layout.replace(SUBJECT_MARK, "{{ email_subject }}")
        protected, saved = protect_tags(layout.replace(BODY_MARK, body_source))
        document = restore_tags(inline_css(protected), saved)
        text_source = translated(template, "body_text", language)
        return CompiledEmail(
            template=template,
            language=language,
            subject=compile_source(translated(template, "subject", language)),
            document=with_placeholders(document_engine.from_string(document)),
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
    values = frozen(plain_value(values))
    with translation.override(language):
        return compile_email(template, language).render(dict(values))


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
    base = frozen(plain_context(context))
    emails = []
    for user, language in zip(users, user_languages(users), strict=True):
        if language not in compiled:
            compiled[language] = compile_email(template, language)
        with translation.override(language):
            user_values = frozen(user_context(user))
            emails.append(compiled[language].render({**base, "user": user_values}))
    return emails
