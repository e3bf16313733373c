"""Who may do what with the message records in the Wagtail admin: look, resend, and stop,
resume or reschedule a message."""

from __future__ import annotations

from dataclasses import dataclass

from django.http import HttpRequest, HttpResponseRedirect
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _
from wagtail.admin import messages
from wagtail.admin.views.bulk_action.registry import bulk_action_registry
from wagtail.permission_policies import ModelPermissionPolicy
from wagtail.permissions import policy_registry, register_permission_policy

from ..models import Message, MessageReceiver

WRITE_ACTIONS = frozenset({"add", "change", "delete"})


def can_view_receivers(user) -> bool:
    """Who sees the receivers, and with them the relays' state: the ``view`` permission of
    receivers, or the permission to resend them."""
    policy = policy_registry.get_by_type(MessageReceiver)
    return bool(policy.user_has_permission(user, "view"))


@dataclass(frozen=True)
class StaffAction:
    """What staff do to the records beyond looking at them, and who may."""

    permission: str
    # What a user without ``permission`` is told: it names the permission (%(codename)s)
    # and its label, so that an administrator knows which one to give.
    refusal: Promise


RESEND = StaffAction(
    "messaging.resend_messagereceiver",
    _(
        "You may not resend emails: that needs the permission “Can resend message "
        "receivers” (%(codename)s). Ask an administrator to give it to one of your groups."
    ),
)
# Stopping a message, cancelling a scheduled one, resuming and rescheduling.
STOP = StaffAction(
    "messaging.stop_message",
    _(
        "You may not stop, resume or reschedule messages: that needs the permission "
        "“Can stop, resume and reschedule messages” (%(codename)s). Ask an "
        "administrator to give it to one of your groups."
    ),
)


def can(user, action: StaffAction) -> bool:
    """Superusers and holders of ``action.permission`` (active users only)."""
    return bool(user.is_active and user.has_perm(action.permission))


def refuse(request: HttpRequest, action: StaffAction, back_to: str) -> HttpResponseRedirect:
    """Send the user back to ``back_to``, saying which permission ``action`` needs."""
    messages.error(request, action.refusal % {"codename": action.permission})
    return HttpResponseRedirect(back_to)


def usable_bulk_actions(user, model) -> list:
    """The bulk actions registered for ``model`` that ``user`` may use.

    An action says who may use it with a ``user_may_use(user)`` class method; Wagtail's
    own listings offer every registered action, and refuse only after the click.
    """
    opts = model._meta
    actions = bulk_action_registry.get_bulk_actions_for_model(opts.app_label, opts.model_name)
    return [
        action
        for action in actions
        if not hasattr(action, "user_may_use") or action.user_may_use(user)
    ]


class ReadOnlyPermissionPolicy(ModelPermissionPolicy):
    """The records are history: nobody adds, edits or deletes them in the admin.

    Viewing needs the model's ``view`` permission; for receivers, the permission to
    resend also lets one see them (as in the Django admin), and for messages, the
    permission to stop them.
    """

    def __init__(self, model, *, also_view_with: tuple[str, ...] = ()) -> None:
        super().__init__(model)
        self.also_view_with = also_view_with

    def user_has_permission(self, user, action: str) -> bool:
        if action in WRITE_ACTIONS:
            return False
        if action == "view" and any(user.has_perm(perm) for perm in self.also_view_with):
            return True
        return super().user_has_permission(user, action)

    def users_with_any_permission(self, actions):
        readable = [action for action in actions if action not in WRITE_ACTIONS]
        if not readable:
            return super().users_with_any_permission([]).none()
        return super().users_with_any_permission(readable)


def register_permission_policies() -> None:
    """Make both record models read-only in the Wagtail admin.

    Called before the viewsets register, so that Wagtail does not create its default
    policy for them.
    """
    register_permission_policy(
        Message, ReadOnlyPermissionPolicy(Message, also_view_with=(STOP.permission,))
    )
    register_permission_policy(
        MessageReceiver,
        ReadOnlyPermissionPolicy(MessageReceiver, also_view_with=(RESEND.permission,)),
    )
