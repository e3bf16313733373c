"""Registers the messaging app's admin pieces with Wagtail; they live in ``messaging.admin``."""

from wagtail import hooks
from wagtail.snippets.models import register_snippet

from .admin.assets import admin_css
from .admin.banner import add_kill_switch_banner, add_relay_banner
from .admin.bulk_actions import DeleteTemplatesBulkAction, ResendBulkAction
from .admin.history import register_actions, register_log_actions
from .admin.menu import MENU_HOOK, MessageTemplatesMenuItem, MessagingViewSetGroup
from .admin.permissions import register_permission_policies
from .admin.snippets.viewsets import MessageTemplateViewSet, warn_about_unknown_variables
from .admin.views.dashboard import add_summary_panel
from .admin.views.preferences import NotificationPreferencesMenuItem, preference_viewset
from .admin.views.relays import add_relay_panel

# Before the viewsets register, so that Wagtail does not create its default policy.
register_permission_policies()
register_snippet(MessageTemplateViewSet)

hooks.register("register_admin_viewset", MessagingViewSetGroup)
hooks.register("register_bulk_action", ResendBulkAction)
# After Wagtail's own delete of snippets (order 0), which it replaces for templates.
hooks.register("register_bulk_action", DeleteTemplatesBulkAction, order=1)
# Under Snippets (registered above) and in the Messaging menu as well.
hooks.register(MENU_HOOK, MessageTemplatesMenuItem)
hooks.register("register_admin_viewset", lambda: preference_viewset)
hooks.register(MENU_HOOK, NotificationPreferencesMenuItem)
hooks.register("construct_main_menu", add_kill_switch_banner)
hooks.register("construct_main_menu", add_relay_banner)
hooks.register("construct_homepage_panels", add_summary_panel)
hooks.register("construct_homepage_panels", add_relay_panel)
hooks.register("after_create_snippet", warn_about_unknown_variables)
hooks.register("after_edit_snippet", warn_about_unknown_variables)
hooks.register("insert_global_admin_css", admin_css)
hooks.register("register_log_actions", register_log_actions)
hooks.register("register_actions", register_actions)
