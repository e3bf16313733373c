"""System checks: settings the app cannot work with are reported at startup."""

from django.conf import settings
from django.core.checks import Error, register

from . import conf
from .exceptions import ConfigurationError


@register()
def check_settings(app_configs=None, **kwargs) -> list[Error]:
    errors = []
    readers = (
        conf.resend_limit,
        conf.batch_size,
        conf.claim_lease_seconds,
        conf.max_per_second,
        conf.max_stored_errors,
        conf.retry_base_delay,
        conf.retry_max_delay,
        conf.user_language_resolver,
    )
    for number, reader in enumerate(readers, start=1):
        try:
            reader()
        except ConfigurationError as error:
            errors.append(Error(str(error), id=f"messaging.E00{number}"))
    tasks = getattr(settings, "TASKS", {})
    rq_queues = getattr(settings, "RQ_QUEUES", {})
    for alias, options in tasks.items():
        if options.get("BACKEND", "").startswith("django_tasks_rq."):
            missing = set(options.get("QUEUES", ["default"])) - set(rq_queues)
            if missing:
                errors.append(
                    Error(
                        f"TASKS[{alias!r}] uses queues {sorted(missing)} that RQ_QUEUES lacks.",
                        hint="Add every queue listed in TASKS to RQ_QUEUES.",
                        id="messaging.E010",
                    )
                )
    return errors


@register()
def check_bounce_settings(app_configs=None, **kwargs) -> list[Error]:
    """The bounce settings (``messaging.E020``, ``messaging.E021``)."""
    errors = []
    for number, reader in ((20, conf.bounce_address), (21, conf.max_delivery_events)):
        try:
            reader()
        except ConfigurationError as error:
            errors.append(Error(str(error), id=f"messaging.E0{number}"))
    return errors
