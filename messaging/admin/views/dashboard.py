"""The messaging summary on the Wagtail dashboard: counts per status, recent failures, a chart."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.db.models import Count, DateTimeField, Q
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone
from wagtail.admin.ui.components import Component

from ...models import MessageReceiver
from .. import counts, links
from ..permissions import can_view_receivers

CHART_DAYS = 14
CHART_WIDTH = 700  # SVG user units; the plot is CHART_HEIGHT tall, labels go below it
CHART_HEIGHT = 120
# The tallest bar reaches this far below the top: its count stands above it, inside the chart.
HEADROOM = 18
PLOT_HEIGHT = CHART_HEIGHT - HEADROOM
FAILED = [MessageReceiver.Status.FAILED, MessageReceiver.Status.ERROR]
BOUNCED = MessageReceiver.DeliveryStatus.BOUNCED


@dataclass(frozen=True)
class Bar:
    """One day of the chart, in SVG user units."""

    day: date
    sent: int
    failed: int
    x: float
    sent_height: float
    failed_height: float
    bounced: int = 0  # of the emails sent that day, how many bounced since

    @property
    def bounce_rate(self) -> float:
        """Bounced among the emails sent that day, 0 to 1."""
        return self.bounced / self.sent if self.sent else 0.0

    @property
    def center(self) -> float:
        return self.x + CHART_WIDTH / CHART_DAYS * 0.35

    @property
    def bounce_rate_y(self) -> float:
        return CHART_HEIGHT - PLOT_HEIGHT * self.bounce_rate

    @property
    def sent_y(self) -> float:
        return CHART_HEIGHT - self.sent_height

    @property
    def failed_y(self) -> float:
        return CHART_HEIGHT - self.sent_height - self.failed_height


def counted_receivers():
    """What the dashboard counts: every receiver but those of editors' tests."""
    return MessageReceiver.objects.without_tests()


def failure_time():
    """When a receiver's latest attempt was asked for: its last send request, else creation."""
    return Coalesce("send_requested_at", "created_datetime", output_field=DateTimeField())


def failed_since(since: datetime) -> Q:
    """Receivers now failed or in error whose latest attempt was asked for after ``since``.

    The same test as ``failure_time() >= since``, written so that the status indexes
    answer it.
    """
    return Q(status__in=FAILED) & (
        Q(send_requested_at__gte=since)
        | Q(send_requested_at__isnull=True, created_datetime__gte=since)
    )


def per_day(queryset, field: str) -> dict[date, int]:
    tz = timezone.get_current_timezone()
    rows = (
        queryset.annotate(day=TruncDate(field, tzinfo=tz))
        .values("day")
        .annotate(n=Count("*"))
        .order_by()
    )
    return {row["day"]: row["n"] for row in rows}


def chart_bars(now: datetime) -> list[Bar]:
    """Sent and failed receivers per day over the last ``CHART_DAYS`` days, oldest first."""
    today = timezone.localdate(now)
    days = [today - timedelta(days=offset) for offset in range(CHART_DAYS - 1, -1, -1)]
    since = timezone.make_aware(datetime.combine(days[0], datetime.min.time()))
    receivers = counted_receivers().order_by()
    sent = per_day(receivers.filter(sent_datetime__gte=since), "sent_datetime")
    failed_qs = receivers.filter(failed_since(since)).annotate(failed_at=failure_time())
    failed = per_day(failed_qs, "failed_at")
    bounced_qs = receivers.filter(sent_datetime__gte=since, delivery_status=BOUNCED)
    bounced = per_day(bounced_qs, "sent_datetime")
    peak = max([sent.get(d, 0) + failed.get(d, 0) for d in days] + [1])
    width = CHART_WIDTH / CHART_DAYS
    return [
        Bar(
            day=day,
            sent=sent.get(day, 0),
            failed=failed.get(day, 0),
            x=index * width + width * 0.15,
            sent_height=PLOT_HEIGHT * sent.get(day, 0) / peak,
            failed_height=PLOT_HEIGHT * failed.get(day, 0) / peak,
            bounced=bounced.get(day, 0),
        )
        for index, day in enumerate(days)
    ]


class MessagingSummaryPanel(Component):
    name = "messaging_summary"
    template_name = "messaging/admin/dashboard_panel.html"
    order = 90

    def __init__(self, request) -> None:
        self.request = request

    def is_shown(self) -> bool:
        return can_view_receivers(self.request.user)

    def render_html(self, parent_context=None) -> str:
        if not self.is_shown():
            return ""
        return super().render_html(parent_context)

    def get_context_data(self, parent_context) -> dict:
        now = timezone.now()
        bars = chart_bars(now)
        since = now - timedelta(hours=24)
        recent_failures = counted_receivers().filter(failed_since(since)).count()
        return {
            "statuses": counts.all_status_rows(counted_receivers()),
            "recent_failures": recent_failures,
            "failed_url": links.receivers(status=FAILED),
            "bars": bars,
            "bar_width": CHART_WIDTH / CHART_DAYS * 0.7,
            "chart_width": CHART_WIDTH,
            "chart_height": CHART_HEIGHT,
            "total_sent": sum(bar.sent for bar in bars),
            "total_failed": sum(bar.failed for bar in bars),
            "recent_bounces": counted_receivers()
            .filter(delivery_status=BOUNCED, delivery_updated_at__gte=since)
            .count(),
            "bounced_url": links.receivers(delivery_status=BOUNCED),
            "bounce_rate_points": " ".join(
                f"{bar.center:.1f},{bar.bounce_rate_y:.1f}" for bar in bars
            ),
        }


def add_summary_panel(request, panels: list) -> None:
    """Put the summary on the dashboard (``construct_homepage_panels`` hook)."""
    panels.append(MessagingSummaryPanel(request))
