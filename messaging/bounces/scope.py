"""Which address a report may act on: only a valid one that its receiver's email went to.

A report is matched to its receiver by the signed return path or Message-ID of the email
it is about. Every recipient knows both for the emails they get, so a match proves which
email a report is about; the address it names is only its sender's word. Were that
enough, any recipient could have any address suppressed. A report that names another
address, or no valid one, is refused: it is recorded on the receiver and changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from ..models import MessageReceiver, normalise_address
from .parsing import Report

SHOWN_LENGTH = 100  # how much of an invalid address the receiver's events keep


@dataclass(frozen=True)
class Scope:
    """The address a report about one receiver acts on, or why it may act on none."""

    address: str  # normalised (cut short when invalid); "" when the report names none
    refusal: str = ""  # why the report may not act, in words for staff; "" when it may


def sent_to(receiver: MessageReceiver) -> set[str]:
    """The normalised addresses the receiver's email went to (``send_to`` holds "a, b")."""
    return {normalise_address(part) for part in (receiver.send_to or "").split(",") if part.strip()}


def scope(report: Report, receiver: MessageReceiver) -> Scope:
    """The address ``report`` may act on for ``receiver``, or a :class:`Scope` saying why not.

    A report that names no address is about the email's address, when it went to one.
    Otherwise the named address must be a valid email address (Django's
    ``validate_email``, which also bounds its length to 320) and one of the email's.
    """
    addresses = sent_to(receiver)
    address = normalise_address(report.recipient)
    if not address and len(addresses) != 1:
        return Scope("", refusal(report, f"no address, and this email went to {len(addresses)}"))
    address = address or next(iter(addresses))
    try:
        validate_email(address)
    except ValidationError:
        shown = address if len(address) <= SHOWN_LENGTH else f"{address[:SHOWN_LENGTH]}…"
        return Scope(shown, refusal(report, f"{shown!r}, which is not a valid email address"))
    if address not in addresses:
        return Scope(address, refusal(report, f"{address}, an address this email was not sent to"))
    return Scope(address)


def refusal(report: Report, names: str) -> str:
    return (
        f"Not applied: this {report.event} report names {names}. Nothing was suppressed and "
        "the delivery status is unchanged."
    )
