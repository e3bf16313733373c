"""Delivery of single receivers through the tasks framework, on locmem and real SMTP."""

import smtplib

import pytest
from django.core import mail
from django.test import override_settings

from config.mail import local_smtp, mail_settings
from messaging import conf
from messaging.api import request_sends
from messaging.models import Message, MessageReceiver

pytestmark = pytest.mark.django_db
FAILING = "tests.test_sending.FailingBackend"
WRONG_LOGIN = {"username": "mailer", "password": "wrong-password"}


@pytest.fixture
def receiver_for(make_user):
    def make(email="ola@example.org", **fields):
        user = make_user(email=email)
        return MessageReceiver.objects.create(
            message=Message.objects.create(status="sending"),
            user=user,
            subject=fields.pop("subject", "Deadline moved"),
            message_content_html=fields.pop("html", "<p>The deadline <b>moved</b>.</p>"),
            message_content_plain=fields.pop("plain", "The deadline moved."),
            **fields,
        )

    return make


def test_send_delivers_html_and_plain_and_records_success(receiver_for, on_commit):
    receiver = receiver_for()
    on_commit(request_sends, [receiver.pk])
    receiver.refresh_from_db()
    assert receiver.status == "sent"
    assert receiver.sending_success_count == 1
    assert receiver.sent_datetime is not None
    assert receiver.send_to == "ola@example.org"
    assert receiver.claimed_until is None
    [email] = mail.outbox
    assert email.to == ["ola@example.org"]
    assert email.subject == "Deadline moved"
    assert email.body == "The deadline moved."
    assert email.alternatives[0][0] == "<p>The deadline <b>moved</b>.</p>"
    assert email.alternatives[0][1] == "text/html"


def test_send_is_enqueued_only_after_commit(receiver_for, django_capture_on_commit_callbacks):
    receiver = receiver_for()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        request_sends([receiver.pk])
    assert len(callbacks) == 1
    assert mail.outbox == []
    callbacks[0]()
    assert len(mail.outbox) == 1


def test_user_without_address_is_a_recorded_failure(receiver_for, on_commit):
    receiver = receiver_for(email="")
    on_commit(request_sends, [receiver.pk])
    receiver.refresh_from_db()
    assert receiver.status == "error"  # resending cannot help until the address is fixed
    assert receiver.sending_failed_count == 1
    [error] = receiver.status_data["errors"]
    assert "has no email address" in error["error_message"]
    assert "Add one to the user" in error["error_message"]
    assert "InvalidRecipientError" in error["exception_traceback"]
    assert mail.outbox == []


def test_invalid_address_is_a_recorded_failure(receiver_for, on_commit):
    receiver = receiver_for(email="not an address")
    on_commit(request_sends, [receiver.pk])
    receiver.refresh_from_db()
    assert receiver.status == "error"
    assert "invalid email address" in receiver.status_data["errors"][0]["error_message"]


def test_subject_line_breaks_are_removed(receiver_for, on_commit):
    receiver = receiver_for(subject="Hello\r\nBcc: victim@example.org")
    on_commit(request_sends, [receiver.pk])
    assert mail.outbox[0].subject == "Hello Bcc: victim@example.org"
    assert mail.outbox[0].message()["Bcc"] is None
    assert mail.outbox[0].recipients() == ["ola@example.org"]


class FailingBackend:
    """A mail backend that raises the error its class attribute names."""

    error: Exception = smtplib.SMTPServerDisconnected("Connection unexpectedly closed")

    def __init__(self, *args, **kwargs):
        pass

    def open(self):
        return True

    def close(self):
        pass

    def send_messages(self, messages):
        raise self.error


@override_settings(**mail_settings(FAILING), MESSAGING_RESEND_LIMIT=2)
def test_failures_count_up_and_become_error_past_the_limit(receiver_for, on_commit):
    receiver = receiver_for()
    statuses = []
    for _attempt in range(3):
        on_commit(request_sends, [receiver.pk])
        receiver.refresh_from_db()
        statuses.append((receiver.status, receiver.sending_failed_count))
    assert statuses == [("failed", 1), ("failed", 2), ("error", 3)]
    errors = receiver.status_data["errors"]
    assert len(errors) == 3
    assert {"error_message", "timestamp", "exception_traceback"} <= set(errors[0])
    assert errors[0]["timestamp"].startswith(str(receiver.created_datetime.year))
    assert "Traceback (most recent call last)" in errors[0]["exception_traceback"]
    assert "SMTPServerDisconnected" in errors[0]["exception_traceback"]


def test_only_the_newest_errors_are_kept(receiver_for, on_commit, settings, use_mailer):
    # One mechanism per test: the settings fixture would restore a decorator's values.
    use_mailer(FAILING)
    settings.MESSAGING_MAX_STORED_ERRORS = 2
    settings.MESSAGING_RESEND_LIMIT = 10
    receiver = receiver_for()
    for _attempt in range(4):
        on_commit(request_sends, [receiver.pk])
    receiver.refresh_from_db()
    assert receiver.sending_failed_count == 4
    assert len(receiver.status_data["errors"]) == 2


def test_secrets_never_stored(receiver_for, on_commit, use_mailer, monkeypatch):
    use_mailer(FAILING, password="hunter2-very-secret")
    monkeypatch.setattr(
        FailingBackend, "error", smtplib.SMTPException("login as x with hunter2-very-secret")
    )
    receiver = receiver_for()
    on_commit(request_sends, [receiver.pk])
    receiver.refresh_from_db()
    assert "hunter2-very-secret" not in str(receiver.status_data)
    assert "********" in receiver.status_data["errors"][0]["error_message"]


def test_resend_limit_default_and_fallback(settings):
    if hasattr(settings, "MESSAGING_RESEND_LIMIT"):
        del settings.MESSAGING_RESEND_LIMIT
    assert conf.resend_limit() == 2
    settings.DEVILRY_MESSAGE_RESEND_LIMIT = 5
    assert conf.resend_limit() == 5
    settings.MESSAGING_RESEND_LIMIT = 1
    assert conf.resend_limit() == 1


def test_site_settings_do_not_pin_the_resend_limit():
    import config.settings

    assert not hasattr(config.settings, "MESSAGING_RESEND_LIMIT")


@override_settings(**mail_settings(FAILING), DEVILRY_MESSAGE_RESEND_LIMIT=0)
def test_devilry_limit_is_honoured_when_ours_is_unset(receiver_for, on_commit):
    receiver = receiver_for()
    on_commit(request_sends, [receiver.pk])
    receiver.refresh_from_db()
    assert (receiver.status, receiver.sending_failed_count) == ("error", 1)


# --- against a real SMTP server ------------------------------------------------------


def test_real_smtp_delivery(receiver_for, on_commit, smtp_server):
    receiver = receiver_for(email="kari@example.org")
    on_commit(request_sends, [receiver.pk])
    receiver.refresh_from_db()
    assert receiver.status == "sent"
    assert smtp_server.handler.deliveries == {"kari@example.org": 1}
    [email] = smtp_server.handler.messages
    assert email["Subject"] == "Deadline moved"
    assert email.is_multipart()
    types = [part.get_content_type() for part in email.walk()]
    assert "text/plain" in types and "text/html" in types


def test_real_smtp_permanent_refusal_is_error_at_once(receiver_for, on_commit, smtp_server):
    receiver = receiver_for(email="nobody+550@example.org")
    on_commit(request_sends, [receiver.pk])
    receiver.refresh_from_db()
    assert (receiver.status, receiver.sending_failed_count) == ("error", 1)
    error = receiver.status_data["errors"][0]
    assert error["smtp_code"] == 550
    assert "550" in error["error_message"] and "no such user" in error["error_message"]
    assert receiver.next_attempt_at is None


@pytest.mark.parametrize("tag,code", [("421", 421), ("451", 451), ("drop", None), ("stall", None)])
def test_real_smtp_transient_failures_are_failed_with_backoff(
    receiver_for, on_commit, smtp_server, tag, code
):
    receiver = receiver_for(email=f"someone+{tag}@example.org")
    on_commit(request_sends, [receiver.pk])
    receiver.refresh_from_db()
    # A 421 closes the connection: the batch reconnects and tries that receiver once more.
    attempts = 2 if code == 421 else 1
    assert (receiver.status, receiver.sending_failed_count) == ("failed", attempts)
    assert receiver.next_attempt_at is not None
    error = receiver.status_data["errors"][0]
    assert error["smtp_code"] == code
    assert error["permanent"] is False


def test_one_failure_does_not_stop_the_others(make_user, on_commit, smtp_server):
    from messaging.api import send_message

    users = [
        make_user(email="a@example.org"),
        make_user(email=""),
        make_user(email="b+550@example.org"),
        make_user(email="c@example.org"),
    ]
    message = on_commit(send_message, users=users, subject="Hi", html="<p>Hi</p>")
    statuses = dict(message.receivers.values_list("user__email", "status"))
    assert statuses == {
        "a@example.org": "sent",
        "": "error",
        "b+550@example.org": "error",
        "c@example.org": "sent",
    }
    assert smtp_server.handler.deliveries == {"a@example.org": 1, "c@example.org": 1}
    message.refresh_from_db()
    assert message.status == "sent"


def test_one_batch_reuses_one_connection(make_user, on_commit, smtp_server):
    from messaging.api import send_message

    # Refused recipients and users without an address do not cost a new connection.
    users = [make_user(), make_user(email="x+550@example.org"), make_user(), make_user(email="")]
    users += [make_user(email="y+451@example.org"), make_user()]
    on_commit(send_message, users=users, subject="Hi", html="<p>Hi</p>")
    assert smtp_server.handler.total() == 3
    assert smtp_server.handler.sessions == 1


def test_auth_not_offered_is_the_relays_fault_and_burns_no_sends(
    make_user, on_commit, smtp_server, use_mailer
):
    from messaging.api import send_message
    from messaging.models import RelayState

    # The test server offers no AUTH: logging in fails for every receiver the same way.
    login = {"username": "mailer", "password": "s3cret-password"}
    use_mailer(**local_smtp(smtp_server.port, timeout=1, **login))
    users = [make_user() for _ in range(4)]
    message = on_commit(send_message, users=users, subject="Hi", html="<p>Hi</p>")
    # Each attempt counts once on its receiver, which keeps its send for when the relay
    # works; four faults in a row are not yet MESSAGING_RELAY_FAILURES (5).
    counts = sorted(message.receivers.values_list("sending_failed_count", flat=True))
    assert counts == [1, 1, 1, 1]
    pending = sorted(message.receivers.values_list("pending_sends", flat=True))
    assert pending == [1, 1, 1, 1]
    relay = RelayState.objects.get(mailer="default")
    assert (relay.state, relay.consecutive_failures) == ("up", 4)
    assert "s3cret-password" not in str(list(message.receivers.values_list("status_data")))


@pytest.mark.parametrize("setting", [True, False], ids=["setting-on", "setting-off"])
def test_pipelining_is_used_when_the_server_offers_it_and_the_setting_allows(
    make_user, on_commit, smtp_server, settings, setting
):
    from messaging.api import send_message

    settings.MESSAGING_SMTP_PIPELINING = setting
    users = [make_user(), make_user(email="x+550@example.org"), make_user()]
    message = on_commit(send_message, users=users, subject="Hi", html="<p>Hi</p>")
    expected = 3 if smtp_server.handler.pipelining and setting else 0
    assert smtp_server.handler.pipelined_envelopes == expected
    assert sorted(message.receivers.values_list("status", flat=True)) == ["error", "sent", "sent"]
    assert smtp_server.handler.total() == 2


def test_authentication_refused_535_is_the_relays_fault_and_burns_no_sends(
    make_user, on_commit, use_mailer
):
    from messaging.api import send_message
    from messaging.testing.smtp import SMTPServer

    with SMTPServer(refuse_logins=True) as server:
        use_mailer(**local_smtp(server.port, timeout=5, **WRONG_LOGIN))
        users = [make_user() for _ in range(3)]
        message = on_commit(send_message, users=users, subject="Hi", html="<p>Hi</p>")
    receivers = list(message.receivers.order_by("pk"))
    assert [r.sending_failed_count for r in receivers] == [1, 1, 1]
    assert receivers[0].status == "failed"  # the setup is wrong, not the recipient
    error = receivers[0].status_data["errors"][0]
    assert error["smtp_code"] == 535 and "SMTPAuthenticationError" in error["exception_class"]
    assert error["relay_fault"] is True
    assert [r.pending_sends for r in receivers] == [1, 1, 1]
    assert server.handler.total() == 0


@pytest.mark.django_db(transaction=True)
def test_postgresql_workers_record_successes_pipelined(require_postgres, make_user, smtp_server):
    """A worker in autocommit sends each UPDATE without waiting and waits before the next email."""
    from messaging.api import send_message
    from messaging.delivery.deferred_writes import PipelinedWrites, status_writes

    assert isinstance(status_writes(deferred=True), PipelinedWrites)
    users = [make_user() for _ in range(4)] + [make_user(email="z+550@example.org")]
    message = send_message(users=users, subject="Hi", html="<p>Hi</p>")
    statuses = sorted(message.receivers.values_list("status", flat=True))
    assert statuses == ["error", "sent", "sent", "sent", "sent"]
    assert not message.receivers.filter(claimed_until__isnull=False).exists()
    assert message.receivers.filter(status="sent", sent_datetime__isnull=False).count() == 4
    assert message.receivers.filter(status="sent", sending_success_count=1).count() == 4
    assert smtp_server.handler.total() == 4


@pytest.mark.django_db(transaction=True)
def test_postgresql_success_write_is_prepared_once_per_connection(
    require_postgres, make_user, smtp_server
):
    """The success UPDATE is parsed and planned once per database connection, not per email,
    and a connection opened anew prepares it again."""
    from django.db import connection

    from messaging.api import send_message

    def prepared() -> list[tuple[str, int]]:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT name, generic_plans + custom_plans FROM pg_prepared_statements "
                "WHERE name = 'messaging_record_success'"
            )
            return cursor.fetchall()

    first = send_message(users=[make_user() for _ in range(3)], subject="Hi", html="<p>Hi</p>")
    second = send_message(users=[make_user() for _ in range(2)], subject="Hi", html="<p>Hi</p>")
    assert prepared() == [("messaging_record_success", 5)]  # one statement, five executions
    assert first.receivers.filter(status="sent").count() == 3
    assert second.receivers.filter(status="sent").count() == 2
    connection.close()
    third = send_message(users=[make_user()], subject="Hi", html="<p>Hi</p>")
    assert third.receivers.get().status == "sent"
    assert prepared() == [("messaging_record_success", 1)]
    assert smtp_server.handler.total() == 6


# --- issue 9: per-connection limits, drops after DATA, secrets, retry timing -----------


def pending_receivers(make_user, addresses: list[str]) -> list[int]:
    message = Message.objects.create(status="sending")
    return [
        MessageReceiver.objects.create(
            message=message,
            user=make_user(email=address),
            subject="Hi",
            message_content_plain="Hi",
            pending_sends=1,
        ).pk
        for address in addresses
    ]


@pytest.fixture(params=[True, False], ids=["pipelining", "no-pipelining"])
def limited_smtp(request, use_mailer):
    """A real server that closes each connection with 421 after 3 emails."""
    from messaging.testing.smtp import FaultInjectingHandler, SMTPServer

    handler = FaultInjectingHandler(pipelining=request.param, messages_per_connection=3)
    with SMTPServer(handler) as server:
        use_mailer(**local_smtp(server.port, timeout=2))
        yield server


def test_per_connection_limit_reconnects_and_delivers_the_whole_batch(make_user, limited_smtp):
    from messaging.delivery import deliver

    ids = pending_receivers(make_user, [f"u{i}@example.org" for i in range(10)])
    outcome = deliver(ids)
    assert (outcome["sent"], outcome["released"], outcome["reconnects"]) == (10, 0, 3)
    assert limited_smtp.handler.total() == 10
    assert limited_smtp.handler.connections_closed_at_limit == 3
    receivers = MessageReceiver.objects.filter(pk__in=ids).order_by("pk")
    assert {r.status for r in receivers} == {"sent"}
    assert not receivers.filter(pending_sends__gt=0).exists()
    # The receivers that got the 421 keep the record of that failed attempt.
    refused = [r for r in receivers if r.sending_failed_count]
    assert [r.pk for r in refused] == [ids[3], ids[6], ids[9]]
    [entry] = refused[0].status_data["errors"]
    assert (entry["smtp_code"], entry["kind"], entry["permanent"]) == (421, "closing", False)


def test_reconnects_per_batch_are_bounded_then_the_rest_is_released(
    make_user, limited_smtp, settings
):
    from messaging.delivery import deliver

    settings.MESSAGING_RECONNECT_LIMIT = 1
    ids = pending_receivers(make_user, [f"u{i}@example.org" for i in range(10)])
    outcome = deliver(ids)
    assert (outcome["sent"], outcome["reconnects"], outcome["released"]) == (6, 1, 3)
    assert "421" in outcome["batch_error"]
    rows = dict(MessageReceiver.objects.filter(pk__in=ids).values_list("pk", "status"))
    assert [rows[pk] for pk in ids] == ["sent"] * 6 + ["failed"] + ["not_sent"] * 3
    seventh = MessageReceiver.objects.get(pk=ids[6])
    assert seventh.next_attempt_at is not None and seventh.claimed_until is None
    assert list(
        MessageReceiver.objects.filter(pk__in=ids[7:]).values_list("pending_sends", flat=True)
    ) == [1, 1, 1]
    assert limited_smtp.handler.total() == 6


@pytest.mark.parametrize(
    ("tag", "ambiguous", "delivered"),
    [("dropdata", True, 1), ("dropatdata", False, 0), ("drop", False, 0)],
    ids=["after-the-final-dot", "at-data-before-the-final-dot", "at-rcpt"],
)
def test_a_dropped_connection_is_ambiguous_only_after_the_final_dot(
    make_user, smtp_server, tag, ambiguous, delivered
):
    """Only a connection lost after the final dot may have delivered the email."""
    from messaging.delivery import deliver

    [pk] = pending_receivers(make_user, [f"x+{tag}@example.org"])
    deliver([pk])
    receiver = MessageReceiver.objects.get(pk=pk)
    [entry] = receiver.status_data["errors"]
    assert (receiver.status, entry["kind"]) == ("failed", "transient")
    assert entry.get("ambiguous", False) is ambiguous
    assert smtp_server.handler.total() == delivered


def test_secret_settings_may_be_dicts_and_lists(
    receiver_for, on_commit, settings, use_mailer, monkeypatch
):
    use_mailer(FAILING)
    settings.ANYMAIL = {"MAILGUN_API_KEY": "key-mailgun-123", "EXTRA": ["list-secret-456"]}
    settings.MESSAGING_SECRET_SETTINGS = ["ANYMAIL"]
    error = smtplib.SMTPException("refused key-mailgun-123 and list-secret-456")
    monkeypatch.setattr(FailingBackend, "error", error)
    receiver = receiver_for()
    on_commit(request_sends, [receiver.pk])
    receiver.refresh_from_db()
    [entry] = receiver.status_data["errors"]
    stored = entry["error_message"] + entry["exception_traceback"]
    assert "key-mailgun-123" not in stored and "list-secret-456" not in stored
    assert "refused ******** and ********" in entry["error_message"]


def test_non_ascii_password_is_scrubbed_in_every_form(
    receiver_for, on_commit, use_mailer, monkeypatch
):
    import json

    password = "pässwörd-€"
    forms = [password, repr(password.encode())[2:-1], ascii(password)[1:-1]]
    forms.append(json.dumps(password)[1:-1])  # \u00e4 ... \u20ac
    use_mailer(FAILING, password=password)
    reply = f"5.7.8 {password} / {' / '.join(forms[1:])}".encode()
    monkeypatch.setattr(FailingBackend, "error", smtplib.SMTPAuthenticationError(535, reply))
    receiver = receiver_for()
    on_commit(request_sends, [receiver.pk])
    receiver.refresh_from_db()
    [entry] = receiver.status_data["errors"]
    stored = entry["error_message"] + entry["exception_traceback"]
    assert [form for form in forms if form in stored] == []
    assert entry["error_message"].count("********") == 4


def test_first_retry_waits_at_least_30_minutes_by_default(
    receiver_for, on_commit, settings, use_mailer
):
    """RFC 5321 4.5.4.1: a retry interval of at least 30 minutes."""
    from datetime import timedelta

    from django.utils import timezone

    for name in ("MESSAGING_RETRY_BASE_DELAY", "MESSAGING_RETRY_MAX_DELAY"):
        if hasattr(settings, name):
            delattr(settings, name)
    use_mailer(FAILING)
    receiver = receiver_for()
    before = timezone.now()
    on_commit(request_sends, [receiver.pk])
    receiver.refresh_from_db()
    assert receiver.status == "failed"
    assert receiver.next_attempt_at >= before + timedelta(minutes=30)


# --- issue 12: several SMTP connections per worker ------------------------------------


@pytest.mark.django_db(transaction=True)
def test_connections_per_worker_send_one_batch_over_that_many_connections(
    make_user, smtp_server, settings
):
    from messaging.delivery import deliver

    settings.MESSAGING_CONNECTIONS_PER_WORKER = 4
    addresses = [f"u{i}@example.org" for i in range(10)] + ["x+550@example.org"]
    ids = pending_receivers(make_user, addresses)
    outcome = deliver(ids)
    assert (outcome["sent"], outcome["failed"], outcome["released"]) == (10, 1, 0)
    assert smtp_server.handler.sessions == 4
    assert dict(smtp_server.handler.deliveries) == {a: 1 for a in addresses[:10]}
    receivers = MessageReceiver.objects.filter(pk__in=ids)
    assert receivers.filter(status="sent", sending_success_count=1).count() == 10
    assert receivers.get(send_to="x+550@example.org").status == "error"
    assert not receivers.filter(claimed_until__isnull=False).exists()
    assert Message.objects.get().status == "sent"


@pytest.mark.django_db(transaction=True)
def test_a_relay_fault_burns_at_most_one_attempt_per_receiver_and_none_once_down(
    make_user, settings, use_mailer
):
    from messaging.delivery import deliver
    from messaging.models import RelayState
    from messaging.testing.smtp import SMTPServer

    settings.MESSAGING_CONNECTIONS_PER_WORKER = 4
    with SMTPServer(refuse_logins=True) as server:
        use_mailer(**local_smtp(server.port, timeout=5, **WRONG_LOGIN))
        ids = pending_receivers(make_user, [f"u{i}@example.org" for i in range(12)])
        outcome = deliver(ids)
    assert "535" in outcome["batch_error"]
    assert outcome["relays_down"] == ["default"]
    assert RelayState.objects.get(mailer="default").state == "down"
    receivers = MessageReceiver.objects.filter(pk__in=ids)
    # Five faults in a row (MESSAGING_RELAY_FAILURES) mark the relay down; each of the
    # other three connections may have had one more attempt on the way. Nobody's send is
    # used up.
    assert 5 <= receivers.filter(sending_failed_count=1).count() <= 8
    assert not receivers.filter(sending_failed_count__gt=1).exists()
    assert receivers.filter(pending_sends=1).count() == 12
    assert not receivers.filter(claimed_until__isnull=False).exists()
    assert server.handler.total() == 0


# --- issue 11: speed tricks switched off, settings ------------------------------------


@pytest.mark.parametrize(
    "tricks",
    [
        {"MESSAGING_ASYNC_STATUS_WRITES": False},
        {"MESSAGING_SMTP_PIPELINING": False, "MESSAGING_ASYNC_STATUS_WRITES": False},
    ],
    ids=["immediate-writes", "no-tricks"],
)
def test_the_plain_loop_records_the_same_rows(make_user, smtp_server, settings, tricks):
    from messaging.delivery import deliver

    for name, value in tricks.items():
        setattr(settings, name, value)
    ids = pending_receivers(make_user, ["a@example.org", "b+550@example.org", "c@example.org"])
    outcome = deliver(ids)
    assert (outcome["sent"], outcome["failed"]) == (2, 1)
    rows = MessageReceiver.objects.filter(pk__in=ids).order_by("pk")
    assert [(r.status, r.sending_success_count) for r in rows] == [
        ("sent", 1),
        ("error", 0),
        ("sent", 1),
    ]
    pipelined = smtp_server.handler.pipelining and tricks.get("MESSAGING_SMTP_PIPELINING", True)
    assert smtp_server.handler.pipelined_envelopes == (3 if pipelined else 0)
    assert dict(smtp_server.handler.deliveries) == {"a@example.org": 1, "c@example.org": 1}


@pytest.mark.parametrize(
    "name",
    [
        "MESSAGING_SMTP_PIPELINING",
        "MESSAGING_ASYNC_STATUS_WRITES",
    ],
)
def test_trick_switches_must_be_booleans(settings, name):
    from django.core.exceptions import ImproperlyConfigured

    from messaging.checks import check_settings

    setattr(settings, name, "no")
    [error] = check_settings()
    assert error.msg == f"{name} must be True or False, got 'no'."
    with pytest.raises(ImproperlyConfigured):  # ConfigurationError is one
        getattr(conf, name.removeprefix("MESSAGING_").lower())()


def test_connections_per_worker_and_subject_prefix_are_checked(settings):
    from messaging.checks import check_settings

    settings.MESSAGING_CONNECTIONS_PER_WORKER = -2
    settings.MESSAGING_SUBJECT_PREFIX = "[Site]\nBcc: x@example.org "
    assert sorted(error.id for error in check_settings()) == ["messaging.E014", "messaging.E033"]
    settings.MESSAGING_CONNECTIONS_PER_WORKER = 0
    settings.MESSAGING_SUBJECT_PREFIX = "[Site] "
    assert check_settings() == []
    assert conf.connections_per_worker() == 1


@pytest.mark.parametrize(
    "plain",
    [
        ".starts with a dot\nfine\n",
        "a line\n.\nthat alone ends DATA\n",
        "..two\n. one\n.\n",
        "none\n",
    ],
)
def test_lines_starting_with_a_dot_arrive_whole(make_user, smtp_server, plain):
    """Dot-stuffing (RFC 5321 4.5.2): a line of "." would otherwise end the email early."""
    from messaging.delivery import deliver

    [receiver_id] = pending_receivers(make_user, ["dots@example.org"])
    MessageReceiver.objects.filter(pk=receiver_id).update(message_content_plain=plain)
    assert deliver([receiver_id])["sent"] == 1
    [received] = smtp_server.handler.messages
    assert received.get_payload(decode=True).decode() == plain.replace("\n", "\r\n")


@pytest.mark.parametrize(
    "data", [b".", b".a\r\nb", b"a\r\n.b", b"a\r\n..\r\n", b"a.b\r\n", b"", b"a\r.b", b"a\n."]
)
def test_dot_stuffing_equals_the_regular_expressions(data):
    from messaging.delivery.pipelining import LEADING_DOT, dot_stuffed

    assert dot_stuffed(data) == LEADING_DOT.sub(b"..", data)


def test_refused_login_is_retried_not_an_error():
    from messaging.delivery import classify

    error = smtplib.SMTPAuthenticationError(535, b"5.7.8 Authentication failed")
    assert not classify(error).permanent
    assert classify(smtplib.SMTPRecipientsRefused({"a@b.c": (550, b"no")})).permanent
