"""Checking editors' text: only allowlisted tags, nested no deeper than the limit.

Django's own lexer reads the source; text inside tags is unescaped from rich text's HTML
first, so what the editor typed is what is checked and compiled.
"""

from __future__ import annotations

import html
from collections.abc import Iterable
from typing import Any

from django.template import Engine, TemplateSyntaxError
from django.template.base import Lexer, Token, TokenType
from django.utils.translation import gettext as _

from ..exceptions import TemplateRenderError
from .engine import ALLOWED_TAGS, BLOCK_ENDS, NESTING_LIMIT, allowed_summary, engine


def tokens(source: str) -> list[Token]:
    """Django's own tokens of ``source``; text in tags unescaped from rich text's HTML."""
    found = Lexer(source).tokenize()
    for token in found:
        if token.token_type is not TokenType.TEXT:
            token.contents = html.unescape(token.contents)
    return found


def tag_text(token: Token) -> str:
    """The source of a tag token as Django reads it."""
    if token.token_type is TokenType.VAR:
        return f"{{{{ {token.contents} }}}}"
    return f"{{% {token.contents} %}}"


def block_name(token: Token) -> str:
    return token.contents.split()[0] if token.contents.split() else ""


def check_tokens(found: Iterable[Token]) -> None:
    """Refuse tags outside the allowlist and nesting deeper than :data:`NESTING_LIMIT`."""
    depth = 0
    for token in found:
        if token.token_type is not TokenType.BLOCK:
            continue
        name = block_name(token)
        if name in ALLOWED_TAGS:
            depth += bool(ALLOWED_TAGS[name])
        elif name.startswith("end") and name in BLOCK_ENDS:
            depth -= 1
        elif name not in BLOCK_ENDS:
            raise TemplateRenderError(
                _("The tag {%% %(name)s %%} is not allowed. %(allowed)s")
                % {"name": name, "allowed": allowed_summary()}
            )
        if depth > NESTING_LIMIT:
            raise TemplateRenderError(
                _("Tags are nested deeper than %(limit)s levels. Simplify the template.")
                % {"limit": NESTING_LIMIT}
            )


def check_source(source: str) -> None:
    """Raise :class:`TemplateRenderError` saying what in ``source`` editors may not write."""
    check_tokens(tokens(source))
    compile_source(source)


def compile_source(source: str, template_engine: Engine = engine) -> Any:
    """``source`` compiled by ``template_engine``; syntax errors say what is allowed."""
    text = "".join(
        token.contents if token.token_type is TokenType.TEXT else tag_text(token)
        for token in tokens(source)
        if token.token_type is not TokenType.COMMENT
    )
    try:
        return template_engine.from_string(text)
    except TemplateSyntaxError as error:
        raise TemplateRenderError(f"{error} {allowed_summary()}") from error
    except RecursionError as error:
        raise TemplateRenderError(_("The template is nested too deeply. Simplify it.")) from error
