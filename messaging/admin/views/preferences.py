"""Staff see and change users' preferences in the Wagtail admin (Messaging menu).

The views need Wagtail's model permissions on ``NotificationPreference`` (``view``,
``add``, ``change``, ``delete``); superusers have them all.
"""

from __future__ import annotations

from django.urls import reverse_lazy
from django.utils.translation import gettext_lazy as _
from wagtail.admin.forms import WagtailAdminModelForm
from wagtail.admin.menu import MenuItem
from wagtail.admin.viewsets.model import ModelViewSet

from ... import users
from ...models import NotificationPreference
from ...preferences import modes


class PreferenceAdminForm(WagtailAdminModelForm):
    """Only optional context types can be chosen (the model refuses mandatory ones too)."""

    class Meta:
        model = NotificationPreference
        fields = ["user", "context_type", "mode"]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        choices = [(spec.value, spec.label) for spec in modes.optional_types()]
        self.fields["context_type"].choices = [("", "---------"), *choices]


class NotificationPreferenceViewSet(ModelViewSet):
    model = NotificationPreference
    name = "preferences"
    url_prefix = "messaging/preferences"
    url_namespace = "messaging_preferences"
    icon = "cog"
    menu_label = _("Notification preferences")
    add_to_admin_menu = False  # in the Messaging menu, see NotificationPreferencesMenuItem
    copy_view_enabled = False
    inspect_view_enabled = False
    add_to_reference_index = False
    list_display = ["user", "context_type", "mode", "updated_datetime"]
    list_filter = ["context_type", "mode"]
    search_backend_name = None

    def get_form_class(self, for_update: bool = False):
        return PreferenceAdminForm

    @property
    def search_fields(self) -> list[str]:
        return [f"user__{name}" for name in users.user_search_fields()]


preference_viewset = NotificationPreferenceViewSet()


class NotificationPreferencesMenuItem(MenuItem):
    """The preferences listing in the Messaging menu, for staff allowed to see it."""

    def __init__(self) -> None:
        super().__init__(
            _("Notification preferences"),
            reverse_lazy("messaging_preferences:index"),
            name="notification-preferences",
            icon_name="cog",
            order=400,
        )

    def is_shown(self, request) -> bool:
        policy = preference_viewset.permission_policy
        return policy.user_has_any_permission(request.user, ["add", "change", "delete", "view"])
