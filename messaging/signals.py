"""Signals that site code and error trackers connect to (see the README's Sentry example).

Each is sent with ``send_robust``: a failing handler is logged and never stops delivery.

- ``receiver_sent(sender=MessageReceiver, message_receiver, addresses)``: the mail server
  accepted the email (for at least one of ``addresses``) and the success is recorded.
- ``receiver_failed(sender=MessageReceiver, message_receiver, error, final)``: an attempt
  failed; ``error`` is the entry stored in ``status_data["errors"]``; ``final`` is true
  when the receiver is now ``error`` (no automatic retry).
- ``message_error(sender=Message, message, error, stage)``: preparing or enqueuing a
  message failed (``stage`` is ``"prepare"`` or ``"enqueue"``); ``error`` as above.
- ``relay_down(sender=RelayState, mailer, reason, first_failure_at)``: ``MESSAGING_RELAY_FAILURES``
  sends in a row failed for a reason of the relay ``mailer``'s own (a ``MESSAGING_MAILERS``
  alias); ``reason`` is the last failure's message, ``first_failure_at`` the first one's
  time. Sent once per outage, by the worker that marked it down.
- ``relay_up(sender=RelayState, mailer, reason, first_failure_at, down_since)``: a probe
  found the relay answering again; sending resumes at once. ``reason`` is the last one
  stored while it was down.
"""

from __future__ import annotations

import logging

from django.dispatch import Signal

logger = logging.getLogger(__name__)

receiver_sent = Signal()
receiver_failed = Signal()
message_error = Signal()
relay_down = Signal()
relay_up = Signal()


def send(signal: Signal, sender: type, **kwargs) -> None:
    """Send ``signal`` to every handler; log, never raise, what a handler raises."""
    for handler, result in signal.send_robust(sender, **kwargs):
        if isinstance(result, Exception):
            logger.error("A messaging signal handler failed: %r", handler, exc_info=result)
