"""Peak memory of the cron command ``resend_failed_messages`` as the failures grow.

The command runs in its own process against the throwaway database, with a task backend
that discards what is enqueued (nothing is sent); the child reports its own peak resident
set size (``VmHWM``, see ``peak.py``), checked once against a child that fills 50 MiB.
"""

from __future__ import annotations

import os
from typing import TextIO

from django.conf import settings
from django.utils import timezone
from django_tasks.backends.base import BaseTaskBackend
from django_tasks.base import Task, TaskResult, TaskResultStatus
from django_tasks.utils import get_random_id

from messaging.models import Message, MessageReceiver

from .child import ChildRun, check_method, run_measured
from .common import (
    clear_messaging_data,
    create_users,
    database_url,
    grow_table,
    insert_sample_receivers,
    write_metric,
)

SIZES = (10_000, 100_000)
SEED_ROWS = 1_000


class DiscardingBackend(BaseTaskBackend):
    """A task backend that accepts every task and keeps nothing (unlike the Dummy backend)."""

    supports_defer = True
    supports_async_task = True
    supports_priority = True

    def enqueue(self, task: Task, args, kwargs) -> TaskResult:
        self.validate_task(task)
        return TaskResult(
            task=task,
            id=get_random_id(),
            status=TaskResultStatus.READY,
            enqueued_at=timezone.now(),
            started_at=None,
            last_attempted_at=None,
            finished_at=None,
            args=args,
            kwargs=kwargs,
            backend=self.alias,
            errors=[],
            worker_ids=[],
        )


def seed_failed_receivers(count: int) -> None:
    """Make the throwaway database hold exactly ``count`` receivers due for a resend."""
    if not MessageReceiver.objects.exists():
        message = Message.objects.create(status=Message.Status.SENT, context_type="other")
        users = create_users(min(count, SEED_ROWS), prefix="resendbench")
        insert_sample_receivers(message, users)
    grow_table(MessageReceiver, count)
    MessageReceiver.objects.update(
        status=MessageReceiver.Status.FAILED,
        sending_failed_count=1,
        status_data={"errors": [{"error_message": "451 try again later"}]},
        pending_sends=0,
        send_requested_at=None,
        claimed_until=None,
        claim_token="",
        next_attempt_at=None,
    )


def run_resend_command() -> ChildRun:
    """Run ``manage.py resend_failed_messages`` in a child; its own peak RSS in MiB."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": database_url(),
        "TASKS_BACKEND": f"{__name__}.DiscardingBackend",
        "DEBUG": "0",  # as in production: DEBUG keeps every query's SQL
    }
    env.pop("MESSAGING_USE_RQ", None)
    manage = str(settings.BASE_DIR / "manage.py")
    return run_measured([manage, "resend_failed_messages"], env)


def measure(count: int) -> ChildRun:
    """Peak RSS of the cron command with ``count`` failed receivers due for a resend."""
    seed_failed_receivers(count)
    result = run_resend_command()
    expected = f"{count} messages were automatically resent."
    if expected not in result.output:
        raise RuntimeError(f"Expected {expected!r} from the command, got:\n{result.output}")
    return result


def run(stdout: TextIO) -> None:
    """Print ``METRIC resend_memory n10k=<MB> n100k=<MB> ratio=<n100k/n10k>``."""
    idle, filled = check_method()
    stdout.write(
        f"resend_memory: method check: an idle child peaked at {idle:.1f} MiB, one filling "
        f"50 MiB at {filled:.1f} MiB\n"
    )
    clear_messaging_data()
    small, large = (measure(count).peak_mib for count in SIZES)
    clear_messaging_data()
    stdout.write(f"resend_memory: peak RSS (MiB) of resend_failed_messages, {SIZES} due\n")
    write_metric(stdout, "resend_memory", n10k=small, n100k=large, ratio=large / small)
