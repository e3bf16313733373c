"""Small factories for tests: every argument has a default, every factory returns saved rows.

Give a test only the values it is about; the defaults stand for an ordinary user, template,
message or email. Names and addresses are unique across the test run, so factories can be
called any number of times in one test.
"""

from __future__ import annotations

import itertools
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser

from messaging.models import Message, MessageReceiver, MessageTemplate

Status = MessageReceiver.Status

# Stands for "make a new user" where None means "a receiver without a user".
NEW_USER: Any = object()

_numbers = itertools.count(1)


def make_user(
    username: str | None = None, *, email: str | None = None, language: str = "", **fields
) -> AbstractBaseUser:
    """A user with password ``pw``; ``email`` defaults to ``<username>@example.org``.

    ``language`` sets the Wagtail profile's preferred language (empty: the site's default).
    Other keyword arguments are fields of the user model (``first_name``, ``is_staff``, ...).
    """
    username = username or f"user{next(_numbers)}"
    email = f"{username}@example.org" if email is None else email
    user = get_user_model().objects.create_user(
        username=username, email=email, password="pw", **fields
    )
    if language:
        from wagtail.users.models import UserProfile

        profile = UserProfile.get_for_user(user)
        profile.preferred_language = language
        profile.save()
    return user


TEMPLATE_DEFAULTS = {
    "name": "Deadline",
    "subject_en": "Deadline for {{ assignment }}",
    "subject_nb": "Frist for {{ assignment }}",
    "body_en": "<p>Dear {{ user.first_name }}, {{ assignment }} is due.</p>",
    "body_nb": "<p>Hei {{ user.first_name }}, {{ assignment }} har frist.</p>",
}


def make_template(key: str = "deadline", **fields) -> MessageTemplate:
    """A published template in English and Norwegian using ``user.first_name`` and
    ``assignment``."""
    return publish(MessageTemplate.objects.create(key=key, **{**TEMPLATE_DEFAULTS, **fields}))


def publish(template: MessageTemplate, **fields) -> MessageTemplate:
    """``template`` with ``fields`` changed and published, as code or a migration could
    (without the checks of the editor's form); returns it as stored."""
    for name, value in fields.items():
        setattr(template, name, value)
    template.save_revision(clean=False).publish()
    template.refresh_from_db()
    return template


def make_message(status: str = Message.Status.SENT, **fields) -> Message:
    """A message (by default one whose receivers were all attempted)."""
    return Message.objects.create(status=status, **fields)


def _receiver(message: Message | None, user, fields: dict) -> MessageReceiver:
    """An unsaved receiver with the defaults filled in."""
    if user is NEW_USER:
        user = make_user(email=fields.pop("email", None))
    status = fields.setdefault("status", Status.NOT_SENT)
    if message is None:
        # A receiver still to be sent belongs to a message being sent.
        waiting = status in (Status.NOT_SENT, Status.FAILED)
        message = make_message(Message.Status.SENDING if waiting else Message.Status.SENT)
    fields.setdefault("send_to", user.email if user else "")
    fields.setdefault("subject", "Deadline moved")
    fields.setdefault("message_content_html", "<p>Hello</p>")
    fields.setdefault("message_content_plain", "Hello\n")
    return MessageReceiver(message=message, user=user, **fields)


def make_receiver(message: Message | None = None, user=NEW_USER, **fields) -> MessageReceiver:
    """One email to one user.

    By default a new user (``email=`` picks the address) gets a ``not_sent`` email of a
    new message; ``user=None`` makes a receiver without a user. ``send_to`` defaults to the
    user's address. Other keyword arguments are :class:`MessageReceiver` fields.
    """
    receiver = _receiver(message, user, fields)
    receiver.save()
    return receiver


def make_receivers(
    count: int, message: Message | None = None, users=None, **fields
) -> list[MessageReceiver]:
    """``count`` receivers of one message (new unless given), each to its own new user.

    ``users`` gives the users instead (``count`` is then ignored). Rows are inserted with
    one ``bulk_create``; the returned rows carry their primary keys.
    """
    if message is None:
        message = _receiver(None, None, dict(fields)).message
    if users is None:
        users = [make_user() for _ in range(count)]
    rows = [_receiver(message, user, dict(fields)) for user in users]
    return MessageReceiver.objects.bulk_create(rows)
