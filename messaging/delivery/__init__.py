"""Delivery: claim receivers, send them over a mail connection, record each outcome.

One batch, in :func:`deliver` (module by module)::

    claims.claim            take the receivers waiting for a send, with a lease
    loop.deliver_claimed    for each: recipients -> smtp.send_one -> outcomes (status)
    models.finish_messages  messages whose receivers were all attempted become ``sent``

A batch sends through the first relay of ``MESSAGING_MAILERS`` that is up; relay health
(down after failures in a row, probed, up again) lives in :mod:`.relays`.

Speed tricks, each behind a setting: :mod:`.pipelining` (``MESSAGING_SMTP_PIPELINING``)
and :mod:`.deferred_writes` (``MESSAGING_ASYNC_STATUS_WRITES``). Failures are classified
once, by :func:`.failures.classify`. How fast: :mod:`.ratelimit` (``MESSAGING_MAX_PER_SECOND``,
one bucket for all workers, :mod:`.buckets`) and :mod:`.throttles` (a recipient domain
that asked us to slow down).
"""

from .batch import deliver
from .failures import Failure, classify
from .outcomes import mark_message_error

__all__ = ["Failure", "classify", "deliver", "mark_message_error"]
