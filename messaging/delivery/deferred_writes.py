"""Speed trick: a success's status write overlapped with the next email's envelope.

The plain way (:class:`ImmediateWrites`) records each success before the loop goes on.
:class:`DeferredWrites` holds the write back until the next email's envelope is on the
wire (``send_one`` calls :meth:`flush` then), so the database and the mail server work at
the same time; on a PostgreSQL worker :class:`PipelinedWrites` sends the UPDATE through
libpq's asynchronous API and waits for it only there. Either way the next email is
delivered (its final ``.``) only after the previous success is committed: at most one
email is ever sent but unrecorded.
"""

from __future__ import annotations

import weakref
from functools import cache

from django.db import DatabaseError
from django.db import connection as db_connection
from django.utils import timezone

from ..models import MessageReceiver
from .outcomes import announce_sent, record_success

Status = MessageReceiver.Status


class ImmediateWrites:
    """Records each success at once; :meth:`flush` has nothing to do."""

    def defer(self, receiver: MessageReceiver, token: str, address: str, mailer: str) -> None:
        """Record that ``mailer`` accepted ``receiver``'s email for ``address``."""
        if record_success(receiver, token, address, mailer):
            announce_sent(receiver)

    def flush(self) -> None:
        pass


class DeferredWrites(ImmediateWrites):
    """Records a success when :meth:`flush` is called (before the next email is delivered)."""

    def __init__(self) -> None:
        self.pending: tuple[MessageReceiver, str, str, str] | None = None

    def defer(self, receiver: MessageReceiver, token: str, address: str, mailer: str) -> None:
        self.flush()
        self.pending = (receiver, token, address, mailer)

    def flush(self) -> None:
        pending, self.pending = self.pending, None
        if pending is not None:
            super().defer(*pending)


class PipelinedWrites(ImmediateWrites):
    """On PostgreSQL, sends each success's UPDATE at once and waits for it in :meth:`flush`.

    The database runs the UPDATE and commits while this worker builds the next email and
    sends its envelope. Nothing else may use the connection in between, so every other
    query flushes first.
    """

    def __init__(self) -> None:
        self.pgconn = None
        self.sent: MessageReceiver | None = None

    def defer(self, receiver: MessageReceiver, token: str, address: str, mailer: str) -> None:
        self.flush()
        db_connection.ensure_connection()
        statement = prepared_success(db_connection.connection)
        self.pgconn = db_connection.connection.pgconn
        now = timezone.now().isoformat()
        params = [Status.SENT, now, address, str(receiver.pk), token, mailer]
        self.pgconn.send_query_prepared(statement, [value.encode() for value in params])
        receiver.send_to, self.sent = address, receiver

    def flush(self) -> None:
        from psycopg import pq

        pgconn, self.pgconn = self.pgconn, None
        if pgconn is None:
            return
        results = []
        while (result := pgconn.get_result()) is not None:
            results.append(result)
        failed = [r for r in results if r.status != pq.ExecStatus.COMMAND_OK]
        if failed:
            message = failed[0].error_message.decode(errors="replace")
            raise DatabaseError(f"Recording a sent email failed: {message}")
        sent, self.sent = self.sent, None
        if results and results[-1].command_tuples == 1:
            announce_sent(sent)


# The psycopg connections on which the success UPDATE is prepared: PostgreSQL parses and
# plans it once per connection instead of once per email (a fifth of its cost per write).
_prepared_on: weakref.WeakSet = weakref.WeakSet()
SUCCESS_STATEMENT = b"messaging_record_success"


def prepared_success(connection) -> bytes:
    """The name of the success UPDATE prepared on ``connection`` (prepared at first use)."""
    if connection not in _prepared_on:
        from psycopg import pq

        result = connection.pgconn.prepare(SUCCESS_STATEMENT, success_sql())
        if result.status != pq.ExecStatus.COMMAND_OK:
            message = result.error_message.decode(errors="replace")
            raise DatabaseError(f"Preparing the success write failed: {message}")
        _prepared_on.add(connection)
    return SUCCESS_STATEMENT


@cache
def success_sql() -> bytes:
    """The success UPDATE of :func:`~.outcomes.record_success`, with libpq's placeholders."""
    meta, quote = MessageReceiver._meta, db_connection.ops.quote_name

    def column(name: str) -> str:
        return quote(meta.get_field(name).column)

    return (
        f"UPDATE {quote(meta.db_table)} SET {column('status')} = $1, "
        f"{column('sent_datetime')} = $2, "
        f"{column('sending_success_count')} = {column('sending_success_count')} + 1, "
        f"{column('send_to')} = $3, {column('next_attempt_at')} = NULL, "
        f"{column('claimed_until')} = NULL, {column('sent_via')} = $6, "
        f"{column('failing_since')} = NULL "
        f"WHERE {column('id')} = $4 AND {column('claim_token')} = $5"
    ).encode()


def status_writes(deferred: bool) -> ImmediateWrites:
    """Deferred (pipelined on a PostgreSQL worker in autocommit) or immediate writes."""
    if not deferred:
        return ImmediateWrites()
    if db_connection.vendor == "postgresql" and not db_connection.in_atomic_block:
        return PipelinedWrites()
    return DeferredWrites()
