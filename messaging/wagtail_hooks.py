"""Registers the messaging app's admin pieces with Wagtail; the views live elsewhere."""

from django.conf import settings
from django.templatetags.static import static
from django.utils.html import format_html_join
from wagtail import hooks
from wagtail.admin import messages
from wagtail.permissions import register_permission_policy
from wagtail.snippets.models import register_snippet

from .admin_banner import add_kill_switch_banner
from .admin_permissions import RESEND_PERMISSION, ReadOnlyPermissionPolicy
from .bulk_actions import ResendBulkAction
from .models import Message, MessageReceiver, MessageTemplate
from .panels import MessagingSummaryPanel
from .preferences.admin import NotificationPreferencesMenuItem, preference_viewset
from .snippets import MessageTemplateViewSet
from .template_variables import unknown_variables_warning
from .viewsets import MENU_HOOK, MessageTemplatesMenuItem, MessagingViewSetGroup

# Before the viewsets register, so that Wagtail does not create its default policy.
register_permission_policy(Message, ReadOnlyPermissionPolicy(Message))
register_permission_policy(
    MessageReceiver,
    ReadOnlyPermissionPolicy(MessageReceiver, also_view_with=(RESEND_PERMISSION,)),
)

register_snippet(MessageTemplateViewSet)
hooks.register("register_admin_viewset", MessagingViewSetGroup)
hooks.register("register_bulk_action", ResendBulkAction)
hooks.register("construct_main_menu", add_kill_switch_banner)
# Under Snippets (registered above) and in the Messaging menu as well.
hooks.register(MENU_HOOK, MessageTemplatesMenuItem)
hooks.register("register_admin_viewset", lambda: preference_viewset)
hooks.register(MENU_HOOK, NotificationPreferencesMenuItem)


@hooks.register("construct_homepage_panels")
def add_messaging_summary(request, panels) -> None:
    panels.append(MessagingSummaryPanel(request))


@hooks.register("after_create_snippet")
@hooks.register("after_edit_snippet")
def warn_about_unknown_variables(request, instance) -> None:
    if isinstance(instance, MessageTemplate):
        languages = [code for code, _name in settings.LANGUAGES]
        if warning := unknown_variables_warning(instance, languages):
            messages.warning(request, warning)


@hooks.register("insert_global_admin_css")
def messaging_admin_css() -> str:
    sheets = ["messaging/admin/admin.css", "messaging/admin/pygments.css"]
    return format_html_join(
        "\n", '<link rel="stylesheet" href="{}">', ((static(s),) for s in sheets)
    )
