"""The messages pages: the listing with receiver counts per status, inspect, and the
actions of staff who may stop, resume or reschedule a message."""

from __future__ import annotations

from functools import cached_property
from typing import Any

from django.db.models import OuterRef, QuerySet, Subquery
from django.shortcuts import get_object_or_404
from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from wagtail.admin.ui.tables import Column, TitleColumn, UserColumn
from wagtail.admin.views import generic
from wagtail.admin.widgets.button import HeaderButton
from wagtail.log_actions import registry as log_registry

from ...models import Message, MessageReceiver
from .. import columns, counts, formatting, links
from ..filters import MessageFilterSet
from ..history import MESSAGE_ACTIONS
from ..permissions import STOP, can
from .base import ReadableInspectMixin, ReadOnlyViewSet
from .message_actions import RescheduleView, ResumeView, StopView


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
            columns.NoWrapDateColumn("send_at", label=_("Send at"), sort_key="send_at"),
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

    def get_header_buttons(self) -> list:
        buttons = super().get_header_buttons()
        if can(self.request.user, STOP):
            buttons += action_buttons(self.object)
        return buttons

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
            history=history(message),
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
        "send_at",
        "expires_at",
        "priority",
    ]

    def get_urlpatterns(self) -> list:
        return [
            *super().get_urlpatterns(),
            path("stop/<int:pk>/", StopView.as_view(), name="stop"),
            path("resume/<int:pk>/", ResumeView.as_view(), name="resume"),
            path("reschedule/<int:pk>/", RescheduleView.as_view(), name="reschedule"),
        ]


# The actions each status allows (the view of each checks it again): URL name, label, icon.
ACTION_BUTTONS: dict[str, list[tuple[str, Any, str]]] = {
    Message.Status.SCHEDULED: [
        ("stop", _("Cancel"), "cross"),
        ("reschedule", _("Change time"), "calendar"),
    ],
    Message.Status.SENDING: [("stop", _("Stop sending"), "cross")],
    Message.Status.CANCELLED: [("resume", _("Resume sending"), "rotate")],
}


def action_buttons(message: Message) -> list[HeaderButton]:
    """The buttons of the actions ``message``'s status allows, each to its confirmation."""
    return [
        HeaderButton(label, url=links.message_action(message.pk, action), icon_name=icon)
        for action, label, icon in ACTION_BUTTONS.get(message.status, [])
    ]


def history(message: Message) -> list[dict]:
    """What staff did to ``message`` (stop, resume, ...), newest first: who, when, what."""
    entries = log_registry.get_logs_for_instance(message).filter(action__in=list(MESSAGE_ACTIONS))
    return [
        {
            "label": MESSAGE_ACTIONS[entry.action][1],
            "user": formatting.user_display(entry.user) or "-",
            "timestamp": timezone.localtime(entry.timestamp),
            "data": entry.data,
        }
        for entry in entries.select_related("user").order_by("-timestamp", "-pk")
    ]
