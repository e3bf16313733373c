"""Bulk actions of the admin's listings (registered by ``wagtail_hooks``)."""

from .delete import DeleteTemplatesBulkAction
from .resend import ResendBulkAction

__all__ = ["DeleteTemplatesBulkAction", "ResendBulkAction"]
