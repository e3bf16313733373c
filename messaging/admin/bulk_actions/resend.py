"""The bulk action of the receivers listing: ask for one more delivery of each receiver."""

from __future__ import annotations

from functools import cached_property

from django.core.exceptions import BadRequest
from django.db.models import QuerySet
from django.utils.translation import gettext, gettext_lazy, ngettext
from django.utils.translation import gettext as _
from django.views.generic import FormView
from wagtail.admin import messages
from wagtail.admin.forms.search import SearchForm
from wagtail.admin.views.bulk_action import BulkAction

from ...models import MessageReceiver
from ...sends import request_sends
from .. import history, links
from ..counts import not_resent, status_counts
from ..filters import MAX_ID, MessageReceiverFilterSet, input_problem
from ..permissions import RESEND, can, refuse
from ..search import search_receivers

PREVIEW_ROWS = 200  # receivers listed on the confirmation page; the rest are counted
Status = MessageReceiver.Status


def parse_ids(values: list[str]) -> list[int]:
    """The receiver ids of the query string, or :class:`BadRequest` saying what is wrong."""
    values = [value for value in values if value.strip()]
    if not values:
        raise BadRequest(_("No receivers were selected. Select some in the listing first."))
    try:
        ids = [int(value) for value in values]
    except ValueError:
        raise BadRequest(
            _("Receiver ids are whole numbers; got %(value)s. Select receivers in the listing.")
            % {"value": ", ".join(repr(value) for value in values[:5])}
        ) from None
    if not all(1 <= pk <= MAX_ID for pk in ids):
        raise BadRequest(_("A receiver id is out of range. Select receivers in the listing."))
    return ids


def resend_summary(selection: QuerySet) -> str:
    """ "4 selected: 2 failed, 1 error, 1 already sent" (and how many are not sent yet).

    Counted by the database over the whole selection, in one query.
    """
    counts = status_counts(selection)
    text = gettext(
        "%(total)d selected: %(failed)d failed, %(error)d error, %(sent)d already sent"
    ) % {
        "total": sum(counts.values()),
        "failed": counts[Status.FAILED],
        "error": counts[Status.ERROR],
        "sent": counts[Status.SENT],
    }
    if counts[Status.NOT_SENT]:
        text += gettext(", %(count)d not sent yet") % {"count": counts[Status.NOT_SENT]}
    if counts[Status.EXPIRED]:
        text += gettext(", %(count)d expired (never resent)") % {"count": counts[Status.EXPIRED]}
    if counts[Status.CANCELLED]:
        text += gettext(", %(count)d cancelled (resume their message instead)") % {
            "count": counts[Status.CANCELLED]
        }
    return text


class ResendBulkAction(BulkAction):
    """Resends the selected receivers whatever their status, but expired and cancelled ones
    (refused with a message); GET confirms, POST acts.

    The selection is a query of ids, never a list of rows: the confirmation page counts
    it and shows the first :data:`PREVIEW_ROWS`, and the action asks for the sends a
    chunk of ids at a time (:func:`~messaging.sends.request_sends`), so
    resending 100,000 receivers takes little memory and a few seconds.
    """

    models = [MessageReceiver]
    display_name = gettext_lazy("Resend")
    action_type = "resend"
    aria_label = gettext_lazy("Resend to selected receivers")
    template_name = "messaging/admin/receivers/confirm_bulk_resend.html"
    action_priority = 10

    @classmethod
    def user_may_use(cls, user) -> bool:
        """Whether the listing offers this action to ``user`` at all."""
        return can(user, RESEND)

    def dispatch(self, request, *args, **kwargs):
        if not self.user_may_use(request.user):
            # Without ``next``, Wagtail's next_url is this very URL: go to the listing.
            listing = links.receivers()
            return refuse(
                request, RESEND, listing if self.next_url == request.path else self.next_url
            )
        return super().dispatch(request, *args, **kwargs)

    @cached_property
    def problem(self) -> str:
        """Why "select all" selects nothing: the search or a filter cannot be used."""
        search = SearchForm({"q": self.request.GET.get("q", "")})
        return input_problem(search, MessageReceiverFilterSet(self.request.GET))

    def get_all_objects_in_listing_query(self, parent_id) -> QuerySet:
        """ "Select all": the listing's filters and search, read from the query string."""
        ids = MessageReceiver.objects.values_list("pk", flat=True)
        if self.problem:
            return ids.none()  # never "everything"
        queryset = MessageReceiverFilterSet(self.request.GET, queryset=ids).qs
        if query := self.request.GET.get("q", "").strip():
            queryset = search_receivers(queryset, query)
        return queryset

    @cached_property
    def selection(self) -> QuerySet:
        """The ids of the selected receivers, as a query that is never loaded whole."""
        values = self.request.GET.getlist("id")
        if "all" in values:
            return self.get_all_objects_in_listing_query(self.request.GET.get("childOf"))
        return MessageReceiver.objects.filter(pk__in=parse_ids(values)).values_list("pk", flat=True)

    def get_actionable_objects(self) -> tuple[QuerySet, dict]:
        return self.selection, {"items_with_no_access": []}

    def get_context_data(self, **kwargs) -> dict:
        count = self.selection.order_by().count()
        preview = (
            MessageReceiver.objects.filter(pk__in=self.selection[:PREVIEW_ROWS])
            .select_related("user")
            .only("pk", "subject", "send_to", "status", "user")
        )
        return {
            **FormView.get_context_data(self, **kwargs),
            "items": [{"item": r, "url": links.receiver(r.pk)} for r in preview],
            "count": count,
            "summary": resend_summary(self.selection) if count else "",
            "more": max(0, count - PREVIEW_ROWS),
            "problem": self.problem if "all" in self.request.GET.getlist("id") else "",
            "items_with_no_access": [],
            "next": self.next_url,
            "submit_url": self.request.path + "?" + self.request.META["QUERY_STRING"],
            "model_opts": self.model._meta,
        }

    def get_execution_context(self) -> dict:
        return {"user": self.request.user}

    @classmethod
    def execute_action(cls, objects: QuerySet, user=None, **kwargs) -> tuple[int, int]:
        asked = request_sends(objects)
        history.log_bulk_resend(objects, user)
        return asked, 0

    def get_success_message(self, num_parent_objects: int, num_child_objects: int) -> str | None:
        refused = not_resent(self.selection)
        if refused and not num_parent_objects:
            messages.error(self.request, gettext("Nothing was resent.") + " " + refused)
            return None
        if refused:
            messages.warning(self.request, refused)
        return ngettext(
            "%(count)d receiver was queued for sending.",
            "%(count)d receivers were queued for sending.",
            num_parent_objects,
        ) % {"count": num_parent_objects}
