"""The receivers listing's CSV and XLSX export: chunked, in the site's time, formula-free."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from django.db.models import Model, QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from wagtail.admin.views.generic import IndexView

from . import formatting

# A text cell starting with one of these is a formula to a spreadsheet.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


class Chunked:
    """A queryset read in chunks when iterated: an export of a million rows stays small."""

    def __init__(self, queryset: QuerySet, chunk_size: int = 2000) -> None:
        self.queryset = queryset
        self.model = queryset.model
        self.chunk_size = chunk_size

    def __iter__(self) -> Iterator[Model]:
        return self.queryset.iterator(chunk_size=self.chunk_size)


def csv_safe(value: object) -> object:
    """A text cell a spreadsheet will not run as a formula (user names are user input)."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def site_time(value: datetime) -> datetime:
    """An exported time: in the site's time zone (``TIME_ZONE``), to the second, naive.

    Spreadsheets have no time zones; the site's zone is the one every reader shares.
    """
    if timezone.is_aware(value):
        value = timezone.make_naive(value, timezone.get_default_timezone())
    return value.replace(microsecond=0)


# The fields of the receivers' export that no column of the listing reads.
EXPORT_ONLY = ("sent_via",)


class ReceiverExport(IndexView):
    """The receivers listing's CSV and XLSX export (the base of its Wagtail index view):
    the columns, their headings, times in the site's zone, and cells safe in a spreadsheet."""

    # What each row of the export holds (see to_row_dict). The model's fields are headed
    # by their verbose names, as Wagtail does; the other values are named here.
    list_export = [
        "id",
        "created_datetime",
        "subject",
        "user_display",
        "address",
        "language_name",
        "sending_failed_count",
        "sending_success_count",
        "get_status_display",
        "sent_datetime",
        "sent_via",
        "message.get_context_type_display",
        "last_error",
    ]
    export_headings = {
        "user_display": _("User"),
        "address": _("Email address"),
        "language_name": _("Language"),
        "get_status_display": _("Status"),
        "message.get_context_type_display": _("Context type"),
        "last_error": _("Last error"),
    }
    custom_value_preprocess = {
        **IndexView.custom_value_preprocess,
        datetime: {
            IndexView.FORMAT_CSV: lambda value: str(site_time(value)),
            IndexView.FORMAT_XLSX: site_time,
        },
    }

    def as_spreadsheet(self, queryset: QuerySet, spreadsheet_format: str):
        return super().as_spreadsheet(Chunked(queryset), spreadsheet_format)

    def to_row_dict(self, item: Any) -> dict:
        """A receiver's row, with the values that are no field of it added."""
        item.user_display = formatting.user_display(item.user)
        item.address = formatting.receiver_address(item)
        item.language_name = formatting.language_name(item.language)
        return super().to_row_dict(item)

    def preprocess_field_value(self, field, value, export_format):
        value = super().preprocess_field_value(field, value, export_format)
        if export_format == self.FORMAT_CSV:
            return csv_safe(value)
        return value  # Wagtail already writes XLSX formulas as text
