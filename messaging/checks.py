"""System checks: settings the app cannot work with are reported at startup."""

from django.core.checks import Error, register

from . import conf
from .exceptions import ConfigurationError

# Each id is fixed, so a site that silences one keeps silencing the same setting.
SETTING_CHECKS = {
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
    "messaging.E034": conf.bounce_legacy_signatures_until,
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
