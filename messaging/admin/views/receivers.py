"""The receivers pages: the listing (filters, search, export), inspect, and resend."""

from __future__ import annotations

from functools import cached_property

from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path
from django.utils.translation import gettext_lazy as _
from django.views import View
from wagtail.admin import messages
from wagtail.admin.ui.tables import BulkActionsCheckboxColumn, Column, NumberColumn
from wagtail.admin.views import generic
from wagtail.admin.widgets.button import HeaderButton

from ...api import request_sends
from ...models import MessageReceiver
from .. import columns, formatting, history, links
from ..counts import not_resent
from ..export import EXPORT_ONLY, ReceiverExport
from ..filters import MessageReceiverFilterSet, input_problem
from ..pagination import CappedPaginator
from ..permissions import RESEND, can, refuse, usable_bulk_actions
from ..search import search_receivers
from .base import ReadableInspectMixin, ReadOnlyViewSet


def receiver_columns(view: ReceiverIndexView) -> list[Column]:
    """The listing's columns; the checkboxes only for users who may use a bulk action.

    From 1280 px the ID, subject, user, status, sent and last error stand in the window;
    from 1000 px the subject and status (with the counts and the last error in the status
    cell). Language, context type and counts have columns of their own from 1600 px.
    """
    checkbox = [BulkActionsCheckboxColumn("bulk_actions", obj_type="receiver")]
    language = columns.shown_from(
        "xl", columns.LanguageColumn("language", label=_("Language"), sort_key="language")
    )
    failed = columns.shown_from(
        "xl",
        NumberColumn("sending_failed_count", label=_("Failed"), sort_key="sending_failed_count"),
    )
    succeeded = columns.shown_from(
        "xl",
        NumberColumn(
            "sending_success_count", label=_("Succeeded"), sort_key="sending_success_count"
        ),
    )
    last_error = columns.shown_from(
        "lg", columns.LastErrorColumn("last_error", label=_("Last error"))
    )
    context_type = columns.shown_from(
        "xl",
        columns.ContextTypeColumn(
            "context_type", label=_("Context type"), sort_key="message__context_type"
        ),
    )
    return [
        *(checkbox if view.bulk_actions else []),
        Column("id", label=_("ID"), sort_key="id", classname="msg-nowrap"),
        columns.shown_from(
            "lg",
            columns.NoWrapDateColumn(
                "created_datetime", label=_("Created"), sort_key="created_datetime"
            ),
        ),
        columns.OneLineTitleColumn(
            "subject",
            label=_("Subject"),
            sort_key="subject",
            get_url=view.get_inspect_url,
            get_title_id=lambda obj: f"receiver_{obj.pk}_title",
            folds=[columns.Fold([language, context_type], until="xl")],
        ),
        columns.ReceiverUserColumn("user", label=_("User"), sort_key="user__username"),
        language,
        failed,
        succeeded,
        columns.StatusColumn(
            "status",
            label=_("Status"),
            sort_key="status",
            folds=[
                columns.Fold([failed, succeeded], until="xl", labelled=True),
                columns.Fold([last_error], until="lg", classname="msg-fold--error"),
            ],
        ),
        columns.NoWrapDateColumn("sent_datetime", label=_("Sent"), sort_key="sent_datetime"),
        last_error,
        context_type,
    ]


class ReceiverIndexView(ReceiverExport):
    template_name = "messaging/admin/receivers/index.html"
    results_template_name = "messaging/admin/receivers/index_results.html"
    filterset_class = MessageReceiverFilterSet
    table_classname = "listing msg-listing"
    paginator_class = CappedPaginator
    # Searching is done by search_receivers(); this only turns the search box on.
    search_fields = ["subject"]
    search_backend_name = None

    @cached_property
    def bulk_actions(self) -> list:
        """The bulk actions this user may use; with none, the listing has no checkboxes."""
        return usable_bulk_actions(self.request.user, MessageReceiver)

    @cached_property
    def columns(self) -> list[Column]:
        return receiver_columns(self)

    @cached_property
    def input_problem(self) -> str:
        return input_problem(self.search_form, self.filters)

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
        # Only what the columns (and the export) read: the wide columns (HTML, text,
        # status_data) stay in the database.
        exported = EXPORT_ONLY if self.is_export else ()
        return (
            MessageReceiver.objects.select_related("user__wagtail_userprofile", "message")
            .only(*columns.fields_read(self.columns, MessageReceiver), *exported)
            .with_last_error()
        )

    def get_context_data(self, **kwargs) -> dict:
        context = super().get_context_data(**kwargs)
        context["items_capped"] = getattr(context.get("paginator"), "is_capped", False)
        if self.input_problem:
            messages.error(self.request, self.input_problem)
        context["show_bulk_actions"] = bool(self.bulk_actions)
        return context


class ReceiverInspectView(ReadableInspectMixin, generic.InspectView):
    template_name = "messaging/admin/receivers/inspect.html"

    def get_object(self, queryset=None) -> MessageReceiver:
        return get_object_or_404(
            MessageReceiver.objects.select_related("user", "message", "template_revision"),
            pk=self.pk,
        )

    def get_message_display_value(self):
        message = self.object.message
        return formatting.link(links.message(message.pk), message)

    def get_user_display_value(self) -> str:
        return formatting.user_display(self.object.user) or "-"

    def get_template_revision_display_value(self):
        revision = self.object.template_revision
        return formatting.revision_summary(revision) if revision else "-"

    def get_language_display_value(self) -> str:
        return formatting.language_name(self.object.language) or "-"

    def get_message_type_display_value(self) -> str:
        return formatting.message_type_name(self.object.message_type)

    def get_header_buttons(self) -> list:
        buttons = super().get_header_buttons()
        if can(self.request.user, RESEND):
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
            resend_url=links.resend(receiver.pk),
            errors=[formatting.error_context(entry) for entry in receiver.errors],
            delivery_events=list(reversed(receiver.delivery_events or [])),
            status_data_json=formatting.pretty_json(receiver.status_data),
            metadata_json=formatting.pretty_json(receiver.metadata),
        )
        return context


class ReceiverResendView(View):
    """POST only: ask for one more delivery of one receiver, whatever its status."""

    http_method_names = ["post"]

    def post(self, request: HttpRequest, pk: int) -> HttpResponseRedirect:
        receiver = get_object_or_404(MessageReceiver, pk=pk)
        inspect_url = links.receiver(receiver.pk)
        if not can(request.user, RESEND):
            return refuse(request, RESEND, inspect_url)
        if request_sends([receiver.pk]):
            history.log_resend(receiver, request.user)
            messages.success(request, _("The email was queued for sending again."))
        else:
            messages.error(request, not_resent(MessageReceiver.objects.filter(pk=receiver.pk)))
        return HttpResponseRedirect(inspect_url)


class MessageReceiverViewSet(ReadOnlyViewSet):
    model = MessageReceiver
    name = "receivers"
    url_prefix = "messaging/receivers"
    url_namespace = links.RECEIVERS
    icon = "mail"
    menu_label = _("Receivers")
    menu_order = 100
    index_view_class = ReceiverIndexView
    inspect_view_class = ReceiverInspectView
    inspect_view_fields = [
        "id",
        "message",
        "template_revision",
        "user",
        "send_to",
        "language",
        "subject",
        "message_type",
        "status",
        "delivery_status",
        "created_datetime",
        "sent_datetime",
        "sent_via",
        "sending_failed_count",
        "sending_success_count",
        "pending_sends",
        "send_requested_at",
        "next_attempt_at",
    ]
    list_per_page = 50
    export_filename = "message-receivers"

    def get_urlpatterns(self) -> list:
        return [
            *super().get_urlpatterns(),
            path("resend/<int:pk>/", ReceiverResendView.as_view(), name="resend"),
        ]
