"""Filters of the Wagtail admin's receiver and message listings."""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import reduce
from operator import or_

import django_filters
from django import forms
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from wagtail.admin.filters import DateRangePickerWidget, WagtailFilterSet

from .. import conf
from ..models import Message, MessageReceiver
from ..users import user_search_fields

# The largest id a database column can hold; a larger one typed in a URL is refused.
MAX_ID = 2**63 - 1
# A search matching more users than this filters receivers by a subquery instead of a list.
USER_IDS_INLINE_LIMIT = 1000
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


class MessageFilterSet(WagtailFilterSet):
    status = django_filters.MultipleChoiceFilter(
        label=_("Status"),
        choices=Message.Status.choices,
        widget=forms.CheckboxSelectMultiple,
        distinct=False,
    )
    context_type = django_filters.ChoiceFilter(label=_("Context type"), choices=conf.context_types)
    created_datetime = django_filters.DateFromToRangeFilter(
        label=_("Created between"), widget=DateRangePickerWidget
    )

    class Meta:
        model = Message
        fields: list[str] = []


# More words than this are ignored: each word is one more indexed condition to combine.
MAX_SEARCH_WORDS = 8


def search_words(query: str) -> list[str]:
    """The distinct words of a search, in order, at most :data:`MAX_SEARCH_WORDS`."""
    words = dict.fromkeys(query.split())
    return list(words)[:MAX_SEARCH_WORDS]


def search_receivers(queryset: QuerySet, query: str) -> QuerySet:
    """Receivers where every word of ``query`` is in some searched field.

    The searched fields are the subject, the address, and the user's first name, last
    name, username and email, so that "Ingrid Hansen" finds Ingrid Hansen and "deadline
    Assignment" the subject "Assignment 3 deadline".
    """
    for word in search_words(query):
        queryset = queryset.filter(word_condition(word))
    return queryset


def word_condition(word: str) -> Q:
    """Receivers with ``word`` in their subject, address, or user's name, username or email.

    Users are looked up first, in their own small table, so that the receivers are
    filtered by columns of their own table only: on PostgreSQL, the trigram indexes of
    migration 0002 and the ``user`` index answer each word, and the words' answers are
    combined (a bitmap AND) without reading every receiver.
    """
    users = (
        get_user_model()
        .objects.filter(
            reduce(or_, (Q(**{f"{name}__icontains": word}) for name in user_search_fields()))
        )
        .order_by()
        .values_list("pk", flat=True)
    )
    user_ids = list(users[: USER_IDS_INLINE_LIMIT + 1])
    in_users = users if len(user_ids) > USER_IDS_INLINE_LIMIT else user_ids
    return Q(subject__icontains=word) | Q(send_to__icontains=word) | Q(user_id__in=in_users)
