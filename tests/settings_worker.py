"""Settings for worker and cron subprocesses that the tests start against the test database.

The site's settings (``config.settings``) with ``DEBUG`` off (no autoreloader in
``db_worker``) and the delivery settings that a test needs to change read from the
environment: ``MESSAGING_CLAIM_LEASE_SECONDS``, ``MESSAGING_MAX_PER_SECOND``,
``MESSAGING_BATCH_SIZE``, ``MESSAGING_RESEND_LIMIT``, ``MESSAGING_RETRY_BASE_DELAY``,
``MESSAGING_CONNECTIONS_PER_WORKER``, ``MESSAGING_DIGEST_HOUR``; and the queues of a test's
own, ``MESSAGING_TASK_QUEUE`` and ``MESSAGING_PRIORITY_QUEUES``.
"""

import os

import config.settings
from config.mail import mail_settings
from config.settings import *  # noqa: F403

DEBUG = False
_smtp = {**config.settings.SMTP_OPTIONS, "timeout": float(os.environ.get("EMAIL_TIMEOUT", "5"))}
globals().update(mail_settings(config.settings.MAIL_BACKEND, **_smtp))

for _name, _cast in [
    ("MESSAGING_CLAIM_LEASE_SECONDS", int),
    ("MESSAGING_MAX_PER_SECOND", float),
    ("MESSAGING_BATCH_SIZE", int),
    ("MESSAGING_RESEND_LIMIT", int),
    ("MESSAGING_RETRY_BASE_DELAY", int),
    ("MESSAGING_CONNECTIONS_PER_WORKER", int),
    ("MESSAGING_DIGEST_HOUR", int),
]:
    if os.environ.get(_name):
        globals()[_name] = _cast(os.environ[_name])

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
