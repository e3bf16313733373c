"""The original product's Django-admin pages, kept working at ``/django-admin/`` (read-only)."""

from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.views.main import ERROR_FLAG, IGNORED_PARAMS, PAGE_VAR, ChangeList
from django.db.models import Count, QuerySet
from django.forms.models import BaseInlineFormSet
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from ..api import request_sends
from ..models import Message, MessageReceiver
from ..users import user_search_fields
from . import links
from .filters import lookup_problem
from .permissions import RESEND, can


class CheckedChangeList(ChangeList):
    """A listing that lists nothing, and says why, when a value in its URL cannot be used
    by the database (see :func:`~messaging.admin.filters.lookup_problem`), as the Wagtail
    listings do."""

    # What Django reads from the URL besides lookups (the page, the search, the order...).
    NOT_LOOKUPS = {*IGNORED_PARAMS, PAGE_VAR, ERROR_FLAG}

    def __init__(self, request, model, *args, **kwargs) -> None:
        lookups = {k: v for k, v in request.GET.lists() if k not in self.NOT_LOOKUPS}
        self.input_problem = lookup_problem(model, lookups)
        if self.input_problem:
            messages.error(request, self.input_problem)
        super().__init__(request, model, *args, **kwargs)

    def get_filters_params(self, params=None) -> dict:
        # With a value the database cannot use, no filter is applied and nothing is
        # listed (see get_queryset); Django answers some (?user=abc) with everything.
        return {} if self.input_problem else super().get_filters_params(params)

    def get_filters(self, request):
        try:
            return super().get_filters(request)
        except OverflowError as error:
            # A date drill-down year too big for a date: Django turns only ValueError into
            # its "invalid lookup" answer.
            raise IncorrectLookupParameters(error) from error

    def get_queryset(self, request, exclude_parameters=None) -> QuerySet:
        queryset = super().get_queryset(request, exclude_parameters)
        return queryset.none() if self.input_problem else queryset


class ReadOnlyAdmin(admin.ModelAdmin):
    """A read-only listing and change page whose URLs never fail on a value typed."""

    def get_changelist(self, request, **kwargs) -> type[ChangeList]:
        return CheckedChangeList

    def get_object(self, request, object_id, from_field=None):
        # An empty ``?_to_field=`` passes Django's check of the field as "none given",
        # then fails its lookup of the field named "": it means the primary key.
        return super().get_object(request, object_id, from_field or None)

    def response_action(self, request, queryset, *args, **kwargs):
        """Run an action on the rows ticked, or say why the ids posted cannot be used.

        Django 6.1 passes more arguments (``action_location``): they go on to Django.
        """
        ids = request.POST.getlist(ACTION_CHECKBOX_NAME)
        if problem := lookup_problem(self.model, {"pk": ids}):
            self.message_user(request, problem, messages.ERROR)
            return None  # Django then shows the listing again
        return super().response_action(request, queryset, *args, **kwargs)

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
        return format_html(
            '<a href="{}">{}</a>',
            links.receivers(message=message.pk),
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
        "sent_via",
        "message_type",
    ]
    list_filter = ["status", "sent_datetime", "sent_via", "message__context_type"]
    list_select_related = ["user", "message"]
    actions = [resend_receivers]
    show_full_result_count = False

    def get_search_fields(self, request) -> list[str]:
        return ["subject", "send_to", *(f"user__{name}" for name in user_search_fields())]

    def has_resend_permission(self, request) -> bool:
        return can(request.user, RESEND)

    def has_view_permission(self, request, obj=None) -> bool:
        return super().has_view_permission(request, obj) or self.has_resend_permission(request)
