"""The suppression list at send time: an address on it is never handed to the mail server."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from django.utils import timezone

from ..exceptions import SuppressedAddressError
from ..models import Suppression, normalise_address


def lookup(addresses: Iterable[str]) -> dict[str, Suppression]:
    """The suppression entries of ``addresses``, by normalised address, in one query."""
    wanted = {normalise_address(address) for address in addresses if address}
    if not wanted:
        return {}
    return {entry.address: entry for entry in Suppression.objects.filter(address__in=wanted)}


def is_suppressed(address: str, entries: Mapping[str, Suppression]) -> bool:
    """Whether ``address`` is among ``entries`` (a :func:`lookup`)."""
    return normalise_address(address) in entries


def refuse_suppressed(address: str, entries: Mapping[str, Suppression] | None = None) -> None:
    """Raise :class:`SuppressedAddressError` when ``address`` is suppressed.

    ``entries`` is a batch's :func:`lookup`; without it, the address is looked up alone.
    """
    entries = lookup([address]) if entries is None else entries
    entry = entries.get(normalise_address(address))
    if entry is None:
        return
    since = timezone.localtime(entry.first_seen).strftime("%Y-%m-%d %H:%M %Z")
    raise SuppressedAddressError(
        f"Not sent: {entry.address} is on the suppression list since {since} "
        f"({entry.get_reason_display()}; {entry.source or 'no details'}). "
        "To send to it again, remove it under Messaging > Suppressed addresses in the "
        "admin (or correct the user's address), then resend this receiver."
    )
