"""Template tags kept safe through lxml, premailer and html2text, and where each one stands.

Each tag of the body becomes an opaque word (a *mark*) that the HTML parser, premailer and
html2text pass through as text. Parsing the marked document with lxml tells where each tag
stands: in text, or in which attribute. Save refuses what would make the result wrong,
and each mark is put back as its tag (URL positions wrapped in ``{% email_uri %}``).
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import lxml.html
from django.template.base import Token, TokenType
from django.utils.translation import gettext as _

from ..exceptions import TemplateRenderError
from .engine import ALLOWED_TAGS, BLOCK_ENDS
from .source import block_name, tag_text
from .urls import ALLOWED_SCHEMES, scheme_of

# Letters and digits only: lxml, premailer and html2text leave such a word as it is.
# Random per process, so no editor text can contain one by chance.
MARK_PREFIX = f"msg{secrets.token_hex(5)}n"
MARK_RE = re.compile(MARK_PREFIX + r"(\d+)z")
URI_ATTRIBUTES = frozenset({"href", "src", "action", "formaction", "background", "poster"})
NO_TAG_ATTRIBUTES = frozenset({"class", "style", "id"})
SETTLING = "/?#"  # after one of these, a value can no longer change a URL's scheme


def mark(index: int) -> str:
    return f"{MARK_PREFIX}{index}z"


def protect(found: list[Token]) -> tuple[str, list[Token]]:
    """The body with every tag replaced by a mark, and the tags in mark order."""
    parts, saved = [], []
    for token in found:
        if token.token_type is TokenType.TEXT:
            parts.append(token.contents)
        elif token.token_type is not TokenType.COMMENT:
            parts.append(mark(len(saved)))
            saved.append(token)
    return "".join(parts), saved


@dataclass(frozen=True)
class Position:
    """Where a mark stands: in the text of an element, or in one of its attributes."""

    element: Any  # the lxml element itself: a proxy's id() is not stable
    attribute: str | None = None
    mode: str = ""  # in a URL: "url", "path" or "query" (see urls.encode)


def refuse(message: str) -> TemplateRenderError:
    return TemplateRenderError(message)


def marks_in(text: str | None) -> list[int]:
    return [int(found) for found in MARK_RE.findall(text or "")]


def positions(document: str) -> dict[int, Position]:
    """Where each mark of ``document`` stands, as lxml parses it."""
    found: dict[int, Position] = {}
    root = lxml.html.document_fromstring(document)
    for element in root.iter():
        for index, position in element_positions(element):
            if index in found:
                raise refuse(_("A template tag was duplicated by the HTML around it."))
            found[index] = position
    return found


def element_positions(element) -> Iterator[tuple[int, Position]]:
    parent = element.getparent()
    for index in marks_in(element.tail):
        yield index, Position(parent)
    if not isinstance(element.tag, str):  # a comment or processing instruction
        if marks_in(element.text):
            raise refuse(_("A template tag stands inside an HTML comment. Move it out."))
        return
    if marks_in(element.tag) or any(marks_in(name) for name in element.attrib):
        raise refuse(_("A template tag stands inside an HTML tag. Put tags in text only."))
    for index in marks_in(element.text):
        yield index, Position(element)
    for name, value in element.attrib.items():
        yield from attribute_positions(element, name.lower(), value)


def attribute_positions(element, name: str, value: str) -> Iterator[tuple[int, Position]]:
    indices = marks_in(value)
    if indices and name in NO_TAG_ATTRIBUTES:
        raise refuse(
            _(
                "A template tag stands in the %(name)s attribute, which styles are computed "
                "from. Write a fixed %(name)s."
            )
            % {"name": name}
        )
    if name not in URI_ATTRIBUTES:
        for index in indices:
            yield index, Position(element, name)
        return
    literals = MARK_RE.split(value)[::2]  # the text around the marks
    check_literal_scheme(literals)
    for index, mode in zip(indices, url_modes(literals), strict=False):
        yield index, Position(element, name, mode)


def check_literal_scheme(literals: list[str]) -> None:
    """Refuse a link whose fixed text gives it a scheme other than the allowed ones."""
    scheme = scheme_of(literals[0])
    settled = any(char in literals[0] for char in SETTLING + ":")
    if scheme is not None and scheme not in ALLOWED_SCHEMES:
        raise refuse(
            _("A link uses the scheme %(scheme)s. Links may use %(allowed)s.")
            % {"scheme": scheme or "?", "allowed": ", ".join(ALLOWED_SCHEMES)}
        )
    for literal in literals[1:] if not settled else ():
        colon = literal.find(":")
        if colon != -1 and not any(char in literal[:colon] for char in SETTLING):
            raise refuse(
                _(
                    "A link has a ':' after a template tag, so a value could choose its "
                    "scheme. Write the scheme (https://) before any template tag."
                )
            )


def url_modes(literals: list[str]) -> Iterator[str]:
    """For each mark of a URL attribute: how its value is encoded (see urls.encode)."""
    before, scheme_fixed = "", any(char in literals[0] for char in SETTLING + ":")
    for literal in literals[:-1]:
        before += literal
        # Fixed text before the first tag settles the scheme; later, a value could have
        # been dropped or empty, so only a settling character right before counts.
        if not (scheme_fixed or any(char in literal for char in SETTLING)):
            yield "url"
        elif "?" in before or "#" in before:
            yield "query"
        else:
            yield "path"


def check_blocks(saved: list[Token], found: dict[int, Position]) -> None:
    """Refuse a block whose tags do not all stand in the same element or attribute.

    Then every element is opened and closed on the same side of each block tag.
    """
    stack: list[tuple[str, Position]] = []
    for index, token in enumerate(saved):
        if index not in found:
            raise refuse(
                _(
                    "The tag %(tag)s stands where HTML keeps no text (e.g. between table "
                    "cells or inside a tag). Move it into a paragraph."
                )
                % {"tag": tag_text(token)}
            )
        name = block_name(token) if token.token_type is TokenType.BLOCK else ""
        if ALLOWED_TAGS.get(name):
            stack.append((name, found[index]))
        elif name in BLOCK_ENDS and stack:
            opened, where = stack[-1]
            here = found[index]
            if where.element is not here.element or where.attribute != here.attribute:
                raise refuse(
                    _(
                        "An element is opened inside {%% %(tag)s %%} and closed outside it "
                        "(or the reverse). Put whole elements inside the block."
                    )
                    % {"tag": opened}
                )
            if name.startswith("end"):
                stack.pop()


def restored(text: str, replacements: list[str]) -> str:
    """``text`` (lxml or html2text output) as a template: marks back to their tags.

    Every ``{`` of the text is made literal first, so only the editors' tags are tags.
    """
    literal = text.replace("{", "{% templatetag openbrace %}")
    return MARK_RE.sub(lambda found: replacements[int(found.group(1))], literal)


def replacement(token: Token, position: Position | None) -> str:
    """The template text a mark stands for; values in URLs go through ``email_uri``."""
    text = tag_text(token)
    outputs = token.token_type is TokenType.VAR or block_name(token) in ("firstof", "now")
    if position is not None and position.mode and outputs:
        return f"{{% email_uri {position.mode} %}}{text}{{% end_email_uri %}}"
    return text


def trim_block_lines(text: str, block_marks: set[int]) -> str:
    """html2text output with lines that hold only block tags folded away, as Jinja's
    ``trim_blocks`` does, so a false ``{% if %}`` leaves no blank lines behind."""
    out: list[str] = []
    lines = text.split("\n")
    for number, line in enumerate(lines):
        indices = marks_in(line)
        if indices and set(indices) <= block_marks and not MARK_RE.sub("", line).strip():
            if out and out[-1] == "\n":
                out.pop()
            out.append(line.strip())
        else:
            out.append(line + ("\n" if number < len(lines) - 1 else ""))
    return "".join(out)
