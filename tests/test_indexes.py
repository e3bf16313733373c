"""The receivers' partial indexes: rows being sent stay out of them, and every query that
needs one can use it (PostgreSQL must prove the query implies the index's condition)."""

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from messaging.admin.views.dashboard import failed_since
from messaging.models import MessageReceiver
from tests.factories import make_receiver

Status = MessageReceiver.Status


def index_names(sql: str, params) -> set[str]:
    """The indexes PostgreSQL's plan for ``sql`` reads, with sequential scans ruled out."""
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(f"EXPLAIN {sql}", params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    return {word for word in plan.replace("(", " ").split() if word.startswith("msg_rcv_")}


def plan_uses(queryset, only: str) -> set[str]:
    """The indexes the plan of ``queryset`` reads when ``only`` is the receivers' one index
    left: the others are dropped inside the test's transaction, which rolls back. So the
    answer depends on whether PostgreSQL can prove the query implies the index's condition,
    not on which index the table's statistics (left by earlier tests) make cheaper."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT i.relname FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid "
            "JOIN pg_class t ON t.oid = x.indrelid "
            "WHERE t.relname = %s AND NOT x.indisprimary AND NOT x.indisunique "
            "AND i.relname <> %s",
            [MessageReceiver._meta.db_table, only],
        )
        for (name,) in cursor.fetchall():
            cursor.execute(f'DROP INDEX "{name}"')
    sql, params = queryset.values("pk").query.sql_with_params()
    return index_names(sql, params)


def now():
    return timezone.now()


QUERIES = {
    "msg_rcv_claim": lambda: MessageReceiver.objects.filter_claimable(now()),
    "msg_rcv_lease": lambda: MessageReceiver.objects.filter(claimed_until__lt=now()),
    "msg_rcv_resend": lambda: MessageReceiver.objects.filter_due_for_resend(3, now()),
    "msg_rcv_status_requested": lambda: MessageReceiver.objects.filter(
        failed_since(now() - timedelta(days=1))
    ),
    "msg_rcv_delivery": lambda: MessageReceiver.objects.filter(
        delivery_status=MessageReceiver.DeliveryStatus.BOUNCED,
        delivery_updated_at__gte=now() - timedelta(days=1),
    ),
    "msg_rcv_digested": lambda: MessageReceiver.objects.filter(digested_into__in=[1, 2, 3]),
}


@pytest.mark.parametrize("index", list(QUERIES))
def test_each_query_can_use_its_partial_index(require_postgres, index):
    make_receiver()
    assert index in plan_uses(QUERIES[index](), only=index)


def partial_index_rows(index: str) -> int:
    """How many live rows the condition of ``index`` takes in (its rows in the table)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_get_expr(indpred, indrelid) FROM pg_index "
            "JOIN pg_class ON pg_class.oid = indexrelid WHERE relname = %s",
            [index],
        )
        [[condition]] = cursor.fetchall()
        cursor.execute(f"SELECT count(*) FROM messaging_messagereceiver WHERE {condition}")
        return cursor.fetchone()[0]


def test_a_sent_receiver_is_in_no_partial_index(require_postgres):
    make_receiver(status=Status.SENT, sent_datetime=timezone.now())
    make_receiver(pending_sends=1)  # waiting for a worker
    make_receiver(claimed_until=timezone.now(), claim_token="t")  # being sent
    make_receiver(status=Status.FAILED, sending_failed_count=1)
    assert {index: partial_index_rows(index) for index in QUERIES} == {
        "msg_rcv_claim": 1,
        "msg_rcv_lease": 1,
        "msg_rcv_resend": 1,
        "msg_rcv_status_requested": 1,
        "msg_rcv_delivery": 0,
        "msg_rcv_digested": 0,
    }


def test_the_receivers_list_sorted_by_language_can_use_an_index(require_postgres):
    make_receiver()
    by_language = MessageReceiver.objects.order_by("language", "pk")[:50]
    assert "msg_rcv_language" in plan_uses(by_language, only="msg_rcv_language")
