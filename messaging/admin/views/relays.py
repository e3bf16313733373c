"""The mail relays' panel on the Wagtail dashboard: each mailer's state and last success."""

from __future__ import annotations

from wagtail.admin.ui.components import Component

from ... import status
from ...models import RelayState
from ..permissions import can_view_receivers


class RelayPanel(Component):
    """One row per mailer: up or down, since when and why, the next check, the last
    email it took; "no send yet" for a mailer that has taken none."""

    name = "messaging_relays"
    template_name = "messaging/admin/relay_panel.html"
    order = 85  # above the summary (90): a relay down explains its counts

    def __init__(self, request) -> None:
        self.request = request

    def render_html(self, parent_context=None) -> str:
        if not can_view_receivers(self.request.user):
            return ""
        return super().render_html(parent_context)

    def get_context_data(self, parent_context) -> dict:
        relays = status.relays()
        down = RelayState.State.DOWN
        return {"relays": relays, "any_down": any(relay.state == down for relay in relays)}


def add_relay_panel(request, panels: list) -> None:
    """Put the relays' panel on the dashboard (``construct_homepage_panels`` hook)."""
    panels.append(RelayPanel(request))
