"""Filters of the Wagtail admin's receiver and message listings."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

import django_filters
from django import forms
from django.conf import settings
from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.db.models import Field, IntegerField, Model, Q, QuerySet
from django.db.models.constants import LOOKUP_SEP
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from wagtail.admin.filters import DateRangePickerWidget, WagtailFilterSet
from wagtail.admin.forms.search import SearchForm

from .. import conf, status
from ..models import Message, MessageReceiver

# The largest id a database column can hold; a larger one typed in a URL is refused.
MAX_ID = 2**63 - 1
SENT_PRESETS = [
    ("today", _("Today")),
    ("past_7_days", _("Past 7 days")),
    ("this_month", _("This month")),
    ("this_year", _("This year")),
    ("no_date", _("No date")),
    ("has_date", _("Has date")),
]


def languages() -> list[tuple[str, str]]:
    return list(settings.LANGUAGES)


def mailers() -> list[tuple[str, str]]:
    """The site's mailers (``MESSAGING_MAILERS``) and any other that ever sent, by alias."""
    return [(relay.mailer, relay.mailer) for relay in status.relays()]


def preset_start(preset: str, now: datetime) -> datetime:
    """The first moment of a preset's period, in the current time zone (as Django's admin)."""
    today = timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)
    return {
        "today": today,
        "past_7_days": today - timedelta(days=7),
        "this_month": today.replace(day=1),
        "this_year": today.replace(month=1, day=1),
    }[preset]


class DatePresetFilter(django_filters.ChoiceFilter):
    """The Django admin's date presets: today, past 7 days, this month, this year, no/has date."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("choices", SENT_PRESETS)
        kwargs.setdefault("widget", forms.RadioSelect)
        super().__init__(*args, **kwargs)

    def filter(self, qs: QuerySet, value: str) -> QuerySet:
        if not value:
            return qs
        if value == "no_date":
            return qs.filter(**{f"{self.field_name}__isnull": True})
        if value == "has_date":
            return qs.filter(**{f"{self.field_name}__isnull": False})
        return qs.filter(**{f"{self.field_name}__gte": preset_start(value, timezone.now())})


class ChoicesFilter(django_filters.MultipleChoiceFilter):
    """Checkboxes for the values of one column of the listed model; any number ticked."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("widget", forms.CheckboxSelectMultiple)
        # A column of the listed model, not a relation: DISTINCT would only slow it down.
        kwargs.setdefault("distinct", False)
        super().__init__(*args, **kwargs)


class IdFilter(django_filters.NumberFilter):
    """A whole-number id (``NumberFilter`` takes decimals, which no id matches)."""

    field_class = forms.IntegerField


class MessageReceiverFilterSet(WagtailFilterSet):
    status = ChoicesFilter(label=_("Status"), choices=MessageReceiver.Status.choices)
    delivery_status = ChoicesFilter(
        label=_("Delivery status"), choices=MessageReceiver.DeliveryStatus.choices
    )
    sent_datetime = DatePresetFilter(label=_("Sent"), empty_label=_("Any date"))
    sent_range = django_filters.DateFromToRangeFilter(
        field_name="sent_datetime", label=_("Sent between"), widget=DateRangePickerWidget
    )
    created_datetime = django_filters.DateFromToRangeFilter(
        label=_("Created between"), widget=DateRangePickerWidget
    )
    context_type = django_filters.ChoiceFilter(
        field_name="message__context_type", label=_("Context type"), choices=conf.context_types
    )
    message_type = django_filters.ChoiceFilter(
        label=_("Message type"), choices=[("email", _("Email"))]
    )
    language = django_filters.ChoiceFilter(label=_("Language"), choices=languages)
    sent_via = django_filters.ChoiceFilter(label=_("Sent via"), choices=mailers)
    message = IdFilter(
        field_name="message_id",
        label=_("Message ID"),
        widget=forms.NumberInput,
        min_value=1,
        max_value=MAX_ID,
    )

    class Meta:
        model = MessageReceiver
        fields: list[str] = []


class ScheduledFilter(django_filters.BooleanFilter):
    """Yes: messages waiting for their time (``scheduled``); no: all the others."""

    def filter(self, qs: QuerySet, value: bool | None) -> QuerySet:
        if value is None:
            return qs
        scheduled = Q(status=Message.Status.SCHEDULED)
        return qs.filter(scheduled) if value else qs.exclude(scheduled)


class MessageFilterSet(WagtailFilterSet):
    status = ChoicesFilter(label=_("Status"), choices=Message.Status.choices)
    scheduled = ScheduledFilter(label=_("Scheduled"))
    send_at = django_filters.DateFromToRangeFilter(
        label=_("Scheduled between"), widget=DateRangePickerWidget
    )
    context_type = django_filters.ChoiceFilter(label=_("Context type"), choices=conf.context_types)
    priority = django_filters.ChoiceFilter(label=_("Priority"), choices=Message.Priority.choices)
    created_datetime = django_filters.DateFromToRangeFilter(
        label=_("Created between"), widget=DateRangePickerWidget
    )

    class Meta:
        model = Message
        fields: list[str] = []


def input_problem(search: SearchForm | None, filterset: WagtailFilterSet | None) -> str:
    """What is wrong with the search text or a filter typed, or "" when all is usable.

    A listing with a problem lists nothing (and says why) rather than everything.
    """
    if search is not None and search.is_bound and not search.is_valid():
        return gettext("The search text cannot be used: %(errors)s") % {
            "errors": " ".join(search.errors.get("q", []))
        }
    if filterset is not None and not filterset.is_valid():
        return filter_problem(filterset.errors)
    return ""


def filter_problem(errors: Mapping[str, list[str]]) -> str:
    """The message naming each filter that cannot be used and why, or "" for none."""
    if not errors:
        return ""
    listed = [f"{name}: {' '.join(messages)}" for name, messages in errors.items()]
    return gettext("A filter cannot be used: %(errors)s") % {"errors": "; ".join(listed)}


# --- values typed for the Django admin's lookups -----------------------------------------

# A value compared with an integer column (an id, a count, a relation's id).
WHOLE_NUMBER = forms.IntegerField(
    min_value=-MAX_ID - 1,
    max_value=MAX_ID,
    error_messages={"required": _("Enter a whole number.")},
)
# Any other value: text as every form takes it, which refuses a NUL character.
TEXT = forms.CharField(required=False, strip=False)
# The lookups that compare a column with the value itself (``in``: with each of a list).
COMPARISONS = {"exact", "in", "gt", "gte", "lt", "lte"}


def lookup_problem(model: type[Model], params: Mapping[str, list[str]]) -> str:
    """What is wrong with the values of lookups such as ``?user=5`` or
    ``?status__exact=sent`` on ``model``, or "" when the database can use them all.

    The Django admin filters by any field named in its URL and leaves the values to the
    database, which fails on a NUL character (PostgreSQL) or a whole number beyond 64
    bits (SQLite). Each value is checked here by a form field, as the Wagtail listings'
    filters check theirs, and the message reads as theirs.
    """
    errors: dict[str, list[str]] = {}
    for lookup, values in params.items():
        check = value_check(model, lookup)
        parts = [part for value in values for part in lookup_values(lookup, value)]
        for part in parts:
            try:
                check.clean(part)
            except ValidationError as error:
                errors[lookup] = error.messages
                break
    return filter_problem(errors)


def lookup_values(lookup: str, value: str) -> list[str]:
    """The values a lookup compares with: an ``in`` lookup's list is comma-separated."""
    return value.split(",") if lookup.endswith(LOOKUP_SEP + "in") else [value]


def value_check(model: type[Model], lookup: str) -> forms.Field:
    """:data:`WHOLE_NUMBER` for a comparison with an integer column, else :data:`TEXT`."""
    field, rest = lookup_field(model, lookup)
    compares = not rest or (len(rest) == 1 and rest[0] in COMPARISONS)
    return WHOLE_NUMBER if compares and isinstance(field, IntegerField) else TEXT


def lookup_field(model: type[Model], lookup: str) -> tuple[Field | None, list[str]]:
    """The column ``lookup`` compares with (for a relation, the column it points to) and
    the parts of ``lookup`` after it (its lookup and transforms)."""
    parts = lookup.split(LOOKUP_SEP)
    field = None
    for index, part in enumerate(parts):
        try:
            field = model._meta.pk if part == "pk" else model._meta.get_field(part)
        except FieldDoesNotExist:
            return target(field), parts[index:]
        if isinstance(field.related_model, type):  # a relation: go on in its model
            model = field.related_model
    return target(field), []


def target(field) -> Field | None:
    return getattr(field, "target_field", field) if field is not None else None
