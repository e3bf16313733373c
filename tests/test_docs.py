"""The documentation's examples are code that works."""

from __future__ import annotations

import importlib.util
import os
import re
import sys
from pathlib import Path

from django.utils.module_loading import import_string

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def python_blocks(text: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", text, re.S)


def settings_of(block: str) -> dict:
    namespace: dict = {"os": os}
    exec(block, namespace)  # the README's own example
    return {name: value for name, value in namespace.items() if name.isupper()}


def test_the_mail_examples_configure_the_same_relay_on_both_django_versions(monkeypatch):
    monkeypatch.setenv("EMAIL_HOST_PASSWORD", "secret")
    [email_settings] = [settings_of(b) for b in python_blocks(README) if "EMAIL_HOST =" in b]
    [mailers] = [settings_of(b)["MAILERS"] for b in python_blocks(README) if "MAILERS = {" in b]
    mailer = mailers["default"]
    assert mailer["BACKEND"] == email_settings["EMAIL_BACKEND"]
    options = mailer["OPTIONS"]
    # Django 6.1 refuses options its SMTP backend does not take; 5.2 takes these too.
    backend = import_string(mailer["BACKEND"])(alias="default", **options)
    assert (backend.host, backend.port, backend.use_tls, backend.timeout) == (
        email_settings["EMAIL_HOST"],
        email_settings["EMAIL_PORT"],
        email_settings["EMAIL_USE_TLS"],
        email_settings["EMAIL_TIMEOUT"],
    )
    assert (backend.username, backend.password) == (email_settings["EMAIL_HOST_USER"], "secret")


def settings_reference() -> str:
    spec = importlib.util.spec_from_file_location(
        "messaging_settings", ROOT / "docs" / "_ext" / "messaging_settings.py"
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault(spec.name, module)  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module.reference()


def test_the_settings_reference_lists_every_setting_the_app_reads():
    read = {
        name
        for path in (ROOT / "messaging").rglob("*.py")
        for name in re.findall(r"[\"'](MESSAGING_[A-Z0-9_]+)[\"']", path.read_text())
    }
    listed = set(re.findall(r"^### `(MESSAGING_[A-Z0-9_]+)`$", settings_reference(), re.M))
    assert listed == read
    assert "MESSAGING_USER_SEARCH_FIELDS" in listed


def test_the_settings_reference_gives_defaults_fallbacks_and_checks():
    reference = settings_reference()
    batch = reference[reference.index("### `MESSAGING_BATCH_SIZE`") :].split("###")[1]
    assert "Default: `100`" in batch and "`messaging.E002`" in batch
    retry = reference[reference.index("### `MESSAGING_RETRY_BASE_DELAY`") :].split("###")[1]
    assert "Default: `1800 (30 * 60)`" in retry
    limit = reference[reference.index("### `MESSAGING_RESEND_LIMIT`") :].split("###")[1]
    assert "Default: `2`; falls back to `DEVILRY_MESSAGE_RESEND_LIMIT`" in limit
