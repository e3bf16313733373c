"""Several SMTP connections per worker (``MESSAGING_CONNECTIONS_PER_WORKER``), in threads.

The claimed batch is dealt round-robin to ``connections`` threads; each runs the plain
send loop (:func:`~.loop.deliver_claimed`) over its own SMTP connection and its own
database connection (Django keeps one per thread). Each connection still records every
email's status before it sends its next one, so a crash leaves at most one email per
connection sent but unrecorded. When one connection must stop the batch (a setup error,
too many 421s), the others stop before their next email and release what is left.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from django.db import connection as db_connection

from ..models import MessageReceiver
from .loop import BatchOutcome, deliver_claimed


def deliver_concurrently(
    receivers: list[MessageReceiver], token: str, connections: int, mailers: list[str]
) -> BatchOutcome:
    """Send ``receivers`` over ``connections`` SMTP connections at once, through the first
    of ``mailers`` (the relays that are up); the summed outcome."""
    stop = threading.Event()
    shares = [receivers[start::connections] for start in range(connections)]
    with ThreadPoolExecutor(connections, thread_name_prefix="messaging-smtp") as pool:
        futures = [pool.submit(deliver_share, share, token, stop, mailers) for share in shares]
        outcomes = [future.result() for future in futures]
    total = BatchOutcome()
    for outcome in outcomes:
        total.add(outcome)
    return total


def deliver_share(
    receivers: list[MessageReceiver], token: str, stop: threading.Event, mailers: list[str]
) -> BatchOutcome:
    """One connection's share, on this thread's own database connection, closed after."""
    try:
        return deliver_claimed(receivers, token, stop, mailers)
    except BaseException:
        stop.set()  # e.g. the database went away: the other connections stop too
        raise
    finally:
        db_connection.close()
