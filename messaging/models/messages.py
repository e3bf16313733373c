"""A message: one send of a template (or direct content) to many users."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import models
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from .. import conf
from .templates import MessageTemplate, default_message_type

UNFINISHED_MESSAGE_GRACE = timedelta(hours=1)


class MessageQuerySet(models.QuerySet):
    def filter_message_with_no_message_receivers(self) -> MessageQuerySet:
        """Finished messages that have no receiver left (e.g. after old receivers were deleted).

        Messages being written (``draft``, ``preparing``, ``sending``) and messages younger
        than an hour are never included: their receivers may not be committed yet.
        """
        # The receivers' model through the relation: it is defined below this module.
        receiver_model = self.model.receivers.field.model
        receivers = receiver_model.objects.filter(message=OuterRef("pk"))
        unfinished = [
            Message.Status.DRAFT,
            Message.Status.PREPARING,
            Message.Status.SCHEDULED,
            Message.Status.SENDING,
        ]
        return self.filter(
            ~Exists(receivers),
            created_datetime__lt=timezone.now() - UNFINISHED_MESSAGE_GRACE,
        ).exclude(status__in=unfinished)

    def tests(self) -> MessageQuerySet:
        """Editors' tests of a template (``metadata["test"]``): left out of counts."""
        return self.filter(metadata__test=True)

    def without_tests(self) -> MessageQuerySet:
        """Messages sent for real: what a template's usage counts."""
        return self.exclude(pk__in=self.model.objects.tests().values("pk"))

    def mark_sent(self) -> int:
        """Move the ``sending`` messages among these to ``sent``; returns how many moved."""
        return self.filter(status=Message.Status.SENDING).update(status=Message.Status.SENT)

    def mark_started(self) -> int:
        """Move the ``scheduled`` messages among these to ``sending``; returns how many moved."""
        return self.filter(status=Message.Status.SCHEDULED).update(status=Message.Status.SENDING)

    def due_to_start(self, now: datetime) -> MessageQuerySet:
        """``scheduled`` messages whose ``send_at`` has come by ``now``."""
        return self.filter(status=Message.Status.SCHEDULED, send_at__lte=now)

    def expired(self, now: datetime) -> MessageQuerySet:
        """Messages whose ``expires_at`` has passed by ``now``, whatever their status."""
        return self.filter(expires_at__lte=now)


class Message(models.Model):
    """One thing said to many users; each email of it is a :class:`MessageReceiver`."""

    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")  # created, nothing prepared yet
        PREPARING = "preparing", _("Preparing")  # receivers are being created
        # Receivers are prepared, and nothing goes out before ``send_at``; staff may cancel
        # it or change its time.
        SCHEDULED = "scheduled", _("Scheduled")
        SENDING = "sending", _("Sending")  # delivery is enqueued; receivers are being sent
        # Every receiver was attempted at least once (or expired unsent).
        SENT = "sent", _("Sent")
        # Staff stopped it (or cancelled it before its time): its receivers not sent by then
        # are ``cancelled``, what was sent stays sent. Resume sends the rest.
        CANCELLED = "cancelled", _("Cancelled")
        ERROR = "error", _("Error")  # preparing or enqueuing failed; see status_data

    class Priority(models.TextChoices):
        """Which emails workers take first: high before normal before low, on every queue."""

        HIGH = "high", _("High")  # e.g. a password reset: goes before any other waiting email
        NORMAL = "normal", _("Normal")  # the default
        LOW = "low", _("Low")  # e.g. a newsletter: waits until no other email is queued

    created_datetime = models.DateTimeField(_("created"), default=timezone.now, db_index=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.DRAFT, db_index=True
    )
    status_data = models.JSONField(_("status data"), default=dict, blank=True)
    metadata = models.JSONField(_("metadata"), default=dict, blank=True)
    context_type = models.CharField(
        _("context type"),
        max_length=255,
        default="other",
        choices=conf.context_types,
        db_index=True,
    )
    message_type = models.JSONField(_("message type"), default=default_message_type)
    virtual_message_receivers = models.JSONField(
        _("virtual message receivers"), default=dict, blank=True
    )
    template = models.ForeignKey(
        MessageTemplate,
        verbose_name=_("template"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="messages",
    )
    template_context = models.JSONField(_("template context"), default=dict, blank=True)
    # When and in what order (send_message's send_at, expires_at and priority).
    send_at = models.DateTimeField(
        _("send at"),
        null=True,
        blank=True,
        help_text=_("Nothing of this message is sent before this time."),
    )
    expires_at = models.DateTimeField(
        _("expires at"),
        null=True,
        blank=True,
        help_text=_("Receivers not sent by this time become expired and are never sent."),
    )
    priority = models.CharField(
        _("priority"), max_length=8, choices=Priority.choices, default=Priority.NORMAL
    )

    objects = MessageQuerySet.as_manager()

    class Meta:
        ordering = ["-created_datetime"]
        verbose_name = _("message")
        verbose_name_plural = _("messages")
        permissions = [("stop_message", _("Can stop, resume and reschedule messages"))]
        indexes = [
            # Cron's start of scheduled messages whose time has come.
            models.Index(fields=["send_at"], name="msg_scheduled", condition=Q(status="scheduled")),
            # The expiry sweep, and resends refusing every receiver of an expired message.
            models.Index(
                fields=["expires_at"], name="msg_expires", condition=Q(expires_at__isnull=False)
            ),
        ]

    def __str__(self) -> str:
        """``Message #1 – Deadline moved – 2026-11-29 00:31``: label and time as the admin shows.

        In the active language; the time is in the current time zone (the admin user's), like
        every other date.
        """
        created = self.created_datetime
        if created is not None and timezone.is_aware(created):
            created = timezone.localtime(created)
        return gettext("Message #%(number)s – %(context_type)s – %(created)s") % {
            "number": self.pk,
            "context_type": self.get_context_type_display(),
            "created": f"{created:%Y-%m-%d %H:%M}" if created else "-",
        }

    def mark_prepared(
        self,
        user_ids: list,
        *,
        enqueued: bool,
        status_data: dict | None = None,
        scheduled: bool = False,
    ) -> None:
        """Receivers for ``user_ids`` exist: ``sending`` when delivery is enqueued or held
        for a digest (``scheduled`` until ``send_at`` when ``scheduled``), else ``sent``
        (nothing to send, e.g. every receiver refused by the kill switch). ``status_data``,
        when given, replaces the stored one (the skipped users)."""
        waiting = self.Status.SCHEDULED if scheduled else self.Status.SENDING
        self.status = waiting if enqueued else self.Status.SENT
        self.virtual_message_receivers = {"user_ids": user_ids}
        fields = ["status", "virtual_message_receivers"]
        if status_data is not None:
            self.status_data = status_data
            fields.append("status_data")
        self.save(update_fields=fields)

    def mark_error(self, entry: dict) -> None:
        """``error``, with ``entry`` kept among the newest ``MESSAGING_MAX_STORED_ERRORS``."""
        errors = [*self.status_data.get("errors", []), entry]
        self.status_data = {**self.status_data, "errors": errors[-conf.max_stored_errors() :]}
        self.status = self.Status.ERROR
        self.save(update_fields=["status", "status_data"])
