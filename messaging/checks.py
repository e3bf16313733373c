"""System checks: settings the app cannot work with are reported at startup."""

import os
import pkgutil
from collections.abc import Callable
from importlib import import_module

from django.conf import ENVIRONMENT_VARIABLE, settings
from django.core.checks import Error, Warning, register
from django.db.migrations import Migration
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.state import ProjectState
from modeltranslation.translator import translator
from modeltranslation.utils import build_localized_fieldname

from . import conf
from .exceptions import ConfigurationError

# Each id is fixed, so a site that silences one keeps silencing the same setting.
SETTING_CHECKS: dict[str, Callable[[], object]] = {
    "messaging.E001": conf.resend_limit,
    "messaging.E002": conf.batch_size,
    "messaging.E003": conf.claim_lease_seconds,
    "messaging.E004": conf.max_per_second,
    "messaging.E005": conf.max_stored_errors,
    "messaging.E006": conf.retry_base_delay,
    "messaging.E007": conf.retry_max_delay,
    "messaging.E008": conf.user_language_resolver,
    "messaging.E009": conf.reconnect_limit,
    "messaging.E010": conf.task_backends,
    "messaging.E011": conf.task_queue,
    "messaging.E012": conf.send_email_to_users,
    "messaging.E013": conf.email_signature,
    "messaging.E014": conf.subject_prefix,
    "messaging.E015": conf.from_email,
    "messaging.E016": conf.user_emails_resolver,
    "messaging.E017": conf.user_context_resolver,
    "messaging.E020": conf.bounce_address,
    "messaging.E021": conf.max_delivery_events,
    "messaging.E022": conf.context_type_specs,
    "messaging.E023": conf.digest_hour,
    "messaging.E024": conf.user_timezone_resolver,
    "messaging.E025": conf.unsubscribe_max_age,
    "messaging.E026": conf.site_url,
    "messaging.E030": conf.smtp_pipelining,
    "messaging.E031": conf.async_status_writes,
    "messaging.E033": conf.connections_per_worker,
    "messaging.E035": conf.priority_queues,
    "messaging.E040": conf.user_search_fields,
    "messaging.E034": conf.bounce_legacy_signatures_until,
    "messaging.E050": conf.mailers,
    "messaging.E051": conf.mailer_settings,
    "messaging.E052": conf.relay_failures,
    "messaging.E053": conf.relay_probe_interval,
    "messaging.E054": conf.relay_probe_max_interval,
    "messaging.E055": conf.give_up_after,
    "messaging.E056": conf.rate_limit_store,
}


@register()
def check_settings(app_configs=None, **kwargs) -> list[Error]:
    errors = []
    for check_id, reader in SETTING_CHECKS.items():
        try:
            reader()
        except ConfigurationError as error:
            errors.append(Error(str(error), id=check_id))
    return errors


# --- languages ----------------------------------------------------------------------------


@register()
def check_languages(app_configs=None, **kwargs) -> list[Warning]:
    """``messaging.W001``: a language of ``LANGUAGES`` lacks its columns in the migrations.

    django-modeltranslation gives the translated models a field per language of the site,
    but only a migration gives the table its column: until then every query of message
    templates fails on the missing columns. The shipped migrations have en and nb.
    """
    missing = languages_without_columns()
    if not missing:
        return []
    names = ", ".join(f"{code} ({name})" for code, (name, _columns) in missing.items())
    columns = ", ".join(column for _name, columns in missing.values() for column in columns)
    return [
        Warning(
            f"LANGUAGES has {names}, which messaging's migrations have no columns for: "
            f"every query of message templates fails on the missing columns {columns}.",
            hint=migration_commands(),
            id="messaging.W001",
        )
    ]


def languages_without_columns() -> dict[str, tuple[str, list[str]]]:
    """Each language code of ``LANGUAGES`` whose translated columns some model of the app
    lacks after its migrations, with the language's name and those columns."""
    missing: dict[str, tuple[str, list[str]]] = {}
    for model in translator.get_registered_models():
        if model._meta.app_label != "messaging":
            continue
        migrated = migrated_field_names("messaging", model.__name__)
        if migrated is None:
            continue  # migrations turned off: the tables follow the models
        fields = list(translator.get_options_for_model(model).all_fields)
        for code, name in settings.LANGUAGES:
            wanted = [build_localized_fieldname(field, code) for field in fields]
            absent = [
                f"{model._meta.db_table}.{col}" for col in sorted(wanted) if col not in migrated
            ]
            if absent:
                missing.setdefault(code, (str(name), []))[1].extend(absent)
    return missing


def migration_commands() -> str:
    """The exact steps that give messaging the columns of the site's languages."""
    module, explicit = MigrationLoader.migrations_module("messaging")
    make = "python manage.py makemigrations messaging && python manage.py migrate messaging"
    if explicit and module and _importable(module):
        return f"Make the migration in {module} (MIGRATION_MODULES):\n    {make}"
    if explicit and module:
        folder = module.replace(".", "/")
    else:
        site = settings.SETTINGS_MODULE or os.environ.get(ENVIRONMENT_VARIABLE) or "mysite"
        folder = f"{site.split('.')[0]}/messaging_migrations"
    shipped = "python -c 'import messaging.migrations as m; print(m.__path__[0])'"
    return "\n".join(
        [
            "Give messaging a migrations folder of the site's own, starting from the shipped",
            "migrations, and make the one that adds the columns. In the folder of manage.py:",
            f"    mkdir -p {folder} && touch {folder}/__init__.py",
            f'    cp "$({shipped})"/0*.py {folder}/',
            f'then add to the settings: MIGRATION_MODULES = {{"messaging": '
            f'"{folder.replace("/", ".")}"}}',
            f"then: {make}",
            "When an upgrade of wagtail-messaging ships new migrations, copy them there too.",
        ]
    )


def migrated_field_names(app_label: str, model_name: str) -> set[str] | None:
    """The field names ``model_name`` has after the app's migrations, read from the migration
    files alone (no database; ``MIGRATION_MODULES`` honoured); ``None`` without a module."""
    migrations = _migrations_of(app_label)
    if migrations is None:
        return None
    state = ProjectState()
    for name in _in_dependency_order(migrations, app_label):
        state = migrations[name].mutate_state(state, preserve=False)
    model_state = state.models.get((app_label, model_name.lower()))
    return set(model_state.fields) if model_state else set()


def _migrations_of(app_label: str) -> dict[str, Migration] | None:
    """The app's migrations by name; ``None`` when ``MIGRATION_MODULES`` turns them off, and
    none when their module does not exist (yet)."""
    module_name, _explicit = MigrationLoader.migrations_module(app_label)
    if module_name is None:
        return None
    if not _importable(module_name):
        return {}
    migrations = {}
    for info in pkgutil.iter_modules(import_module(module_name).__path__):
        if info.ispkg or info.name[0] in "_~":
            continue
        module = import_module(f"{module_name}.{info.name}")
        if hasattr(module, "Migration"):
            migrations[info.name] = module.Migration(info.name, app_label)
    for migration in list(migrations.values()):
        # A squashed migration stands for the ones it replaces.
        for _app, replaced in migration.replaces:
            migrations.pop(replaced, None)
    return migrations


def _importable(module_name: str) -> bool:
    """Whether ``module_name`` is a package that imports (a migrations folder)."""
    try:
        return hasattr(import_module(module_name), "__path__")
    except ImportError:
        return False


def _in_dependency_order(migrations: dict[str, Migration], app_label: str) -> list[str]:
    order: list[str] = []

    def visit(name: str) -> None:
        if name in migrations and name not in order:
            for dependency_app, dependency in migrations[name].dependencies:
                if dependency_app == app_label and dependency not in order:
                    visit(dependency)
            order.append(name)

    for name in sorted(migrations):
        visit(name)
    return order
