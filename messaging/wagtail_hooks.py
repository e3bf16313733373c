"""Registers the messaging app's admin pieces with Wagtail; the views live elsewhere."""

from wagtail.snippets.models import register_snippet

from .snippets import MessageTemplateViewSet

register_snippet(MessageTemplateViewSet)
