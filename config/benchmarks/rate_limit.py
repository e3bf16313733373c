"""``rate_limit_overhead``: what the shared rate limiter costs a site that sets no limit.

The same send as ``send`` (:func:`messaging.delivery.deliver`, one worker, a real SMTP sink
in another process), with ``MESSAGING_MAX_PER_SECOND`` unset, measured twice in
alternating rounds: ``ours`` as shipped (each batch asks for the mailer's limiter and gets
none), and ``without`` with that lookup taken out of the send loop (it gets no limiter
without asking). The ratio ``ours / without`` should stay at 1 within noise (goal: at
least 0.97).
"""

from __future__ import annotations

from functools import partial
from typing import TextIO
from unittest import mock

from messaging.models import Message

from .common import clear_messaging_data, timed, write_metric
from .rounds import alternate
from .send import check_all_sent, create_message, reset, running_sink, send_ours, sink_settings

ROUNDS = 5


def sent_per_second(message: Message, ids: list[int], *, limiter_lookup: bool) -> float:
    """Emails per second of one ``deliver`` run over ``ids``, all of them sent."""
    reset(message)
    send = partial(send_ours, ids)
    if limiter_lookup:
        seconds = timed(send)
    else:
        with mock.patch("messaging.delivery.loop.shared_rate_limiter", lambda mailer: None):
            seconds = timed(send)
    check_all_sent(message, len(ids))
    return len(ids) / seconds


def run(receivers: int, stdout: TextIO, sink: str = "auto", rtt_ms: float = 0) -> None:
    """Print ``METRIC rate_limit_overhead ours=<emails/s> without=<emails/s>
    ratio=<ours/without>``."""
    with running_sink(sink, rtt_ms) as (sink_name, port), sink_settings(port):
        stdout.write(
            f"rate_limit_overhead: SMTP sink: {sink_name} on 127.0.0.1:{port}, {receivers} "
            "emails, no MESSAGING_MAX_PER_SECOND\n"
        )
        message, ids, _emails = create_message(receivers)
        sides = {
            "ours": partial(sent_per_second, message, ids, limiter_lookup=True),
            "without": partial(sent_per_second, message, ids, limiter_lookup=False),
        }
        rates = alternate(sides, ROUNDS)
        clear_messaging_data()
    write_metric(stdout, "rate_limit_overhead", **rates, ratio=rates["ours"] / rates["without"])
