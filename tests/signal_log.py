"""A test-only app for worker processes: each relay signal they send, as a JSON line in the
file ``MESSAGING_TEST_SIGNAL_LOG`` names (tests/settings_worker.py installs it)."""

from __future__ import annotations

import json
import os

from django.apps import AppConfig

SIGNALS = ("relay_down", "relay_up")


class SignalLogConfig(AppConfig):
    name = "tests"
    label = "relay_signal_log"

    def ready(self) -> None:
        from messaging import signals

        for name in SIGNALS:
            getattr(signals, name).connect(record(name), weak=False)


def record(name: str):
    def handler(sender, mailer, reason, first_failure_at, **kwargs) -> None:
        line = {
            "signal": name,
            "mailer": mailer,
            "reason": reason,
            "first_failure_at": first_failure_at.isoformat() if first_failure_at else None,
            "pid": os.getpid(),
        }
        # One write of one line in append mode: lines of several workers never mix.
        with open(os.environ["MESSAGING_TEST_SIGNAL_LOG"], "a") as log:
            log.write(json.dumps(line) + "\n")

    return handler


def read(path: str) -> list[dict]:
    """The signals recorded in ``path``, in the order they were sent."""
    if not os.path.exists(path):
        return []
    with open(path) as log:
        return [json.loads(line) for line in log if line.strip()]
