"""The original product's name for `send_testemail`."""

from .send_testemail import Command  # noqa: F401
