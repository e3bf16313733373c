"""Which variables an editor's template reads, and which of them its context type lacks.

Django's own template parser finds them: every ``FilterExpression`` of every node
(``{{ x }}``, ``{% if x %}``, ``{% for i in x %}``, filter arguments). Names that the
template defines itself (loop variables, ``forloop``, ``{% with %}``) are not asked of
the context. Only the first name of a variable is checked, and for ``user`` also the
attribute (``user.first_name``): deeper parts depend on the sample values' shapes.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Iterator

from django.template import Engine, Node, TemplateSyntaxError
from django.template.base import FilterExpression, Variable
from django.template.defaulttags import ForNode, WithNode
from django.utils.translation import gettext as _
from modeltranslation.utils import build_localized_fieldname

from ... import conf
from ...rendering.literals import expressions

TRANSLATED_FIELDS = ("subject", "body", "body_text")
TAG_RE = re.compile(r"{{.*?}}|{%.*?%}", re.DOTALL)
# The attributes of ``user`` every context offers (see rendering.user_context).
USER_ATTRIBUTES = frozenset({"first_name", "last_name", "full_name", "username", "email"})
# Parsed with Django's default tags only: the restricted engine refuses the rest at save.
parser = Engine()


def lookups(expression: FilterExpression) -> Iterator[tuple[str, ...]]:
    """The variable paths an expression reads: its value and its filters' arguments."""
    if isinstance(expression.var, Variable) and expression.var.lookups:
        yield expression.var.lookups
    for _filter, arguments in expression.filters:
        for is_lookup, argument in arguments:
            if is_lookup and argument.lookups:
                yield argument.lookups


def read_and_defined(source: str) -> tuple[set[tuple[str, ...]], set[str]]:
    """Variable paths the template reads, and the names it defines itself."""
    source = TAG_RE.sub(lambda match: html.unescape(match.group()), source)
    try:
        nodes = parser.from_string(source).nodelist.get_nodes_by_type(Node)
    except TemplateSyntaxError:
        return set(), set()  # refused when saved, with the parser's own message
    read: set[tuple[str, ...]] = set()
    defined: set[str] = set()
    for node in nodes:
        if isinstance(node, ForNode):
            defined.update([*node.loopvars, "forloop"])
        elif isinstance(node, WithNode):
            defined.update(node.extra_context)
        for attribute in vars(node).values():
            for expression in expressions(attribute):
                read.update(lookups(expression))
    return read, defined


def unknown_in(source: str, offered: Iterable[str]) -> list[str]:
    """Variables of ``source`` (``{{ asignment }}``) that its context would not offer."""
    read, defined = read_and_defined(source)
    known = set(offered) | defined
    unknown = set()
    for path in read:
        if path[0] == "user":
            if len(path) > 1 and path[1] not in USER_ATTRIBUTES:
                unknown.add(".".join(path[:2]))
        elif path[0] not in known:
            unknown.add(path[0])
    return sorted(unknown)


def unknown_variables(template, languages: Iterable[str]) -> list[str]:
    """Every variable the template's texts read that its context type does not offer."""
    offered = conf.context_variables().get(template.context_type, {})
    unknown: set[str] = set()
    for language in languages:
        for field in TRANSLATED_FIELDS:
            source = getattr(template, build_localized_fieldname(field, language), None)
            unknown.update(unknown_in(source or "", offered))
    return sorted(unknown)


def unknown_variables_warning(template, languages: Iterable[str]) -> str | None:
    """The editor's warning naming the unknown variables, or ``None`` when there are none."""
    unknown = unknown_variables(template, languages)
    if not unknown:
        return None
    label = dict(conf.context_types()).get(template.context_type, template.context_type)
    return _(
        "Saved, but these variables are not offered by the context type “%(type)s”: "
        "%(names)s. They will be empty in the emails. Check the spelling against the "
        "Variables table."
    ) % {"type": label, "names": ", ".join(f"{{{{ {name} }}}}" for name in unknown)}
