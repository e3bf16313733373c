"""The "Messaging" menu of the Wagtail admin: receivers, messages, suppressions, templates."""

from __future__ import annotations

from django.urls import reverse_lazy
from django.utils.translation import gettext_lazy as _
from wagtail.admin.menu import MenuItem
from wagtail.admin.viewsets.base import ViewSetGroup

from ..models import MessageTemplate
from . import links
from .views.messages import MessageViewSet
from .views.receivers import MessageReceiverViewSet
from .views.suppressions import SuppressionViewSet

# Wagtail hook whose menu items join the Messaging menu.
MENU_HOOK = "register_messaging_menu_item"


class MessageTemplatesMenuItem(MenuItem):
    """The message templates snippet listing, also reachable from the Messaging menu."""

    def __init__(self) -> None:
        super().__init__(
            _("Message templates"),
            reverse_lazy(links.name(links.TEMPLATES, "list")),
            name="message-templates",
            icon_name="doc-full",
            order=300,
        )

    def is_shown(self, request) -> bool:
        policy = MessageTemplate.snippet_viewset.permission_policy
        return policy.user_has_any_permission(request.user, ["add", "change", "delete", "view"])


class MessagingViewSetGroup(ViewSetGroup):
    """Receivers, Messages and Suppressed addresses; templates join through :data:`MENU_HOOK`."""

    items = (MessageReceiverViewSet, MessageViewSet, SuppressionViewSet)
    menu_label = _("Messaging")
    menu_icon = "mail"
    menu_order = 250
    submenu_hook = MENU_HOOK
