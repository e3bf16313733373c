"""The success write exists twice: as an ORM update and as a prepared PostgreSQL statement.

Both are run on twin rows (the same receiver, claimed by the same kind of token, at the
same instant) and every column is compared, so the two can never drift apart.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from messaging.delivery.deferred_writes import PipelinedWrites
from messaging.delivery.outcomes import record_success
from messaging.models import Message, MessageReceiver
from tests.factories import make_user

pytestmark = pytest.mark.django_db(transaction=True)


def claimed_twin(message: Message, user, token: str) -> MessageReceiver:
    now = timezone.now()
    return MessageReceiver.objects.create(
        message=message,
        user=user,
        send_to="old@example.org",
        subject="Deadline moved",
        message_content_html="<p>Hi</p>",
        message_content_plain="Hi",
        status=MessageReceiver.Status.FAILED,
        sending_failed_count=1,
        sending_success_count=2,
        next_attempt_at=now + timedelta(minutes=5),
        claimed_until=now + timedelta(minutes=10),
        claim_token=token,
        pending_sends=0,
        status_data={"errors": [{"error_message": "421 busy"}]},
        failing_since=now - timedelta(hours=1),
    )


def columns(receiver: MessageReceiver) -> dict:
    receiver.refresh_from_db()
    values = {f.attname: getattr(receiver, f.attname) for f in receiver._meta.concrete_fields}
    values.update(created_datetime=None, id=None, claim_token=None)  # differ by design
    return values


def test_the_prepared_success_write_changes_every_column_as_the_orm_write(
    require_postgres, monkeypatch
):
    user = make_user()
    message = Message.objects.create(status=Message.Status.SENDING)
    orm_twin = claimed_twin(message, user, "a" * 32)
    sql_twin = claimed_twin(message, user, "b" * 32)
    instant = timezone.now().replace(microsecond=123456)
    monkeypatch.setattr(timezone, "now", lambda: instant)

    assert record_success(orm_twin, "a" * 32, "new@example.org, second@example.org", "backup")
    writes = PipelinedWrites()
    writes.defer(sql_twin, "b" * 32, "new@example.org, second@example.org", "backup")
    writes.flush()

    orm, sql = columns(orm_twin), columns(sql_twin)
    assert orm == sql
    assert orm["status"] == "sent" and orm["sent_datetime"] == instant
    assert orm["sending_success_count"] == 3 and orm["claimed_until"] is None
    assert orm["sent_via"] == "backup" and orm["failing_since"] is None


def test_neither_write_touches_a_row_whose_claim_was_lost(require_postgres):
    user = make_user()
    message = Message.objects.create(status=Message.Status.SENDING)
    orm_twin = claimed_twin(message, user, "a" * 32)
    sql_twin = claimed_twin(message, user, "b" * 32)
    before = columns(orm_twin), columns(sql_twin)

    assert not record_success(orm_twin, "c" * 32, "new@example.org", "backup")
    writes = PipelinedWrites()
    writes.defer(sql_twin, "c" * 32, "new@example.org", "backup")
    writes.flush()

    assert (columns(orm_twin), columns(sql_twin)) == before
