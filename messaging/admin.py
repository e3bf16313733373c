"""The original product's Django-admin pages, kept working at ``/django-admin/`` (read-only)."""

from django.contrib import admin, messages
from django.db.models import Count, QuerySet
from django.forms.models import BaseInlineFormSet
from django.urls import reverse
from django.utils.html import format_html
from django.utils.http import urlencode
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from .api import request_sends
from .models import Message, MessageReceiver
from .users import user_search_fields


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


INLINE_RECEIVERS = 50  # a message may have thousands: the Wagtail listing pages them


class FirstReceiversFormSet(BaseInlineFormSet):
    def get_queryset(self) -> QuerySet:
        return super().get_queryset()[:INLINE_RECEIVERS]


class ReceiverInline(admin.TabularInline):
    """The first receivers of a message, read-only; the rest are in the Wagtail listing."""

    model = MessageReceiver
    formset = FirstReceiversFormSet
    fields = ["user", "send_to", "status", "language", "subject", "sent_datetime"]
    readonly_fields = fields
    ordering = ["id"]
    extra = 0
    can_delete = False
    show_change_link = True

    def get_queryset(self, request) -> QuerySet:
        return super().get_queryset(request).select_related("user")

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Message)
class MessageAdmin(ReadOnlyAdmin):
    list_display = ["id", "created_datetime", "status", "context_type", "created_by", "users"]
    list_filter = ["status", "context_type"]
    date_hierarchy = "created_datetime"
    readonly_fields = ["all_receivers"]
    inlines = [ReceiverInline]

    def get_queryset(self, request) -> QuerySet:
        return super().get_queryset(request).annotate(user_count=Count("receivers"))

    @admin.display(description=_("users"), ordering="user_count")
    def users(self, message: Message) -> int:
        """How many users the message went to: one receiver each."""
        return message.user_count

    @admin.display(description=_("all receivers"))
    def all_receivers(self, message: Message) -> str:
        url = reverse("messaging_receivers:index") + "?" + urlencode({"message": message.pk})
        return format_html(
            '<a href="{}">{}</a>',
            url,
            _("All %(count)s receivers in the Wagtail admin") % {"count": message.user_count},
        )


@admin.action(description=_("Send message to selected receivers"), permissions=["resend"])
def resend_receivers(modeladmin, request, queryset) -> None:
    count = request_sends(queryset.values_list("pk", flat=True))
    modeladmin.message_user(
        request,
        ngettext(
            "%(count)d receiver was queued for sending.",
            "%(count)d receivers were queued for sending.",
            count,
        )
        % {"count": count},
        messages.SUCCESS,
    )


@admin.register(MessageReceiver)
class MessageReceiverAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "created_datetime",
        "subject",
        "user",
        "sending_failed_count",
        "sending_success_count",
        "status",
        "sent_datetime",
        "message_type",
    ]
    list_filter = ["status", "sent_datetime", "message__context_type"]
    list_select_related = ["user", "message"]
    actions = [resend_receivers]
    show_full_result_count = False

    def get_search_fields(self, request) -> list[str]:
        return ["subject", "send_to", *(f"user__{name}" for name in user_search_fields())]

    def has_resend_permission(self, request) -> bool:
        return request.user.is_superuser or request.user.has_perm(
            "messaging.resend_messagereceiver"
        )

    def has_view_permission(self, request, obj=None) -> bool:
        return super().has_view_permission(request, obj) or self.has_resend_permission(request)
