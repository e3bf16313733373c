"""Helpers for tests that run real worker and cron processes against the test database."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from django.db import connection

from config import children
from messaging.testing.smtp import FaultInjectingHandler
from tests.conftest import require_service

BASE_DIR = Path(__file__).resolve().parent.parent


def shared_database_url() -> str | None:
    """A ``DATABASE_URL`` that other processes can use to reach the test database.

    ``None`` when they cannot: SQLite's in-memory test database lives in this process only.
    """
    db = connection.settings_dict
    if connection.vendor == "postgresql":
        auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
        return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    name = str(db["NAME"])
    if connection.vendor == "sqlite" and "memory" not in name and name != ":memory:":
        return f"sqlite:///{Path(name).resolve()}"
    return None


def shared_database(request, *, postgres_only: bool = False) -> str:
    """The URL of a test database that worker processes can share, or a skip saying why not.

    Runs against PostgreSQL go through the ``require_postgres`` guard, so a run meant for
    PostgreSQL fails instead of skipping. SQLite runs work only with a file test database
    (``TEST_DB_NAME=/tmp/test.sqlite3``): the default in-memory one is this process's alone.
    """
    if os.environ.get("DATABASE_URL", "").startswith("postgres"):
        request.getfixturevalue("require_postgres")
    url = shared_database_url()
    if postgres_only and connection.vendor != "postgresql":
        pytest.skip("PostgreSQL only: run with DATABASE_URL=postgres://postgres@127.0.0.1/test")
    if url is None:
        require_service(
            "sqlite-file",
            False,
            "worker processes cannot open this run's in-memory SQLite test database; "
            "run on PostgreSQL or give TEST_DB_NAME=/path/to/file.sqlite3",
        )
    return url


def worker_env(database_url: str, smtp_port: int, **overrides: str) -> dict[str, str]:
    """The environment of a subprocess: test database, test SMTP server, worker settings."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("MESSAGING_", "DJANGO_", "TASKS_", "EMAIL_", "REDIS_"))
    }
    env.update(
        DJANGO_SETTINGS_MODULE="tests.settings_worker",
        DATABASE_URL=database_url,
        EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
        EMAIL_HOST="127.0.0.1",
        EMAIL_PORT=str(smtp_port),
        PYTHONPATH=str(BASE_DIR),
        PYTHONUNBUFFERED="1",
    )
    env.update(overrides)
    return env


class Processes:
    """Subprocesses of ``manage.py``; each one's output goes to a file for failure reports."""

    def __init__(self) -> None:
        self.running: list[tuple[subprocess.Popen, Path]] = []
        self.logdir = Path(tempfile.mkdtemp(prefix="messaging-workers-"))

    def start(self, args: list[str], env: dict[str, str]) -> subprocess.Popen:
        log = self.logdir / f"{len(self.running)}-{args[0]}.log"
        with log.open("wb") as out:
            process = children.start(
                [sys.executable, "manage.py", *args],
                cwd=BASE_DIR,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        self.running.append((process, log))
        return process

    def run(self, args: list[str], env: dict[str, str], timeout: float = 60) -> str:
        """Run a command to its end; returns its output, raises when it failed."""
        process = self.start(args, env)
        process.wait(timeout=timeout)
        output = self.output(process)
        assert process.returncode == 0, f"{args} failed:\n{output}"
        return output

    def output(self, process: subprocess.Popen) -> str:
        log = next(log for p, log in self.running if p is process)
        return log.read_text(errors="replace")

    def tails(self, lines: int = 15) -> str:
        parts = []
        for process, log in self.running:
            tail = log.read_text(errors="replace").splitlines()[-lines:]
            parts.append(f"--- {process.args[2:]} rc={process.poll()}\n" + "\n".join(tail))
        return "\n".join(parts)

    def stop_all(self) -> None:
        for process, _log in self.running:
            if process.poll() is None:
                process.terminate()
        for process, _log in self.running:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


def db_worker_args() -> list[str]:
    return ["db_worker", "--interval", "0.2", "--no-startup-delay", "--no-reload"]


def wait_until(condition: Callable[[], bool], timeout: float, what: str, report=None) -> None:
    """Poll ``condition`` until it holds; fail naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            details = report() if report else ""
            raise AssertionError(f"Timed out after {timeout} s waiting for {what}\n{details}")
        time.sleep(0.2)


class GreylistingHandler(FaultInjectingHandler):
    """Defers (451) the first attempt to each ``grey*`` address, then accepts it."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.deferred: set[str] = set()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        key = address.lower()
        if key.startswith("grey"):
            with self.lock:
                first = key not in self.deferred
                self.deferred.add(key)
            if first:
                return "451 4.7.1 Greylisted, try again later"
        return await super().handle_RCPT(server, session, envelope, address, rcpt_options)


def make_receivers(addresses: list[str], **message_fields) -> list[int]:
    """One message with a receiver (and a user) per address; nothing asked for yet."""
    from django.contrib.auth import get_user_model

    from messaging.models import Message, MessageReceiver

    User = get_user_model()
    users = User.objects.bulk_create(
        [User(username=address, email=address, password="!") for address in addresses]
    )
    message = Message.objects.create(status=Message.Status.SENDING, **message_fields)
    receivers = MessageReceiver.objects.bulk_create(
        [
            MessageReceiver(
                message=message,
                user=user,
                subject="Deadline moved",
                message_content_html="<p>The deadline moved.</p>",
                message_content_plain="The deadline moved.",
            )
            for user in users
        ]
    )
    return [receiver.pk for receiver in receivers]
