"""The warning every Wagtail admin page shows while sending to users is switched off."""

from __future__ import annotations

from django.contrib import messages
from django.utils.translation import gettext as _

from .. import conf

SHOWN = "_messaging_kill_switch_banner"


def add_kill_switch_banner(request, menu_items) -> None:
    """Add the warning to the page's messages (``construct_main_menu`` hook).

    Wagtail builds the main menu before it lists the page's messages, so the warning shows
    on the page being rendered and is consumed there, once per request.
    """
    if conf.send_email_to_users() or getattr(request, SHOWN, False):
        return
    setattr(request, SHOWN, True)
    messages.warning(
        request,
        _(
            "Email to users is switched off (%(setting)s = False): new messages are recorded "
            "as errors and nothing is sent. Resend them once it is switched on."
        )
        % {"setting": conf.send_email_setting_name()},
    )
