"""Bulk actions of the admin's listings (registered by ``wagtail_hooks``)."""

from .resend import ResendBulkAction

__all__ = ["ResendBulkAction"]
