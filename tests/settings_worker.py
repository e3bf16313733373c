"""Settings for worker and cron subprocesses that the tests start against the test database.

The site's settings (``config.settings``) with ``DEBUG`` off (no autoreloader in
``db_worker``) and the delivery settings that a test needs to change read from the
environment: ``MESSAGING_CLAIM_LEASE_SECONDS``, ``MESSAGING_MAX_PER_SECOND``,
``MESSAGING_BATCH_SIZE``, ``MESSAGING_RESEND_LIMIT``, ``MESSAGING_RETRY_BASE_DELAY``,
``MESSAGING_CONNECTIONS_PER_WORKER``, ``MESSAGING_DIGEST_HOUR``, ``MESSAGING_RELAY_FAILURES``,
``MESSAGING_RELAY_PROBE_INTERVAL``, ``MESSAGING_RELAY_PROBE_MAX_INTERVAL`` and
``MESSAGING_GIVE_UP_AFTER`` (seconds); the queues of
a test's own, ``MESSAGING_TASK_QUEUE`` and ``MESSAGING_PRIORITY_QUEUES``; a second relay
(``MESSAGING_BACKUP_SMTP_PORT``); and a file recording relay signals
(``MESSAGING_TEST_SIGNAL_LOG``).
"""

import os

import config.settings
from config.mail import mail_settings, mailers_settings
from config.settings import *  # noqa: F403

DEBUG = False
_smtp = {**config.settings.SMTP_OPTIONS, "timeout": float(os.environ.get("EMAIL_TIMEOUT", "5"))}
globals().update(mail_settings(config.settings.MAIL_BACKEND, **_smtp))
if os.environ.get("MESSAGING_BACKUP_SMTP_PORT"):
    # A second relay, "backup", after the default (MESSAGING_MAILERS).
    _backup = {**_smtp, "port": int(os.environ["MESSAGING_BACKUP_SMTP_PORT"])}
    _mailers = {"default": _smtp, "backup": _backup}
    globals().update(mailers_settings(_mailers, config.settings.MAIL_BACKEND))

for _name, _cast in [
    ("MESSAGING_CLAIM_LEASE_SECONDS", int),
    ("MESSAGING_MAX_PER_SECOND", float),
    ("MESSAGING_BATCH_SIZE", int),
    ("MESSAGING_RESEND_LIMIT", int),
    ("MESSAGING_RETRY_BASE_DELAY", int),
    ("MESSAGING_CONNECTIONS_PER_WORKER", int),
    ("MESSAGING_DIGEST_HOUR", int),
    ("MESSAGING_RELAY_FAILURES", int),
    ("MESSAGING_RELAY_PROBE_INTERVAL", float),
    ("MESSAGING_RELAY_PROBE_MAX_INTERVAL", float),
    ("MESSAGING_GIVE_UP_AFTER", float),
]:
    if os.environ.get(_name):
        globals()[_name] = _cast(os.environ[_name])

# Each relay_down / relay_up a worker sends, as a JSON line in this file (tests.signal_log).
if os.environ.get("MESSAGING_TEST_SIGNAL_LOG"):
    INSTALLED_APPS = [*config.settings.INSTALLED_APPS, "tests.signal_log.SignalLogConfig"]

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"messaging": {"handlers": ["console"], "level": "WARNING"}},
}

# Queues of the test's own on a shared Redis, so parallel test runs never take each
# other's jobs: every queue in TASKS must also be in RQ_QUEUES. MESSAGING_PRIORITY_QUEUES
# comes as "high-queue,low-queue".
_own_queues = []
if os.environ.get("MESSAGING_TASK_QUEUE"):
    MESSAGING_TASK_QUEUE = os.environ["MESSAGING_TASK_QUEUE"]
    _own_queues.append(MESSAGING_TASK_QUEUE)
if os.environ.get("MESSAGING_PRIORITY_QUEUES"):
    _high, _low = os.environ["MESSAGING_PRIORITY_QUEUES"].split(",")
    MESSAGING_PRIORITY_QUEUES = {"high": _high, "low": _low}
    _own_queues += [_high, _low]
if _own_queues:
    _queues = config.settings.TASKS["default"].get("QUEUES", ["default"])
    config.settings.TASKS["default"]["QUEUES"] = [*_queues, *_own_queues]
    if hasattr(config.settings, "RQ_QUEUES"):
        _url = config.settings.REDIS_URL
        for _queue in _own_queues:
            config.settings.RQ_QUEUES[_queue] = {"URL": _url, "DEFAULT_TIMEOUT": 900}
