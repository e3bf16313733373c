"""The extra headers of every email: RFC 3834 ``Auto-Submitted``, RFC 2919 ``List-Id``
and, for optional context types, RFC 2369/8058 one-click ``List-Unsubscribe``."""

from __future__ import annotations

import functools
import re
from email.utils import parseaddr

from .. import conf
from ..models import Message, MessageReceiver
from . import modes, tokens

DIGEST_LIST = "digest"  # the List-Id label of daily digests


def message_of(receiver: MessageReceiver) -> Message:
    """The receiver's message with only what headers need, loaded once per receiver.

    A message's big JSON columns (every user id of a large send) are never loaded here.
    """
    if not MessageReceiver.message.is_cached(receiver):
        receiver.message = Message.objects.only("id", "context_type", "metadata").get(
            pk=receiver.message_id
        )
    return receiver.message


def is_digest(message: Message) -> bool:
    return bool((message.metadata or {}).get("digest"))


def list_id(label: str, domain: str) -> str:
    """``<label.domain>``, the label reduced to the characters RFC 2919 allows."""
    return f"<{re.sub(r'[^A-Za-z0-9-]+', '-', label).strip('-') or 'other'}.{domain}>"


def sender_domain() -> str:
    """The domain of the sender address: the lists are the sender's."""
    return domain_of(conf.from_email())


@functools.lru_cache(maxsize=16)
def domain_of(sender: str) -> str:
    # Parsing the address is most of a header's cost, and the sender is the same each time.
    return parseaddr(sender)[1].rpartition("@")[2] or "localhost"


def headers_for(receiver: MessageReceiver) -> dict[str, str]:
    """Headers for ``receiver``'s email.

    Every email: ``Auto-Submitted: auto-generated`` and ``List-Id: <type.domain>`` (the
    context type, or ``digest``). Emails of an optional context type also get
    ``List-Unsubscribe: <https://SITE/messaging/unsubscribe/TOKEN/>`` and
    ``List-Unsubscribe-Post: List-Unsubscribe=One-Click`` (RFC 8058).
    """
    message = message_of(receiver)
    digest = is_digest(message)
    label = DIGEST_LIST if digest else message.context_type
    headers = {"Auto-Submitted": "auto-generated", "List-Id": list_id(label, sender_domain())}
    if not digest and receiver.user_id is not None and modes.is_optional(message.context_type):
        url = tokens.unsubscribe_url(receiver.user_id, message.context_type)
        headers["List-Unsubscribe"] = f"<{url}>"
        headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    return headers
