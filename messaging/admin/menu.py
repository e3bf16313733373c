"""The "Messaging" menu of the Wagtail admin: receivers and messages, both read-only."""

from __future__ import annotations

from django.urls import path, reverse_lazy
from django.utils.translation import gettext_lazy as _
from wagtail.admin.menu import MenuItem
from wagtail.admin.viewsets.base import ViewSetGroup
from wagtail.admin.viewsets.model import ModelViewSet

from ..models import Message, MessageReceiver, MessageTemplate
from .views import receivers as admin_views
from .views.suppressions import SuppressionViewSet

# Wagtail hook whose menu items join the Messaging menu.
MENU_HOOK = "register_messaging_menu_item"


class ReadOnlyViewSet(ModelViewSet):
    inspect_view_enabled = True
    copy_view_enabled = False
    add_to_reference_index = False

    def get_urlpatterns(self):
        # Only the reading views exist: there is no form to add or edit a record with.
        return [
            path("", self.index_view, name="index"),
            path("results/", self.index_results_view, name="index_results"),
            path("inspect/<int:pk>/", self.inspect_view, name="inspect"),
        ]

    def get_permissions_to_register(self):
        # add/change/delete would be offered to groups but never honoured.
        return (
            super().get_permissions_to_register().exclude(codename__regex=r"^(add|change|delete)_")
        )


class MessageReceiverViewSet(ReadOnlyViewSet):
    model = MessageReceiver
    name = "receivers"
    url_prefix = "messaging/receivers"
    url_namespace = "messaging_receivers"
    icon = "mail"
    menu_label = _("Receivers")
    menu_order = 100
    index_view_class = admin_views.ReceiverIndexView
    inspect_view_class = admin_views.ReceiverInspectView
    inspect_view_fields = admin_views.ReceiverInspectView.fields
    list_per_page = 50
    export_filename = "message-receivers"

    def get_inspect_view_kwargs(self, **kwargs):
        return super().get_inspect_view_kwargs(
            resend_url_name=self.get_url_name("resend"), **kwargs
        )

    @property
    def resend_view(self):
        return admin_views.ReceiverResendView.as_view(inspect_url_name=self.get_url_name("inspect"))

    def get_urlpatterns(self):
        return [
            *super().get_urlpatterns(),
            path("resend/<int:pk>/", self.resend_view, name="resend"),
        ]


class MessageViewSet(ReadOnlyViewSet):
    model = Message
    name = "messages"
    url_prefix = "messaging/messages"
    url_namespace = "messaging_messages"
    icon = "list-ul"
    menu_label = _("Messages")
    menu_order = 200
    index_view_class = admin_views.MessageIndexView
    inspect_view_class = admin_views.MessageInspectView
    inspect_view_fields = admin_views.MessageInspectView.fields


class MessageTemplatesMenuItem(MenuItem):
    """The message templates snippet listing, also reachable from the Messaging menu."""

    def __init__(self) -> None:
        super().__init__(
            _("Message templates"),
            reverse_lazy("wagtailsnippets_messaging_messagetemplate:list"),
            name="message-templates",
            icon_name="doc-full",
            order=300,
        )

    def is_shown(self, request) -> bool:
        policy = MessageTemplate.snippet_viewset.permission_policy
        return policy.user_has_any_permission(request.user, ["add", "change", "delete", "view"])


class MessagingViewSetGroup(ViewSetGroup):
    """Receivers and Messages; Message templates join through :data:`MENU_HOOK`."""

    items = (MessageReceiverViewSet, MessageViewSet, SuppressionViewSet)
    menu_label = _("Messaging")
    menu_icon = "mail"
    menu_order = 250
    submenu_hook = MENU_HOOK
