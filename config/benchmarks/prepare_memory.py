"""``prepare_memory``: peak memory of ``send_message`` to 10,000 and to 50,000 users.

Each size runs in its own child process against the throwaway database, with a task
backend that discards what is enqueued; the child reports its own peak (see ``peak.py``).
The users are a queryset, read in chunks: memory should not grow with their number.
"""

from __future__ import annotations

import os
from typing import TextIO

from django.contrib.auth import get_user_model

from messaging import conf
from messaging.models import Message, MessageTemplate

from .child import run_measured
from .common import clear_messaging_data, create_users, database_url, write_metric

SIZES = (10_000, 50_000)
PREFIX = "prepmem"
TEMPLATE_KEY = "prepare-memory"
SUBJECT = "{{ assignment }} ({{ course }}): new deadline for {{ user.first_name }}"
BODY = (
    "<p>Dear {{ user.first_name }} {{ user.last_name }},</p>"
    "<p>The deadline of <b>{{ assignment }}</b> in {{ course }} moved to {{ deadline }}.</p>"
    '<p><a href="{{ url }}">Open {{ assignment }}</a> &amp; read the notes [1].</p>'
)
CONTEXT = {
    "assignment": "Assignment 3",
    "course": "INF1000",
    "deadline": "12 Dec 2026 23:59",
    "url": "https://assignments.example.org/a/3",
}
CHILD_CODE = (
    "import django; django.setup(); "
    "from config.benchmarks.prepare_memory import prepare_in_child; prepare_in_child({count})"
)


def prepare_in_child(count: int) -> None:
    """In the child: send the template to the first ``count`` benchmark users."""
    from messaging.api import send_message

    users = get_user_model().objects.filter(username__startswith=PREFIX).order_by("pk")
    message = send_message(TEMPLATE_KEY, users=users[:count], context=CONTEXT)
    print(f"prepared {message.receivers.count()} receivers")


def setup(users: int = max(SIZES)) -> None:
    """Make ``users`` benchmark users (once) and the template they are sent."""
    if not get_user_model().objects.filter(username__startswith=PREFIX).exists():
        create_users(users, prefix=PREFIX)
    fields = {f"subject_{code}": SUBJECT for code in conf.site_languages()}
    fields |= {f"body_{code}": BODY for code in conf.site_languages()}
    template, _created = MessageTemplate.objects.update_or_create(
        key=TEMPLATE_KEY, defaults={"name": "Prepare memory benchmark", **fields}
    )
    template.save_revision().publish()  # what send_message sends


def measure(count: int) -> float:
    """Peak MiB of a child that prepares ``count`` receivers."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": database_url(),
        "TASKS_BACKEND": "config.benchmarks.memory.DiscardingBackend",
        "DEBUG": "0",
    }
    env.pop("MESSAGING_USE_RQ", None)
    run = run_measured(["-c", CHILD_CODE.format(count=count)], env)
    if f"prepared {count} receivers" not in run.output:
        raise RuntimeError(f"Expected {count} receivers prepared, got:\n{run.output}")
    clear_messaging_data()
    return run.peak_mib


def run(stdout: TextIO) -> None:
    """Print ``METRIC prepare_memory n10k=<MiB> n50k=<MiB> ratio=<n50k/n10k>``."""
    clear_messaging_data()
    setup()
    small, large = (measure(count) for count in SIZES)
    Message.objects.all().delete()
    stdout.write(f"prepare_memory: peak RSS (MiB) of a child sending to {SIZES} users\n")
    write_metric(stdout, "prepare_memory", n10k=small, n50k=large, ratio=large / small)
