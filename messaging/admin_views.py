"""Views of the Wagtail admin for receivers and messages: listings, inspection, resend."""

from __future__ import annotations

from datetime import datetime
from functools import cached_property

from django.db.models import Count, OuterRef, Q, QuerySet, Subquery
from django.http import HttpRequest, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext_lazy as _
from django.views import View
from wagtail.admin import messages
from wagtail.admin.paginator import WagtailPaginator
from wagtail.admin.ui.tables import (
    BulkActionsCheckboxColumn,
    Column,
    NumberColumn,
    TitleColumn,
    UserColumn,
)
from wagtail.admin.views import generic
from wagtail.admin.widgets.button import HeaderButton

from . import admin_columns as columns
from . import admin_formatting as formatting
from . import users
from .admin_permissions import can_resend, refuse_resend, usable_bulk_actions
from .filters import MessageFilterSet, MessageReceiverFilterSet, search_receivers
from .models import Message, MessageReceiver
from .sending import request_sends

RECEIVER_LIST_FIELDS = [
    "id",
    "created_datetime",
    "subject",
    "send_to",
    "language",
    "sending_failed_count",
    "sending_success_count",
    "status",
    "sent_datetime",
    "message__id",
    "message__context_type",
    "user__id",
    # Wagtail's avatar (UserColumn) reads the profile: one join, not one query per row.
    "user__wagtail_userprofile__avatar",
]


class CappedPaginator(WagtailPaginator):
    """Counts at most ``cap`` rows, so a page of a million-row listing never counts them all."""

    cap = 10_000

    @cached_property
    def count(self) -> int:
        # Only the keys: the listing's annotations (the last error) stay out of the count.
        return self.object_list.order_by().values("pk")[: self.cap + 1].count()

    @cached_property
    def is_capped(self) -> bool:
        return self.count > self.cap

    @cached_property
    def items_count_label(self) -> str:
        if self.is_capped:
            return _("More than %(count)s %(name)s") % {
                "count": f"{self.cap:,}",
                "name": self.verbose_name_plural,
            }
        return super().items_count_label


class Chunked:
    """A queryset read in chunks when iterated: an export of a million rows stays small."""

    def __init__(self, queryset: QuerySet, chunk_size: int = 2000) -> None:
        self.queryset = queryset
        self.model = queryset.model
        self.chunk_size = chunk_size

    def __iter__(self):
        return self.queryset.iterator(chunk_size=self.chunk_size)


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(value):
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


def user_display(user) -> str:
    if user is None:
        return ""
    name = user.get_full_name().strip()
    return f"{name} ({user.get_username()})" if name else user.get_username()


def receiver_columns(view: ReceiverIndexView) -> list:
    checkbox = [BulkActionsCheckboxColumn("bulk_actions", obj_type="receiver")]
    return [
        *(checkbox if view.bulk_actions else []),
        Column("id", label=_("ID"), sort_key="id", classname="msg-nowrap"),
        columns.NoWrapDateColumn(
            "created_datetime", label=_("Created"), sort_key="created_datetime"
        ),
        columns.OneLineTitleColumn(
            "subject",
            label=_("Subject"),
            sort_key="subject",
            get_url=view.get_inspect_url,
            get_title_id=lambda obj: f"receiver_{obj.pk}_title",
        ),
        columns.ReceiverUserColumn("user", label=_("User"), sort_key="user__username"),
        columns.LanguageColumn("language", label=_("Language"), sort_key="language"),
        NumberColumn("sending_failed_count", label=_("Failed"), sort_key="sending_failed_count"),
        NumberColumn(
            "sending_success_count", label=_("Succeeded"), sort_key="sending_success_count"
        ),
        columns.StatusColumn("status", label=_("Status"), sort_key="status"),
        columns.NoWrapDateColumn("sent_datetime", label=_("Sent"), sort_key="sent_datetime"),
        columns.LastErrorColumn("last_error", label=_("Last error")),
        Column(
            "context_type",
            accessor="message.get_context_type_display",
            label=_("Context type"),
            sort_key="message__context_type",
            classname="msg-one-line",
        ),
    ]


class ReceiverIndexView(generic.IndexView):
    template_name = "messaging/admin/receivers/index.html"
    results_template_name = "messaging/admin/receivers/index_results.html"
    filterset_class = MessageReceiverFilterSet
    table_classname = "listing msg-listing"
    paginator_class = CappedPaginator
    # Searching is done by search_receivers(); this only turns the search box on.
    search_fields = ["subject"]
    search_backend_name = None
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
        "message.get_context_type_display",
        "last_error",
    ]
    export_headings = {
        "id": _("ID"),
        "created_datetime": _("Created"),
        "subject": _("Subject"),
        "user_display": _("User"),
        "address": _("Email address"),
        "language_name": _("Language"),
        "sending_failed_count": _("Failed count"),
        "sending_success_count": _("Success count"),
        "get_status_display": _("Status"),
        "sent_datetime": _("Sent"),
        "message.get_context_type_display": _("Context type"),
        "last_error": _("Last error"),
    }
    custom_value_preprocess = {
        **generic.IndexView.custom_value_preprocess,
        datetime: {
            generic.IndexView.FORMAT_CSV: lambda value: str(site_time(value)),
            generic.IndexView.FORMAT_XLSX: site_time,
        },
    }

    @cached_property
    def bulk_actions(self) -> list:
        """The bulk actions this user may use; with none, the listing has no checkboxes."""
        return usable_bulk_actions(self.request.user, MessageReceiver)

    @cached_property
    def columns(self) -> list:
        return receiver_columns(self)

    @cached_property
    def input_problem(self) -> str:
        """What is wrong with the search text or a filter typed, or "" when all is usable."""
        search = self.search_form
        if search is not None and search.is_bound and not search.is_valid():
            return _("The search text cannot be used: %(errors)s") % {
                "errors": " ".join(search.errors.get("q", []))
            }
        if self.filters is not None and not self.filters.is_valid():
            errors = [f"{name}: {' '.join(e)}" for name, e in self.filters.errors.items()]
            return _("A filter cannot be used: %(errors)s") % {"errors": "; ".join(errors)}
        return ""

    def filter_queryset(self, queryset: QuerySet) -> QuerySet:
        # Wagtail ignores invalid filters and lists everything; list nothing instead.
        if self.input_problem:
            return queryset.none()
        return super().filter_queryset(queryset)

    def search_queryset(self, queryset: QuerySet) -> QuerySet:
        if not self.is_searching:
            return queryset
        return search_receivers(queryset, self.search_query)

    def get_base_queryset(self) -> QuerySet:
        # The wide columns (HTML, text, status_data) stay in the database.
        return (
            MessageReceiver.objects.select_related("user__wagtail_userprofile", "message")
            .only(*RECEIVER_LIST_FIELDS, *(f"user__{name}" for name in users.user_search_fields()))
            .with_last_error()
        )

    def as_spreadsheet(self, queryset: QuerySet, spreadsheet_format: str):
        return super().as_spreadsheet(Chunked(queryset), spreadsheet_format)

    def to_row_dict(self, item: MessageReceiver) -> dict:
        item.user_display = user_display(item.user)
        item.address = formatting.receiver_address(item)
        item.language_name = columns.language_name(item.language)
        return super().to_row_dict(item)

    def preprocess_field_value(self, field, value, export_format):
        value = super().preprocess_field_value(field, value, export_format)
        if export_format == self.FORMAT_CSV:
            return csv_safe(value)
        return value  # Wagtail already writes XLSX formulas as text

    def get_context_data(self, **kwargs) -> dict:
        context = super().get_context_data(**kwargs)
        context["items_capped"] = getattr(context.get("paginator"), "is_capped", False)
        if self.input_problem:
            messages.error(self.request, self.input_problem)
        context["show_bulk_actions"] = bool(self.bulk_actions)
        return context


class ReadableInspectMixin:
    """Dates in the user's time zone (Wagtail shows them in UTC) and "-" for empty values."""

    def get_field_display_value(self, field_name, field):
        value = super().get_field_display_value(field_name, field)
        if isinstance(value, datetime):
            return timezone.localtime(value)
        return "-" if value is None or value == "" else value


class ReceiverInspectView(ReadableInspectMixin, generic.InspectView):
    template_name = "messaging/admin/receivers/inspect.html"
    fields = [
        "id",
        "message",
        "user",
        "send_to",
        "language",
        "subject",
        "message_type",
        "status",
        "delivery_status",
        "created_datetime",
        "sent_datetime",
        "sending_failed_count",
        "sending_success_count",
        "pending_sends",
        "send_requested_at",
        "next_attempt_at",
    ]
    resend_url_name: str | None = None

    def get_object(self, queryset=None) -> MessageReceiver:
        return get_object_or_404(
            MessageReceiver.objects.select_related("user", "message"), pk=self.pk
        )

    def get_message_display_value(self):
        message = self.object.message
        return formatting.link(reverse("messaging_messages:inspect", args=[message.pk]), message)

    def get_user_display_value(self) -> str:
        return user_display(self.object.user) or "-"

    def get_header_buttons(self) -> list:
        buttons = super().get_header_buttons()
        if can_resend(self.request.user):
            buttons.append(
                HeaderButton(
                    _("Resend"),
                    icon_name="rotate",
                    attrs={"type": "submit", "form": "messaging-resend-form"},
                )
            )
        return buttons

    def get_context_data(self, **kwargs) -> dict:
        context = super().get_context_data(**kwargs)
        receiver = self.object
        context.update(
            resend_url=reverse(self.resend_url_name, args=[receiver.pk]),
            errors=[formatting.error_context(entry) for entry in receiver.errors],
            delivery_events=list(reversed(receiver.delivery_events or [])),
            status_data_json=formatting.pretty_json(receiver.status_data),
            metadata_json=formatting.pretty_json(receiver.metadata),
        )
        return context


class ReceiverResendView(View):
    """POST only: ask for one more delivery of one receiver, whatever its status."""

    http_method_names = ["post"]
    inspect_url_name: str | None = None

    def post(self, request: HttpRequest, pk: int) -> HttpResponseRedirect:
        receiver = get_object_or_404(MessageReceiver, pk=pk)
        inspect_url = reverse(self.inspect_url_name, args=[receiver.pk])
        if not can_resend(request.user):
            return refuse_resend(request, inspect_url)
        request_sends([receiver.pk])
        messages.success(request, _("The email was queued for sending again."))
        return HttpResponseRedirect(inspect_url)


def status_counts(prefix: str = "receivers__") -> dict:
    """``Count`` annotations of receivers per status, for one grouped query.

    Counted from the receivers themselves (no prefix), counting the (never null) status
    lets PostgreSQL answer from the (message, status) index alone.
    """
    counted = f"{prefix}pk" if prefix else "status"
    counts = {"receiver_count": Count(counted)}
    for status in MessageReceiver.Status.values:
        counts[f"count_{status}"] = Count(counted, filter=Q(**{f"{prefix}status": status}))
    return counts


def annotate_page(messages: list[Message]) -> list[Message]:
    """Set ``receiver_count`` and ``count_<status>`` on a page of messages, in one query.

    Counting only the page's messages (through the receivers' message index) keeps the
    listing fast however many receivers there are; annotating the listing's queryset
    would group every receiver before the page is cut.
    """
    rows = (
        MessageReceiver.objects.filter(message_id__in=[m.pk for m in messages])
        .order_by()
        .values("message_id")
        .annotate(**status_counts(prefix=""))
    )
    by_message = {row.pop("message_id"): row for row in rows}
    empty = dict.fromkeys(status_counts(prefix=""), 0)
    for message in messages:
        for name, value in by_message.get(message.pk, empty).items():
            setattr(message, name, value)
    return messages


class ReceiverCountsColumn(Column):
    cell_template_name = "messaging/admin/receiver_counts_cell.html"

    def get_cell_context_data(self, instance, parent_context):
        context = super().get_cell_context_data(instance, parent_context)
        context["counts"] = formatting.status_counts(instance)
        return context


def message_subject(message: Message) -> str:
    """What a message said: one of its receivers' subjects, else its template's name."""
    subject = getattr(message, "receiver_subject", None)
    if subject:
        return subject
    return message.template.name if message.template else ""


class MessageIndexView(generic.IndexView):
    filterset_class = MessageFilterSet
    table_classname = "listing msg-listing"
    search_fields = ["template__name", "context_type"]
    search_backend_name = None

    @cached_property
    def columns(self) -> list:
        return [
            TitleColumn(
                "id",
                label=_("ID"),
                sort_key="id",
                get_url=self.get_inspect_url,
                classname="msg-nowrap",
            ),
            columns.OneLineTitleColumn(
                "subject",
                accessor=message_subject,
                label=_("Subject"),
                get_url=self.get_inspect_url,
            ),
            columns.NoWrapDateColumn(
                "created_datetime", label=_("Created"), sort_key="created_datetime"
            ),
            columns.StatusColumn("status", label=_("Status"), sort_key="status"),
            Column(
                "context_type",
                accessor="get_context_type_display",
                label=_("Context type"),
                sort_key="context_type",
                classname="msg-one-line",
            ),
            UserColumn("created_by", label=_("Created by"), classname="msg-one-line"),
            Column("template", label=_("Template"), classname="msg-one-line"),
            ReceiverCountsColumn(
                "receiver_counts", accessor="receiver_count", label=_("Receivers")
            ),
        ]

    def get_base_queryset(self) -> QuerySet:
        # One receiver's subject, found through the receivers' message index; ordering
        # them to find the very first would sort every receiver of a big message.
        a_subject = MessageReceiver.objects.filter(message=OuterRef("pk")).order_by()
        return (
            Message.objects.select_related("created_by__wagtail_userprofile", "template")
            .defer("status_data", "metadata", "template_context", "virtual_message_receivers")
            .annotate(receiver_subject=Subquery(a_subject.values("subject")[:1]))
        )

    def paginate_queryset(self, queryset: QuerySet, page_size: int):
        paginator, page, object_list, is_paginated = super().paginate_queryset(queryset, page_size)
        page.object_list = annotate_page(list(object_list))
        return paginator, page, page.object_list, is_paginated


class MessageInspectView(ReadableInspectMixin, generic.InspectView):
    template_name = "messaging/admin/messages/inspect.html"
    fields = ["id", "status", "context_type", "created_datetime", "created_by", "template"]

    def get_object(self, queryset=None) -> Message:
        queryset = Message.objects.select_related("created_by", "template").annotate(
            **status_counts()
        )
        return get_object_or_404(queryset, pk=self.pk)

    def get_created_by_display_value(self) -> str:
        return user_display(self.object.created_by) or "-"

    def get_context_data(self, **kwargs) -> dict:
        context = super().get_context_data(**kwargs)
        base = reverse("messaging_receivers:index")
        context.update(
            counts=formatting.status_counts(self.object),
            skipped=len((self.object.status_data or {}).get("skipped", [])),
            receivers_url=f"{base}?{urlencode({'message': self.object.pk})}",
            status_data_json=formatting.pretty_json(self.object.status_data),
            template_context_json=formatting.pretty_json(self.object.template_context),
            metadata_json=formatting.pretty_json(self.object.metadata),
        )
        return context
