"""The health of each mail relay and the shared sending budgets, seen by every worker.

One row per mailer (a ``MAILERS`` alias on Django 6.1, ``"default"`` for the ``EMAIL_*``
settings): whether it is up, since when it is down and why, when it is probed next and
when it last took an email. Workers, the admin and ``messaging_status`` all read it.
"""

from __future__ import annotations

from datetime import timedelta

from django.db import models
from django.utils.translation import gettext_lazy as _


class RelayState(models.Model):
    """One mailer's health: ``up`` or ``down``, with what the admin and monitoring show."""

    class State(models.TextChoices):
        UP = "up", _("Up")  # sending normally
        # Several sends in a row failed for a reason of the relay's own: nothing is claimed
        # for it, and one worker probes it until it answers again.
        DOWN = "down", _("Down")

    mailer = models.CharField(_("mailer"), max_length=100, unique=True)
    state = models.CharField(_("state"), max_length=8, choices=State.choices, default=State.UP)
    consecutive_failures = models.PositiveIntegerField(_("failures in a row"), default=0)
    first_failure_at = models.DateTimeField(
        _("first failure"), null=True, blank=True, help_text=_("The first of these failures.")
    )
    down_since = models.DateTimeField(_("down since"), null=True, blank=True)
    reason = models.TextField(_("reason"), blank=True)
    last_success_at = models.DateTimeField(_("last success"), null=True, blank=True)
    next_probe_at = models.DateTimeField(_("next check"), null=True, blank=True)
    probe_interval = models.DurationField(_("probe interval"), default=timedelta(0))
    # The worker that probes it now, and until when (another takes over after that).
    probe_claimed_until = models.DateTimeField(
        _("probe claimed until"), null=True, blank=True, editable=False
    )
    # Every outage's length added up (the MESSAGING_GIVE_UP_AFTER budget leaves it out).
    downtime_total = models.DurationField(_("time down in all"), default=timedelta(0))

    class Meta:
        verbose_name = _("relay state")
        verbose_name_plural = _("relay states")

    def __str__(self) -> str:
        return f"{self.mailer}: {self.get_state_display()}"


class RateBucket(models.Model):
    """A token bucket shared by every worker: ``MESSAGING_MAX_PER_SECOND`` per mailer."""

    mailer = models.CharField(_("mailer"), max_length=100, unique=True)
    tokens = models.FloatField(_("tokens"), default=0.0)
    updated_at = models.DateTimeField(_("updated"), null=True, blank=True)

    class Meta:
        verbose_name = _("rate bucket")
        verbose_name_plural = _("rate buckets")

    def __str__(self) -> str:
        return self.mailer


class DomainSlowdown(models.Model):
    """A recipient domain whose server asked us to slow down (a 4xx rate-limit reply):
    sends to it are spaced by ``interval`` until ``until``; other domains are not."""

    mailer = models.CharField(_("mailer"), max_length=100)
    domain = models.CharField(_("domain"), max_length=255)
    interval = models.DurationField(_("interval between sends"))
    next_send_at = models.DateTimeField(_("next send"), null=True, blank=True)
    until = models.DateTimeField(_("slowed until"))
    reason = models.TextField(_("reason"), blank=True)

    class Meta:
        verbose_name = _("slowed-down domain")
        verbose_name_plural = _("slowed-down domains")
        constraints = [
            models.UniqueConstraint(fields=["mailer", "domain"], name="msg_slowdown_unique")
        ]

    def __str__(self) -> str:
        return f"{self.domain} ({self.mailer})"
