"""How many receivers are in each status: counted by the database, shown as linked rows."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping

from django.db.models import Count, Q, QuerySet
from django.utils import timezone
from django.utils.translation import ngettext

from ..models import Message, MessageReceiver
from . import links

Status = MessageReceiver.Status
# The order in which every count row (dashboard, messages) lists the statuses.
STATUS_ORDER = [
    Status.SENT,
    Status.FAILED,
    Status.ERROR,
    Status.NOT_SENT,
    Status.DIGEST_PENDING,
    Status.CANCELLED,
    Status.EXPIRED,
]


def count_annotations(prefix: str = "receivers__") -> dict[str, Count]:
    """``receiver_count`` and ``count_<status>`` annotations, for one grouped query.

    Counted from the receivers themselves (no prefix), counting the (never null) status
    lets PostgreSQL answer from the (message, status) index alone.
    """
    counted = f"{prefix}pk" if prefix else "status"
    counts = {"receiver_count": Count(counted)}
    for status in Status.values:
        counts[f"count_{status}"] = Count(counted, filter=Q(**{f"{prefix}status": status}))
    return counts


def annotate_page(messages: list[Message]) -> list[Message]:
    """Set ``receiver_count`` and ``count_<status>`` on a page of messages, in one query.

    Counting only the page's messages (through the receivers' message index) keeps the
    listing fast however many receivers there are; annotating the listing's queryset
    would group every receiver before the page is cut.
    """
    rows = (
        MessageReceiver.objects.filter(message_id__in=[m.pk for m in messages])
        .order_by()
        .values("message_id")
        .annotate(**count_annotations(prefix=""))
    )
    by_message = {row.pop("message_id"): row for row in rows}
    empty = dict.fromkeys(count_annotations(prefix=""), 0)
    for message in messages:
        for name, value in by_message.get(message.pk, empty).items():
            setattr(message, name, value)
    return messages


def status_rows(counts: Mapping[str, int], **filters: int) -> list[dict]:
    """One row per status: its label, its count, and the receivers listing filtered to it.

    ``filters`` narrow every row's link further (``message=42``).
    """
    labels = dict(Status.choices)
    return [
        {
            "status": status.value,
            "label": labels[status],
            "count": counts.get(status.value, 0),
            "url": links.receivers(**filters, status=status.value),
        }
        for status in STATUS_ORDER
    ]


def message_status_rows(message: Message) -> list[dict]:
    """The status rows of a message annotated by :func:`count_annotations`."""
    counts = {status: getattr(message, f"count_{status}", 0) for status in Status.values}
    return status_rows(counts, message=message.pk)


def all_status_rows(receivers: QuerySet | None = None) -> list[dict]:
    """The status rows of every receiver, or of ``receivers`` (the dashboard's tiles)."""
    receivers = MessageReceiver.objects.all() if receivers is None else receivers
    counts = receivers.order_by().values_list("status").annotate(n=Count("*"))
    return status_rows(dict(counts))


def status_counts(selection: QuerySet) -> Counter:
    """How many of ``selection`` are in each status, counted by the database in one query."""
    rows = (
        MessageReceiver.objects.filter(pk__in=selection)
        .order_by()
        .values_list("status")
        .annotate(n=Count("pk"))
    )
    return Counter(dict(rows))


def not_resent(selection: QuerySet) -> str:
    """Why some of ``selection`` are not sent again: their message expired (whatever their
    own status), or they were cancelled when it was stopped; "" when none is either."""
    receivers = MessageReceiver.objects.filter(pk__in=selection)
    expired = Q(status=Status.EXPIRED) | Q(message__expires_at__lte=timezone.now())
    counts = {
        Status.EXPIRED: receivers.filter(expired).count(),
        Status.CANCELLED: receivers.filter(status=Status.CANCELLED).exclude(expired).count(),
    }
    reasons = []
    if counts[Status.EXPIRED]:
        reasons.append(
            ngettext(
                "%(count)d receiver is past its message's expiry time: nothing is sent after it.",
                "%(count)d receivers are past their message's expiry time: nothing is sent "
                "after it.",
                counts[Status.EXPIRED],
            )
            % {"count": counts[Status.EXPIRED]}
        )
    if counts[Status.CANCELLED]:
        reasons.append(
            ngettext(
                "%(count)d receiver was cancelled when its message was stopped: resume the "
                "message to send it.",
                "%(count)d receivers were cancelled when their message was stopped: resume "
                "the message to send them.",
                counts[Status.CANCELLED],
            )
            % {"count": counts[Status.CANCELLED]}
        )
    return " ".join(reasons)
