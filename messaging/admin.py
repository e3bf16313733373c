"""The original product's Django-admin pages, kept working at ``/django-admin/`` (read-only)."""

from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from .models import Message, MessageReceiver
from .sending import request_sends


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Message)
class MessageAdmin(ReadOnlyAdmin):
    list_display = ["id", "created_datetime", "status", "context_type", "created_by"]
    list_filter = ["status", "context_type"]
    date_hierarchy = "created_datetime"


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
    search_fields = ["subject", "user__username", "user__email", "send_to"]
    list_select_related = ["user", "message"]
    actions = [resend_receivers]
    show_full_result_count = False

    def has_resend_permission(self, request) -> bool:
        return request.user.is_superuser or request.user.has_perm(
            "messaging.resend_messagereceiver"
        )

    def has_view_permission(self, request, obj=None) -> bool:
        return super().has_view_permission(request, obj) or self.has_resend_permission(request)
