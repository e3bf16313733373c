"""Where the admin's pages are: their URL namespaces, and links between them.

Every URL name the admin reverses comes from here, and the viewsets take their
namespaces from here: the names are contracts (``messaging_receivers:index`` ...).
"""

from __future__ import annotations

from collections.abc import Iterable

from django.urls import reverse
from django.utils.http import urlencode

RECEIVERS = "messaging_receivers"
MESSAGES = "messaging_messages"
SUPPRESSIONS = "messaging_suppressions"
TEMPLATES = "wagtailsnippets_messaging_messagetemplate"

Filter = str | int | Iterable[str | int]


def name(namespace: str, view: str) -> str:
    """The URL name of ``view`` in ``namespace``: ``name(RECEIVERS, "index")``."""
    return f"{namespace}:{view}"


def receivers(**filters: Filter) -> str:
    """The receivers listing with ``filters`` applied: ``receivers(status=["failed", "error"])``."""
    return with_query(reverse(name(RECEIVERS, "index")), filters)


def receiver(pk: int) -> str:
    """The inspect page of one receiver."""
    return reverse(name(RECEIVERS, "inspect"), args=[pk])


def resend(pk: int) -> str:
    """Where the inspect page's Resend button posts to."""
    return reverse(name(RECEIVERS, "resend"), args=[pk])


def message(pk: int) -> str:
    """The inspect page of one message."""
    return reverse(name(MESSAGES, "inspect"), args=[pk])


def template(pk: int, view: str = "edit") -> str:
    """A page of one message template: ``edit``, ``usage``, ``history``, ``send_test``."""
    return reverse(name(TEMPLATES, view), args=[pk])


def template_revision(template_pk: int, revision_pk: int) -> str:
    """Wagtail's preview of one revision of a message template."""
    return reverse(name(TEMPLATES, "revisions_view"), args=[template_pk, revision_pk])


def message_action(pk: int, action: str) -> str:
    """A message's confirmation page of ``action``: ``stop``, ``resume`` or ``reschedule``."""
    return reverse(name(MESSAGES, action), args=[pk])


def messages(**filters: Filter) -> str:
    """The messages listing with ``filters`` applied: ``messages(scheduled="true")``."""
    return with_query(reverse(name(MESSAGES, "index")), filters)


def with_query(url: str, filters: dict[str, Filter]) -> str:
    """``url`` with a query string; a list gives its key once per value, in order."""
    pairs: list[tuple[str, str]] = []
    for key, value in filters.items():
        values = [value] if isinstance(value, str | int) else list(value)
        pairs.extend((key, str(item)) for item in values)
    return f"{url}?{urlencode(pairs)}" if pairs else url
