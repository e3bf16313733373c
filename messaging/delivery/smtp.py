"""The mail connection and one email sent over it."""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.core.mail import EmailMultiAlternatives
from django.core.mail.backends.base import BaseEmailBackend

from .. import conf, preferences
from ..bounces import verp
from ..exceptions import ConnectionOpenError
from ..models import MessageReceiver
from . import pipelining
from .recipients import addresses_for
from .stops import ReceiverStopped

logger = logging.getLogger(__name__)


def open_connection(connection: BaseEmailBackend) -> None:
    """Open ``connection`` unless it is open; a failure is a :class:`ConnectionOpenError`."""
    try:
        connection.open()
    except Exception as error:
        raise ConnectionOpenError(str(error)) from error


def close_quietly(connection: BaseEmailBackend) -> None:
    try:
        connection.close()
    except Exception:  # a broken connection may fail to say QUIT; it is closed anyway
        logger.debug("Closing the mail connection failed", exc_info=True)
    # Django's SMTP backend keeps a dead socket after some errors; forget it.
    if hasattr(connection, "connection"):
        connection.connection = None


def build_email(receiver: MessageReceiver, addresses: list[str]) -> EmailMultiAlternatives:
    """The email of ``receiver`` as stored, its subject folded onto one line; whoever sends
    it passes it to the connection (Django 6.1 deprecates an email's own connection)."""
    email = EmailMultiAlternatives(
        # Folded here, where the header is built, whoever wrote the row: a line break in
        # a subject would be a header injection.
        subject=" ".join(receiver.subject.split()),
        body=receiver.message_content_plain,
        from_email=conf.from_email(),
        to=addresses,
    )
    if receiver.message_content_html:
        email.attach_alternative(receiver.message_content_html, "text/html")
    email.extra_headers.update(preferences.headers_for(receiver))
    verp.mark_email(email, receiver.pk)
    return email


def send_one(
    receiver: MessageReceiver,
    connection: BaseEmailBackend,
    record_previous: Callable[[], None],
    suppressed: dict | None = None,
    *,
    pipelined: bool = False,
    stopped: Callable[[MessageReceiver], bool] | None = None,
) -> tuple[str, dict]:
    """Send one receiver's email to all of the user's addresses in one transaction.

    Returns the addresses (comma-separated, as ``send_to`` stores them) and those the
    server refused while accepting others. Raises on any failure, including every
    address refused. ``record_previous`` is called once before this email can be
    delivered; with ``pipelined`` and a server that offers PIPELINING, while it answers
    this envelope (see :mod:`.pipelining`).
    Suppressed addresses never reach the mail server (``suppressed``: the batch's
    entries, see :func:`~.recipients.suppressed_in`); when all are, it raises before
    connecting. ``stopped`` is asked last, before the email can be delivered: when it says
    the receiver was cancelled or expired meanwhile, nothing is delivered (a pipelined
    envelope's connection is dropped before its data ends) and it raises
    :class:`~.stops.ReceiverStopped`.
    """
    envelope = None
    try:
        addresses = addresses_for(receiver, suppressed)
        receiver.send_to = ", ".join(addresses)
        open_connection(connection)  # a no-op when already open
        email = build_email(receiver, addresses)
        envelope = pipelining.start(connection, email) if pipelined else None
    finally:
        record_previous()
    if stopped is not None and stopped(receiver):
        if envelope is not None:
            pipelining.drop(envelope)
            close_quietly(connection)
        raise ReceiverStopped(f"Receiver {receiver.pk} was cancelled or expired: not sent.")
    if envelope is not None:
        refused = pipelining.finish(envelope)
    else:
        refused = pipelining.send_whole(connection, email)
    return receiver.send_to, refused
