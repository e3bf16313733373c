"""Which users get a message, and how: the preference of each, else the type's default."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .. import conf, rendering
from ..models import MessageReceiver, NotificationPreference
from . import tokens

Mode = NotificationPreference.Mode
SKIP_REASON = "off"  # status_data["skipped"][i]["reason"]: the user turned this type off


def is_optional(context_type: str) -> bool:
    spec = conf.context_type_specs().get(context_type)
    return bool(spec and spec.optional)


def optional_types() -> list[conf.ContextType]:
    return [spec for spec in conf.context_type_specs().values() if spec.optional]


def modes_of(user_ids: Iterable[Any], context_type: str) -> dict[Any, str]:
    """Each user's mode for ``context_type``: the stored preference, else the default.

    Mandatory (and unknown) context types are always ``immediate``.
    """
    user_ids = list(user_ids)
    spec = conf.context_type_specs().get(context_type)
    if spec is None or not spec.optional:
        return dict.fromkeys(user_ids, Mode.IMMEDIATE.value)
    stored = dict(
        NotificationPreference.objects.filter(
            user_id__in=user_ids, context_type=context_type
        ).values_list("user_id", "mode")
    )
    return {pk: stored.get(pk, spec.default_mode) for pk in user_ids}


def set_mode(user: Any, context_type: str, mode: str) -> NotificationPreference:
    """Store ``user``'s ``mode`` for an optional ``context_type`` (idempotent)."""
    preference, _created = NotificationPreference.objects.update_or_create(
        user=user, context_type=context_type, defaults={"mode": mode}
    )
    return preference


class ModeSplit:
    """One message's users sorted by their preference for its context type.

    ``send_message`` calls, per chunk of users: :meth:`split` (leaves out ``off`` users,
    remembering them), :meth:`with_footer` (the unsubscribe link in optional emails),
    :meth:`hold_daily` (the new receivers of ``daily`` users wait for the digest), and
    once at the end :meth:`record` (``status_data["skipped"]`` on the message).
    """

    def __init__(self, context_type: str) -> None:
        self.context_type = context_type
        self.optional = is_optional(context_type)
        self.skipped: list[dict[str, Any]] = []
        self.daily: set[Any] = set()
        self.held = 0

    def split(self, users: list[Any]) -> list[Any]:
        """``users`` without those who turned this context type off."""
        if not self.optional:
            return users
        modes = modes_of([user.pk for user in users if user is not None], self.context_type)
        kept = []
        for user in users:
            mode = modes.get(getattr(user, "pk", None), Mode.IMMEDIATE)
            if mode == Mode.OFF:
                self.skipped.append({"user_id": user.pk, "reason": SKIP_REASON})
                continue
            if mode == Mode.DAILY:
                self.daily.add(user.pk)
            kept.append(user)
        return kept

    def with_footer(
        self, users: list[Any], emails: list[rendering.RenderedEmail]
    ) -> list[rendering.RenderedEmail]:
        """Optional emails with the unsubscribe link in the footer, in each one's language."""
        if not self.optional:
            return emails
        return [
            rendering.with_unsubscribe_link(
                email, tokens.unsubscribe_url(user.pk, self.context_type)
            )
            if user is not None
            else email
            for user, email in zip(users, emails, strict=True)
        ]

    def hold_daily(self, receiver_ids: list[int]) -> list[int]:
        """The ids to send now; the receivers of daily users become ``digest_pending``
        with no send asked for (the kill switch's ``error`` receivers stay as they are)."""
        if not self.daily or not receiver_ids:
            return receiver_ids
        held = MessageReceiver.objects.filter(
            pk__in=receiver_ids, user_id__in=self.daily, status=MessageReceiver.Status.NOT_SENT
        )
        held_ids = set(held.values_list("pk", flat=True))
        held.update(
            status=MessageReceiver.Status.DIGEST_PENDING, pending_sends=0, send_requested_at=None
        )
        self.held += len(held_ids)
        return [pk for pk in receiver_ids if pk not in held_ids]

    def record(self, status_data: dict) -> dict:
        """``status_data`` with ``skipped``: ``[{"user_id", "reason"}]`` when any user was
        left out (``reason`` ``"off"``: the user's preference for this type is off)."""
        if not self.skipped:
            return status_data
        return {**status_data, "skipped": self.skipped}
