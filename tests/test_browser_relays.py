"""The mail relays in a real browser: the banner staff see while the mail server is down,
and the dashboard's relay panel (the staff guide's screenshots)."""

from __future__ import annotations

import os
from datetime import timedelta

import pytest
from django.utils import timezone

from messaging.models import MessageReceiver, RelayState
from tests import test_browser
from tests.factories import make_message, make_receivers
from tests.test_browser import SCREENSHOTS, screenshot

# The fixtures of the workflows' browser tests: Chromium, the root page, a staff user.
browser = test_browser.browser
root_page = test_browser.root_page
staff_page = test_browser.staff_page

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

BANNER = "Mail server unreachable since"


def element_screenshot(locator, name: str) -> None:
    """Save one element as ``<name>.png`` in the ``MESSAGING_SCREENSHOTS`` folder, if set."""
    if SCREENSHOTS:
        os.makedirs(SCREENSHOTS, exist_ok=True)
        locator.screenshot(path=os.path.join(SCREENSHOTS, f"{name}.png"))


@pytest.fixture
def outage():
    """The mail server down for eight minutes, with 3,120 emails waiting."""
    now = timezone.now()
    make_receivers(3120, make_message(), status=MessageReceiver.Status.NOT_SENT)
    return RelayState.objects.create(
        mailer="default",
        state=RelayState.State.DOWN,
        consecutive_failures=5,
        first_failure_at=now - timedelta(minutes=9),
        down_since=now - timedelta(minutes=8),
        reason="[Errno 111] Connection refused",
        next_probe_at=now + timedelta(minutes=2),
        last_success_at=now - timedelta(minutes=10),
    )


def test_banner_shown_while_the_server_is_down(staff_page, live_server, outage):
    from playwright.sync_api import expect

    page = staff_page
    page.goto(f"{live_server.url}/admin/")
    banner = page.locator(".messages li", has_text=BANNER)
    expect(banner).to_be_visible()
    expect(banner).to_contain_text("([Errno 111] Connection refused). 3,120 emails waiting.")
    expect(banner).to_contain_text("Next check at ")
    relays = page.locator("[data-messaging-relays]")
    expect(relays.locator("[data-relay=default]")).to_contain_text("Down")
    screenshot(page, "relay_down_dashboard")
    element_screenshot(page.locator(".messages"), "relay_banner")
    element_screenshot(page.locator("#messaging-relays-section"), "relay_panel")

    page.goto(f"{live_server.url}/admin/messaging/messages/")
    expect(page.locator(".messages li", has_text=BANNER)).to_be_visible()
    page.locator(".messages li a", has_text="Waiting emails").click()
    page.wait_for_url("**/admin/messaging/receivers/?status=not_sent&status=failed")
    expect(page.locator(".messages li", has_text=BANNER)).to_have_count(1)

    RelayState.objects.filter(pk=outage.pk).update(
        state=RelayState.State.UP, consecutive_failures=0, last_success_at=timezone.now()
    )
    page.goto(f"{live_server.url}/admin/")
    expect(page.locator("[data-messaging-relays] [data-relay=default]")).to_contain_text("Up")
    expect(page.locator(".messages li", has_text=BANNER)).to_have_count(0)
    element_screenshot(page.locator("#messaging-relays-section"), "relay_panel_up")
