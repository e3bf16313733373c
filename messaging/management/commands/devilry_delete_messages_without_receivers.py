"""The original product's name for `delete_messages_without_receivers`, kept for cron tables."""

from .delete_messages_without_receivers import Command  # noqa: F401
