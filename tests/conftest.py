"""Shared fixtures: users, a real SMTP server, and the rule for services CI requires."""

from __future__ import annotations

import os

import pytest
from django.db import connection

from config.mail import SMTP, local_smtp, mail_settings, mailers_settings
from messaging.testing.smtp import FaultInjectingHandler, SMTPServer
from tests import factories

# tests/devilry runs on its own, under the settings with the original's user model.
DEVILRY_SETTINGS = "tests.settings_devilry"
collect_ignore = [] if os.environ.get("DJANGO_SETTINGS_MODULE") == DEVILRY_SETTINGS else ["devilry"]

REQUIRED_SERVICES = {
    name.strip()
    for name in os.environ.get("MESSAGING_REQUIRE_SERVICES", "").split(",")
    if name.strip()
}


def require_service(name: str, available: bool, reason: str) -> None:
    """Skip when ``name`` is missing, but fail when CI said it must be there."""
    if available:
        return
    if name in REQUIRED_SERVICES:
        pytest.fail(f"{name} is required (MESSAGING_REQUIRE_SERVICES) but {reason}")
    pytest.skip(reason)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests that need PostgreSQL carry the ``postgres`` marker (``-m postgres`` selects them)."""
    for item in items:
        if "require_postgres" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.postgres)


def require_redis(url: str) -> None:
    """Skip (or fail, where CI requires Redis) unless the Redis server at ``url`` answers."""
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except redis.RedisError as error:
        require_service("redis", False, f"no Redis at {url} ({error})")


@pytest.fixture
def require_postgres(db):
    require_service(
        "postgres",
        connection.vendor == "postgresql",
        "needs PostgreSQL: run with DATABASE_URL=postgres://postgres@127.0.0.1:5432/test",
    )


@pytest.fixture
def make_user(db):
    """:func:`tests.factories.make_user`, with the database enabled."""
    return factories.make_user


@pytest.fixture
def make_receiver(db):
    """:func:`tests.factories.make_receiver`, with the database enabled."""
    return factories.make_receiver


@pytest.fixture(params=[True, False], ids=["pipelining", "no-pipelining"])
def smtp_handler(request):
    """The test server's handler, once offering PIPELINING and once not."""
    return FaultInjectingHandler(stall_seconds=3, pipelining=request.param)


@pytest.fixture
def use_mailer(settings):
    """``use_mailer(backend, **options)`` makes that the default mailer for this test:
    ``MAILERS`` on Django 6.1, ``EMAIL_*`` on 5.2 (see config/mail.py)."""

    def use(backend: str = SMTP, **options) -> None:
        for name, value in mail_settings(backend, **options).items():
            setattr(settings, name, value)

    return use


@pytest.fixture
def use_mailers(settings):
    """``use_mailers(default=options, backup=options)``: those relays, in that order."""

    def use(**mailers) -> None:
        for name, value in mailers_settings(mailers).items():
            setattr(settings, name, value)

    return use


@pytest.fixture
def smtp_server(smtp_handler, use_mailer):
    """A real SMTP server on 127.0.0.1; the default mailer is Django's SMTP backend to it.

    A test that needs more options (a login) calls ``use_mailer(**local_smtp(port, ...))``."""
    with SMTPServer(smtp_handler) as server:
        use_mailer(**local_smtp(server.port, timeout=1))
        yield server


@pytest.fixture
def on_commit(django_capture_on_commit_callbacks):
    """Run ``transaction.on_commit`` callbacks (enqueued delivery) as a commit would."""

    def run(function, *args, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return function(*args, **kwargs)

    return run
