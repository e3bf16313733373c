"""A deprecation warning raised from our own code is an error; a library's own stays a
warning (pyproject.toml, [tool.pytest.ini_options] filterwarnings)."""

from __future__ import annotations

import warnings

import pytest
from django.conf import settings
from django.utils import deprecation

from config.mail import EMAIL_SETTINGS, HAS_MAILERS

# Whichever the installed Django has: RemovedInDjango60Warning on 5.2, RemovedInDjango2028Warning
# on 6.1 (and the others each names).
DJANGO_DEPRECATIONS = sorted(
    {
        value
        for name, value in vars(deprecation).items()
        if name.startswith("RemovedIn") and isinstance(value, type) and issubclass(value, Warning)
    },
    key=lambda category: category.__name__,
)


def warn_from(module: str, category: type[Warning]) -> list[warnings.WarningMessage]:
    """Warn as if ``module`` had used a deprecated API; returns what was shown, not raised."""
    with warnings.catch_warnings(record=True) as shown:
        warnings.warn_explicit("deprecated", category, f"{module}.py", 1, module, registry={})
    return shown


@pytest.mark.parametrize("category", DJANGO_DEPRECATIONS, ids=lambda category: category.__name__)
def test_a_django_deprecation_warning_from_our_code_is_an_error(category):
    with pytest.raises(category):
        warnings.warn("deprecated", category, stacklevel=1)  # from tests.test_deprecations


@pytest.mark.parametrize("module", ["messaging.delivery.smtp", "config.settings", "tests"])
@pytest.mark.parametrize("category", [DeprecationWarning, PendingDeprecationWarning])
def test_every_package_of_ours_is_covered(module, category):
    with pytest.raises(category):
        warn_from(module, category)


@pytest.mark.parametrize("module", ["wagtail.admin.views", "django.core.mail", "messaging_extra"])
@pytest.mark.parametrize("category", DJANGO_DEPRECATIONS, ids=lambda category: category.__name__)
def test_a_librarys_own_deprecation_warning_stays_a_warning(module, category):
    assert [shown.category for shown in warn_from(module, category)] == [category]


def test_the_demo_the_tests_and_the_benchmarks_configure_the_mailer_of_their_django(smtp_server):
    """MAILERS on Django 6.1, EMAIL_* on 5.2: 6.1 deprecates EMAIL_* and refuses both at once."""
    import config.settings
    import config.settings_test
    from config.benchmarks.send import sink_settings

    configured = {
        "config.settings": vars(config.settings),
        "config.settings_test": vars(config.settings_test),
        "sink_settings": sink_settings(smtp_server.port).options,
        "smtp_server": {name: None for name in EMAIL_NAMES | {"MAILERS"} if is_set(name)},
    }
    for where, names in configured.items():
        mailers, email = "MAILERS" in names, sorted(EMAIL_NAMES & set(names))
        assert (mailers, email) == ((True, []) if HAS_MAILERS else (False, email)), where
        assert HAS_MAILERS or "EMAIL_BACKEND" in email, where


EMAIL_NAMES = {"EMAIL_BACKEND", *EMAIL_SETTINGS.values()}


def is_set(name: str) -> bool:
    # Read nothing: reading an EMAIL_* setting warns on Django 6.1.
    return settings.is_overridden(name) and name in dir(settings)
