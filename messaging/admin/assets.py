"""The stylesheets every Wagtail admin page loads for the messaging pages."""

from __future__ import annotations

from django.templatetags.static import static
from django.utils.html import format_html_join
from django.utils.safestring import SafeString

STYLESHEETS = ["messaging/admin/admin.css", "messaging/admin/pygments.css"]


def admin_css() -> SafeString:
    """The ``<link>`` tags of :data:`STYLESHEETS` (``insert_global_admin_css`` hook)."""
    return format_html_join(
        "\n", '<link rel="stylesheet" href="{}">', ((static(sheet),) for sheet in STYLESHEETS)
    )
