from datetime import timedelta

import pytest
from django.utils import timezone

from messaging.models import Message, MessageReceiver
from tests.factories import make_message, make_receiver, make_user

pytestmark = pytest.mark.django_db


def test_message_create_without_arguments_has_documented_defaults():
    message = Message.objects.create()
    message.refresh_from_db()
    assert message.status == "draft"
    assert message.context_type == "other"
    assert message.message_type == ["email"]
    assert message.status_data == {}
    assert message.metadata == {}
    assert message.created_by is None
    assert message.template is None


def test_receiver_create_with_message_and_user():
    receiver = MessageReceiver.objects.create(message=Message.objects.create(), user=make_user())
    receiver.refresh_from_db()
    assert receiver.status == "not_sent"
    assert receiver.message_type == "email"
    assert (receiver.sending_failed_count, receiver.sending_success_count) == (0, 0)
    assert receiver.sent_datetime is None


def test_full_clean_fills_plain_text_from_html():
    receiver = MessageReceiver(
        message=Message.objects.create(),
        user=make_user(),
        subject="Hello",
        message_content_html="<p>Hello <strong>Ola</strong></p><p><a href='https://x.org/a'>link</a></p>",
    )
    receiver.full_clean()
    assert receiver.message_content_plain == "Hello **Ola**\n\n[link](<https://x.org/a>)\n"


def test_full_clean_keeps_given_plain_text():
    receiver = MessageReceiver(
        message=Message.objects.create(),
        user=make_user(),
        message_content_html="<p>html</p>",
        message_content_plain="mine",
    )
    receiver.full_clean()
    assert receiver.message_content_plain == "mine"


def test_filter_old_receivers():
    message = make_message()
    old = make_receiver(message, created_datetime=timezone.now() - timedelta(days=10))
    make_receiver(message)
    found = MessageReceiver.objects.filter_old_receivers(timezone.now() - timedelta(days=5))
    assert list(found) == [old]


def test_filter_message_with_no_message_receivers():
    old = timezone.now() - timedelta(hours=2)
    empty = make_message(created_datetime=old)
    full = make_message(created_datetime=old)
    make_receiver(full)
    assert list(Message.objects.filter_message_with_no_message_receivers()) == [empty]


@pytest.mark.parametrize(
    "status,age",
    [
        ("draft", timedelta(days=2)),
        ("preparing", timedelta(days=2)),
        ("sending", timedelta(days=2)),
        ("sent", timedelta(minutes=50)),
        ("error", timedelta(minutes=50)),
    ],
)
def test_messages_being_written_or_young_are_never_empty_ones(status, age):
    """Their receivers may not be committed yet (issue 9: cleanup raced send_message)."""
    make_message(status, created_datetime=timezone.now() - age)
    assert list(Message.objects.filter_message_with_no_message_receivers()) == []


def test_resend_permission_is_declared():
    from django.contrib.auth.models import Permission

    assert Permission.objects.filter(
        codename="resend_messagereceiver", content_type__app_label="messaging"
    ).exists()


@pytest.mark.parametrize(
    "name,value,check_id",
    [
        ("MESSAGING_RESEND_LIMIT", -1, "messaging.E001"),
        ("MESSAGING_MAX_STORED_ERRORS", -3, "messaging.E005"),
        ("MESSAGING_RETRY_BASE_DELAY", "soon", "messaging.E006"),
        ("MESSAGING_USER_LANGUAGE", "nowhere.to_be_found", "messaging.E008"),
    ],
)
def test_bad_settings_are_reported_at_startup_under_fixed_ids(settings, name, value, check_id):
    from messaging.checks import check_settings

    setattr(settings, name, value)
    [error] = check_settings()
    assert error.id == check_id
    assert name in error.msg


def test_every_field_has_a_translated_verbose_name():
    """The admin shows each field by its verbose name, in the user's language."""
    from django.apps import apps
    from django.utils.functional import Promise

    untranslated = [
        f"{model.__name__}.{field.name}"
        for model in apps.get_app_config("messaging").get_models()
        for field in model._meta.get_fields()
        if field.concrete and not field.auto_created and not isinstance(field.verbose_name, Promise)
    ]
    assert untranslated == []
