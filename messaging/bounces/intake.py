"""Applying reports: find each report's receiver, record the event, suppress the address.

Every way a report arrives (a Maildir, the SMTP/LMTP listener, provider webhooks) ends
in :func:`apply_reports`, which matches a whole batch of reports with one query. A report
acts only on an address its receiver's email went to (see :mod:`.scope`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime

from django.db import connection, transaction
from django.utils import timezone

from .. import conf
from ..models import MessageReceiver, Suppression, normalise_address
from . import verp
from .parsing import Report
from .scope import Scope, scope

logger = logging.getLogger(__name__)

DeliveryStatus = MessageReceiver.DeliveryStatus
# A later report never moves a receiver back: "delivered" after "delayed", not the reverse.
RANK = {
    DeliveryStatus.UNKNOWN: 0,
    DeliveryStatus.DELAYED: 1,
    DeliveryStatus.DELIVERED: 2,
    DeliveryStatus.BOUNCED: 3,
    DeliveryStatus.COMPLAINED: 4,
}
CHUNK = 1000


@dataclass
class IntakeResult:
    """Counts of what a run of intake did with the reports it read."""

    applied: int = 0  # events recorded on a receiver
    suppressed: int = 0  # addresses added to (or seen again on) the suppression list
    duplicate: int = 0  # reports already applied before, skipped
    refused: int = 0  # about a receiver of ours, but naming no valid address of its email
    forged: int = 0  # a return path or Message-ID with a wrong HMAC, and no valid match
    unmatched: int = 0  # no receiver of ours found
    unreadable: int = 0  # files set aside: unreadable, or not a DSN or complaint report

    def add(self, other: IntakeResult) -> None:
        for item in fields(self):
            setattr(self, item.name, getattr(self, item.name) + getattr(other, item.name))

    def summary(self) -> str:
        return ", ".join(f"{item.name} {getattr(self, item.name)}" for item in fields(self))


def candidate_ids(report: Report) -> tuple[list[int], bool]:
    """Receiver ids a report's VERP addresses and Message-ID validly name; and if any was forged."""
    tags = [verp.read_token(address) for address in report.addresses]
    tags.append(verp.read_message_id(report.message_id) if report.message_id else None)
    tags = [tag for tag in tags if tag is not None]
    return [tag.receiver_id for tag in tags if tag.valid], any(not tag.valid for tag in tags)


def match(report: Report, receivers: dict[int, MessageReceiver]) -> MessageReceiver | None:
    """The receiver a report is about: named by a valid VERP return path, else by the
    original's signed Message-ID (when a relay rewrote the return path, or its HMAC is
    wrong). Which address the report may act on is :func:`.scope.scope`'s to say.
    """
    for address in report.addresses:
        tag = verp.read_token(address)
        if tag and tag.valid and tag.receiver_id in receivers:
            return receivers[tag.receiver_id]
    tag = verp.read_message_id(report.message_id) if report.message_id else None
    if tag and tag.valid and tag.receiver_id in receivers:
        return receivers[tag.receiver_id]
    return None


def load_receivers(reports: Sequence[Report]) -> tuple[dict[int, MessageReceiver], set[int]]:
    ids: set[int] = set()
    forged: set[int] = set()
    for index, report in enumerate(reports):
        found, was_forged = candidate_ids(report)
        ids.update(found)
        if was_forged:
            forged.add(index)
    queryset = MessageReceiver.objects.only("pk", "send_to", "delivery_status", "delivery_events")
    receivers: dict[int, MessageReceiver] = {}
    for start in range(0, len(ids), CHUNK):
        chunk = sorted(ids)[start : start + CHUNK]
        receivers.update((r.pk, r) for r in queryset.select_for_update().filter(pk__in=chunk))
    return receivers, forged


REFUSED = "refused"  # the ``event`` of a report recorded but not applied (see .scope)
RECIPIENT_LENGTH = 320  # of the named address kept in an event, to know the report again


def storable(text: str) -> str:
    """``text`` without NUL characters, which PostgreSQL stores in no text or jsonb column.

    Report text is whatever its sender wrote; one NUL would roll back the whole batch,
    at every try.
    """
    return text.replace("\x00", "")


def event_entry(report: Report, target: Scope, source: str, now: datetime) -> dict:
    """One ``delivery_events`` item; ``report`` and ``recipient`` identify what it records."""
    return {
        "event": REFUSED if target.refusal else report.event,
        "status": storable(report.status),
        "diagnostic": storable(f"{target.refusal} {report.diagnostic}".strip()),
        "source": source,
        "timestamp": now.isoformat(),
        "report": storable(report.report_id),
        "recipient": storable(normalise_address(report.recipient)[:RECIPIENT_LENGTH]),
    }


def same_report(event: dict, entry: dict) -> bool:
    """Whether a stored event records the report ``entry`` is about.

    One report names each failed address of an email apart (a DSN for one SMTP
    transaction to two addresses has two entries), so the recipient is part of the key.
    Events stored before it was have none and match any recipient of their report.
    """
    return event.get("report") == entry["report"] and (
        event.get("recipient", entry["recipient"]) == entry["recipient"]
    )


def record(
    receiver: MessageReceiver, report: Report, target: Scope, source: str, now: datetime
) -> bool:
    """Add the report's event to ``receiver`` (in memory); False when already there.

    A refused report is kept as a ``refused`` event and leaves the delivery status and
    its time as they were.
    """
    entry = event_entry(report, target, source, now)
    events = list(receiver.delivery_events or [])
    if any(same_report(event, entry) for event in events):
        return False
    receiver.delivery_events = [*events, entry][-conf.max_delivery_events() :]
    if target.refusal:
        return True
    if RANK[DeliveryStatus(report.event)] >= RANK[DeliveryStatus(receiver.delivery_status)]:
        receiver.delivery_status = report.event
    receiver.delivery_updated_at = now
    return True


@dataclass
class Batch:
    """One transaction's work: the counts, the receivers changed, the addresses to suppress."""

    source: str
    now: datetime
    result: IntakeResult = field(default_factory=IntakeResult)
    changed: dict[int, MessageReceiver] = field(default_factory=dict)
    suppress: dict[str, Report] = field(default_factory=dict)

    def apply(self, report: Report, receiver: MessageReceiver) -> None:
        """Record ``report`` on its receiver; note its address when it is to be suppressed."""
        target = scope(report, receiver)
        if not record(receiver, report, target, self.source, self.now):
            self.result.duplicate += 1
            return
        self.changed[receiver.pk] = receiver
        if target.refusal:
            self.result.refused += 1
            logger.warning(
                "Refused a report (%s) about receiver %s from %s: %s",
                report.report_id,
                receiver.pk,
                self.source,
                target.refusal,
            )
            return
        self.result.applied += 1
        if report.permanent:
            self.suppress[target.address] = report


def apply_reports(reports: Iterable[Report], source: str) -> IntakeResult:
    """Record each report on its receiver and suppress permanently failing addresses.

    Forged and unmatched reports are counted and logged, never applied. A report that
    names no valid address of its receiver's email is recorded on the receiver as
    ``refused`` and changes nothing else. A report that was recorded before (the same
    report id and recipient on the receiver) is skipped, so running intake twice over
    the same reports changes nothing the second time.
    """
    reports = list(reports)
    batch = Batch(source, timezone.now())
    with transaction.atomic():
        receivers, forged = load_receivers(reports)
        for index, report in enumerate(reports):
            receiver = match(report, receivers)
            if receiver is None:
                count_unapplied(batch.result, report, forged=index in forged, source=source)
            else:
                batch.apply(report, receiver)
        write_events(list(batch.changed.values()))
        batch.result.suppressed = suppress_addresses(batch.suppress, source, batch.now)
    return batch.result


EVENT_FIELDS = ("delivery_status", "delivery_events", "delivery_updated_at")


def write_events(receivers: list[MessageReceiver]) -> None:
    """Save the event fields of ``receivers``: one UPDATE statement, run for each row.

    ``executemany`` sends all rows in one go (psycopg pipelines them); Django's
    ``bulk_update`` builds a CASE over every row, which is slower on both databases.
    """
    if not receivers:
        return
    meta, quote = MessageReceiver._meta, connection.ops.quote_name
    model_fields = [meta.get_field(name) for name in EVENT_FIELDS]
    assignments = ", ".join(f"{quote(field.column)} = %s" for field in model_fields)
    sql = f"UPDATE {quote(meta.db_table)} SET {assignments} WHERE {quote(meta.pk.column)} = %s"
    rows = [
        [f.get_db_prep_save(getattr(r, f.attname), connection) for f in model_fields] + [r.pk]
        for r in receivers
    ]
    with connection.cursor() as cursor:
        cursor.executemany(sql, rows)


def count_unapplied(result: IntakeResult, report: Report, *, forged: bool, source: str) -> None:
    kind = "forged" if forged else "unmatched"
    setattr(result, kind, getattr(result, kind) + 1)
    logger.warning(
        "Ignored a %s %s report (%s) for %r from %s: %s",
        kind,
        report.event,
        report.report_id,
        report.recipient,
        source,
        "its return path or Message-ID has a wrong signature"
        if forged
        else "it names no receiver of ours",
    )


def suppress_addresses(reports: dict[str, Report], source: str, now: datetime) -> int:
    """Add or refresh one :class:`Suppression` per address, in one statement per chunk."""
    rows = [
        Suppression(
            address=address,
            reason=Suppression.Reason.COMPLAINED
            if report.event == DeliveryStatus.COMPLAINED
            else Suppression.Reason.BOUNCED,
            source=storable(f"{source}: {report.status} {report.diagnostic}".strip())[:255],
            first_seen=now,
            last_seen=now,
        )
        for address, report in reports.items()
        if address
    ]
    Suppression.objects.bulk_create(
        rows,
        batch_size=CHUNK,
        update_conflicts=True,
        unique_fields=["address"],
        update_fields=["reason", "source", "last_seen"],
    )
    return len(rows)
