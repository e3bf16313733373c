"""Reading reports: RFC 3464 delivery status notifications and RFC 5965 complaint reports.

:func:`parse_report` turns one email into a :class:`Report` per recipient it is about,
using only the standard library's ``email`` package.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from email import message_from_bytes, message_from_string
from email.message import Message
from email.utils import getaddresses

from ..exceptions import BounceReportError
from ..models import MessageReceiver

STATUS_RE = re.compile(r"\b([245])\.(\d{1,3})\.(\d{1,3})\b")
# Headers an MTA or the report itself uses to say where the report was delivered to:
# our return path, with the receiver's token, shows up in one of them.
DELIVERED_TO_HEADERS = ("Delivered-To", "X-Original-To", "Envelope-To", "X-Envelope-To", "To")
DIAGNOSTIC_LENGTH = 1000
# A report's event is the delivery status it moves its receiver to.
DeliveryStatus = MessageReceiver.DeliveryStatus


@dataclass(frozen=True)
class Report:
    """What one report says about one recipient.

    ``event`` is the delivery status the report would move its receiver to;
    ``recipient`` is the address the report names, as its sender wrote it (unchecked:
    see :mod:`messaging.bounces.scope`). ``addresses`` are where the report was delivered
    to (one should be our VERP return path); ``message_id`` is the original email's
    Message-ID; ``report_id`` identifies the report itself, which with ``recipient``
    makes reading it twice apply it once.
    """

    event: DeliveryStatus
    status: str
    diagnostic: str
    recipient: str
    addresses: tuple[str, ...]
    message_id: str
    report_id: str

    @property
    def permanent(self) -> bool:
        """A complaint, or a failure with a 5.x.x status: the address is suppressed."""
        if self.event == DeliveryStatus.COMPLAINED:
            return True
        return self.event == DeliveryStatus.BOUNCED and self.status.startswith("5")


def parse_report(data: bytes, envelope_recipients: Iterable[str] = ()) -> list[Report]:
    """The reports in one email; :class:`BounceReportError` when it holds none."""
    # The compat32 policy: header values as plain strings, many times faster to parse.
    message = message_from_bytes(data)
    addresses = delivered_to(message, envelope_recipients)
    report_id = str(message.get("Message-ID") or "").strip() or hashlib.sha256(data).hexdigest()
    for part in message.walk():
        content_type = part.get_content_type()
        if content_type == "message/delivery-status":
            return dsn_reports(message, part, addresses, report_id)
        if content_type == "message/feedback-report":
            return [arf_report(message, part, addresses, report_id)]
    raise BounceReportError(
        f"The email {report_id} is neither a delivery status notification (RFC 3464) nor a "
        "complaint report (RFC 5965): it has no message/delivery-status or "
        "message/feedback-report part. It was kept; look at it by hand."
    )


def delivered_to(message: Message, envelope_recipients: Iterable[str]) -> tuple[str, ...]:
    values = [str(value) for name in DELIVERED_TO_HEADERS for value in message.get_all(name, [])]
    found = [address for _name, address in getaddresses(values) if address]
    return tuple(dict.fromkeys([*envelope_recipients, *found]))


def field(block, name: str) -> str:
    """A report field without its type prefix (``rfc822;``, ``smtp;``), unfolded."""
    value = " ".join(str(block.get(name, "")).split())
    kind, separator, rest = value.partition(";")
    return rest.strip() if separator and " " not in kind.strip() else value


def dsn_reports(message, part, addresses, report_id: str) -> list[Report]:
    blocks = part.get_payload()
    if not isinstance(blocks, list) or len(blocks) < 2:
        raise BounceReportError(
            f"The delivery status notification {report_id} has no per-recipient fields "
            "(RFC 3464 section 2.3). It was kept; look at it by hand."
        )
    original = original_headers(message)
    message_id = str(original.get("Message-ID", "")).strip() if original is not None else ""
    return [
        dsn_report(block, addresses, message_id, report_id)
        for block in blocks[1:]
        if block.get("Action")
    ]


def dsn_report(block, addresses, message_id: str, report_id: str) -> Report:
    action = field(block, "Action").lower()
    match = STATUS_RE.search(field(block, "Status"))
    status = match.group(0) if match else ""
    if action == "failed":
        status = status or "5.0.0"
        event = DeliveryStatus.BOUNCED if status.startswith("5") else DeliveryStatus.DELAYED
    elif action == "delayed":
        event = DeliveryStatus.DELAYED
    else:  # delivered, relayed, expanded: it left the last server that reports
        event = DeliveryStatus.DELIVERED
    recipient = field(block, "Original-Recipient") or field(block, "Final-Recipient")
    return Report(
        event=event,
        status=status,
        diagnostic=field(block, "Diagnostic-Code")[:DIAGNOSTIC_LENGTH],
        recipient=recipient.strip("<>"),
        addresses=addresses,
        message_id=message_id,
        report_id=report_id,
    )


def arf_report(message, part, addresses, report_id: str) -> Report:
    fields = part.get_payload()[0] if part.is_multipart() else part
    original = original_headers(message)
    recipient = field(fields, "Original-Rcpt-To")
    if not recipient and original is not None:
        recipient = ",".join(a for _n, a in getaddresses([str(original.get("To", ""))]))
    mail_from = field(fields, "Original-Mail-From").strip("<>")
    feedback = field(fields, "Feedback-Type") or "abuse"
    agent = field(fields, "User-Agent")
    return Report(
        event=DeliveryStatus.COMPLAINED,
        status="",
        diagnostic=f"{feedback} report" + (f" from {agent}" if agent else ""),
        recipient=recipient.split(",")[0].strip().strip("<>"),
        addresses=tuple(dict.fromkeys([*addresses, *([mail_from] if mail_from else [])])),
        message_id=str(original.get("Message-ID", "")).strip() if original is not None else "",
        report_id=report_id,
    )


def original_headers(message) -> Message | None:
    """The headers of the email the report is about (``message/rfc822`` or headers only)."""
    for part in message.walk():
        content_type = part.get_content_type()
        if content_type in ("message/rfc822", "message/global"):
            payload = part.get_payload()
            return payload[0] if isinstance(payload, list) and payload else None
        if content_type in ("text/rfc822-headers", "text/global-headers"):
            payload = part.get_payload(decode=True) or b""
            return message_from_string(payload.decode("utf-8", errors="replace"))
    return None
