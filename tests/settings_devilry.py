"""Test settings with a user model shaped like the original product's (``devilry_account``).

Run with ``pytest --ds=tests.settings_devilry tests/devilry``. The messaging settings are
the README's recipe for the original product; ``tests/devilry_account/messaging_recipe.py``
is its code.
"""

from config.settings_test import *  # noqa: F403
from config.settings_test import INSTALLED_APPS

INSTALLED_APPS = ["tests.devilry_account", *INSTALLED_APPS]
AUTH_USER_MODEL = "devilry_account.User"

# The README's recipe.
EMAIL_SUBJECT_PREFIX = "[Devilry] "
MESSAGING_USER_EMAILS = "tests.devilry_account.messaging_recipe.user_emails"
MESSAGING_USER_CONTEXT = "tests.devilry_account.messaging_recipe.user_context"
MESSAGING_USER_LANGUAGE = "tests.devilry_account.messaging_recipe.user_language"
MESSAGING_SUBJECT_PREFIX = EMAIL_SUBJECT_PREFIX
MESSAGING_USER_SEARCH_FIELDS = ["shortname", "fullname", "useremail__email"]
