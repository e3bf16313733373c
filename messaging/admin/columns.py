"""Columns of the receivers and messages listings: Wagtail's columns, shaped for one-line rows.

A column says which model fields it reads in ``reads`` (by default, the field of its
name), so that a listing loads exactly those (:func:`fields_read`).

The listings fit the window instead of scrolling sideways (Wagtail's ``main`` hides what
passes its edge). Columns of lower priority show only from one of Wagtail's breakpoints
(:func:`shown_from`); below it, a :class:`Fold` shows their values inside another cell.
The cells marked :data:`FLEX` share the width that is left and cut their text with an
ellipsis. The rules are in ``messaging/static/messaging/admin/admin.css``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from django.core.exceptions import FieldDoesNotExist
from django.db.models import Model
from django.utils.text import Truncator
from wagtail.admin.ui.tables import Column, DateColumn, StatusTagColumn, TitleColumn, UserColumn

from .. import users
from . import counts, formatting

# Characters of the newest error shown in a listing; the full text is in the tooltip.
ERROR_PREVIEW_CHARS = 80

# Wagtail's breakpoints a column can be shown from: "lg" is a 1200 px window, "xl" 1600 px.
BREAKPOINTS = ("lg", "xl")
# A column sharing the width the others leave, its texts cut with an ellipsis.
FLEX = "msg-flex"

ColumnT = TypeVar("ColumnT", bound=Column)


def shown_from(breakpoint: str, column: ColumnT) -> ColumnT:
    """``column``, shown only in windows at least as wide as Wagtail's ``breakpoint``."""
    if breakpoint not in BREAKPOINTS:
        raise ValueError(f"breakpoint must be one of {BREAKPOINTS}, not {breakpoint!r}")
    column.classname = " ".join(filter(None, [column.classname, f"msg-from-{breakpoint}"]))
    return column


@dataclass(frozen=True)
class Fold:
    """Values of other columns, shown on a line of their own inside a cell below a breakpoint.

    ``until`` is the breakpoint (``"lg"`` or ``"xl"``) from which those columns show
    themselves; ``labelled`` puts each column's label before its value (for numbers).
    Empty values, zero counts among them, are left out: the line says only what is there.
    """

    columns: Sequence[Column]
    until: str
    labelled: bool = False
    classname: str = ""

    def items(self, instance) -> list[dict]:
        items = []
        for column in self.columns:
            value = column.get_value(instance)
            if not value:
                continue
            if hasattr(value, "get_username"):  # a user: the name the admin shows
                value = formatting.user_display(value)
            items.append({"label": column.label, "value": value})
        return items


class FoldsMixin:
    """A column whose cells also show the :class:`Fold` values given in ``folds``."""

    def __init__(self, *args, folds: Sequence[Fold] = (), **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.folds = tuple(folds)

    def get_cell_context_data(self, instance, parent_context) -> dict:
        context = super().get_cell_context_data(instance, parent_context)  # type: ignore[misc]
        context["folds"] = [
            {"fold": fold, "items": items} for fold in self.folds if (items := fold.items(instance))
        ]
        return context


class OneLineTitleColumn(FoldsMixin, TitleColumn):
    """A linked title kept on one line, ellipsized, with the whole text as its tooltip.

    It takes the largest share of the width left to the flexible columns.
    """

    cell_template_name = "messaging/admin/title_cell.html"

    def __init__(self, name: str, **kwargs) -> None:
        kwargs.setdefault("classname", f"msg-one-line {FLEX} {FLEX}--title")
        super().__init__(name, **kwargs)

    def get_link_attrs(self, instance, parent_context) -> dict:
        attrs = super().get_link_attrs(instance, parent_context)
        attrs["title"] = str(self.get_value(instance) or "")
        return attrs


class NoWrapDateColumn(DateColumn):
    """Wagtail's human-readable date, never broken over two lines."""

    def __init__(self, name: str, **kwargs) -> None:
        kwargs.setdefault("classname", "msg-nowrap")
        super().__init__(name, **kwargs)


class StatusColumn(FoldsMixin, StatusTagColumn):
    """Wagtail's status tag showing the status's label, coloured per status."""

    cell_template_name = "messaging/admin/status_cell.html"

    def __init__(self, name: str = "status", **kwargs) -> None:
        kwargs.setdefault("accessor", "get_status_display")
        kwargs.setdefault("classname", "msg-nowrap")
        super().__init__(name, **kwargs)

    def get_cell_context_data(self, instance, parent_context) -> dict:
        context = super().get_cell_context_data(instance, parent_context)
        context["status_classname"] = f"msg-status msg-status--{instance.status}"
        return context


class ReceiverUserColumn(UserColumn):
    """Wagtail's avatar and name, followed by the address the email went to."""

    cell_template_name = "messaging/admin/user_cell.html"

    def __init__(self, name: str = "user", **kwargs) -> None:
        kwargs.setdefault("classname", f"msg-one-line {FLEX}")
        super().__init__(name, **kwargs)

    @property
    def reads(self) -> tuple[str, ...]:
        # Wagtail's avatar reads the profile: one join, not one query per row.
        names = (f"user__{field}" for field in users.user_name_fields())
        return ("send_to", "user__id", "user__wagtail_userprofile__avatar", *names)

    def get_cell_context_data(self, instance, parent_context) -> dict:
        context = super().get_cell_context_data(instance, parent_context)
        context["address"] = formatting.receiver_address(instance)
        return context


class LanguageColumn(Column):
    """The language's name, as the site calls it."""

    def __init__(self, name: str = "language", **kwargs) -> None:
        kwargs.setdefault("accessor", lambda receiver: formatting.language_name(receiver.language))
        kwargs.setdefault("classname", "msg-nowrap")
        super().__init__(name, **kwargs)


class LastErrorColumn(Column):
    """The newest error of a failed or error receiver, shortened; the whole text as tooltip.

    Reads the ``last_error`` annotation of ``MessageReceiver.objects.with_last_error()``.
    """

    cell_template_name = "messaging/admin/last_error_cell.html"
    reads = ()  # an annotation, computed by the database

    def __init__(self, name: str = "last_error", **kwargs) -> None:
        kwargs.setdefault("classname", f"msg-one-line msg-last-error {FLEX}")
        super().__init__(name, **kwargs)

    def get_cell_context_data(self, instance, parent_context) -> dict:
        context = super().get_cell_context_data(instance, parent_context)
        full = str(context["raw_value"] or "")
        context["full_text"] = full
        context["value"] = Truncator(full).chars(ERROR_PREVIEW_CHARS)
        return context


class ContextTypeColumn(Column):
    """The label of the receiver's message's context type."""

    reads = ("message__id", "message__context_type")

    def __init__(self, name: str = "context_type", **kwargs) -> None:
        kwargs.setdefault("accessor", "message.get_context_type_display")
        kwargs.setdefault("classname", f"msg-one-line {FLEX}")
        super().__init__(name, **kwargs)


class ReceiverCountsColumn(Column):
    """A message's receivers per status, each count linked to those receivers."""

    cell_template_name = "messaging/admin/receiver_counts_cell.html"

    def get_cell_context_data(self, instance, parent_context) -> dict:
        context = super().get_cell_context_data(instance, parent_context)
        context["counts"] = counts.message_status_rows(instance)
        return context


def fields_read(columns: Iterable[Column], model: type[Model]) -> list[str]:
    """The fields of ``model`` that ``columns`` read, for ``QuerySet.only()``.

    A column's ``reads``, or else its name when that is a field of ``model``; columns
    that read no field (a checkbox) add nothing. The primary key is always read.
    """
    fields = [model._meta.pk.name]
    for column in columns:
        reads = getattr(column, "reads", None)
        fields.extend(own_field(column.name, model) if reads is None else reads)
    return list(dict.fromkeys(fields))


def own_field(name: str, model: type[Model]) -> tuple[str, ...]:
    try:
        model._meta.get_field(name)
    except FieldDoesNotExist:
        return ()
    return (name,)
