"""Daily digests: one email per user gathering the emails held for it.

:func:`send_digests` runs hourly (``manage.py send_digests``). For each user whose local
hour is ``MESSAGING_DIGEST_HOUR`` and who has ``digest_pending`` receivers not yet in a
digest, :func:`compose_digest` creates, in one transaction, a digest receiver (of its own
:class:`Message`, ``metadata["digest"]``), points the covered receivers at it
(``digested_into``) and asks for its send. The covering UPDATE only takes receivers no
digest has taken yet, so a second or concurrent run finds nothing to cover and keeps no
digest. Delivery is the usual one (claims, leases, cron recovery); once the digest is
sent, :func:`settle` marks the covered receivers ``sent``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import F, OuterRef
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import ngettext

from .. import conf, rendering, users
from ..models import Message, MessageReceiver, expire_due, finish_messages
from . import tokens
from .headers import is_digest, message_of

Status = MessageReceiver.Status
BODY_TEMPLATE = "messaging/email/digest_body.html"


@dataclass
class DigestReport:
    """What one run did: digests composed, and the emails they cover."""

    digests: int = 0
    covered: int = 0
    settled: int = 0
    composed: list[MessageReceiver] = field(default_factory=list)  # for the caller to enqueue


def waiting(user_id: Any = None):
    """Receivers held for a digest that no digest has taken yet, of messages whose
    ``send_at`` has come (the run expires those past ``expires_at`` first)."""
    scheduled = Message.objects.filter(status=Message.Status.SCHEDULED).values("pk")
    queryset = MessageReceiver.objects.filter(
        status=Status.DIGEST_PENDING, digested_into__isnull=True
    ).exclude(message_id__in=scheduled)
    return queryset if user_id is None else queryset.filter(user_id=user_id)


def due_users(now: datetime) -> list[Any]:
    """Users with waiting receivers whose local hour is ``MESSAGING_DIGEST_HOUR``."""
    hour = conf.digest_hour()
    user_ids = waiting().order_by().values_list("user_id", flat=True).distinct()
    candidates = get_user_model().objects.filter(pk__in=list(user_ids)).order_by("pk")
    return [user for user in candidates if now.astimezone(users.user_timezone(user)).hour == hour]


def render_digest(user: Any, covered: list[MessageReceiver]) -> rendering.RenderedEmail:
    """The digest in ``user``'s language: each covered email's subject and text."""
    language = users.user_language(user)
    with translation.override(language):
        subject = ngettext(
            "Your daily digest: %(count)d email",
            "Your daily digest: %(count)d emails",
            len(covered),
        ) % {"count": len(covered)}
        context = {"receivers": covered, "preferences_url": tokens.preferences_url()}
        body = render_to_string(BODY_TEMPLATE, context)
        html = rendering.inline_css(rendering.render_layout(body, subject, language))
    plain = rendering.html_to_plain(html)
    return rendering.RenderedEmail(subject=subject, html=html, plain=plain, language=language)


def compose_digest(user: Any, now: datetime) -> tuple[MessageReceiver | None, int]:
    """Create ``user``'s digest with one send asked for; returns it and how many emails it
    covers, or ``(None, 0)`` when nothing is left to cover (another run took it).
    Everything happens in one transaction; the caller enqueues the digest."""
    with transaction.atomic():
        message = Message.objects.create(
            status=Message.Status.SENDING,
            context_type="other",
            metadata={"digest": True},
            virtual_message_receivers={"user_ids": [user.pk]},
        )
        digest = MessageReceiver.objects.create(message=message, user=user, created_datetime=now)
        if not waiting(user.pk).update(digested_into=digest):
            transaction.set_rollback(True)
            return None, 0
        covered = list(digest.digested.order_by("created_datetime", "pk"))
        email = render_digest(user, covered)
        digest.subject = rendering.prefixed_subject(email.subject)
        digest.message_content_html, digest.message_content_plain = email.html, email.plain
        digest.language, digest.send_to = email.language, ", ".join(users.user_emails(user))
        digest.pending_sends, digest.send_requested_at = 1, now
        digest.save()
    return digest, len(covered)


def settle(digest_ids: list[int] | None = None) -> int:
    """Mark the receivers covered by sent digests ``sent`` (as of the digest's send).

    Called when a digest is sent (:func:`on_receiver_sent`) and at the start of each run,
    which also settles digests whose worker died between sending and settling.
    """
    covered = MessageReceiver.objects.filter(
        status=Status.DIGEST_PENDING, digested_into__status=Status.SENT
    )
    if digest_ids is not None:
        covered = covered.filter(digested_into__in=digest_ids)
    sent = MessageReceiver.objects.filter(pk=OuterRef("digested_into_id"))
    message_ids = set(covered.values_list("message_id", flat=True))
    count = covered.update(
        status=Status.SENT,
        sent_datetime=sent.values("sent_datetime")[:1],
        send_to=sent.values("send_to")[:1],
        sending_success_count=F("sending_success_count") + 1,
    )
    finish_messages(message_ids)
    return count


def on_receiver_sent(sender, message_receiver: MessageReceiver, **kwargs) -> None:
    """``receiver_sent`` handler: a sent digest settles the receivers it covers."""
    if is_digest(message_of(message_receiver)):
        settle([message_receiver.pk])


def compose_digests(now: datetime | None = None) -> DigestReport:
    """Compose the digests due at ``now`` (default: the current time), each with one send
    asked for; the caller enqueues ``report.composed`` (see the module)."""
    now = now or timezone.now()
    expire_due(now)  # an expired email never goes out, in a digest either
    report = DigestReport(settled=settle())
    for user in due_users(now):
        digest, covered = compose_digest(user, now)
        if digest is not None:
            report.digests += 1
            report.covered += covered
            report.composed.append(digest)
    return report
