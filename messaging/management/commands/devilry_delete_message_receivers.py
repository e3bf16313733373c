"""The original product's name for `delete_message_receivers`, kept for existing cron tables."""

from .delete_message_receivers import Command  # noqa: F401
