"""Addresses that bounced or complained: never sent to again until removed."""

from __future__ import annotations

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


def normalise_address(address: str) -> str:
    """The form an address is stored and compared in: stripped and lower-cased."""
    return address.strip().lower()


class Suppression(models.Model):
    """An address that is never sent to: it bounced for good or its owner complained.

    ``address`` is stored lower-cased (see :func:`normalise_address`), so the unique
    constraint is case-insensitive. Deleting the entry lifts the suppression.
    """

    class Reason(models.TextChoices):
        BOUNCED = "bounced", _("Bounced")  # a permanent (5.x.x) bounce
        COMPLAINED = "complained", _("Complained")  # the user reported an email as spam
        MANUAL = "manual", _("Added by staff")  # added by hand in the admin

    address = models.CharField(
        _("address"),
        max_length=320,
        unique=True,
        help_text=_("Email address that is never sent to. Stored in lower case."),
    )
    reason = models.CharField(
        _("reason"), max_length=16, choices=Reason.choices, default=Reason.MANUAL
    )
    source = models.CharField(
        _("source"),
        max_length=255,
        blank=True,
        help_text=_("Where the report came from, and what it said."),
    )
    first_seen = models.DateTimeField(_("first seen"), default=timezone.now)
    last_seen = models.DateTimeField(_("last seen"), default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-last_seen"]
        verbose_name = _("suppressed address")
        verbose_name_plural = _("suppressed addresses")

    def __str__(self) -> str:
        return self.address

    def save(self, *args, **kwargs) -> None:
        self.address = normalise_address(self.address)
        super().save(*args, **kwargs)


# --- notification preferences (messaging.preferences) -------------------------------------
