"""``--only bounces``: reading a Maildir of DSN files, set-based against one file at a time.

Ours is ``process_bounces`` (:func:`messaging.bounces.maildir.process_maildir`): batches
of files matched to receivers with one query each. The baseline applies each file on
its own (one transaction and one lookup per file), measured on up to 1,000 files.
"""

from __future__ import annotations

import mailbox
import tempfile
from pathlib import Path
from string import Template
from typing import TextIO

from messaging.bounces import verp
from messaging.bounces.intake import apply_reports
from messaging.bounces.maildir import process_maildir
from messaging.bounces.parsing import parse_report
from messaging.models import Message, MessageReceiver, Suppression

from .common import assert_throwaway, clear_messaging_data, format_number, timed

N = 10_000
BASELINE_MAX = 1000
BOUNCES = "bounces@example.org"
FIXTURES = Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "bounces"
SHAPES = ("postfix.eml", "exim.eml", "exchange.eml", "gmail_delayed.eml", "arf_complaint.eml")


def make_receivers(count: int) -> list[MessageReceiver]:
    assert_throwaway()
    message = Message.objects.create(status=Message.Status.SENT)
    return MessageReceiver.objects.bulk_create(
        (
            MessageReceiver(message=message, send_to=f"student{n}@uni.example.net", status="sent")
            for n in range(count)
        ),
        batch_size=1000,
    )


def fill_maildir(path: Path, receivers: list[MessageReceiver]) -> mailbox.Maildir:
    """One report per receiver, the five fixture shapes in turn."""
    templates = [Template((FIXTURES / name).read_text()) for name in SHAPES]
    box = mailbox.Maildir(path, create=True)
    for index, receiver in enumerate(receivers):
        text = templates[index % len(templates)].substitute(
            return_path=verp.return_path(receiver.pk, BOUNCES),
            recipient=receiver.send_to,
            message_id=verp.message_id(receiver.pk),
        )
        box.add(text.encode())
    return box


def baseline(path: Path) -> None:
    for file in sorted((path / "new").iterdir())[:BASELINE_MAX]:
        apply_reports(parse_report(file.read_bytes()), source="baseline")


def run(stdout: TextIO, count: int = N) -> None:
    clear_messaging_data()
    Suppression.objects.all().delete()
    with tempfile.TemporaryDirectory(prefix="messaging-bounces-") as tmp:
        receivers = make_receivers(count)
        fill_maildir(Path(tmp) / "ours", receivers)
        ours = timed(lambda: process_maildir(Path(tmp) / "ours"))
        applied = MessageReceiver.objects.exclude(delivery_status="unknown").count()
        if applied != count:
            raise RuntimeError(f"bounces: {applied} of {count} reports were applied.")
        clear_messaging_data()
        Suppression.objects.all().delete()
        sample = make_receivers(min(count, BASELINE_MAX))
        fill_maildir(Path(tmp) / "baseline", sample)
        base = timed(lambda: baseline(Path(tmp) / "baseline"))
    per_s, baseline_per_s = count / ours, len(sample) / base
    # n is a count, written as a whole number as the agreed line spells it (n=10000).
    stdout.write(
        f"METRIC bounces n={count} per_s={format_number(per_s)} "
        f"baseline_per_s={format_number(baseline_per_s)} "
        f"ratio={format_number(per_s / baseline_per_s)}\n"
    )
