"""The suppression list in the Wagtail admin: list, search, add and remove addresses."""

from __future__ import annotations

from django.core.validators import validate_email
from django.utils.translation import gettext_lazy as _
from wagtail.admin.forms import WagtailAdminModelForm
from wagtail.admin.viewsets.model import ModelViewSet

from ...models import Suppression, normalise_address
from .. import links


class SuppressionForm(WagtailAdminModelForm):
    class Meta:
        model = Suppression
        fields = ["address", "reason", "source"]

    def clean_address(self) -> str:
        """The address in the stored form, so that uniqueness ignores case."""
        address = normalise_address(self.cleaned_data["address"])
        validate_email(address)
        return address


class SuppressionViewSet(ModelViewSet):
    """Addresses that are never sent to. Removing one lets sends to it go out again.

    Uses Wagtail's model permissions: ``view``, ``add``, ``change`` and ``delete``
    ``suppression``, given to groups in Settings > Groups.
    """

    model = Suppression
    name = "suppressions"
    url_prefix = "messaging/suppressions"
    url_namespace = links.SUPPRESSIONS
    icon = "lock"  # blocked; Wagtail's cross reads as "close"
    menu_label = _("Suppressed addresses")
    menu_order = 300
    list_display = ["address", "reason", "source", "first_seen", "last_seen"]
    list_filter = ["reason"]
    search_fields = ["address", "source"]
    search_backend_name = None  # a plain, case-insensitive "contains" on the two columns
    copy_view_enabled = False
    add_to_reference_index = False

    def get_form_class(self, for_update: bool = False) -> type[SuppressionForm]:
        return SuppressionForm
