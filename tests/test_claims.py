"""Claims: a send asked for is taken by exactly one worker, even around a dead one's claim."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from messaging.api import request_sends
from messaging.delivery import deliver
from messaging.delivery.claims import claim
from messaging.models import Message, MessageReceiver

pytestmark = pytest.mark.django_db


def test_send_asked_for_while_a_dead_claim_waits_is_not_lost(make_user, settings):
    """A worker died holding the claim; staff resend before cron recovers it: two sends."""
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.dummy.DummyBackend"}}
    receiver = MessageReceiver.objects.create(
        message=Message.objects.create(status="sending"), user=make_user(), subject="Hi"
    )
    request_sends([receiver.pk])
    claim([receiver.pk], "dead-worker")
    past = timezone.now() - timedelta(seconds=1)
    MessageReceiver.objects.filter(pk=receiver.pk).update(claimed_until=past)
    request_sends([receiver.pk])
    deliver([receiver.pk])
    deliver([receiver.pk])
    receiver.refresh_from_db()
    assert (receiver.sending_success_count, receiver.pending_sends) == (2, 0)
    assert receiver.claimed_until is None


def test_the_claim_refuses_what_may_not_go_now(make_receiver):
    now = timezone.now()
    hour = timedelta(hours=1)
    cases = {
        "scheduled": Message.objects.create(status="scheduled", send_at=now + hour),
        "expired": Message.objects.create(status="sending", expires_at=now - hour),
        "due": Message.objects.create(status="sending", send_at=now - hour, expires_at=now + hour),
    }
    asked = {"pending_sends": 1, "send_requested_at": now}
    ids = {name: make_receiver(message, **asked).pk for name, message in cases.items()}
    ids["cancelled"] = make_receiver(status="cancelled", **asked).pk
    claimed = claim(list(ids.values()), "worker")
    assert [receiver.pk for receiver in claimed] == [ids["due"]]
