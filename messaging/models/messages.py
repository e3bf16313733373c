"""A message: one send of a template (or direct content) to many users."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import models
from django.db.models import Exists, OuterRef
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
        unfinished = [Message.Status.DRAFT, Message.Status.PREPARING, Message.Status.SENDING]
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


class Message(models.Model):
    """One thing said to many users; each email of it is a :class:`MessageReceiver`."""

    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")  # created, nothing prepared yet
        PREPARING = "preparing", _("Preparing")  # receivers are being created
        SENDING = "sending", _("Sending")  # delivery is enqueued; receivers are being sent
        SENT = "sent", _("Sent")  # every receiver was attempted at least once
        ERROR = "error", _("Error")  # preparing or enqueuing failed; see status_data

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

    objects = MessageQuerySet.as_manager()

    class Meta:
        ordering = ["-created_datetime"]
        verbose_name = _("message")
        verbose_name_plural = _("messages")

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
        self, user_ids: list, *, enqueued: bool, status_data: dict | None = None
    ) -> None:
        """Receivers for ``user_ids`` exist: ``sending`` when delivery is enqueued or held
        for a digest, else ``sent`` (nothing to send, e.g. every receiver refused by the kill
        switch). ``status_data``, when given, replaces the stored one (the skipped users)."""
        self.status = self.Status.SENDING if enqueued else self.Status.SENT
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
