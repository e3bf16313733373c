"""The site's layout around the body, its stylesheet inlined, and HTML made plain text."""

from __future__ import annotations

import logging
import os
from functools import lru_cache

import html2text
import premailer
from django.contrib.staticfiles import finders
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.safestring import mark_safe

from .. import conf
from ..exceptions import TemplateRenderError

LAYOUT_TEMPLATE = "messaging/email/layout.html"
UNSUBSCRIBE_HTML = "messaging/email/unsubscribe_link.html"
UNSUBSCRIBE_TEXT = "messaging/email/unsubscribe_link.txt"
STYLESHEET = "messaging/css/email.css"
# What editors may put in a template's body: the blocks and marks the email stylesheet
# styles, and links. The site's name is the email's top heading, so bodies start at h2;
# images, embeds and document links would point into the site, not into the email.
BODY_FEATURES = ("h2", "h3", "bold", "italic", "ol", "ul", "blockquote", "hr", "link")


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
            "site_name": conf.site_name(),
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


def html_to_plain(html: str) -> str:
    """The plain-text form of an email's HTML, as mail clients without HTML show it."""
    converter = html2text.HTML2Text(bodywidth=0)
    converter.ignore_images = True
    converter.ignore_tables = True  # layout tables, not data: keep paragraphs apart
    converter.protect_links = True
    return converter.handle(html).strip() + "\n"


def unsubscribe_footer(url: str, language: str) -> tuple[str, str]:
    """The footer with the unsubscribe link ``url``, as HTML and as text, in ``language``."""
    with translation.override(language):
        html = render_to_string(UNSUBSCRIBE_HTML, {"url": url})
        text = render_to_string(UNSUBSCRIBE_TEXT, {"url": url})
    return html, text


def add_unsubscribe_footer(html: str, plain: str, url: str, language: str) -> tuple[str, str]:
    """``html`` and ``plain`` with the unsubscribe footer at their end.

    In the HTML it goes before ``</body>`` (the layout's, or appended when the HTML has
    none); the footer's styles are written inline, as the CSS was inlined already.
    """
    footer_html, footer_text = unsubscribe_footer(url, language)
    head, body_end, tail = html.rpartition("</body>")
    html = f"{head}{footer_html}{body_end}{tail}" if body_end else html + footer_html
    return html, f"{plain.rstrip()}\n\n{footer_text.strip()}\n"
