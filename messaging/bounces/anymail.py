"""django-anymail's ``tracking`` signal mapped to delivery events (when anymail is installed).

Emails sent through an anymail backend carry ``metadata["messaging_receiver"]`` (see
:func:`messaging.bounces.verp.mark_email`); providers return it with each event, and its
HMAC is checked as the return path's is.
"""

from __future__ import annotations

import importlib.util

from ..models import MessageReceiver
from .intake import apply_reports
from .parsing import STATUS_RE, Report

DeliveryStatus = MessageReceiver.DeliveryStatus

EVENTS = {
    "delivered": DeliveryStatus.DELIVERED,
    "deferred": DeliveryStatus.DELAYED,
    "bounced": DeliveryStatus.BOUNCED,
    "rejected": DeliveryStatus.BOUNCED,
    "complained": DeliveryStatus.COMPLAINED,
}
DEFAULT_STATUS = {DeliveryStatus.DELAYED: "4.0.0", DeliveryStatus.BOUNCED: "5.0.0"}


def report_from(event, esp_name: str) -> Report | None:
    """The report an anymail tracking event makes; ``None`` for events we do not record.

    A bounce without an SMTP status in the provider's response is taken as permanent.
    """
    kind = EVENTS.get(event.event_type)
    if kind is None:
        return None
    diagnostic = " ".join(str(event.mta_response or event.description or "").split())
    match = STATUS_RE.search(diagnostic)
    token = str((event.metadata or {}).get("messaging_receiver", ""))
    report_id = event.event_id or f"{esp_name}:{event.message_id}:{event.event_type}"
    return Report(
        event=kind,
        status=match.group(0) if match else DEFAULT_STATUS.get(kind, ""),
        diagnostic=diagnostic[:1000],
        recipient=event.recipient or "",
        addresses=(token,) if token else (),
        message_id="",
        report_id=f"{esp_name}:{report_id}",
    )


def handle_tracking(sender, event, esp_name: str, **kwargs) -> None:
    report = report_from(event, esp_name)
    if report is not None:
        apply_reports([report], source=f"anymail:{esp_name.lower()}")


def connect() -> bool:
    """Connect to anymail's ``tracking`` signal; False when anymail is not installed."""
    if importlib.util.find_spec("anymail") is None:
        return False
    from anymail.signals import tracking

    tracking.connect(handle_tracking, dispatch_uid="messaging.bounces.anymail")
    return True
