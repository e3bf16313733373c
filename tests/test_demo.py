"""`make demo`: everything it starts stops with it, however it is stopped.

Each test runs the real `make demo` (migrations, SMTP server, task worker, demo data,
runserver) on free ports and a copy of a migrated SQLite database, with its output piped
to tee as in the issue that found children left running after Ctrl-C.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
STARTUP_SECONDS = 180  # migrations and the demo's emails, on a busy machine
STOP_SECONDS = 30


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_is_free(port: int) -> bool:
    """Whether a server could listen on ``port`` (as servers do, past TIME_WAIT sockets)."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def demo_env(var_dir: Path) -> dict[str, str]:
    """The environment of a developer's shell, with the demo's database in ``var_dir``."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("DJANGO_", "EMAIL_", "TASKS_", "MESSAGING_", "DATABASE_"))
    }
    env["MESSAGING_VAR_DIR"] = str(var_dir)
    env["DATABASE_URL"] = f"sqlite:///{var_dir / 'db.sqlite3'}"
    return env


@pytest.fixture(scope="module")
def migrated_database(tmp_path_factory) -> Path:
    """A migrated database, copied by each test: `make demo` then only adds its data."""
    var_dir = tmp_path_factory.mktemp("demo-template")
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput"],
        cwd=ROOT,
        env=demo_env(var_dir),
        check=True,
        capture_output=True,
    )
    return var_dir / "db.sqlite3"


def processes() -> dict[int, tuple[int, int, str]]:
    """pid -> (parent pid, process group, command) of every process."""
    out = subprocess.run(
        ["ps", "-eo", "pid=,ppid=,pgid=,args="], capture_output=True, text=True, check=True
    ).stdout
    table = {}
    for line in out.splitlines():
        pid, ppid, pgid, args = (line.split(None, 3) + [""])[:4]
        table[int(pid)] = (int(ppid), int(pgid), args)
    return table


def descendants(root: int) -> dict[int, tuple[int, int, str]]:
    table = processes()
    found, todo = {}, [root]
    while todo:
        parent = todo.pop()
        for pid, row in table.items():
            if row[0] == parent and pid not in found:
                found[pid] = row
                todo.append(pid)
    return found


def alive(pids) -> list[int]:
    table = processes()
    return [pid for pid in pids if pid in table and not table[pid][2].startswith("[")]


def admin_answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


@pytest.mark.parametrize(
    ("target", "signum"),
    [
        ("group", signal.SIGINT),  # Ctrl-C: the terminal signals the whole foreground group
        ("group", signal.SIGHUP),  # the terminal was closed
        ("make", signal.SIGTERM),  # kill of make alone (CI timeouts, process managers)
        ("script", signal.SIGKILL),  # the script itself killed outright: no trap runs
    ],
    ids=["ctrl-c", "hangup", "kill-make", "kill-9-script"],
)
def test_make_demo_stops_every_process_it_started(tmp_path, migrated_database, target, signum):
    var_dir = tmp_path / "var"
    var_dir.mkdir()
    shutil.copy(migrated_database, var_dir / "db.sqlite3")
    web, smtp = free_port(), free_port()
    cksum = subprocess.run(
        "cat pyproject.toml | cksum | cut -d' ' -f1",
        shell=True,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    venv = sys.prefix
    # -o: this environment is installed already; make must not install into it.
    make = f"make -o {venv}/.installed-{cksum} demo VENV={venv} WEB_PORT={web} SMTP_PORT={smtp}"
    log = tmp_path / "demo.log"
    shell = subprocess.Popen(
        ["bash", "-c", f'{make} 2>&1 | tee "{log}"'],
        cwd=ROOT,
        env=demo_env(var_dir),
        stdout=subprocess.DEVNULL,
        start_new_session=True,  # its own group, as a terminal's foreground job has
    )
    started: dict[int, tuple[int, int, str]] = {}
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while not admin_answers(f"http://127.0.0.1:{web}/admin/login/"):
            assert shell.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.5)
        started = descendants(shell.pid)
        commands = " | ".join(row[2] for row in started.values())
        for server in ["messaging_smtpd", "db_worker", "runserver"]:
            assert server in commands, commands

        if target == "group":
            os.killpg(shell.pid, signum)
        else:
            command = {"make": "make ", "script": "bash config/demo.sh"}[target]
            (pid,) = [pid for pid, row in started.items() if row[2].startswith(command)]
            os.kill(pid, signum)

        deadline = time.monotonic() + STOP_SECONDS
        while alive(started) and time.monotonic() < deadline:
            time.sleep(0.2)
        left = {pid: started[pid][2] for pid in alive(started)}
        assert left == {}, log.read_text()
        group = [pid for pid, row in processes().items() if row[1] == shell.pid]
        assert alive(group) == [], group
        assert port_is_free(web) and port_is_free(smtp)
    finally:
        for pid in alive([shell.pid, *started]):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(os.getpgid(pid), signal.SIGKILL)
        shell.wait(timeout=10)
