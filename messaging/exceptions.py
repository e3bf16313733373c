"""Errors raised by the messaging app; each message says what is wrong and what to do."""

import smtplib

from django.core.exceptions import ImproperlyConfigured


class MessagingError(Exception):
    """Base class of every error the messaging app raises on purpose."""


class ConfigurationError(MessagingError, ImproperlyConfigured):
    """A setting has a value the app cannot use."""


class InvalidRecipientError(MessagingError):
    """The receiver's user has no usable email address; resending will not help until fixed."""


class TemplateRenderError(MessagingError):
    """An editor's message template could not be rendered."""


class ControlCharacterError(MessagingError, ValueError):
    """Text to be stored as the caller gave it holds a control character (see
    :mod:`messaging.rendering.controls`)."""


class TemplateNotFoundError(MessagingError, LookupError):
    """Application code asked for a message template ``key`` that no template has, or for
    a template that has no published version."""


class TemplateLimitError(TemplateRenderError):
    """A render of an editor's template took too long or produced too much text."""


class DeliveryUnconfirmedError(MessagingError, smtplib.SMTPServerDisconnected):
    """The connection broke after an email's data was sent: the server may have taken it.

    Resending may deliver it twice; the stored error entry says so (``"ambiguous": true``).
    """


class ConnectionOpenError(MessagingError):
    """Opening the mail connection failed; ``__cause__`` is the original error."""


class SendingDisabledError(MessagingError):
    """Sending email to users is switched off (``MESSAGING_SEND_EMAIL_TO_USERS``)."""


class SuppressedAddressError(InvalidRecipientError):
    """The address is on the suppression list (it bounced for good or its owner complained)."""


class BounceReportError(MessagingError):
    """A bounce or complaint report could not be read."""


class SchedulingError(MessagingError, ValueError):
    """A ``send_at``, ``expires_at`` or ``priority`` that cannot be used (or a new time for a
    scheduled message); the message names the value and what is allowed."""


class MessageStateError(MessagingError):
    """What was asked of a message does not fit its status (stopping a sent message,
    resuming one that was never stopped, ...)."""
