"""Editors write text, never markup: their literals and their tags' output are escaped.

Django marks every quoted literal of a template safe, so ``{% firstof '<b>' %}``,
``{{ x|default:'<b>' }}`` or ``{% with x='<b>' %}`` would write markup, and a tag's own
output (``{% now '\\<\\b\\>' %}``) is written as it is. For editors' templates both are
text, exactly like a value:

- :func:`literals_as_text` turns every literal of a compiled template into a plain
  string, so Django escapes it wherever it is written (and keeps it verbatim where the
  context does not autoescape: the subject and the plain text);
- :class:`TextOutputNode` wraps every allowed tag, so that output the tag did not escape
  itself is escaped where the context autoescapes, as Django does for a variable.

Both rules hold for any tag or filter added to the allowlist.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from django.template import Context, Node, NodeList
from django.template.base import FilterExpression, Variable
from django.template.smartif import TokenBase
from django.utils.html import conditional_escape
from django.utils.safestring import SafeData

NESTING_LIMIT = 50  # deeper than any template that compiles: a cycle, stop looking


def expressions(value: object, depth: int = 0) -> Iterator[FilterExpression]:
    """The filter expressions in a node attribute: lists, dicts and ``{% if %}`` conditions."""
    if depth > NESTING_LIMIT:
        return
    if isinstance(value, FilterExpression):
        yield value
    elif isinstance(value, list | tuple):
        for item in value:
            yield from expressions(item, depth + 1)
    elif isinstance(value, dict):
        for item in value.values():
            yield from expressions(item, depth + 1)
    elif isinstance(value, TokenBase):
        # {% if %} conditions: TemplateLiteral (.value) and operators (.first, .second).
        for name in ("value", "first", "second"):
            yield from expressions(getattr(value, name, None), depth + 1)


def node_expressions(nodelist: NodeList) -> Iterator[tuple[Node, FilterExpression]]:
    """Every filter expression of every node in ``nodelist``, with its node."""
    for node in nodelist.get_nodes_by_type(Node):
        for attribute in vars(node).values():
            for expression in expressions(attribute):
                yield node, expression


def as_text(value: Any) -> Any:
    """``value`` without Django's safe mark (``str.__str__`` of a SafeString is a str)."""
    return str.__str__(value) if isinstance(value, str) and isinstance(value, SafeData) else value


class TextArgument:
    """A filter's literal argument, read as plain text.

    Django resolves a literal argument (``default:'<b>'``) with ``mark_safe`` each time, so
    it is handed to the filter as a lookup that resolves to the plain string instead.
    """

    lookups = None  # what Variable has for a literal: no context name is read

    def __init__(self, text: Any) -> None:
        self.text = as_text(text)

    def resolve(self, context: Context) -> Any:
        return self.text


def argument_as_text(is_lookup: bool, argument: Any) -> tuple[bool, Any]:
    if is_lookup:
        unmark_variable(argument)
        return is_lookup, argument
    return True, TextArgument(argument)


def unmark_variable(variable: Any) -> None:
    if isinstance(variable, Variable) and variable.literal is not None:
        variable.literal = as_text(variable.literal)


def literals_as_text(nodelist: NodeList) -> None:
    """Make every literal of ``nodelist`` (values and filter arguments) plain text."""
    for _node, expression in node_expressions(nodelist):
        if expression.is_var:
            unmark_variable(expression.var)
        else:
            expression.var = as_text(expression.var)
        expression.filters = [
            (function, [argument_as_text(*argument) for argument in arguments])
            for function, arguments in expression.filters
        ]


class TextOutputNode(Node):
    """An allowed tag whose output, unless the tag escaped it, is escaped like a value."""

    child_nodelists = ("nodelist",)

    def __init__(self, node: Node) -> None:
        self.node = node
        self.nodelist = NodeList([node])

    def render(self, context: Context) -> str:
        output = self.node.render_annotated(context)
        if context.autoescape and not isinstance(output, SafeData):
            return conditional_escape(output)
        return output


def text_output(compile_tag: Callable[..., Node]) -> Callable[..., Node]:
    """``compile_tag`` (a tag's compile function) whose node writes text only."""

    def compile_text_tag(parser: Any, token: Any) -> Node:
        return TextOutputNode(compile_tag(parser, token))

    return compile_text_tag
