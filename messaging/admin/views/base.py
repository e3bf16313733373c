"""What the receivers and messages pages share: read-only viewsets and readable inspect pages."""

from __future__ import annotations

from datetime import datetime

from django.urls import path
from django.utils import timezone
from wagtail.admin.viewsets.model import ModelViewSet


class ReadOnlyViewSet(ModelViewSet):
    """A listing and an inspect page only: the records are history, never edited."""

    inspect_view_enabled = True
    copy_view_enabled = False
    add_to_reference_index = False

    def get_urlpatterns(self) -> list:
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


class ReadableInspectMixin:
    """Dates in the user's time zone (Wagtail shows them in UTC) and "-" for empty values."""

    def get_field_display_value(self, field_name, field):
        value = super().get_field_display_value(field_name, field)
        if isinstance(value, datetime):
            return timezone.localtime(value)
        return "-" if value is None or value == "" else value
