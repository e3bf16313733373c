"""One peer's sender in its own process, started idle and told when to go (``peers``).

``python -m config.benchmarks.peer_runner NAME`` sets Django up (the bench settings unless
``DJANGO_SETTINGS_MODULE`` says otherwise), connects to the database, prints ``ready`` and
waits for a line on standard input. Then it runs the peer's own command over the whole
queue, as cron would, and prints ``done``. The parent times it through the database.
"""

from __future__ import annotations

import os
import sys

# name -> (command, its options, POST_OFFICE settings laid over the site's)
PEERS: dict[str, tuple[str, dict, dict]] = {
    # send_queued_mail as shipped: one process, 5 threads, batches of 100, every email logged.
    "post_office_default": ("send_queued_mail", {}, {}),
    # Tuned as in issue 12: 2 processes, batches of 1,000, only failures logged.
    "post_office_tuned": (
        "send_queued_mail",
        {"processes": 2, "log_level": 1},
        {"BATCH_SIZE": 1000},
    ),
    # django-mailer's one pass through its queue.
    "mailer": ("send_mail", {}, {}),
}


def main(name: str) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings_bench")
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection
    from django.test import override_settings

    command, options, post_office = PEERS[name]
    connection.ensure_connection()
    print("ready", flush=True)
    sys.stdin.readline()
    with override_settings(POST_OFFICE={**getattr(settings, "POST_OFFICE", {}), **post_office}):
        call_command(command, **options)
    print("done", flush=True)


if __name__ == "__main__":
    main(sys.argv[1])
