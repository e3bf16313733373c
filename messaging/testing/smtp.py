"""A real SMTP server (aiosmtpd) that stores what it receives and fails on demand.

Used by the tests and by the demo site (``manage.py messaging_smtpd``). The answer to
each recipient is chosen by its address:

- a ``+TAG`` in the local part: ``+550`` / ``+551`` / ``+552`` / ``+553`` / ``+554``,
  ``+421`` / ``+450`` / ``+451`` / ``+452`` answer that code; ``+drop`` closes the
  connection; ``+dropatdata`` accepts the recipient, then closes the connection at the
  DATA command (before the client can send the final dot); ``+dropdata`` takes the email,
  then drops the connection without answering its data; ``+stall`` waits
  ``stall_seconds`` before answering;
- a domain listed in ``refuse_domains`` gets 550, one in ``defer_domains`` gets 451;
- anything else is accepted (250) and stored.

With ``messages_per_connection`` set, a connection that carried that many emails gets
421 to its next MAIL FROM and is closed, as a server with a per-connection limit does.

It offers PIPELINING unless told not to, so both ways of sending are exercised.
"""

from __future__ import annotations

import asyncio
import re
import threading
import time
from collections import Counter
from email import message_from_bytes
from email.message import Message as EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult

TAG_RE = re.compile(r"\+(\d{3}|dropatdata|dropdata|drop|stall)@", re.IGNORECASE)
DROPS = {"drop", "dropatdata", "dropdata", "stall"}

REPLIES = {
    421: "421 4.3.2 Service not available, closing transmission channel",
    450: "450 4.2.1 Mailbox busy, try again later",
    451: "451 4.3.0 Local error in processing, try again later",
    452: "452 4.3.1 Insufficient system storage",
    550: "550 5.1.1 Mailbox unavailable: no such user",
    551: "551 5.1.6 User not local",
    552: "552 5.2.2 Mailbox full",
    553: "553 5.1.3 Mailbox name not allowed",
    554: "554 5.7.1 Transaction failed",
}


class FaultInjectingHandler:
    """aiosmtpd handler: decides per recipient, counts and stores accepted emails."""

    def __init__(
        self,
        store_dir: Path | None = None,
        refuse_domains: tuple[str, ...] = (),
        defer_domains: tuple[str, ...] = (),
        stall_seconds: float = 30.0,
        keep_messages: bool = True,
        pipelining: bool = True,
        messages_per_connection: int | None = None,
    ) -> None:
        self.store_dir = Path(store_dir) if store_dir else None
        self.refuse_domains = {domain.lower() for domain in refuse_domains}
        self.defer_domains = {domain.lower() for domain in defer_domains}
        self.stall_seconds = stall_seconds
        self.keep_messages = keep_messages
        self.pipelining = pipelining
        self.messages_per_connection = messages_per_connection
        self.connections_closed_at_limit = 0
        self.sessions = 0  # EHLO greetings: one per connection a client opens
        self.pipelined_envelopes = 0  # MAIL FROMs that arrived with their RCPT TO behind
        self.deliveries: Counter[str] = Counter()
        self.messages: list[EmailMessage] = []
        self.senders: list[str] = []  # the envelope sender (MAIL FROM) of each stored email
        self.lock = threading.Lock()
        if self.store_dir:
            self.store_dir.mkdir(parents=True, exist_ok=True)

    def decide(self, address: str) -> str | int | None:
        match = TAG_RE.search(address)
        if match:
            tag = match.group(1).lower()
            return tag if tag in DROPS else int(tag)
        domain = address.rsplit("@", 1)[-1].lower()
        if domain in self.refuse_domains:
            return 550
        if domain in self.defer_domains:
            return 451
        return None

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        """Offer PIPELINING (RFC 2920); aiosmtpd reads pipelined commands in order."""
        session.host_name = hostname
        with self.lock:
            self.sessions += 1
        if self.pipelining:
            responses.insert(1, "250-PIPELINING")
        return responses

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        """421 and close once this connection carried ``messages_per_connection`` emails."""
        limit = self.messages_per_connection
        if limit is not None and getattr(session, "messages_taken", 0) >= limit:
            with self.lock:
                self.connections_closed_at_limit += 1
            asyncio.get_running_loop().call_soon(server.transport.close)  # after the reply
            return "421 4.7.0 Too many messages on this connection, closing"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        if b"RCPT" in bytes(getattr(server._reader, "_buffer", b"")):
            # The client wrote the rest of the envelope without waiting for this reply.
            with self.lock:
                self.pipelined_envelopes += 1
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        decision = self.decide(address)
        if decision == "drop":
            server.transport.close()
            return "421 4.4.2 Connection dropped"
        if decision == "stall":
            await asyncio.sleep(self.stall_seconds)
        elif isinstance(decision, int):
            return REPLIES.get(decision, f"{decision} Refused")
        envelope.rcpt_tos.append(address)
        if decision == "dropdata":
            session.drop_after_data = True
        if decision == "dropatdata":
            session.drop_at_data = True
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        content = envelope.original_content or envelope.content
        with self.lock:
            for address in envelope.rcpt_tos:
                self.deliveries[address.lower()] += 1
            if self.keep_messages:
                self.messages.append(message_from_bytes(content))
                self.senders.append(envelope.mail_from)
        if self.store_dir:
            name = f"{time.time_ns()}-{len(envelope.rcpt_tos)}.eml"
            (self.store_dir / name).write_bytes(content)
        session.messages_taken = getattr(session, "messages_taken", 0) + 1
        if getattr(session, "drop_after_data", False):
            server.transport.abort()  # taken, but the client never hears so
        return "250 Message accepted for delivery"

    def total(self) -> int:
        with self.lock:
            return sum(self.deliveries.values())


class FaultInjectingSMTP(SMTP):
    """aiosmtpd's protocol, which has no handler hook between the DATA command and its data."""

    async def smtp_DATA(self, arg: str) -> None:
        if getattr(self.session, "drop_at_data", False):
            if self.transport is not None:
                self.transport.close()  # the replies before this one still go out
            return
        await super().smtp_DATA(arg)


class FaultInjectingController(Controller):
    def factory(self) -> SMTP:
        return FaultInjectingSMTP(self.handler, **self.SMTP_kwargs)


class SMTPServer:
    """Runs a :class:`FaultInjectingHandler` on 127.0.0.1 in a background thread."""

    def __init__(
        self,
        handler: FaultInjectingHandler | None = None,
        port: int = 0,
        refuse_logins: bool = False,
    ) -> None:
        """``refuse_logins`` offers AUTH (without TLS) and answers every login with 535."""
        self.handler = handler or FaultInjectingHandler()
        auth: dict[str, Any] = {}
        if refuse_logins:
            auth = {"authenticator": refuse_login, "auth_require_tls": False}
        self.controller = FaultInjectingController(
            self.handler,
            hostname="127.0.0.1",
            port=port or free_port(),
            decode_data=False,
            data_size_limit=None,
            **auth,
        )

    @property
    def port(self) -> int:
        return self.controller.port

    def start(self) -> SMTPServer:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()

    def refuse_connections(self) -> None:
        """Stop listening: new connections are refused, while the sessions already open
        go on until their clients end them (a relay taken out of service gracefully)."""
        server = self.controller.server
        if server is not None:  # None once stopped
            self.controller.loop.call_soon_threadsafe(server.close)

    def __enter__(self) -> SMTPServer:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()


def refuse_login(server, session, envelope, mechanism, auth_data) -> AuthResult:
    return AuthResult(success=False, handled=False)


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
