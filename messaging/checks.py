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
        conf.reconnect_limit,
    )
    # The original product's settings and the user resolvers: E011 onwards (E010 is taken).
    later_readers = (
        conf.task_queue,
        conf.send_email_to_users,
        conf.email_signature,
        conf.subject_prefix,
        conf.from_email,
        conf.user_emails_resolver,
        conf.user_context_resolver,
    )
    numbered = [*enumerate(readers, start=1), *enumerate(later_readers, start=11)]
    for number, reader in numbered:
        try:
            reader()
        except ConfigurationError as error:
            errors.append(Error(str(error), id=f"messaging.E{number:03d}"))
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
