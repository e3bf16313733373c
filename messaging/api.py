"""What application code calls to send email to users."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from itertools import islice
from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django.template.loader import render_to_string
from django.utils import timezone, translation
from wagtail.log_actions import log
from wagtail.models import Revision

from . import conf, preferences, rendering, sends, timing
from .delivery import classify, mark_message_error
from .delivery.recipients import check_sending_enabled
from .exceptions import SendingDisabledError, TemplateNotFoundError
from .models import Message, MessageReceiver, MessageTemplate
from .rendering.layout import with_signature
from .tasks import enqueue_batches
from .users import user_emails

#: The history entry of every message sent (Wagtail's log, see messaging.admin.history).
SEND_ACTION = "messaging.send"


def send_message(
    template: str | MessageTemplate | Revision | None = None,
    users: Iterable[Any] = (),
    context: Mapping[str, Any] | None = None,
    context_type: str | None = None,
    created_by: Any = None,
    *,
    subject: str | None = None,
    html: str | None = None,
    plain: str | None = None,
    metadata: Mapping[str, Any] | None = None,
    language: str | None = None,
    send_at: datetime | None = None,
    expires_at: datetime | None = None,
    priority: str | None = None,
) -> Message:
    """Record a message to ``users`` and enqueue its delivery; returns the :class:`Message`.

    ``users`` may be any iterable (a list, a generator) or a queryset; it is read once, in
    chunks, so memory does not grow with the number of users.

    Give either ``template``, rendered for each user in the user's language (or in
    ``language``) with ``context``, or ``subject`` and ``html`` (and optionally ``plain``)
    sent as they are. A template (a :class:`MessageTemplate` or its ``key``) is sent in
    its live version, the last published revision: :class:`TemplateNotFoundError` when it
    has none. A :class:`~wagtail.models.Revision` of a template (a draft, for an editor's
    test) is sent as it is. Each receiver records the revision it was rendered from.

    Receivers are created in one transaction and delivery is enqueued in batches after it
    commits. When preparing fails, no receiver is kept, the message is marked ``error``
    with the traceback, and the error is raised. The send is logged in Wagtail's history
    (``messaging.send``) on the template, else on the message.

    When and in what order (see :mod:`messaging.timing`): with ``send_at`` still to come,
    the message is ``scheduled``, its receivers are prepared now and nothing is sent before
    then. Receivers not sent by ``expires_at`` (default: the context type's
    ``expires_after`` after the start) become ``expired`` and are never sent. ``priority``
    (``high``, ``normal`` or ``low``; default: the context type's) orders the queue.

    Control characters (C0 but tab, line feed and carriage return) are removed from the
    context, the rendered or given HTML and text; in ``subject``, ``context_type`` or
    ``metadata``, which are stored as given, they raise a
    :class:`~messaging.exceptions.ControlCharacterError` (a ``ValueError``) before
    anything is stored. See :mod:`messaging.rendering.controls`.
    """
    check_given_text(subject=subject, context_type=context_type, metadata=metadata)
    template_obj, revision = template_version(template) if template is not None else (None, None)
    context_type = context_type or getattr(template_obj, "context_type", None) or "other"
    when = timing.resolve(context_type, send_at, expires_at, priority, timezone.now())
    message = Message.objects.create(
        status=Message.Status.PREPARING,
        context_type=context_type,
        created_by=created_by,
        template=template_obj,
        template_context=rendering.plain_context(context or {}),
        virtual_message_receivers={"user_ids": []},
        metadata=dict(metadata or {}),
        send_at=when.send_at,
        expires_at=when.expires_at,
        priority=when.priority,
    )
    try:
        count = prepare_receivers(
            message, users, template_obj, subject, html, plain, revision=revision, language=language
        )
    except Exception as error:
        mark_message_error(message.pk, error, stage="prepare")
        raise
    log_send(message, template_obj, revision, count)
    return message


def check_given_text(**given: Any) -> None:
    """Refuse control characters in what ``send_message`` stores as the caller gave it."""
    for what, value in given.items():
        rendering.check_no_controls(value, what)


def request_sends(receiver_ids: Iterable[int], *, message_id: int | None = None) -> int:
    """Ask for one more delivery of each receiver; returns how many were asked for.

    Delivery is enqueued in batches once the current transaction commits, with each
    message's priority. Expired and cancelled receivers are not asked for (a stopped
    message is resumed as a whole, from the admin).
    """
    receivers = MessageReceiver.objects.filter(pk__in=sorted(set(receiver_ids)))
    return sends.request_sends(receivers, message_id=message_id)


def template_version(
    template: str | MessageTemplate | Revision,
) -> tuple[MessageTemplate, Revision]:
    """The template as it is sent, and its revision: a revision given as it is, else the
    live version of the template given or named by key."""
    if isinstance(template, Revision):
        return template.as_object(), template
    return get_template(template).live_version()


def get_template(template: str | MessageTemplate) -> MessageTemplate:
    """The template given, or the one with that ``key``; a clear error when there is none."""
    if isinstance(template, MessageTemplate):
        return template
    found = MessageTemplate.objects.filter(key=template).first()
    if found is None:
        raise TemplateNotFoundError(
            f"No message template has the key {template!r}. Create it under "
            "Snippets > Message templates, or fix the key in the calling code."
        )
    return found


PREPARE_CHUNK = 500  # users rendered and inserted at a time: memory stays flat


def user_chunks(users: Iterable[Any], size: int) -> Iterator[list[Any]]:
    """``users`` in lists of at most ``size``, read lazily (a queryset through a cursor)."""
    if isinstance(users, QuerySet):
        users = users.iterator(chunk_size=size)
    remaining = iter(users)
    while chunk := list(islice(remaining, size)):
        yield chunk


def prepare_receivers(
    message: Message,
    users: Iterable[Any],
    template: MessageTemplate | None,
    subject: str | None,
    html: str | None,
    plain: str | None,
    *,
    revision: Revision | None = None,
    language: str | None = None,
) -> int:
    """Create every receiver and enqueue them after commit, or create none; returns how
    many were created.

    The message records the users' ids in ``virtual_message_receivers``. Receivers of a
    template record ``revision``; ``language`` renders every one in that language.
    """
    if template is None:
        rendering.check_direct(subject, html, plain)
        html, plain = signed_direct(html, plain)
    compiled: dict = {}
    now = timezone.now()
    requested_at, scheduled = now, False  # when the first send is due
    if message.send_at is not None and message.send_at > now:
        requested_at, scheduled = message.send_at, True
    ids: list[int] = []
    user_ids: list[Any] = []
    modes = preferences.ModeSplit(message.context_type)
    with transaction.atomic():
        for chunk in user_chunks(users, PREPARE_CHUNK):
            chunk = modes.split(chunk)  # users who turned this type off get nothing
            if template is not None:
                emails = rendering.render_for_users(
                    template, chunk, message.template_context, compiled, language
                )
            else:
                emails = rendering.render_direct(chunk, subject, html, plain)
            emails = modes.with_footer(chunk, emails)
            ids += modes.hold_daily(
                insert_receivers(message, chunk, emails, requested_at, revision)
            )
            user_ids += [user.pk for user in chunk]
        if not conf.send_email_to_users():
            ids = []  # recorded as refused by the kill switch: nothing is enqueued
        message.mark_prepared(
            user_ids,
            enqueued=bool(ids or modes.held),
            status_data=modes.record(message.status_data),
            scheduled=scheduled,
        )
        transaction.on_commit(
            lambda: enqueue_batches(
                ids, message_id=message.pk, priority=message.priority, run_after=message.send_at
            )
        )
    return len(user_ids)


SIGNATURE_HTML = "messaging/email/signature.html"
END_OF_BODY = re.compile(r"</body\s*>", re.IGNORECASE)


def signed_direct(html: str | None, plain: str | None) -> tuple[str | None, str | None]:
    """Content given by application code, signed as every email is.

    The signature (``MESSAGING_EMAIL_SIGNATURE``, in the active language, the one recorded on
    the receivers) goes at the end of the HTML's body, escaped with its line breaks kept, and
    after a plain text given; a plain text made from the HTML then has it too.
    """
    language = translation.get_language() or conf.default_language()
    signature = conf.email_signature(language)
    if not signature:
        return html, plain
    if html:
        block = render_to_string(SIGNATURE_HTML, {"signature": signature})
        ends = [match.start() for match in END_OF_BODY.finditer(html)]
        at = ends[-1] if ends else len(html)
        html = html[:at] + block + html[at:]
    return html, with_signature(plain, language) if plain else plain


def insert_receivers(
    message: Message,
    users: list[Any],
    emails: list[rendering.RenderedEmail],
    now: datetime,
    revision: Revision | None = None,
) -> list[int]:
    """Insert one receiver per user with its rendered email and one send asked for at
    ``now`` (a scheduled message's ``send_at``).

    While ``MESSAGING_SEND_EMAIL_TO_USERS`` is off, each is recorded as ``error`` with the
    reason instead, and no send is asked for: only a deliberate resend sends it later.
    """
    prefix, state = conf.subject_prefix(), delivery_state(now)
    receivers = MessageReceiver.objects.bulk_create(
        [
            MessageReceiver(
                message=message,
                user=user,
                send_to=", ".join(user_emails(user)) if user is not None else "",
                language=email.language,
                subject=rendering.prefixed_subject(email.subject, prefix),
                message_content_html=email.html,
                message_content_plain=email.plain,
                template_revision=revision,
                **state,
            )
            for user, email in zip(users, emails, strict=True)
        ]
    )
    return [receiver.pk for receiver in receivers]


def delivery_state(now: datetime) -> dict[str, Any]:
    """The delivery fields of a new receiver: one send asked for, or the kill switch's error."""
    try:
        check_sending_enabled()
    except SendingDisabledError as error:
        return {
            "status": MessageReceiver.Status.ERROR,
            "sending_failed_count": 1,
            "status_data": {"errors": [classify(error).entry()]},
        }
    return {"pending_sends": 1, "send_requested_at": now}


def log_send(
    message: Message, template: MessageTemplate | None, revision: Revision | None, count: int
) -> None:
    """Record in Wagtail's history who sent the message, to how many, from which template."""
    data: dict[str, Any] = {
        "message": message.pk,
        "receivers": count,
        "skipped": len(message.status_data.get("skipped", [])),
        "test": bool(message.metadata.get("test")),
    }
    if template is not None:
        revision_id = revision.pk if revision is not None else None
        data["template"] = {"id": template.pk, "key": template.key, "revision": revision_id}
    log(template or message, SEND_ACTION, user=message.created_by, data=data)
