"""The record of every message and of every email sent for it."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.db.models import Case, Exists, F, Func, OuterRef, Q, When
from django.http import HttpResponse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from wagtail.fields import RichTextField
from wagtail.models import PreviewableMixin

from . import conf, queueing
from .rendering import html_to_plain, render_preview, validate_template


def default_message_type() -> list[str]:
    return ["email"]


class MessageTemplate(PreviewableMixin, models.Model):
    """An email written by editors, in every language of the site.

    ``subject``, ``body`` and ``body_text`` are translated with django-modeltranslation
    (``subject_en``, ``subject_nb``, ...). Application code refers to a template by ``key``.
    ``full_clean()`` refuses text that the restricted template engine would not render.
    """

    key = models.SlugField(
        _("key"),
        max_length=100,
        unique=True,
        help_text=_("What application code uses to send this template, e.g. 'deadline-moved'."),
    )
    name = models.CharField(_("name"), max_length=255)
    context_type = models.CharField(
        _("context type"), max_length=255, default="other", choices=conf.context_types
    )
    subject = models.CharField(_("subject"), max_length=255)
    body = RichTextField(_("body"))
    body_text = models.TextField(
        _("plain-text body"),
        blank=True,
        help_text=_("Optional. When empty, the plain text is made from the body."),
    )

    class Meta:
        ordering = ["name"]
        verbose_name = _("message template")
        verbose_name_plural = _("message templates")

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        super().clean()
        validate_template(self)

    @property
    def preview_modes(self) -> list[tuple[str, str]]:
        return [(code, str(name)) for code, name in settings.LANGUAGES]

    def serve_preview(self, request, mode_name: str) -> HttpResponse:
        """The email in language ``mode_name`` with the context type's sample values."""
        return HttpResponse(render_preview(self, mode_name))


# A message younger than this is never taken for one whose receivers were deleted.
UNFINISHED_MESSAGE_GRACE = timedelta(hours=1)


class MessageQuerySet(models.QuerySet):
    def filter_message_with_no_message_receivers(self) -> MessageQuerySet:
        """Finished messages that have no receiver left (e.g. after old receivers were deleted).

        Messages being written (``draft``, ``preparing``, ``sending``) and messages younger
        than an hour are never included: their receivers may not be committed yet.
        """
        receivers = MessageReceiver.objects.filter(message=OuterRef("pk"))
        unfinished = [Message.Status.DRAFT, Message.Status.PREPARING, Message.Status.SENDING]
        return self.filter(
            ~Exists(receivers),
            created_datetime__lt=timezone.now() - UNFINISHED_MESSAGE_GRACE,
        ).exclude(status__in=unfinished)

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
        """``Message #1 - Deadline moved - 2026-11-29 00:31``: label and time as the admin shows.

        The time is in the current time zone (the admin user's), like every other date.
        """
        created = self.created_datetime
        if created is not None and timezone.is_aware(created):
            created = timezone.localtime(created)
        when = f"{created:%Y-%m-%d %H:%M}" if created else "-"
        return f"Message #{self.pk} - {self.get_context_type_display()} - {when}"

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


class LastErrorMessage(Func):
    """The ``error_message`` of the newest entry of ``status_data["errors"]``, or NULL.

    Read by the database from the JSON column, so that a listing never loads the stored
    tracebacks. PostgreSQL and SQLite have their own syntax; the fallback is MySQL's.
    """

    output_field = models.TextField()
    template = "JSON_UNQUOTE(JSON_EXTRACT(%(expressions)s, '$.errors[last].error_message'))"

    def __init__(self) -> None:
        super().__init__(F("status_data"))

    def as_postgresql(self, compiler, connection, **extra):
        template = "(%(expressions)s -> 'errors' -> -1 ->> 'error_message')"
        return self.as_sql(compiler, connection, template=template, **extra)

    def as_sqlite(self, compiler, connection, **extra):
        template = "json_extract(%(expressions)s, '$.errors[#-1].error_message')"
        return self.as_sql(compiler, connection, template=template, **extra)


class MessageReceiverQuerySet(models.QuerySet):
    def with_last_error(self) -> MessageReceiverQuerySet:
        """Annotate ``last_error``: the newest error message of failed and error receivers."""
        failing = [MessageReceiver.Status.FAILED, MessageReceiver.Status.ERROR]
        return self.annotate(
            last_error=Case(When(status__in=failing, then=LastErrorMessage()), default=None)
        )

    def filter_old_receivers(self, datetime_obj) -> MessageReceiverQuerySet:
        """Receivers created before ``datetime_obj``."""
        return self.filter(created_datetime__lt=datetime_obj)

    def filter_claimable(self, now=None) -> MessageReceiverQuerySet:
        """Receivers with a send asked for and no live claim by a worker."""
        now = now or timezone.now()
        return self.filter(pending_sends__gt=0).filter(
            Q(claimed_until__isnull=True) | Q(claimed_until__lt=now)
        )

    def request_sends(self, *, message_id: int | None = None) -> int:
        """Ask for one more delivery of each of these receivers; returns how many.

        Delivery is enqueued in batches once the current transaction commits (see
        :func:`messaging.queueing.enqueue_batches`).
        """
        ids = sorted(self.values_list("pk", flat=True))
        now = timezone.now()
        for chunk in queueing.chunked(ids, 1000):
            MessageReceiver.objects.filter(pk__in=chunk).update(
                pending_sends=F("pending_sends") + 1, send_requested_at=now
            )
        if ids:
            transaction.on_commit(lambda: queueing.enqueue_batches(ids, message_id=message_id))
        return len(ids)

    def filter_due_for_resend(self, limit: int, now=None, ignore_backoff=False):
        """``failed`` receivers within the resend limit, idle, whose backoff has passed."""
        now = now or timezone.now()
        queryset = self.filter(
            status=MessageReceiver.Status.FAILED,
            sending_failed_count__lte=limit,
            pending_sends=0,
            claimed_until__isnull=True,
        )
        if not ignore_backoff:
            queryset = queryset.filter(
                Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now)
            )
        return queryset


class MessageReceiver(models.Model):
    """One email to one user: what was sent, to which address, and how delivery went."""

    class Status(models.TextChoices):
        NOT_SENT = "not_sent", _("Not sent")  # prepared, waiting to be sent
        FAILED = "failed", _("Failed")  # an attempt failed; it will be retried automatically
        ERROR = "error", _("Error")  # past the resend limit or refused for good; look into it
        SENT = "sent", _("Sent")  # the mail server accepted the email
        # The user gets this context type as a daily digest: the email waits, with its
        # content, until the digest covering it is sent; then it becomes ``sent``
        # (``digested_into`` names the digest). Never sent on its own.
        DIGEST_PENDING = "digest_pending", _("Waiting for digest")

    class DeliveryStatus(models.TextChoices):
        """What happened after the relay accepted the email, as bounces and reports tell."""

        UNKNOWN = "unknown", _("Unknown")  # no report yet: the usual state of a sent email
        DELIVERED = "delivered", _("Delivered")  # the receiving server said it delivered it
        DELAYED = "delayed", _("Delayed")  # a server is still trying (a 4.x.x report)
        BOUNCED = "bounced", _("Bounced")  # delivery failed for good (a 5.x.x report)
        COMPLAINED = "complained", _("Complained")  # the user reported the email as spam

    message = models.ForeignKey(
        Message, verbose_name=_("message"), on_delete=models.CASCADE, related_name="receivers"
    )
    # Deleting a user deletes their receivers: they hold the user's personal data.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="message_receivers",
    )
    # Every address of the user the email went to, comma-separated (MESSAGING_USER_EMAILS).
    send_to = models.TextField(_("send to"), blank=True)
    language = models.CharField(_("language"), max_length=16, blank=True, db_index=True)
    subject = models.CharField(_("subject"), max_length=998, blank=True)
    message_content_html = models.TextField(_("HTML content"), blank=True)
    message_content_plain = models.TextField(_("plain-text content"), blank=True)
    message_type = models.CharField(
        _("message type"), max_length=32, default="email", db_index=True
    )
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.NOT_SENT
    )
    status_data = models.JSONField(_("status data"), default=dict, blank=True)
    metadata = models.JSONField(_("metadata"), default=dict, blank=True)
    created_datetime = models.DateTimeField(_("created"), default=timezone.now, db_index=True)
    sent_datetime = models.DateTimeField(_("sent"), null=True, blank=True, db_index=True)
    sending_failed_count = models.PositiveIntegerField(_("failed count"), default=0)
    sending_success_count = models.PositiveIntegerField(_("success count"), default=0)
    delivery_status = models.CharField(
        _("delivery status"),
        max_length=16,
        choices=DeliveryStatus.choices,
        default=DeliveryStatus.UNKNOWN,
        help_text=_("What bounces and reports said after the mail server accepted the email."),
    )
    delivery_events = models.JSONField(
        _("delivery events"),
        default=list,
        blank=True,
        help_text=_("Reports about this email, oldest first: event, status, diagnostic, source."),
    )
    delivery_updated_at = models.DateTimeField(
        _("delivery status updated"), null=True, blank=True, editable=False
    )
    # Notification preferences (messaging.preferences): the digest receiver that carried
    # this email to a user who chose a daily digest.
    digested_into = models.ForeignKey(
        "self",
        verbose_name=_("sent in digest"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="digested",
        editable=False,
    )

    # Delivery bookkeeping, internal: sends asked for and not yet taken by a worker,
    # the worker's lease, and when a transient failure may be retried.
    pending_sends = models.PositiveIntegerField(default=0, editable=False)
    send_requested_at = models.DateTimeField(null=True, blank=True, editable=False)
    claimed_until = models.DateTimeField(null=True, blank=True, editable=False)
    claim_token = models.CharField(max_length=32, blank=True, editable=False)
    next_attempt_at = models.DateTimeField(null=True, blank=True, editable=False)

    objects = MessageReceiverQuerySet.as_manager()

    class Meta:
        ordering = ["-created_datetime", "-id"]
        verbose_name = _("message receiver")
        verbose_name_plural = _("message receivers")
        permissions = [("resend_messagereceiver", _("Can resend message receivers"))]
        indexes = [
            models.Index(fields=["status", "-created_datetime"], name="msg_rcv_status_created"),
            models.Index(
                fields=["status", "sending_failed_count", "next_attempt_at"],
                name="msg_rcv_resend",
            ),
            models.Index(fields=["pending_sends", "claimed_until"], name="msg_rcv_claim"),
            models.Index(fields=["claimed_until"], name="msg_rcv_lease"),
            # The admin: counts per status of a page of messages, and recent failures.
            models.Index(fields=["message", "status"], name="msg_rcv_message_status"),
            models.Index(fields=["status", "send_requested_at"], name="msg_rcv_status_requested"),
            # The dashboard's bounces of the last 24 h and the delivery status filter.
            models.Index(
                fields=["delivery_status", "delivery_updated_at"], name="msg_rcv_delivery"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.subject} -> {self.send_to or self.user}"

    def clean(self) -> None:
        super().clean()
        if not self.message_content_plain and self.message_content_html:
            self.message_content_plain = html_to_plain(self.message_content_html)

    @property
    def errors(self) -> list[dict]:
        """Failed attempts, newest first."""
        return list(reversed((self.status_data or {}).get("errors", [])))

    def send(self) -> None:
        """Ask for one delivery of this email; it is enqueued when the transaction commits."""
        if self.pk is None:
            raise ValueError("Save this receiver before sending it: send() needs its id.")
        MessageReceiver.objects.filter(pk=self.pk).request_sends()


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
