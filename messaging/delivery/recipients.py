"""Who an email goes to: the user's current addresses, less suppressed ones, unless the
kill switch is off."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from .. import conf, users
from ..bounces import suppression
from ..exceptions import InvalidRecipientError, SendingDisabledError
from ..models import MessageReceiver


def check_sending_enabled() -> None:
    """Raise :class:`SendingDisabledError` while the kill switch is off."""
    if not conf.send_email_to_users():
        name = conf.send_email_setting_name()
        raise SendingDisabledError(
            f"Not sent: {name} is False, so no email goes to users. Set it to True, "
            "then resend this receiver."
        )


def recipient_addresses(receiver: MessageReceiver) -> list[str]:
    """The user's current addresses (``MESSAGING_USER_EMAILS``), or
    :class:`InvalidRecipientError` saying what to fix."""
    user = receiver.user
    if user is None:
        raise InvalidRecipientError(
            "This receiver's user was deleted, so there is no address to send to."
        )
    addresses = users.user_emails(user)
    if not addresses:
        raise InvalidRecipientError(
            f"User {user.get_username()!r} (id {user.pk}) has no email address. "
            "Add one to the user, then resend this receiver."
        )
    for address in addresses:
        try:
            validate_email(address)
        except ValidationError as error:
            raise InvalidRecipientError(
                f"User {user.get_username()!r} (id {user.pk}) has an invalid email address "
                f"{address!r}. Correct it on the user, then resend this receiver."
            ) from error
    return addresses


def deliverable(addresses: list[str], suppressed: dict | None) -> list[str]:
    """``addresses`` without suppressed ones; when every one is suppressed, the
    :class:`~messaging.exceptions.SuppressedAddressError` of the first says why."""
    entries = suppression.lookup(addresses) if suppressed is None else suppressed
    kept = [address for address in addresses if not suppression.is_suppressed(address, entries)]
    if not kept:
        suppression.refuse_suppressed(addresses[0], entries)
    return kept


def suppressed_in(receivers: list[MessageReceiver]) -> dict:
    """The suppression entries of the batch's users' addresses, in one query."""
    addresses = []
    for receiver in receivers:
        if receiver.user is not None:
            addresses += users.user_emails(receiver.user)
    return suppression.lookup(addresses)


def addresses_for(receiver: MessageReceiver, suppressed: dict | None) -> list[str]:
    """Where ``receiver``'s email goes now; raises when it must not or cannot go anywhere."""
    check_sending_enabled()
    return deliverable(recipient_addresses(receiver), suppressed)
