"""Values in links: percent-encoded, and dropped when they would choose a scheme not allowed."""

from __future__ import annotations

from urllib.parse import quote, urlsplit

from django import template
from django.template import Library
from django.utils.html import conditional_escape

ALLOWED_SCHEMES = ("http", "https", "mailto")
# In "url" mode the value may be a whole address: keep its structure, encode the rest.
URL_SAFE = "/:?#[]@!$&'()*+,;=%~"


def scheme_of(url: str) -> str | None:
    """The scheme a browser would read in ``url``, lower-cased; ``""`` if unparsable."""
    try:
        scheme = urlsplit(url).scheme  # strips leading blanks and tabs/newlines as browsers do
    except ValueError:
        return ""
    return scheme.lower() or None


def encode(value: str, mode: str) -> str:
    """``value`` as it may stand in a URL at a position of kind ``mode``.

    - ``url``: the value may start the address; one choosing a scheme other than
      :data:`ALLOWED_SCHEMES` is dropped, the rest is percent-encoded keeping its structure.
    - ``path``: one path part; ``/`` kept, everything else reserved is encoded.
    - ``query``: one query or fragment part; everything reserved is encoded.
    """
    if mode == "url":
        scheme = scheme_of(value)
        if scheme is not None and scheme not in ALLOWED_SCHEMES:
            return ""
        return quote(value, safe=URL_SAFE)
    return quote(value, safe="/" if mode == "path" else "")


class UriNode(template.Node):
    def __init__(self, mode: str, nodelist) -> None:
        self.mode, self.nodelist = mode, nodelist

    def render(self, context) -> str:
        autoescape = context.autoescape
        context.autoescape = False  # the raw value is encoded, then escaped once
        try:
            value = self.nodelist.render(context)
        finally:
            context.autoescape = autoescape
        encoded = encode(value, self.mode)
        return str(conditional_escape(encoded)) if autoescape else encoded


class SubjectNode(template.Node):
    """The receiver's rendered subject, set by the pipeline on the Context."""

    def render(self, context) -> str:
        subject = getattr(context, "messaging_subject", "")
        return str(conditional_escape(subject)) if context.autoescape else subject


def do_email_uri(parser, token) -> UriNode:
    mode = token.split_contents()[1]
    nodelist = parser.parse(("end_email_uri",))
    parser.delete_first_token()
    return UriNode(mode, nodelist)


def internal_library() -> Library:
    """Tags only the pipeline writes into inlined documents; editors cannot name them."""
    from django.template import defaulttags

    library = Library()
    library.tag("email_uri", do_email_uri)
    library.tag("email_subject", lambda parser, token: SubjectNode())
    library.tag("templatetag", defaulttags.templatetag)
    return library
