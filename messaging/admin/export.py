"""The receivers listing's CSV and XLSX export: chunked, in the site's time, formula-free."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from django.db.models import Model, QuerySet
from django.utils import timezone

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
