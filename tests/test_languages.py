"""Any language: the system check that names a language without columns, and the editor's
tab per language of the site."""

from __future__ import annotations

import re
import shutil
import textwrap
from pathlib import Path

import pytest
from django.test import Client

import messaging.migrations
from messaging.admin.snippets.viewsets import build_edit_handler
from messaging.checks import check_languages

THREE = [("en", "English"), ("nb", "Norsk bokmål"), ("de", "Deutsch")]
GERMAN_COLUMNS = textwrap.dedent(
    """
    from django.db import migrations, models
    import wagtail.fields


    class Migration(migrations.Migration):
        dependencies = [("messaging", "LATEST")]
        operations = [
            migrations.AddField("messagetemplate", "subject_de", models.CharField(max_length=255, null=True)),
            migrations.AddField("messagetemplate", "body_de", wagtail.fields.RichTextField(null=True)),
            migrations.AddField("messagetemplate", "body_text_de", models.TextField(blank=True, null=True)),
        ]
    """
).replace(
    # After the newest shipped migration, as makemigrations would write it.
    "LATEST",
    max(path.stem for path in Path(messaging.migrations.__path__[0]).glob("0*.py")),
)


@pytest.fixture
def site_migrations(tmp_path, monkeypatch, request):
    """A site's own migrations package for messaging, holding the shipped migrations."""
    package = f"site_{request.node.name.replace('[', '_').replace(']', '_')}"
    folder = tmp_path / package / "messaging_migrations"
    folder.mkdir(parents=True)
    (folder.parent / "__init__.py").write_text("")
    (folder / "__init__.py").write_text("")
    for path in Path(messaging.migrations.__path__[0]).glob("0*.py"):
        shutil.copy(path, folder)
    monkeypatch.syspath_prepend(str(tmp_path))
    return folder, f"{package}.messaging_migrations"


def test_the_shipped_languages_have_their_columns():
    assert check_languages() == []


def test_a_language_without_columns_is_named_with_the_commands_that_add_them(settings):
    settings.LANGUAGES = THREE
    [warning] = check_languages()
    assert warning.id == "messaging.W001"
    assert "de (Deutsch)" in warning.msg
    assert "messaging_messagetemplate.subject_de" in warning.msg
    assert "nb (" not in warning.msg and "en (" not in warning.msg
    site = "config"  # the package of the test settings, config.settings_test
    assert f"mkdir -p {site}/messaging_migrations" in warning.hint
    assert f'MIGRATION_MODULES = {{"messaging": "{site}.messaging_migrations"}}' in warning.hint
    assert "python manage.py makemigrations messaging" in warning.hint


def test_a_site_migrations_folder_without_the_columns_is_told_to_make_them(
    settings, site_migrations
):
    _folder, module = site_migrations
    settings.LANGUAGES = THREE
    settings.MIGRATION_MODULES = {"messaging": module}
    [warning] = check_languages()
    assert warning.hint.startswith(f"Make the migration in {module} (MIGRATION_MODULES)")
    assert "makemigrations messaging" in warning.hint


def test_a_migrations_folder_not_made_yet_gets_every_step(settings):
    settings.LANGUAGES = THREE
    settings.MIGRATION_MODULES = {"messaging": "newsite.messaging_migrations"}
    [warning] = check_languages()
    assert "de (Deutsch)" in warning.msg
    assert "mkdir -p newsite/messaging_migrations" in warning.hint
    assert "/0*.py newsite/messaging_migrations/" in warning.hint


def test_a_site_migrations_folder_with_the_columns_gives_no_warning(settings, site_migrations):
    folder, module = site_migrations
    (folder / "9999_german.py").write_text(GERMAN_COLUMNS)
    settings.LANGUAGES = THREE
    settings.MIGRATION_MODULES = {"messaging": module}
    assert check_languages() == []


# --- the editor -------------------------------------------------------------------------


def tab_labels(html: str) -> list[str]:
    tabs = re.findall(r'<a id="tab-label-[^"]*"[^>]*role="tab"[^>]*>\s*([^<]*?)\s*<', html)
    return [label.strip() for label in tabs]


@pytest.mark.django_db
def test_the_editor_shows_a_tab_for_each_language_of_the_site(django_user_model, settings):
    client = Client()
    client.force_login(django_user_model.objects.create_superuser("ed", "ed@example.org", "pw"))
    html = client.get("/admin/snippets/messaging/messagetemplate/add/").content.decode()
    assert tab_labels(html) == ["General", *(str(name) for _code, name in settings.LANGUAGES)]
    for code, _name in settings.LANGUAGES:
        for field in ("subject", "body", "body_text"):
            assert f'name="{field}_{code}"' in html


def test_the_editor_tabs_follow_languages(settings):
    settings.LANGUAGES = [("en", "English")]
    tabs = [str(tab.heading) for tab in build_edit_handler().children]
    assert tabs == ["General", "English"]
