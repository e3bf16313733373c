"""Settings for ``messaging_benchmark --only peers``: the demo site plus the peers it is
measured against, django-post-office and django-mailer (``pip install -e ".[bench]"``).

Only the benchmark uses them, in its throwaway database: the app's and the demo's own
settings never install the peers or run their migrations.
"""

import os
import tempfile
from pathlib import Path

from .settings import *  # noqa: F403
from .settings import INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "post_office", "mailer"]

# Each process takes its own lock file, so benchmark runs side by side never wait for
# (or, with django-mailer, quit on) another run's lock.
_LOCKS = Path(tempfile.gettempdir())
POST_OFFICE = {"LOCK_FILE_NAME": f"messaging-bench-post-office-{os.getpid()}"}
MAILER_LOCK_PATH = str(_LOCKS / f"messaging-bench-mailer-{os.getpid()}")
