"""The messaging app's admin: the Wagtail admin pages and the read-only Django admin.

Django's admin autodiscovery imports this package; importing it registers the Django
admin pages (:mod:`.django_admin`). The Wagtail pieces are registered by
``messaging/wagtail_hooks.py``.
"""

from . import django_admin  # noqa: F401  (registers with django.contrib.admin)
