"""The record of every message and of every email sent for it.

One module per model, and ``progress`` for where messages stand as a whole (finished,
expired); everything is importable from ``messaging.models``.
"""

from .messages import UNFINISHED_MESSAGE_GRACE, Message, MessageQuerySet
from .preferences import NotificationPreference
from .progress import expire_due, finish_messages
from .receivers import LastErrorMessage, MessageReceiver, MessageReceiverQuerySet
from .relays import DomainSlowdown, RateBucket, RelayState
from .suppression import Suppression, normalise_address
from .templates import MessageTemplate, default_message_type

__all__ = [
    "UNFINISHED_MESSAGE_GRACE",
    "LastErrorMessage",
    "Message",
    "MessageQuerySet",
    "MessageReceiver",
    "MessageReceiverQuerySet",
    "MessageTemplate",
    "DomainSlowdown",
    "NotificationPreference",
    "RateBucket",
    "RelayState",
    "Suppression",
    "default_message_type",
    "expire_due",
    "finish_messages",
    "normalise_address",
]
