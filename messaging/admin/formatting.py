"""Stored records as the admin shows them: highlighted tracebacks, JSON, names, addresses."""

from __future__ import annotations

import json
from datetime import datetime

from django.conf import settings
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.formats import date_format, number_format, time_format
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext_lazy as _
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import PythonTracebackLexer
from wagtail.log_actions import registry as log_registry

from . import links

# Tracebacks longer than this many lines start collapsed.
COLLAPSE_AFTER_LINES = 12

# What the admin calls each kind of message a receiver records (``message_type``).
MESSAGE_TYPES = {"email": _("Email")}


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


def pretty_json(value: object) -> str:
    """``value`` as indented JSON, keys sorted, non-ASCII kept readable."""
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True, default=str)


def link(url: str, text: object) -> SafeString:
    """An escaped ``<a>`` to ``url``."""
    return format_html('<a href="{}">{}</a>', url, text)


def receiver_address(receiver) -> str:
    """The address a receiver's email went (or goes) to; "" when there is none."""
    if receiver.send_to:
        return receiver.send_to
    return getattr(receiver.user, "email", "") or ""


def user_display(user) -> str:
    """ "Full Name (username)", the username alone without a name, "" without a user."""
    if user is None:
        return ""
    name = user.get_full_name().strip()
    return f"{name} ({user.get_username()})" if name else user.get_username()


def language_name(code: str) -> str:
    """The site's name of a language code (``nb`` -> "Norwegian Bokmål"); unknown codes as is."""
    return str(dict(settings.LANGUAGES).get(code, code))


# The history entries that make a revision live: published now, or on schedule.
PUBLISH_ACTIONS = ("wagtail.publish", "wagtail.publish.scheduled")


def revision_summary(revision) -> SafeString:
    """ "Rendered from revision 12, published by Ed at ..." linked to Wagtail's view of it.

    Who published it and when come from the template's history (the publish entry of the
    revision); a revision never published (an editor's test of a draft) says who saved it.
    """
    template = revision.content_object
    published = (
        log_registry.get_logs_for_instance(template)
        .filter(revision=revision, action__in=PUBLISH_ACTIONS)
        .select_related("user")
        .order_by("timestamp")
        .first()
    )
    text = _("Rendered from revision %(id)d, published by %(user)s at %(time)s")
    if published is not None:
        user, time = published.user, published.timestamp
    elif template.live_revision_id == revision.pk:  # published by migration 0008, unlogged
        user, time = None, template.last_published_at or revision.created_at
    else:
        text = _("Rendered from revision %(id)d, a draft saved by %(user)s at %(time)s")
        user, time = revision.user, revision.created_at
    values = {
        "id": revision.pk,
        "user": user_display(user) or _("the system"),
        "time": date_format(timezone.localtime(time), "DATETIME_FORMAT"),
    }
    return link(links.template_revision(template.pk, revision.pk), text % values)


def message_type_name(key: str) -> str:
    """The admin's name of a message type (``email`` -> "Email"); unknown keys as is."""
    return str(MESSAGE_TYPES.get(key, key))


def moment(value: datetime, now: datetime | None = None) -> str:
    """``value`` to the minute in the user's time zone: "10:42" today, "6 Dec 10:42" on
    another day."""
    local = timezone.localtime(value)
    if local.date() == timezone.localdate(now or timezone.now()):
        return time_format(local, "H:i")
    return date_format(local, "j M H:i")


def count(number: int) -> str:
    """``number`` with the language's thousands separators: "3,120" in English."""
    return number_format(number, force_grouping=True)
