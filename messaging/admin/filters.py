"""Filters of the Wagtail admin's receiver and message listings."""

from __future__ import annotations

from datetime import datetime, timedelta

import django_filters
from django import forms
from django.conf import settings
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from wagtail.admin.filters import DateRangePickerWidget, WagtailFilterSet
from wagtail.admin.forms.search import SearchForm

from .. import conf
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


class IdFilter(django_filters.NumberFilter):
    """A whole-number id (``NumberFilter`` takes decimals, which no id matches)."""

    field_class = forms.IntegerField


class MessageReceiverFilterSet(WagtailFilterSet):
    status = django_filters.MultipleChoiceFilter(
        label=_("Status"),
        choices=MessageReceiver.Status.choices,
        widget=forms.CheckboxSelectMultiple,
        distinct=False,  # a plain column: DISTINCT would only slow the listing down
    )
    delivery_status = django_filters.MultipleChoiceFilter(
        label=_("Delivery status"),
        choices=MessageReceiver.DeliveryStatus.choices,
        widget=forms.CheckboxSelectMultiple,
        distinct=False,
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
    status = django_filters.MultipleChoiceFilter(
        label=_("Status"),
        choices=Message.Status.choices,
        widget=forms.CheckboxSelectMultiple,
        distinct=False,
    )
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
        errors = [f"{name}: {' '.join(e)}" for name, e in filterset.errors.items()]
        return gettext("A filter cannot be used: %(errors)s") % {"errors": "; ".join(errors)}
    return ""
