"""Users' notification preferences per optional context type."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _

from .. import conf


class NotificationPreference(models.Model):
    """How one user wants the emails of one optional context type.

    Only context types marked ``optional`` in ``MESSAGING_CONTEXT_TYPES`` may have a
    preference; mandatory ones always go out at once. A user without a row gets the
    context type's ``default_mode``.
    """

    class Mode(models.TextChoices):
        IMMEDIATE = "immediate", _("Immediately")  # each email goes out when it is sent
        DAILY = "daily", _("Daily digest")  # gathered into one email a day
        OFF = "off", _("Off")  # not sent; the message records the user as skipped

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        on_delete=models.CASCADE,
        related_name="notification_preferences",
    )
    context_type = models.CharField(_("context type"), max_length=255, choices=conf.context_types)
    mode = models.CharField(_("mode"), max_length=16, choices=Mode.choices)
    updated_datetime = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        ordering = ["user_id", "context_type"]
        verbose_name = _("notification preference")
        verbose_name_plural = _("notification preferences")
        constraints = [
            models.UniqueConstraint(
                fields=["user", "context_type"], name="msg_pref_user_context_type"
            )
        ]

    def __str__(self) -> str:
        return f"{self.user} - {self.get_context_type_display()}: {self.get_mode_display()}"

    def clean(self) -> None:
        super().clean()
        spec = conf.context_type_specs().get(self.context_type)
        if spec is not None and not spec.optional:
            raise ValidationError(
                {
                    "context_type": _(
                        "%(label)s is mandatory: its emails always go out at once, so it "
                        "has no preference. Choose an optional context type."
                    )
                    % {"label": spec.label}
                }
            )
