"""``manage.py messaging_status``: a monitoring plugin's output and exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from messaging.models import MessageReceiver, RelayState
from tests.factories import make_message, make_receiver, make_receivers

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[1]
Status = MessageReceiver.Status


def status(*args: str) -> tuple[int, str]:
    """The command's exit code and output."""
    out = StringIO()
    with pytest.raises(SystemExit) as exit:
        call_command("messaging_status", *args, stdout=out, stderr=StringIO())
    return exit.value.code, out.getvalue()


def waiting_since(minutes: int, count: int = 1, **fields) -> list[MessageReceiver]:
    created = timezone.now() - timedelta(minutes=minutes)
    fields = {"status": Status.NOT_SENT, **fields}
    return make_receivers(count, make_message(), created_datetime=created, **fields)


def test_ok_with_nothing_waiting():
    RelayState.objects.create(mailer="default", last_success_at=timezone.now())
    code, out = status()
    first, *relays = out.splitlines()
    assert code == 0
    assert first == "MESSAGING OK - relays up; 0 waiting | waiting=0 failed=0 oldest_age=0s"
    assert len(relays) == 1 and relays[0].startswith("relay default: up, last success 20")


def test_a_mailer_without_a_row_has_sent_nothing_yet():
    code, out = status()
    assert code == 0
    assert out.splitlines()[1] == "relay default: up, last success never"


def test_warning_when_the_oldest_waiting_email_is_late():
    waiting_since(20)
    waiting_since(2, count=3)
    code, out = status()
    assert code == 1
    assert out.startswith("MESSAGING WARNING - oldest waiting email due 20 min ago; 4 waiting")
    assert status("--warning-age", "30")[0] == 0


def test_critical_when_the_oldest_waiting_email_is_very_late():
    waiting_since(61)
    code, out = status()
    assert code == 2
    assert out.startswith("MESSAGING CRITICAL - oldest waiting email due 61 min ago")
    assert status("--critical-age", "90")[0] == 1


def test_emails_waiting_by_choice_are_not_late():
    """Held for a digest, or of a message scheduled for later: they wait as asked."""
    waiting_since(600, status=Status.DIGEST_PENDING)
    later = make_message(status="scheduled", send_at=timezone.now() + timedelta(hours=1))
    make_receiver(later, created_datetime=timezone.now() - timedelta(hours=5))
    code, out = status()
    assert code == 0
    assert "; 2 waiting |" in out


def test_a_scheduled_email_is_late_from_its_time_not_its_creation():
    started = make_message(send_at=timezone.now() - timedelta(minutes=5))
    make_receiver(started, created_datetime=timezone.now() - timedelta(days=2))
    code, out = status()
    assert code == 0
    assert "oldest_age=300s" in out or "oldest_age=299s" in out


def test_warning_when_many_failed_emails_wait_for_a_retry():
    make_receivers(3, make_message(), status=Status.FAILED)
    assert status()[0] == 0
    code, out = status("--warning-failed", "3")
    assert code == 1
    assert "3 failed emails waiting for a retry" in out


def test_warning_while_a_relay_fails_critical_once_it_is_down():
    relay = RelayState.objects.create(mailer="default", consecutive_failures=2)
    code, out = status()
    assert code == 1
    assert "relay default failing (2 failures in a row)" in out
    relay.state = RelayState.State.DOWN
    relay.down_since = timezone.now()
    relay.reason = "Connection refused\nby 192.0.2.1"
    relay.save()
    code, out = status()
    assert code == 2
    first = out.splitlines()[0]
    assert first.startswith("MESSAGING CRITICAL - relay default down since ")
    assert "(Connection refused by 192.0.2.1)" in first


def test_json():
    RelayState.objects.create(
        mailer="default",
        state=RelayState.State.DOWN,
        down_since=timezone.now(),
        reason="421 try later",
        next_probe_at=timezone.now() + timedelta(minutes=5),
    )
    waiting_since(3, count=2)
    code, out = status("--json")
    data = json.loads(out)
    assert code == 2
    assert data["status"] == "CRITICAL" and data["exit_code"] == 2
    assert data["waiting"] == 2 and data["failed"] == 0
    assert 180 <= data["oldest_waiting_age_seconds"] < 240
    [relay] = data["relays"]
    assert relay["mailer"] == "default" and relay["state"] == "down"
    assert relay["reason"] == "421 try later"
    assert relay["last_success"] is None and relay["next_check"].startswith("20")
    assert data["problems"][0].startswith("relay default down since")


def test_refuses_limits_in_the_wrong_order():
    with pytest.raises(CommandError, match="--critical-age"):
        call_command("messaging_status", "--warning-age", "60", "--critical-age", "10")


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_exit_code_of_the_real_command(settings):
    """Monitoring runs it as a process: the exit code is the plugin's."""
    from django.db import connection

    RelayState.objects.create(mailer="default", state=RelayState.State.DOWN, reason="refused")
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": database_url(connection.settings_dict),
    }
    command = [sys.executable, "manage.py", "messaging_status"]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done.stderr
    assert done.stdout.startswith("MESSAGING CRITICAL - relay default down")
    RelayState.objects.update(state=RelayState.State.UP)
    done = subprocess.run(
        [*command, "--json"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["status"] == "OK"


def database_url(db: dict) -> str:
    """The test database as a ``DATABASE_URL`` for the child process (the tests' SQLite
    database is a file, see config/settings_test.py)."""
    if db["ENGINE"] == "django.db.backends.sqlite3":
        return f"sqlite:///{db['NAME']}"
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    port = f":{db['PORT']}" if db.get("PORT") else ""
    return f"postgres://{db['USER']}{password}@{db['HOST']}{port}/{db['NAME']}"
