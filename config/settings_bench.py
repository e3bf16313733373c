"""Settings for ``messaging_benchmark --only peers``: the demo site plus the peers it is
measured against, django-post-office and django-mailer (``pip install -e ".[bench]"``).

Only the benchmark uses them, in its throwaway database: the app's and the demo's own
settings never install the peers or run their migrations.
"""

import os
import tempfile
from pathlib import Path

from .mail import HAS_MAILERS, email_settings
from .settings import *  # noqa: F403
from .settings import INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "post_office", "mailer"]

# Each process takes its own lock file, so benchmark runs side by side never wait for
# (or, with django-mailer, quit on) another run's lock.
_LOCKS = Path(tempfile.gettempdir())
POST_OFFICE = {"LOCK_FILE_NAME": f"messaging-bench-post-office-{os.getpid()}"}
MAILER_LOCK_PATH = str(_LOCKS / f"messaging-bench-mailer-{os.getpid()}")

if HAS_MAILERS:
    # django-mailer 2.3 reads settings.EMAIL_BACKEND, which Django 6.1 refuses while MAILERS
    # is set; the peers' processes send through the EMAIL_* settings instead (the same
    # SMTP backend and server), as Django 5.2 does.
    from .settings import MAIL_BACKEND, SMTP_OPTIONS

    del MAILERS  # noqa: F821
    globals().update(email_settings(MAIL_BACKEND, **SMTP_OPTIONS))
