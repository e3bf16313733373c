"""The original product's name for `resend_failed_messages`, kept for existing cron tables."""

from .resend_failed_messages import Command  # noqa: F401
