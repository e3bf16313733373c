"""The app's entries in Wagtail's history: what each action is called and how it reads.

Each entry is logged where its action happens: ``messaging.send`` by
:func:`messaging.api.send_message`, ``messaging.resend`` by the receivers' Resend button and
bulk action (:func:`log_resend`), and the suppression and preference changes by Wagtail's
own create, edit and delete actions, given this app's action names here
(:func:`register_actions`). ``messaging.wagtail_hooks`` registers both.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db.models import Count
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from wagtail.actions.base import BaseAction
from wagtail.actions.create import CreateAction
from wagtail.actions.delete import DeleteAction
from wagtail.actions.edit import EditAction
from wagtail.log_actions import LogFormatter, log

from ..api import SEND_ACTION
from ..models import Message, MessageReceiver, NotificationPreference, Suppression

RESEND_ACTION = "messaging.resend"
SUPPRESS_ACTION = "messaging.suppress"
UNSUPPRESS_ACTION = "messaging.unsuppress"
PREFERENCES_ACTION = "messaging.preferences_changed"


class SendFormatter(LogFormatter):
    label = _("Send message")

    def format_message(self, log_entry) -> str:
        data = log_entry.data or {}
        count = data.get("receivers", 0)
        if data.get("test"):
            return ngettext(
                "Test sent to %(count)d receiver", "Test sent to %(count)d receivers", count
            ) % {"count": count}
        return ngettext(
            "Message %(message)s sent to %(count)d receiver",
            "Message %(message)s sent to %(count)d receivers",
            count,
        ) % {"message": data.get("message", "?"), "count": count}


class ResendFormatter(LogFormatter):
    label = _("Resend receivers")

    def format_message(self, log_entry) -> str:
        data = log_entry.data or {}
        count = data.get("receivers", 0)
        if data.get("bulk"):
            return ngettext(
                "%(count)d receiver resent (bulk action)",
                "%(count)d receivers resent (bulk action)",
                count,
            ) % {"count": count}
        return _("Receiver %(receiver)s resent") % {"receiver": data.get("receiver", "?")}


# What staff do to a message as a whole: each action's label (in the filters of Wagtail's
# reports) and its message (see messaging.admin.views.message_actions).
MESSAGE_ACTIONS = {
    "messaging.stop": (_("Stop sending"), _("Stopped sending")),
    "messaging.cancel": (_("Cancel scheduled message"), _("Cancelled before its time")),
    "messaging.resume": (_("Resume sending"), _("Resumed sending")),
    "messaging.reschedule": (_("Change scheduled time"), _("Changed its scheduled time")),
}


def register_log_actions(actions) -> None:
    """For the ``register_log_actions`` hook."""
    for action, (label, message) in MESSAGE_ACTIONS.items():
        actions.register_action(action, label, message)
    actions.register_action(SEND_ACTION)(SendFormatter)
    actions.register_action(RESEND_ACTION)(ResendFormatter)
    actions.register_action(SUPPRESS_ACTION, _("Suppress address"), _("Address suppressed"))
    actions.register_action(
        UNSUPPRESS_ACTION, _("Unsuppress address"), _("Address no longer suppressed")
    )
    actions.register_action(
        PREFERENCES_ACTION,
        _("Change notification preferences"),
        _("Notification preferences changed"),
    )


def log_resend(receiver: MessageReceiver, user: Any) -> None:
    """The ``messaging.resend`` entry of one receiver resent by hand, on its message."""
    data = {"receivers": 1, "bulk": False, "receiver": receiver.pk}
    log(receiver.message, RESEND_ACTION, user=user, data=data)


def log_bulk_resend(receiver_ids: Iterable[int], user: Any) -> None:
    """One ``messaging.resend`` entry per message of the receivers resent by hand at once.

    ``receiver_ids`` may be a query of ids: it is counted per message in one query.
    """
    per_message = dict(
        MessageReceiver.objects.filter(pk__in=receiver_ids)
        .order_by()
        .values_list("message_id")
        .annotate(count=Count("pk"))
    )
    for message in Message.objects.filter(pk__in=per_message).order_by("pk"):
        data = {"receivers": per_message[message.pk], "bulk": True}
        log(message, RESEND_ACTION, user=user, data=data)


# Wagtail's create, edit and delete actions on this app's models, logged under this app's
# names: the admin's views (and any code using Wagtail's actions) log them so.
LOGGED_ACTIONS = [
    (Suppression, CreateAction, SUPPRESS_ACTION),
    (Suppression, DeleteAction, UNSUPPRESS_ACTION),
    (NotificationPreference, CreateAction, PREFERENCES_ACTION),
    (NotificationPreference, EditAction, PREFERENCES_ACTION),
    (NotificationPreference, DeleteAction, PREFERENCES_ACTION),
]


def logged_as(action_class: type[BaseAction], log_action: str) -> type[BaseAction]:
    """``action_class`` logging ``log_action`` unless its caller names another."""

    class LoggedAction(action_class):
        def __init__(self, *args, **kwargs) -> None:
            kwargs.setdefault("log_action", log_action)
            super().__init__(*args, **kwargs)

    LoggedAction.__name__ = LoggedAction.__qualname__ = f"Logged{action_class.__name__}"
    return LoggedAction


def register_actions(registry) -> None:
    """For Wagtail's ``register_actions`` hook."""
    for model, action_class, log_action in LOGGED_ACTIONS:
        registry.register(model, logged_as(action_class, log_action))
