"""The warnings every Wagtail admin page shows: sending switched off, a mail relay down.

Each is added to the page's messages by the ``construct_main_menu`` hook: Wagtail builds
the main menu before it lists the page's messages, so the warning shows on the page being
rendered and is consumed there, once per request.
"""

from __future__ import annotations

from django.contrib import messages
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from wagtail.admin import messages as wagtail_messages

from .. import conf, status
from ..models import MessageReceiver, RelayState
from . import formatting, links
from .permissions import can_view_receivers

SHOWN = "_messaging_kill_switch_banner"
RELAYS_SHOWN = "_messaging_relay_banner"
REASON_LENGTH = 200
# The receivers listing of what waits to be sent, the banner's button.
WAITING = [MessageReceiver.Status.NOT_SENT, MessageReceiver.Status.FAILED]


def add_kill_switch_banner(request, menu_items) -> None:
    """Warn while sending to users is switched off (``construct_main_menu`` hook)."""
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


def add_relay_banner(request, menu_items) -> None:
    """Warn staff who see the receivers while a mail relay is down (``construct_main_menu``
    hook): since when and why, how many emails wait, when it is checked next.

    Costs one query on the relays' tiny table per page; the waiting emails are counted
    only while a relay is down.
    """
    if getattr(request, RELAYS_SHOWN, False) or not can_view_receivers(request.user):
        return
    setattr(request, RELAYS_SHOWN, True)
    down = status.down_relays()
    if not down:
        return
    waiting = status.queue().waiting
    button = wagtail_messages.button(links.receivers(status=WAITING), _("Waiting emails"))
    for relay in down:
        wagtail_messages.warning(request, relay_down_text(relay, waiting), buttons=[button])


def relay_down_text(relay: RelayState, waiting: int) -> str:
    """ "Mail server unreachable since 10:42 (reason). 3,120 emails waiting. Next check at
    10:50.", in the user's language and time zone; plain text, escaped where shown."""
    since = relay.down_since or relay.first_failure_at
    values = {
        "mailer": relay.mailer,
        "since": formatting.moment(since) if since else "-",
        "reason": status.one_line(relay.reason, REASON_LENGTH),
    }
    # The site's one mailer goes unnamed; with several, each banner names its own.
    if conf.mailers() == [relay.mailer]:
        if relay.reason:
            head = _("Mail server unreachable since %(since)s (%(reason)s).")
        else:
            head = _("Mail server unreachable since %(since)s.")
    elif relay.reason:
        head = _("Mail server “%(mailer)s” unreachable since %(since)s (%(reason)s).")
    else:
        head = _("Mail server “%(mailer)s” unreachable since %(since)s.")
    sentences = [
        head % values,
        ngettext("%(count)s email waiting.", "%(count)s emails waiting.", waiting)
        % {"count": formatting.count(waiting)},
    ]
    if relay.next_probe_at:
        sentences.append(
            _("Next check at %(time)s.") % {"time": formatting.moment(relay.next_probe_at)}
        )
    return " ".join(sentences)
