"""A message receiver: one email to one user, with its content and delivery record."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.conf import settings
from django.db import models
from django.db.models import Case, F, Func, Q, When
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from ..rendering import html_to_plain
from .messages import Message

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise


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


def record_link(to: str, verbose_name: StrOrPromise, related_name: str = "+") -> models.ForeignKey:
    """A link a receiver keeps for the record: optional, never edited, set to NULL when
    its target is deleted (the email keeps its content). Most receivers have none, so it
    has a partial index in ``Meta`` instead of a full one."""
    return models.ForeignKey(
        to,
        verbose_name=verbose_name,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name=related_name,
        editable=False,
        db_index=False,
    )


class MessageReceiverQuerySet(models.QuerySet):
    def with_last_error(self) -> MessageReceiverQuerySet:
        """Annotate ``last_error``: the newest error message of failed and error receivers."""
        failing = [MessageReceiver.Status.FAILED, MessageReceiver.Status.ERROR]
        return self.annotate(
            last_error=Case(When(status__in=failing, then=LastErrorMessage()), default=None)
        )

    def without_tests(self) -> MessageReceiverQuerySet:
        """Receivers of real messages: editors' tests of a template left out."""
        return self.exclude(message__in=Message.objects.tests().values("pk"))

    def filter_old_receivers(self, datetime_obj) -> MessageReceiverQuerySet:
        """Receivers created before ``datetime_obj``."""
        return self.filter(created_datetime__lt=datetime_obj)

    def filter_claimable(self, now=None) -> MessageReceiverQuerySet:
        """Receivers with a send asked for and no live claim by a worker, that may go now:
        neither cancelled nor expired, their message's ``send_at`` come and its
        ``expires_at`` not passed."""
        now = now or timezone.now()
        return (
            self.filter(pending_sends__gt=0)
            .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
            .exclude(status__in=MessageReceiver.STOPPED)
            .filter(Q(message__send_at__isnull=True) | Q(message__send_at__lte=now))
            .filter(Q(message__expires_at__isnull=True) | Q(message__expires_at__gt=now))
        )

    def filter_waiting(self) -> MessageReceiverQuerySet:
        """Receivers not sent yet that still may be: to be sent, retried, or held for a
        digest no digest has taken yet (one that did is on its way in the digest)."""
        return self.filter(status__in=MessageReceiver.WAITING, digested_into__isnull=True)

    def held_for_digest(self) -> MessageReceiverQuerySet:
        """Receivers that waited for a digest before they were cancelled: never asked for
        on their own (``send_requested_at`` unset) and never attempted."""
        return self.filter(
            send_requested_at__isnull=True, sending_success_count=0, sending_failed_count=0
        )

    def mark_cancelled(self) -> int:
        """``cancelled``, with no send asked for; a worker's claim is kept, so an email it
        is sending at this moment is still recorded ``sent``."""
        return self.update(status=MessageReceiver.Status.CANCELLED, pending_sends=0)

    def mark_expired(self) -> int:
        """``expired``, with no send asked for and no retry due (claims kept, as above)."""
        return self.update(
            status=MessageReceiver.Status.EXPIRED, pending_sends=0, next_attempt_at=None
        )

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
        # Not sent by its message's expiry time (``Message.expires_at``): never sent after
        # it, by a worker, cron, a resend or a digest.
        EXPIRED = "expired", _("Expired")
        # Staff stopped (or cancelled) its message before it was sent; Resume on the
        # message sends it.
        CANCELLED = "cancelled", _("Cancelled")

    # Not sent yet, and may still be; and never to be sent (unless a cancelled one is
    # resumed).
    WAITING = (Status.NOT_SENT, Status.FAILED, Status.DIGEST_PENDING)
    STOPPED = (Status.CANCELLED, Status.EXPIRED)

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
    language = models.CharField(_("language"), max_length=16, blank=True)
    subject = models.CharField(_("subject"), max_length=998, blank=True)
    message_content_html = models.TextField(_("HTML content"), blank=True)
    message_content_plain = models.TextField(_("plain-text content"), blank=True)
    message_type = models.CharField(_("message type"), max_length=32, default="email")
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
    digested_into = record_link("self", _("sent in digest"), related_name="digested")
    # The template revision this email was rendered from (a published one, or the draft
    # of an editor's test); null for content given directly and after the template's
    # deletion, which deletes its revisions (the email keeps its content).
    template_revision = record_link("wagtailcore.Revision", _("template revision"))

    # Delivery bookkeeping, internal: sends asked for and not yet taken by a worker,
    # the worker's lease, and when a transient failure may be retried.
    pending_sends = models.PositiveIntegerField(_("pending sends"), default=0, editable=False)
    send_requested_at = models.DateTimeField(
        _("send requested at"), null=True, blank=True, editable=False
    )
    claimed_until = models.DateTimeField(_("claimed until"), null=True, blank=True, editable=False)
    claim_token = models.CharField(_("claim token"), max_length=32, blank=True, editable=False)
    next_attempt_at = models.DateTimeField(
        _("next attempt at"), null=True, blank=True, editable=False
    )
    # The mailer (a MESSAGING_MAILERS alias) that accepted the email.
    sent_via = models.CharField(_("sent via"), max_length=100, blank=True, editable=False)
    # The first failed attempt of the current run of failures (MESSAGING_GIVE_UP_AFTER
    # counts from it; an outage of every relay moves it on by the outage's length).
    failing_since = models.DateTimeField(_("failing since"), null=True, blank=True, editable=False)

    objects = MessageReceiverQuerySet.as_manager()

    class Meta:
        ordering = ["-created_datetime", "-id"]
        verbose_name = _("message receiver")
        verbose_name_plural = _("message receivers")
        permissions = [("resend_messagereceiver", _("Can resend message receivers"))]
        # A worker's claim and its success write each change indexed columns, so each
        # writes a new entry into every index whose condition the row meets. The indexes
        # that only some rows need are partial: a receiver being sent is in none of them.
        indexes = [
            models.Index(fields=["status", "-created_datetime"], name="msg_rcv_status_created"),
            # Cron's resends: failed receivers within the limit whose backoff has passed.
            models.Index(
                fields=["status", "sending_failed_count", "next_attempt_at"],
                name="msg_rcv_resend",
                condition=Q(status="failed"),
            ),
            # Claims and stranded sends: receivers with a send asked for.
            models.Index(
                fields=["pending_sends", "claimed_until"],
                name="msg_rcv_claim",
                condition=Q(pending_sends__gt=0),
            ),
            # Expired leases.
            models.Index(
                fields=["claimed_until"],
                name="msg_rcv_lease",
                condition=Q(claimed_until__isnull=False),
            ),
            # The admin: counts per status of a page of messages, and recent failures.
            models.Index(fields=["message", "status"], name="msg_rcv_message_status"),
            models.Index(
                fields=["status", "send_requested_at"],
                name="msg_rcv_status_requested",
                condition=Q(status__in=["failed", "error"]),
            ),
            # The dashboard's bounces of the last 24 h and the delivery status filter: only
            # emails some report was about.
            models.Index(
                fields=["delivery_status", "delivery_updated_at"],
                name="msg_rcv_delivery",
                condition=~Q(delivery_status="unknown"),
            ),
            # The admin's receivers list sorts by language (no pattern-ops twin: nothing
            # searches it with LIKE).
            models.Index(fields=["language"], name="msg_rcv_language"),
            # Covered receivers of a digest, set to NULL when it is deleted.
            models.Index(
                fields=["digested_into"],
                name="msg_rcv_digested",
                condition=Q(digested_into__isnull=False),
            ),
            # Receivers of a deleted template's revisions, set to NULL.
            models.Index(
                fields=["template_revision"],
                name="msg_rcv_revision",
                condition=Q(template_revision__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.subject} → {self.send_to or self.user}"

    def clean(self) -> None:
        super().clean()
        if not self.message_content_plain and self.message_content_html:
            self.message_content_plain = html_to_plain(self.message_content_html)

    @property
    def errors(self) -> list[dict]:
        """Failed attempts, newest first."""
        return list(reversed((self.status_data or {}).get("errors", [])))
