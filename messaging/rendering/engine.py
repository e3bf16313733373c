"""The allowlisted template engine editors write in, and the limits every render runs under.

Editors get exactly :data:`ALLOWED_TAGS` and :data:`ALLOWED_FILTERS`; everything else is
refused when a template is saved (see :func:`check_source`). Every render of editors' text
runs under a :class:`Budget`: at most :data:`TIME_LIMIT` seconds and :data:`OUTPUT_LIMIT`
characters per field, and templates nest no deeper than :data:`NESTING_LIMIT`.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.template import (
    Context,
    Engine,
    Library,
    Node,
    NodeList,
    defaultfilters,
    defaulttags,
)
from django.template.defaulttags import ForNode
from django.utils.translation import gettext as _

from ..exceptions import TemplateLimitError
from .literals import literals_as_text, text_output

#: Tags editors may use, with the tags that continue or end them.
ALLOWED_TAGS: dict[str, tuple[str, ...]] = {
    "if": ("elif", "else", "endif"),
    "for": ("empty", "endfor"),
    "with": ("endwith",),
    "firstof": (),
    "now": (),
    "comment": ("endcomment",),
}
#: Filters editors may use: none of them writes markup or grows its input without bound.
ALLOWED_FILTERS: tuple[str, ...] = (
    "date",
    "time",
    "default",
    "default_if_none",
    "upper",
    "lower",
    "title",
    "capfirst",
    "length",
    "pluralize",
    "yesno",
    "floatformat",
    "truncatechars",
    "truncatewords",
    "join",
    "first",
    "last",
    "add",
    "urlencode",
    "timesince",
    "timeuntil",
)
BLOCK_ENDS = {end: tag for tag, ends in ALLOWED_TAGS.items() for end in ends}

TIME_LIMIT = 1.0  # seconds per field and receiver
OUTPUT_LIMIT = 256 * 1024  # characters per field and receiver
NESTING_LIMIT = 20  # block tags inside block tags
FLOATFORMAT_DIGITS = 30  # more decimals than this is a way to make huge numbers


def allowed_summary() -> str:
    """The sentence that tells editors what they may use (never internal names)."""
    tags = ", ".join(
        "/".join([tag, *(end for end in ends if not end.startswith("end"))])
        for tag, ends in ALLOWED_TAGS.items()
    )
    return _("Messages may use the tags %(tags)s and the filters %(filters)s.") % {
        "tags": tags,
        "filters": ", ".join(ALLOWED_FILTERS),
    }


# --- limits ------------------------------------------------------------------------------


@dataclass
class Budget:
    """What one field's render may still spend; carried on the Context as an attribute."""

    deadline: float = field(default_factory=lambda: time.monotonic() + TIME_LIMIT)
    output: int = 0

    def spend(self, characters: int) -> None:
        self.output += characters
        if self.output > OUTPUT_LIMIT:
            raise TemplateLimitError(
                _("The text grows beyond %(limit)s characters. Shorten loops or values.")
                % {"limit": OUTPUT_LIMIT}
            )
        if time.monotonic() > self.deadline:
            raise TemplateLimitError(
                _("Rendering takes longer than %(seconds)s s. Simplify loops.")
                % {"seconds": TIME_LIMIT}
            )


BUDGET_ATTRIBUTE = "messaging_budget"


def limited_context(values: dict[str, Any], autoescape: bool = True) -> Context:
    context = Context(values, autoescape=autoescape)
    setattr(context, BUDGET_ATTRIBUTE, Budget())
    return context


def render_limited(template: Any, context: Context) -> str:
    """``template.render(context)`` under the context's budget; output checked at the end.

    Returns a plain ``str``, never ``SafeString``: what is stored is escaped again wherever
    it is shown (e.g. the preview's ``srcdoc``).
    """
    output = str.__str__(template.render(context))
    budget = getattr(context, BUDGET_ATTRIBUTE)
    budget.spend(len(output) - budget.output)
    return output


class MeteredNodeList(Node):
    """A loop body that charges its output to the budget on each iteration.

    Charging is by difference, so nested loops count each character once.
    """

    def __init__(self, nodelist: NodeList) -> None:
        self.nodelist = nodelist

    def render(self, context: Context) -> str:
        budget = getattr(context, BUDGET_ATTRIBUTE, None)
        if budget is None:
            return self.nodelist.render(context)
        before = budget.output
        output = self.nodelist.render(context)
        budget.output = before
        budget.spend(len(output))
        return output


def metered_for(parser, token) -> ForNode:
    node = defaulttags.do_for(parser, token)
    node.nodelist_loop = NodeList([MeteredNodeList(node.nodelist_loop)])
    return node


def bounded(result: Any) -> Any:
    if isinstance(result, str | list | tuple) and len(result) > OUTPUT_LIMIT:
        raise TemplateLimitError(
            _("A filter made a value longer than %(limit)s characters.") % {"limit": OUTPUT_LIMIT}
        )
    return result


def size(value: Any) -> int:
    return len(value) if isinstance(value, str | list | tuple) else len(str(value))


def guard_join(value: Any, arg: Any) -> None:
    if isinstance(value, str | list | tuple) and len(value) * size(arg) > OUTPUT_LIMIT:
        bounded("x" * (OUTPUT_LIMIT + 1))


def guard_add(value: Any, arg: Any) -> None:
    if size(value) + size(arg) > OUTPUT_LIMIT:
        bounded("x" * (OUTPUT_LIMIT + 1))


def guard_floatformat(value: Any, arg: Any = -1) -> None:
    digits = str(arg).rstrip("gu") or "0"
    if digits.lstrip("-").isdigit() and abs(int(digits)) > FLOATFORMAT_DIGITS:
        raise TemplateLimitError(
            _("floatformat allows at most %(digits)s decimals.") % {"digits": FLOATFORMAT_DIGITS}
        )


GUARDS: dict[str, Callable[..., None]] = {
    "join": guard_join,
    "add": guard_add,
    "floatformat": guard_floatformat,
}


def limited_filter(name: str, function: Callable) -> Callable:
    guard = GUARDS.get(name)

    @functools.wraps(function)  # Django reads the wrapped signature to check arguments
    def wrapper(value, *args, **kwargs):
        if guard is not None:
            guard(value, *args)
        return bounded(function(value, *args, **kwargs))

    return wrapper


# --- the engines -------------------------------------------------------------------------


def editors_library() -> Library:
    library = Library()
    compilers = {
        **{tag: defaulttags.register.tags[tag] for tag in ALLOWED_TAGS},
        "for": metered_for,
    }
    for tag in ALLOWED_TAGS:
        library.tags[tag] = text_output(compilers[tag])
    for name in ALLOWED_FILTERS:
        function = defaultfilters.register.filters[name]
        library.filter(
            name,
            limited_filter(name, function),
            is_safe=getattr(function, "is_safe", False),
            needs_autoescape=getattr(function, "needs_autoescape", False),
            expects_localtime=getattr(function, "expects_localtime", False),
        )
    return library


class RestrictedEngine(Engine):
    """No loaders, no ``{% load %}``, only :data:`ALLOWED_TAGS` and :data:`ALLOWED_FILTERS`.

    Its templates write editors' literals and tags' output as text (see :mod:`.literals`).
    """

    default_builtins: list[str] = []

    def __init__(self, *extra: Library) -> None:
        super().__init__(loaders=[], libraries={}, builtins=[], autoescape=True)
        self.template_builtins = [editors_library(), *extra]

    def from_string(self, template_code: str) -> Any:
        template = super().from_string(template_code)
        literals_as_text(template.nodelist)
        return template


engine = RestrictedEngine()
