"""The messages pages: the listing with receiver counts per status, and inspect."""

from __future__ import annotations

from functools import cached_property

from django.db.models import OuterRef, QuerySet, Subquery
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext_lazy as _
from wagtail.admin.ui.tables import Column, TitleColumn, UserColumn
from wagtail.admin.views import generic

from ...models import Message, MessageReceiver
from .. import columns, counts, formatting, links
from ..filters import MessageFilterSet
from .base import ReadableInspectMixin, ReadOnlyViewSet


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
    def columns(self) -> list[Column]:
        # From 1000 px the ID, subject, status and receiver counts stand in the window; the
        # context type, template and creator have columns of their own in wider ones.
        context_type = columns.shown_from(
            "xl",
            Column(
                "context_type",
                accessor="get_context_type_display",
                label=_("Context type"),
                sort_key="context_type",
                classname=f"msg-one-line {columns.FLEX}",
            ),
        )
        created_by = columns.shown_from(
            "lg",
            UserColumn("created_by", label=_("Created by"), classname="msg-one-line"),
        )
        template = columns.shown_from(
            "xl", Column("template", label=_("Template"), classname=f"msg-one-line {columns.FLEX}")
        )
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
                folds=[
                    columns.Fold([context_type, template], until="xl"),
                    columns.Fold([created_by], until="lg"),
                ],
            ),
            columns.NoWrapDateColumn(
                "created_datetime", label=_("Created"), sort_key="created_datetime"
            ),
            columns.StatusColumn("status", label=_("Status"), sort_key="status"),
            context_type,
            created_by,
            template,
            columns.ReceiverCountsColumn(
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
        page.object_list = counts.annotate_page(list(object_list))
        return paginator, page, page.object_list, is_paginated


class MessageInspectView(ReadableInspectMixin, generic.InspectView):
    template_name = "messaging/admin/messages/inspect.html"

    def get_object(self, queryset=None) -> Message:
        queryset = Message.objects.select_related("created_by", "template").annotate(
            **counts.count_annotations()
        )
        return get_object_or_404(queryset, pk=self.pk)

    def get_created_by_display_value(self) -> str:
        return formatting.user_display(self.object.created_by) or "-"

    def get_context_data(self, **kwargs) -> dict:
        context = super().get_context_data(**kwargs)
        message = self.object
        context.update(
            counts=counts.message_status_rows(message),
            skipped=len((message.status_data or {}).get("skipped", [])),
            receivers_url=links.receivers(message=message.pk),
            status_data_json=formatting.pretty_json(message.status_data),
            template_context_json=formatting.pretty_json(message.template_context),
            metadata_json=formatting.pretty_json(message.metadata),
        )
        return context


class MessageViewSet(ReadOnlyViewSet):
    model = Message
    name = "messages"
    url_prefix = "messaging/messages"
    url_namespace = links.MESSAGES
    icon = "list-ul"
    menu_label = _("Messages")
    menu_order = 200
    index_view_class = MessageIndexView
    inspect_view_class = MessageInspectView
    inspect_view_fields = [
        "id",
        "status",
        "context_type",
        "created_datetime",
        "created_by",
        "template",
    ]
