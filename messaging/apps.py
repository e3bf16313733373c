from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MessagingConfig(AppConfig):
    name = "messaging"
    verbose_name = _("Messaging")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import (
            checks,  # noqa: F401  (registers the system checks)
            signals,
        )
        from .bounces import anymail
        from .preferences import digests

        anymail.connect()
        # A sent digest marks the emails it covers sent.
        signals.receiver_sent.connect(digests.on_receiver_sent, dispatch_uid="messaging.digests")
