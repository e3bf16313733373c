"""Settings for the test suite: the site's settings with in-process mail and tasks."""

import os
import tempfile

from .mail import LOCMEM, mail_settings
from .settings import *  # noqa: F403
from .settings import DATABASES

DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# Tests that need another mailer set it with the use_mailer fixture (tests/conftest.py).
globals().update(mail_settings(LOCMEM))
TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# Lets several test runs share one PostgreSQL server without clashing.
if os.environ.get("TEST_DB_NAME"):
    DATABASES["default"].setdefault("TEST", {})["NAME"] = os.environ["TEST_DB_NAME"]
elif DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A file, not Django's default in-memory database: that one shares one cache between
    # connections, whose table locks fail at once ("database table is locked") where a
    # worker's threads write concurrently, instead of waiting as a site's SQLite file does.
    DATABASES["default"].setdefault("TEST", {})["NAME"] = os.path.join(
        tempfile.gettempdir(), f"messaging-test-{os.getpid()}.sqlite3"
    )
