"""The mail settings of the demo site, its benchmarks and the tests, on either Django.

Django 6.1 takes the mailer from ``MAILERS``, deprecates the ``EMAIL_*`` settings and
refuses both at once; Django 5.2 knows only ``EMAIL_*``. Settings modules import this one
before Django is set up, so it imports nothing of Django's but its version.
"""

from __future__ import annotations

from typing import Any

import django

HAS_MAILERS = django.VERSION >= (6, 1)
SMTP = "django.core.mail.backends.smtp.EmailBackend"
LOCMEM = "django.core.mail.backends.locmem.EmailBackend"

# A MAILERS option -> the EMAIL_* setting that held it before Django 6.1.
EMAIL_SETTINGS = {
    "host": "EMAIL_HOST",
    "port": "EMAIL_PORT",
    "username": "EMAIL_HOST_USER",
    "password": "EMAIL_HOST_PASSWORD",
    "use_tls": "EMAIL_USE_TLS",
    "use_ssl": "EMAIL_USE_SSL",
    "timeout": "EMAIL_TIMEOUT",
}


def mail_settings(backend: str = SMTP, **options: Any) -> dict[str, Any]:
    """The settings that make ``backend`` with ``options`` the default mailer: ``MAILERS``
    on Django 6.1, ``EMAIL_*`` on 5.2. ``options`` take ``MAILERS``' names (the keys of
    :data:`EMAIL_SETTINGS`); give none to a backend other than SMTP, which 6.1 refuses."""
    if HAS_MAILERS:
        return {"MAILERS": {"default": {"BACKEND": backend, "OPTIONS": options}}}
    return email_settings(backend, **options)


def email_settings(backend: str = SMTP, **options: Any) -> dict[str, Any]:
    """The same mailer in the ``EMAIL_*`` settings, for code that reads only those
    (django-mailer 2.3, see ``config.settings_bench``)."""
    return {"EMAIL_BACKEND": backend, **{EMAIL_SETTINGS[k]: v for k, v in options.items()}}


def mailers_settings(mailers: dict[str, dict[str, Any]], backend: str = SMTP) -> dict[str, Any]:
    """The settings of several mailers of ``backend`` in order (``"default"`` among them),
    each alias with its options as :func:`mail_settings` takes them, and
    ``MESSAGING_MAILERS`` listing them: ``MAILERS`` on Django 6.1; on 5.2, ``EMAIL_*`` for
    the default and ``MESSAGING_MAILER_SETTINGS`` (shaped as ``MAILERS``) for the others."""
    entries = {
        alias: {"BACKEND": backend, "OPTIONS": options} for alias, options in mailers.items()
    }
    if HAS_MAILERS:
        found = {"MAILERS": entries}
    else:
        found = email_settings(backend, **mailers["default"])
        found["MESSAGING_MAILER_SETTINGS"] = {k: v for k, v in entries.items() if k != "default"}
    return {**found, "MESSAGING_MAILERS": list(mailers)}


def local_smtp(port: int, **options: Any) -> dict[str, Any]:
    """The options of a plain SMTP server on 127.0.0.1:``port`` (the test and demo servers)."""
    return {"host": "127.0.0.1", "port": port, "use_tls": False, **options}
