"""An SMTP sink that answers every command a fixed delay after it arrives: a far relay.

Postfix's ``smtp-sink`` cannot delay every reply, so the benchmarks that model a network
round trip start this one (``python config/benchmarks/latency_sink.py --port P --rtt-ms 10``).
It is a plain asyncio Protocol, fast enough for the benchmark's clients:

- each reply is written ``rtt`` after its command line arrived, in command order, so a
  pipelined group (``MAIL``, ``RCPT``, ``DATA`` sent at once) costs one round trip, as on
  a real network, and an unpipelined exchange costs one per command;
- after ``DATA`` it reads the message up to ``<CRLF>.<CRLF>`` and discards it.

It imports nothing from Django, so it runs as a script without the site's settings.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

EHLO_REPLY = b"250-latency-sink\r\n250-PIPELINING\r\n250-8BITMIME\r\n250 SIZE 0\r\n"
REPLIES = {
    b"HELO": b"250 latency-sink\r\n",
    b"MAIL": b"250 2.1.0 Ok\r\n",
    b"RCPT": b"250 2.1.5 Ok\r\n",
    b"RSET": b"250 2.0.0 Ok\r\n",
    b"NOOP": b"250 2.0.0 Ok\r\n",
    b"DATA": b"354 End data with <CR><LF>.<CR><LF>\r\n",
    b"QUIT": b"221 2.0.0 Bye\r\n",
}
UNKNOWN = b"502 5.5.2 Command not recognised\r\n"
DATA_END = b"\r\n.\r\n"
QUEUED = b"250 2.0.0 Ok: queued\r\n"
CLOSE = b""  # put after a reply: close the connection once it is written


def command(port: int, rtt_ms: float) -> list[str]:
    """The command line that starts this sink on ``127.0.0.1:port``."""
    return [sys.executable, str(Path(__file__)), "--port", str(port), "--rtt-ms", str(rtt_ms)]


class DelayedSMTP(asyncio.Protocol):
    """One SMTP session; replies leave ``delay`` seconds after their command arrived."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.buffer = bytearray()
        self.in_data = False
        self.scanned = 0  # how far the DATA buffer holds no terminator

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        self.loop = asyncio.get_running_loop()
        self.replies: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()
        self.writer = self.loop.create_task(self.write_replies())
        self.reply(b"220 latency-sink ESMTP\r\n")

    def connection_lost(self, exc: Exception | None) -> None:
        self.writer.cancel()

    def reply(self, line: bytes) -> None:
        self.replies.put_nowait((self.loop.time() + self.delay, line))

    async def write_replies(self) -> None:
        # One writer per connection keeps replies in command order whatever the delay.
        while True:
            due, line = await self.replies.get()
            wait = due - self.loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            if line is CLOSE:
                self.transport.close()
                return
            self.transport.write(line)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while self.buffer and (self.read_message() if self.in_data else self.read_command()):
            pass

    def read_command(self) -> bool:
        end = self.buffer.find(b"\r\n")
        if end < 0:
            return False
        verb = bytes(self.buffer[:4]).upper()
        del self.buffer[: end + 2]
        self.reply(EHLO_REPLY if verb == b"EHLO" else REPLIES.get(verb, UNKNOWN))
        if verb == b"DATA":
            self.in_data, self.scanned = True, 0
        elif verb == b"QUIT":
            self.reply(CLOSE)
        return True

    def read_message(self) -> bool:
        if self.buffer.startswith(b".\r\n"):  # an empty message
            end = 3
        else:
            found = self.buffer.find(DATA_END, self.scanned)
            if found < 0:
                self.scanned = max(len(self.buffer) - len(DATA_END) + 1, 0)
                return False
            end = found + len(DATA_END)
        del self.buffer[:end]
        self.in_data = False
        self.reply(QUEUED)
        return True


async def serve(host: str, port: int, rtt_ms: float) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: DelayedSMTP(rtt_ms / 1000), host, port, reuse_address=True, backlog=1000
    )
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--rtt-ms", type=float, default=0.0, help="delay of every reply")
    arguments = parser.parse_args()
    asyncio.run(serve(arguments.host, arguments.port, arguments.rtt_ms))


if __name__ == "__main__":
    main()
