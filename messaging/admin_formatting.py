"""Turns stored delivery records into what the admin shows: highlighted tracebacks, JSON."""

from __future__ import annotations

import json
from datetime import datetime

from django.urls import reverse
from django.utils.dateparse import parse_datetime
from django.utils.html import format_html
from django.utils.http import urlencode
from django.utils.safestring import SafeString, mark_safe
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import PythonTracebackLexer

from .models import MessageReceiver

# Tracebacks longer than this many lines start collapsed.
COLLAPSE_AFTER_LINES = 12
STATUS_ORDER = [
    MessageReceiver.Status.SENT,
    MessageReceiver.Status.FAILED,
    MessageReceiver.Status.ERROR,
    MessageReceiver.Status.NOT_SENT,
    MessageReceiver.Status.DIGEST_PENDING,
]


def highlight_traceback(text: str) -> SafeString:
    """The traceback as HTML; Pygments escapes every token of the (untrusted) text."""
    formatter = HtmlFormatter(cssclass="msg-traceback", wrapcode=True)
    return mark_safe(highlight(text, PythonTracebackLexer(), formatter))  # noqa: S308


def error_context(entry: dict) -> dict:
    """One failed attempt of ``status_data["errors"]``, ready for the traceback panel."""
    traceback = str(entry.get("exception_traceback") or "").rstrip("\n")
    timestamp = entry.get("timestamp")
    parsed: datetime | None = parse_datetime(timestamp) if isinstance(timestamp, str) else None
    return {
        "timestamp": parsed or timestamp,
        "error_message": entry.get("error_message") or "",
        "traceback_html": highlight_traceback(traceback) if traceback else "",
        "traceback_lines": len(traceback.splitlines()),
        "collapsed": len(traceback.splitlines()) > COLLAPSE_AFTER_LINES,
        "ambiguous": entry.get("ambiguous") is True,
    }


def pretty_json(value) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True, default=str)


def link(url: str, text) -> SafeString:
    return format_html('<a href="{}">{}</a>', url, text)


def receiver_address(receiver) -> str:
    """The address a receiver's email went (or goes) to; "" when there is none."""
    if receiver.send_to:
        return receiver.send_to
    return getattr(receiver.user, "email", "") or ""


def status_counts(message) -> list[dict]:
    """Receiver counts per status of a message annotated with ``count_<status>``.

    Each row links to the receivers listing filtered to the message and the status.
    """
    labels = dict(MessageReceiver.Status.choices)
    base = reverse("messaging_receivers:index")
    return [
        {
            "status": status.value,
            "label": labels[status],
            "count": getattr(message, f"count_{status}", 0),
            "url": f"{base}?{urlencode({'message': message.pk, 'status': status.value})}",
        }
        for status in STATUS_ORDER
    ]
