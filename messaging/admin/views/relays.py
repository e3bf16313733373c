"""The mail relays' panel on the Wagtail dashboard: each mailer's state and last success."""

from __future__ import annotations

from django.utils.functional import cached_property
from wagtail.admin.ui.components import Component

from ... import status
from ...models import RelayState
from ..permissions import can_view_receivers


class RelayPanel(Component):
    """One row per mailer: up or down, since when and why, the next check, the last
    email it took; "no send yet" for a mailer that has taken none."""

    name = "messaging_relays"
    template_name = "messaging/admin/relay_panel.html"

    def __init__(self, request) -> None:
        self.request = request

    @cached_property
    def relays(self) -> list:
        return status.relays()

    @cached_property
    def any_down(self) -> bool:
        return any(relay.state == RelayState.State.DOWN for relay in self.relays)

    @property
    def order(self) -> int:
        # Above the summary (90) while a relay is down, which explains its counts; below
        # it when every relay is up.
        return 85 if self.any_down else 95

    def render_html(self, parent_context=None) -> str:
        if not can_view_receivers(self.request.user):
            return ""
        return super().render_html(parent_context)

    def get_context_data(self, parent_context) -> dict:
        return {"relays": self.relays, "any_down": self.any_down}


def add_relay_panel(request, panels: list) -> None:
    """Put the relays' panel on the dashboard (``construct_homepage_panels`` hook)."""
    panels.append(RelayPanel(request))
