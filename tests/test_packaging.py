"""What the app ships: its templates and static files live inside the package.

An installed site finds an app's files only inside the package (``APP_DIRS`` and
``AppDirectoriesFinder``), so every path the code names must resolve there, not in the demo
site's top-level ``templates/`` and ``static/``.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.contrib.staticfiles import finders
from django.template.loader import get_template

import messaging
from messaging.api import send_message
from messaging.models import MessageReceiver

APP = Path(messaging.__file__).resolve().parent
TEMPLATE_NAME = re.compile(r"""["'](messaging/[\w/.-]+\.(?:html|txt))["']""")
STATIC_NAME = re.compile(r"""["'](messaging/[\w/.-]+\.(?:css|js))["']""")


def names_in(pattern: re.Pattern, paths) -> set[str]:
    return {name for path in paths for name in pattern.findall(path.read_text())}


CODE = [path for path in APP.rglob("*.py") if "migrations" not in path.parts]
TEMPLATES = sorted((APP / "templates").rglob("*.html"))
TEMPLATE_NAMES = sorted(names_in(TEMPLATE_NAME, CODE + TEMPLATES))
STATIC_NAMES = sorted(names_in(STATIC_NAME, CODE + TEMPLATES))


def test_the_code_names_templates_and_static_files():
    assert "messaging/email/layout.html" in TEMPLATE_NAMES
    assert "messaging/css/email.css" in STATIC_NAMES


@pytest.mark.parametrize("name", TEMPLATE_NAMES)
def test_each_template_the_code_names_is_inside_the_app(name):
    origin = Path(get_template(name).origin.name).resolve()
    assert origin.is_relative_to(APP / "templates" / "messaging"), origin


@pytest.mark.parametrize("name", STATIC_NAMES)
def test_each_static_file_the_code_names_is_inside_the_app(name):
    found = Path(finders.find(name)).resolve()
    assert found.is_relative_to(APP / "static" / "messaging"), found


def test_the_app_keeps_every_file_under_a_folder_named_after_it():
    for folder in ("templates", "static"):
        assert [path.name for path in (APP / folder).iterdir()] == ["messaging"]


# --- what the dependency bounds in pyproject.toml stand on --------------------------------


@pytest.mark.django_db
def test_a_nul_character_reference_never_reaches_the_stored_plain_text(make_user, on_commit):
    # html2text 2025.4.15 writes an invalid character reference as U+FFFD; older releases
    # wrote a NUL, which PostgreSQL refuses to store: the lower bound of the html2text pin.
    on_commit(send_message, users=[make_user()], subject="S", html="<p>Before &#0; after</p>")
    receiver = MessageReceiver.objects.get()
    assert receiver.message_content_plain == "Before \ufffd after\n"
