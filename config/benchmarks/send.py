"""Delivery throughput: our pipeline against a bare loop over one SMTP connection.

Both sides send the same emails to a real SMTP sink running in another process. Ours goes
from ``not_sent`` to ``sent`` through :func:`messaging.delivery.deliver` (claims, one mail
connection per batch, a status write per email); the baseline builds and sends the same
emails over one Django SMTP connection and touches no database; the pipelined baseline
does the same writing each envelope at once (:mod:`messaging.delivery.pipelining`), as ours does.
Rounds rotate which side goes first and the medians are compared.

Each speed trick of ours is also measured switched off, in the same rounds, and printed
as ``METRIC send_variant name=<trick> ratio=<ours / ours without it>`` (see
:data:`VARIANTS`); ``all_tricks`` switches every one off at once.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from typing import TextIO

from django.contrib.auth import get_user_model
from django.core.mail import EmailMultiAlternatives
from django.test import override_settings

from messaging import conf
from messaging.batching import chunked
from messaging.delivery import compat, deliver, pipelining
from messaging.models import Message, MessageReceiver

from .. import children
from ..mail import SMTP, local_smtp, mail_settings
from . import latency_sink
from .common import (
    SAMPLE_HTML,
    SAMPLE_PLAIN,
    clear_messaging_data,
    create_users,
    format_number,
    free_port,
    median,
    stop_process,
    timed,
    wait_for_smtp,
    write_metric,
)

ROUNDS = 5  # alternating rounds; the machine is shared, medians tame the noise

# Trick name -> the settings that switch it off (the ratio is ours / ours with these).
VARIANTS: dict[str, dict[str, object]] = {
    "smtp_pipelining": {"MESSAGING_SMTP_PIPELINING": False},
    "async_status_writes": {"MESSAGING_ASYNC_STATUS_WRITES": False},
    "direct_mime": {"MESSAGING_DIRECT_MIME": False},
    "all_tricks": {
        "MESSAGING_SMTP_PIPELINING": False,
        "MESSAGING_ASYNC_STATUS_WRITES": False,
        "MESSAGING_DIRECT_MIME": False,
    },
}
# Not a trick but a setting: the ratio is ours with 4 connections / ours with the default.
CONNECTIONS_VARIANT = {"MESSAGING_CONNECTIONS_PER_WORKER": 4}
SINKS = ("smtp-sink", "aiosmtpd")


@dataclass(frozen=True)
class Email:
    subject: str
    plain: str
    html: str
    address: str


def sink_command(name: str, port: int, rtt_ms: float = 0) -> list[str] | None:
    """How to start the sink ``name`` on ``port``, or None when it is not installed."""
    if name == "latency":
        return latency_sink.command(port, rtt_ms)
    if name == "smtp-sink":
        binary = shutil.which("smtp-sink") or shutil.which("smtp-sink", path="/usr/sbin")
        if not binary:
            return None
        # As root smtp-sink drops privileges; 1000 is the listen backlog.
        user = ["-u", "nobody"] if os.geteuid() == 0 else []
        return [binary, *user, f"127.0.0.1:{port}", "1000"]
    handler = "aiosmtpd.handlers.Sink"
    return [sys.executable, "-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{port}", "-c", handler]


@contextmanager
def running_sink(preference: str = "auto", rtt_ms: float = 0) -> Iterator[tuple[str, int]]:
    """Start an SMTP sink process on 127.0.0.1; yields its name and port, stops it after.

    ``auto`` prefers Postfix's ``smtp-sink`` (fast enough for one Python client) and
    falls back to an aiosmtpd sink, which may itself limit the figures. A round trip
    (``rtt_ms`` > 0) always takes the ``latency`` sink, which delays every reply.
    """
    preference = "latency" if rtt_ms else preference
    for name in SINKS if preference == "auto" else (preference,):
        port = free_port()
        command = sink_command(name, port, rtt_ms)
        if command is None:
            continue
        process = children.start(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
        )
        if wait_for_smtp(port, process):
            try:
                yield name, port
            finally:
                stop_process(process)
            return
        stop_process(process)
    raise RuntimeError(f"No SMTP sink could be started (tried {preference}).")


def sink_settings(port: int) -> override_settings:
    smtp = local_smtp(port, username="", password="", use_ssl=False)
    return override_settings(
        **mail_settings(SMTP, **smtp),
        MESSAGING_MAX_PER_SECOND=None,
        # As in production: DEBUG makes every query keep its SQL and timing.
        DEBUG=False,
    )


def send_users(count: int) -> list:
    """``count`` users to send to, made once (``send`` and ``send_worker`` share them)."""
    users = get_user_model().objects.filter(username__startswith="sendbench").order_by("pk")
    if users.count() < count:
        users.delete()
        return create_users(count, prefix="sendbench")
    return list(users[:count])


def create_message(count: int) -> tuple[Message, list[int], list[Email]]:
    """A message with ``count`` receivers, each with a pending send; and their emails."""
    clear_messaging_data()
    message = Message.objects.create(status=Message.Status.SENDING, context_type="other")
    receivers = [
        MessageReceiver(
            message=message,
            user=user,
            send_to=user.email,
            language="en",
            subject=f"Deadline moved for Assignment 3 ({user.username})",
            message_content_html=SAMPLE_HTML,
            message_content_plain=SAMPLE_PLAIN,
            pending_sends=1,
        )
        for user in send_users(count)
    ]
    created = MessageReceiver.objects.bulk_create(receivers, batch_size=500)
    emails = [
        Email(r.subject, r.message_content_plain, r.message_content_html, r.user.email)
        for r in created
    ]
    return message, [r.pk for r in created], emails


def reset(message: Message) -> None:
    """Put every receiver of ``message`` back to ``not_sent`` with one pending send."""
    MessageReceiver.objects.filter(message=message).update(
        status=MessageReceiver.Status.NOT_SENT,
        pending_sends=1,
        sent_datetime=None,
        sending_success_count=0,
        claimed_until=None,
        claim_token="",
    )
    Message.objects.filter(pk=message.pk).update(status=Message.Status.SENDING)


def send_ours(receiver_ids: list[int], **changed_settings) -> None:
    with override_settings(**changed_settings):
        for batch in chunked(receiver_ids, conf.batch_size()):
            deliver(batch)


def built_emails(emails: list[Email]) -> Iterator[EmailMultiAlternatives]:
    """The emails as Django builds them; the caller hands them to its connection."""
    from_email = conf.from_email()
    for email in emails:
        built = EmailMultiAlternatives(email.subject, email.plain, from_email, [email.address])
        built.attach_alternative(email.html, "text/html")
        yield built


def send_baseline(emails: list[Email]) -> None:
    connection = compat.mail_connection()
    connection.open()
    try:
        for built in built_emails(emails):
            connection.send_messages([built])
    finally:
        connection.close()


def send_baseline_pipelined(emails: list[Email]) -> None:
    connection = compat.mail_connection()
    connection.open()
    try:
        for built in built_emails(emails):
            envelope = pipelining.start(connection, built)
            if envelope is None:
                raise RuntimeError("The SMTP sink does not offer PIPELINING.")
            pipelining.finish(envelope)
    finally:
        connection.close()


def check_all_sent(message: Message, expected: int) -> None:
    sent = MessageReceiver.objects.filter(message=message, status=MessageReceiver.Status.SENT)
    if sent.count() != expected:
        raise RuntimeError(
            f"Only {sent.count()} of {expected} receivers reached 'sent'; the figure would "
            "be meaningless. Check the SMTP sink."
        )


def measure(message: Message, ids: list[int], emails: list[Email]) -> dict[str, float]:
    """Median emails/s of ours and of the baselines over rounds that rotate the order."""
    sides = {
        "ours": lambda: send_ours(ids),
        "baseline": lambda: send_baseline(emails),
        "baseline_pipelined": lambda: send_baseline_pipelined(emails),
        "connections4": lambda: send_ours(ids, **CONNECTIONS_VARIANT),
    }
    for name, changed in VARIANTS.items():
        sides[f"without_{name}"] = partial(send_ours, ids, **changed)
    if not offers_pipelining():
        del sides["baseline_pipelined"]
    rates: dict[str, list[float]] = {side: [] for side in sides}
    names = list(sides)
    for round_number in range(ROUNDS):
        shift = round_number % len(names)
        for side in names[shift:] + names[:shift]:
            ours_side = not side.startswith("baseline")
            if ours_side:
                reset(message)
            rates[side].append(len(ids) / timed(sides[side]))
            if ours_side:
                check_all_sent(message, len(ids))
    return {side: median(values) for side, values in rates.items()}


def offers_pipelining() -> bool:
    connection = compat.mail_connection()
    connection.open()
    try:
        return pipelining.pipelining(connection) is not None
    finally:
        connection.close()


def run(receivers: int, stdout: TextIO, sink: str = "auto", rtt_ms: float = 0) -> None:
    """Print ``METRIC send ours= baseline= ratio=<ours/baseline> baseline_pipelined=``.

    Rates are emails/s; ``baseline_pipelined`` is left out when the sink has no PIPELINING.
    """
    with running_sink(sink, rtt_ms) as (sink_name, port), sink_settings(port):
        stdout.write(f"send: SMTP sink: {sink_name} on 127.0.0.1:{port}, {receivers} emails\n")
        message, ids, emails = create_message(receivers)
        rates = measure(message, ids, emails)
        clear_messaging_data()
    ours, baseline = rates.pop("ours"), rates.pop("baseline")
    variants = {name: rates.pop(f"without_{name}") for name in VARIANTS}
    connections4 = rates.pop("connections4")
    write_metric(stdout, "send", ours=ours, baseline=baseline, ratio=ours / baseline, **rates)
    for name, without in variants.items():
        write_variant(stdout, name, ours / without, ours=ours, without=without)
    write_variant(
        stdout, "connections_per_worker_4", connections4 / ours, ours=ours, with4=connections4
    )


def write_variant(stdout: TextIO, name: str, ratio: float, **rates: float) -> None:
    """Print ``METRIC send_variant name=<name> ratio=<ratio> <rate>=<emails/s> ...``."""
    fields = " ".join(f"{key}={format_number(value)}" for key, value in rates.items())
    stdout.write(f"METRIC send_variant name={name} ratio={format_number(ratio)} {fields}\n")
