from django.apps import AppConfig


class DevilryAccountConfig(AppConfig):
    """A user model shaped like the original product's, for ``tests.settings_devilry``."""

    name = "tests.devilry_account"
    label = "devilry_account"
    default_auto_field = "django.db.models.BigAutoField"
