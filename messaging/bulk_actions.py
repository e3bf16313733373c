"""The bulk action of the receivers listing: ask for one more delivery of each receiver."""

from __future__ import annotations

from collections import Counter

from django.db.models import QuerySet
from django.urls import reverse
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _
from wagtail.admin.views.bulk_action import BulkAction

from .admin_permissions import can_resend, refuse_resend
from .filters import MessageReceiverFilterSet, search_receivers
from .models import MessageReceiver
from .sending import request_sends


def resend_summary(receivers: list[MessageReceiver]) -> str:
    """ "4 selected: 2 failed, 1 error, 1 already sent" (and how many are not sent yet)."""
    counts = Counter(receiver.status for receiver in receivers)
    Status = MessageReceiver.Status
    text = gettext(
        "%(total)d selected: %(failed)d failed, %(error)d error, %(sent)d already sent"
    ) % {
        "total": len(receivers),
        "failed": counts[Status.FAILED],
        "error": counts[Status.ERROR],
        "sent": counts[Status.SENT],
    }
    if counts[Status.NOT_SENT]:
        text += gettext(", %(count)d not sent yet") % {"count": counts[Status.NOT_SENT]}
    return text


class ResendBulkAction(BulkAction):
    """Resends the selected receivers whatever their status; GET confirms, POST acts."""

    models = [MessageReceiver]
    display_name = _("Resend")
    action_type = "resend"
    aria_label = _("Resend to selected receivers")
    template_name = "messaging/admin/receivers/confirm_bulk_resend.html"
    action_priority = 10

    @classmethod
    def user_may_use(cls, user) -> bool:
        """Whether the listing offers this action to ``user`` at all."""
        return can_resend(user)

    def dispatch(self, request, *args, **kwargs):
        if not self.user_may_use(request.user):
            # Without ``next``, Wagtail's next_url is this very URL: go to the listing.
            listing = reverse("messaging_receivers:index")
            return refuse_resend(
                request, listing if self.next_url == request.path else self.next_url
            )
        return super().dispatch(request, *args, **kwargs)

    @classmethod
    def get_queryset(cls, model, object_ids) -> QuerySet:
        return model.objects.filter(pk__in=object_ids).select_related("user")

    def get_all_objects_in_listing_query(self, parent_id) -> QuerySet:
        """ "Select all": the listing's filters and search, read from the query string."""
        queryset = MessageReceiver.objects.all()
        filterset = MessageReceiverFilterSet(self.request.GET, queryset=queryset)
        if not filterset.is_valid():
            return queryset.none().values_list("pk", flat=True)  # never "everything"
        queryset = filterset.qs
        if query := self.request.GET.get("q", "").strip():
            queryset = search_receivers(queryset, query)
        return queryset.values_list("pk", flat=True)

    @classmethod
    def execute_action(cls, objects, **kwargs) -> tuple[int, int]:
        return request_sends(obj.pk for obj in objects), 0

    def get_context_data(self, **kwargs) -> dict:
        context = super().get_context_data(**kwargs)
        context["summary"] = resend_summary([row["item"] for row in context["items"]])
        return context

    def get_success_message(self, num_parent_objects: int, num_child_objects: int) -> str:
        return ngettext(
            "%(count)d receiver was queued for sending.",
            "%(count)d receivers were queued for sending.",
            num_parent_objects,
        ) % {"count": num_parent_objects}
