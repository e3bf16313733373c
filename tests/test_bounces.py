"""Bounces, complaints and the suppression list: VERP, DSN/ARF intake, sending refusal."""

from __future__ import annotations

import mailbox
import os
import smtplib
import subprocess
import sys
from functools import partial
from io import StringIO
from pathlib import Path
from string import Template

import pytest
from django.core.management import CommandError, call_command

from messaging.api import send_message
from messaging.bounces import verp
from messaging.bounces.intake import apply_reports
from messaging.bounces.parsing import parse_report
from messaging.bounces.server import bounce_server
from messaging.models import MessageReceiver, Suppression
from messaging.testing.smtp import free_port
from tests.factories import make_receiver

FIXTURES = Path(__file__).parent / "fixtures" / "bounces"
BOUNCES = "bounces@example.org"
RECTOR = "rector@example.org"
LONG = "x" * 320 + "@example.org"  # longer than any address the suppression list holds
NOT_APPLIED = (
    "Not applied: this {event} report names {names}. Nothing was suppressed and the "
    "delivery status is unchanged."
)
Status = MessageReceiver.Status
DeliveryStatus = MessageReceiver.DeliveryStatus


def report(name: str, *, return_path: str, recipient: str, message_id: str, **more) -> bytes:
    """A fixture report filled in for one email (``more``: a fixture's other fields)."""
    text = (FIXTURES / name).read_text()
    values = {"return_path": return_path, "recipient": recipient, "message_id": message_id}
    return Template(text).substitute(values, **more).encode()


def report_for(name: str, receiver: MessageReceiver, **overrides) -> bytes:
    values = {
        "return_path": verp.return_path(receiver.pk, BOUNCES),
        "recipient": receiver.send_to,
        "message_id": verp.message_id(receiver.pk),
        **overrides,
    }
    return report(name, **values)


@pytest.fixture
def sent_receiver(db):
    """Receivers that the mail server accepted (``email=`` picks the user's address)."""
    return partial(make_receiver, status=Status.SENT)


def apply(data: bytes, source: str = "test"):
    return apply_reports(parse_report(data), source=source)


def process_bounces(maildir: Path) -> tuple[str, str]:
    """Run ``process_bounces --maildir`` as cron does; its stdout and stderr."""
    out, err = StringIO(), StringIO()
    call_command("process_bounces", "--maildir", str(maildir), stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def summary(maildir: Path, **counts: int) -> str:
    """The line ``process_bounces`` ends with; counts not given are 0."""
    names = ("applied", "suppressed", "duplicate", "refused", "forged", "unmatched", "unreadable")
    return f"Processed {maildir}: {', '.join(f'{n} {counts.get(n, 0)}' for n in names)}.\n"


def tree(root: Path) -> list[str]:
    return sorted(str(path.relative_to(root)) for path in root.rglob("*"))


# --- parsing ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "event", "status", "diagnostic"),
    [
        ("postfix.eml", "bounced", "5.1.1", "550 5.1.1 <student@uni.example.net>: Recipient"),
        ("exim.eml", "bounced", "5.0.0", "550 5.2.1 The email account"),
        ("exchange.eml", "bounced", "5.1.10", "550 5.1.10 RESOLVER.ADR.RecipientNotFound"),
        ("gmail_delayed.eml", "delayed", "4.4.7", "The recipient server did not accept"),
        ("arf_complaint.eml", "complained", "", "abuse report from ExampleFBL/2.1"),
    ],
)
def test_reports_of_each_mta_are_read(name, event, status, diagnostic, settings):
    message_id = verp.message_id(42)
    data = report(
        name,
        return_path=verp.return_path(42, BOUNCES),
        recipient="student@uni.example.net",
        message_id=message_id,
    )
    [parsed] = parse_report(data)
    assert parsed.event == event
    assert parsed.status == status
    assert parsed.diagnostic.startswith(diagnostic)
    assert parsed.recipient == "student@uni.example.net"
    assert parsed.message_id == message_id
    assert verp.return_path(42, BOUNCES) in parsed.addresses


def test_an_email_that_is_no_report_is_refused_with_a_reason():
    from messaging.exceptions import BounceReportError

    with pytest.raises(BounceReportError, match="neither a delivery status notification"):
        parse_report(b"From: someone@example.org\r\nSubject: Out of office\r\n\r\nAway.\r\n")


# --- applying ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["postfix.eml", "exim.eml", "exchange.eml"])
def test_a_permanent_bounce_marks_the_receiver_and_suppresses_the_address(name, sent_receiver):
    receiver = sent_receiver(email="Student@Example.org")
    result = apply(report_for(name, receiver))
    receiver.refresh_from_db()
    assert result.applied == 1
    assert receiver.status == Status.SENT  # the send state machine is untouched
    assert receiver.delivery_status == DeliveryStatus.BOUNCED
    [event] = receiver.delivery_events
    assert event["event"] == "bounced" and event["status"].startswith("5.")
    assert event["source"] == "test" and event["diagnostic"].startswith("550")
    entry = Suppression.objects.get(address="student@example.org")
    assert entry.reason == Suppression.Reason.BOUNCED


def test_a_transient_bounce_sets_delayed_only(sent_receiver):
    receiver = sent_receiver()
    apply(report_for("gmail_delayed.eml", receiver))
    receiver.refresh_from_db()
    assert receiver.delivery_status == DeliveryStatus.DELAYED
    assert not Suppression.objects.exists()


def test_a_complaint_marks_the_receiver_and_suppresses_the_address(sent_receiver):
    receiver = sent_receiver()
    apply(report_for("arf_complaint.eml", receiver, return_path="abuse@example.org"))
    receiver.refresh_from_db()
    assert receiver.delivery_status == DeliveryStatus.COMPLAINED
    assert Suppression.objects.get(address=receiver.send_to).reason == "complained"


def test_a_later_delay_does_not_undo_a_bounce(sent_receiver):
    receiver = sent_receiver()
    apply(report_for("postfix.eml", receiver))
    apply(report_for("gmail_delayed.eml", receiver))
    receiver.refresh_from_db()
    assert receiver.delivery_status == DeliveryStatus.BOUNCED
    assert [e["event"] for e in receiver.delivery_events] == ["bounced", "delayed"]


def test_only_the_newest_events_are_kept(sent_receiver, settings):
    settings.MESSAGING_MAX_DELIVERY_EVENTS = 2
    receiver = sent_receiver()
    for index in range(3):
        data = report_for("gmail_delayed.eml", receiver).replace(
            b"<6748a1b2.", f"<{index}.".encode()
        )
        apply(data)
    receiver.refresh_from_db()
    assert len(receiver.delivery_events) == 2


def test_without_a_return_path_the_signed_message_id_and_recipient_match(sent_receiver):
    receiver = sent_receiver()
    result = apply(report_for("exim.eml", receiver, return_path=BOUNCES))
    receiver.refresh_from_db()
    assert result.applied == 1
    assert receiver.delivery_status == DeliveryStatus.BOUNCED


def test_a_forged_message_id_is_not_applied(sent_receiver):
    receiver = sent_receiver()
    forged_id = f"<messaging.r{receiver.pk}.{'0' * 16}.aaaaaaaa@example.org>"
    data = report_for("exim.eml", receiver, return_path=BOUNCES, message_id=forged_id)
    result = apply(data)
    receiver.refresh_from_db()
    assert (result.applied, result.forged) == (0, 1)
    assert receiver.delivery_events == []


# --- Maildir ----------------------------------------------------------------------------


def test_the_same_maildir_processed_twice_applies_each_report_once(sent_receiver, tmp_path):
    box = mailbox.Maildir(tmp_path / "bounces", create=True)
    receivers = [sent_receiver() for _ in range(3)]
    for name, receiver in zip(
        ["postfix.eml", "exchange.eml", "gmail_delayed.eml"], receivers, strict=True
    ):
        box.add(report_for(name, receiver))
    box.add(b"From: someone@example.org\r\nSubject: Out of office\r\n\r\nAway.\r\n")

    def process() -> str:
        out = StringIO()
        call_command("process_bounces", "--maildir", str(maildir), stdout=out)
        return out.getvalue()

    maildir = tmp_path / "bounces"
    assert process() == summary(maildir, applied=3, suppressed=2, unreadable=1)
    cur = sorted(os.listdir(tmp_path / "bounces" / "cur"))
    assert os.listdir(tmp_path / "bounces" / "new") == []
    assert sorted(name[-1] for name in cur) == ["F", "S", "S", "S"]

    assert process() == summary(maildir)
    # As after a crash between applying and moving: the files are read again.
    for name in cur:
        os.rename(tmp_path / "bounces" / "cur" / name, tmp_path / "bounces" / "new" / name)
    assert process() == summary(maildir, duplicate=3, unreadable=1)

    for receiver in receivers:
        receiver.refresh_from_db()
        assert len(receiver.delivery_events) == 1
    assert Suppression.objects.count() == 2


def test_files_that_cannot_be_read_are_set_aside_and_the_others_applied(sent_receiver, tmp_path):
    maildir = tmp_path / "bounces"
    box = mailbox.Maildir(maildir, create=True)
    receiver = sent_receiver()
    box.add(report_for("postfix.eml", receiver))
    # Entries of new/ that cannot be read as files, whoever runs the command (root too).
    (maildir / "new" / "1764321302.M1P1.mx").mkdir()
    (maildir / "new" / "1764321302.M2P1.mx").symlink_to(tmp_path / "gone")
    unreadable = ["1764321302.M1P1.mx", "1764321302.M2P1.mx"]
    if os.geteuid() != 0:  # root reads a file whatever its mode
        (maildir / "new" / "1764321302.M3P1.mx").write_bytes(b"Subject: x\r\n\r\n")
        (maildir / "new" / "1764321302.M3P1.mx").chmod(0)
        unreadable.append("1764321302.M3P1.mx")

    out, err = process_bounces(maildir)
    assert out == summary(maildir, applied=1, suppressed=1, unreadable=len(unreadable))
    for name in unreadable:
        assert f"Set aside {maildir / 'cur' / name}:2,F: It cannot be read (" in err
    assert os.listdir(maildir / "new") == []
    receiver.refresh_from_db()
    assert receiver.delivery_status == DeliveryStatus.BOUNCED
    assert process_bounces(maildir) == (summary(maildir), "")


@pytest.mark.parametrize(
    ("make", "problem"),
    [
        (lambda path: None, "does not exist"),
        (lambda path: path.write_bytes(b"From: x\n\nhello\n"), "is a file, not a folder"),
        (lambda path: path.mkdir(), "lacks new/, cur/, tmp/"),
        (lambda path: [(path / n).mkdir(parents=True) for n in ("new", "cur")], "lacks tmp/"),
    ],
    ids=["missing", "file", "empty-folder", "no-tmp"],
)
def test_process_bounces_refuses_what_is_no_maildir_and_creates_nothing(make, problem, tmp_path):
    path = tmp_path / "bounces"
    make(path)
    before = tree(tmp_path)
    with pytest.raises(CommandError) as refused:
        process_bounces(path)
    assert str(refused.value) == (
        f"{path} is not a Maildir: it {problem}. "
        "A Maildir is a folder holding the folders new/, cur/ and tmp/, which the MTA creates "
        "when it first delivers to it. Give --maildir the Maildir the MTA delivers the bounce "
        "address to."
    )
    assert tree(tmp_path) == before


def test_process_bounces_on_a_file_exits_1_without_a_traceback(tmp_path):
    path = tmp_path / "mbox"
    path.write_bytes(b"From: x\n\nhello\n")
    ran = subprocess.run(
        [sys.executable, "manage.py", "process_bounces", "--maildir", str(path)],
        cwd=Path(__file__).parents[1],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (ran.returncode, ran.stdout) == (1, "")
    assert ran.stderr == (
        f"CommandError: {path} is not a Maildir: it is a file, not a folder. A Maildir is a "
        "folder holding the folders new/, cur/ and tmp/, which the MTA creates when it first "
        "delivers to it. Give --maildir the Maildir the MTA delivers the bounce address to.\n"
    )
    assert tree(tmp_path) == ["mbox"]


def maildir_with(tmp_path: Path, *reports: bytes) -> Path:
    box = mailbox.Maildir(tmp_path / "bounces", create=True)
    for data in reports:
        box.add(data)
    return tmp_path / "bounces"


# --- what a report may act on -----------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "overrides", "event"),
    [
        ("postfix.eml", {}, "bounced"),
        ("arf_complaint.eml", {}, "complained"),
        ("gmail_delayed.eml", {}, "delayed"),
        ("exim.eml", {"return_path": BOUNCES}, "bounced"),
    ],
    ids=["dsn", "arf", "delay", "message-id"],
)
def test_a_report_naming_an_address_its_email_did_not_go_to_changes_nothing(
    name, overrides, event, sent_receiver, tmp_path
):
    rector, receiver = sent_receiver(email=RECTOR), sent_receiver()
    maildir = maildir_with(tmp_path, report_for(name, receiver, recipient=RECTOR, **overrides))

    assert process_bounces(maildir) == (summary(maildir, refused=1), "")
    assert not Suppression.objects.exists()
    receiver.refresh_from_db()
    assert (receiver.delivery_status, receiver.delivery_updated_at) == ("unknown", None)
    [entry] = receiver.delivery_events
    assert entry["event"] == "refused"
    names = f"{RECTOR}, an address this email was not sent to"
    assert entry["diagnostic"].startswith(NOT_APPLIED.format(event=event, names=names))
    rector.refresh_from_db()
    assert (rector.delivery_status, rector.delivery_events) == ("unknown", [])


@pytest.mark.parametrize(
    ("send_to", "applied"), [("only@example.org", True), ("a@example.org, b@example.net", False)]
)
def test_a_report_naming_no_address_acts_only_on_an_email_to_one_address(
    send_to, applied, sent_receiver, tmp_path
):
    receiver = sent_receiver(send_to=send_to)
    data = report_for("arf_complaint.eml", receiver)
    data = data.replace(f"Original-Rcpt-To: <{send_to}>\n".encode(), b"")
    data = data.replace(f"To: {send_to}\n".encode(), b"")
    maildir = maildir_with(tmp_path, data)

    counts = {"applied": 1, "suppressed": 1} if applied else {"refused": 1}
    assert process_bounces(maildir) == (summary(maildir, **counts), "")
    assert list(Suppression.objects.values_list("address", flat=True)) == (
        [send_to] if applied else []
    )
    receiver.refresh_from_db()
    [entry] = receiver.delivery_events
    if not applied:
        names = "no address, and this email went to 2"
        assert entry["diagnostic"].startswith(NOT_APPLIED.format(event="complained", names=names))
    assert entry["event"] == ("complained" if applied else "refused")


def test_each_failed_address_of_one_dsn_is_suppressed(sent_receiver, tmp_path):
    receiver = sent_receiver(send_to="first@uni.example.net, Second@Example.com")
    data = report_for(
        "exim_two_recipients.eml",
        receiver,
        recipient="first@uni.example.net",
        second="second@example.com",
    )
    maildir = maildir_with(tmp_path, data)

    assert process_bounces(maildir) == (summary(maildir, applied=2, suppressed=2), "")
    assert sorted(Suppression.objects.values_list("address", flat=True)) == [
        "first@uni.example.net",
        "second@example.com",
    ]
    receiver.refresh_from_db()
    assert [(e["recipient"], e["status"]) for e in receiver.delivery_events] == [
        ("first@uni.example.net", "5.1.1"),
        ("second@example.com", "5.2.1"),
    ]
    # Read again, as after a crash between applying and moving: both are known.
    [name] = os.listdir(maildir / "cur")
    os.rename(maildir / "cur" / name, maildir / "new" / name)
    assert process_bounces(maildir) == (summary(maildir, duplicate=2), "")


@pytest.mark.parametrize(
    ("recipient", "send_to", "shown"),
    [
        (LONG, None, f"'{LONG[:100]}…'"),
        (LONG, LONG, f"'{LONG[:100]}…'"),
        ("rector.example.org", "rector.example.org", "'rector.example.org'"),
    ],
    ids=["long", "long-sent-to", "no-at"],
)
def test_a_report_naming_an_invalid_address_is_recorded_and_the_others_applied(
    recipient, send_to, shown, sent_receiver, tmp_path
):
    receiver = sent_receiver(**({"send_to": send_to} if send_to else {}))
    other = sent_receiver()
    maildir = maildir_with(
        tmp_path,
        report_for("postfix.eml", receiver, recipient=recipient),
        report_for("exim.eml", other),
    )

    assert process_bounces(maildir) == (summary(maildir, applied=1, suppressed=1, refused=1), "")
    assert list(Suppression.objects.values_list("address", flat=True)) == [other.send_to]
    receiver.refresh_from_db()
    assert receiver.delivery_status == "unknown"
    [entry] = receiver.delivery_events
    names = f"{shown}, which is not a valid email address"
    assert entry["diagnostic"].startswith(NOT_APPLIED.format(event="bounced", names=names))


@pytest.mark.parametrize(
    ("old", "new", "refused"),
    [
        (b"User unknown in", b"User \x00unknown in", False),  # the Diagnostic-Code
        (b"Original-Recipient: rfc822;", b"Original-Recipient: rfc822;\x00", True),
        (b"Message-Id: <2026", b"Message-Id: <\x002026", False),  # the report's own id
    ],
    ids=["diagnostic", "recipient", "report-id"],
)
def test_a_report_with_a_nul_character_is_recorded_without_it(
    old, new, refused, sent_receiver, tmp_path
):
    receiver, other = sent_receiver(), sent_receiver()
    data = report_for("postfix.eml", receiver)
    assert old in data
    maildir = maildir_with(tmp_path, data.replace(old, new), report_for("exim.eml", other))

    counts = {"applied": 1, "suppressed": 1, "refused": 1} if refused else {"applied": 2}
    counts.setdefault("suppressed", 2)
    assert process_bounces(maildir) == (summary(maildir, **counts), "")
    receiver.refresh_from_db()
    [entry] = receiver.delivery_events
    assert "\x00" not in "".join(str(value) for value in entry.values())
    assert entry["event"] == ("refused" if refused else "bounced")
    assert not any("\x00" in s.source for s in Suppression.objects.all())


def test_bounce_server_refuses_a_bad_port():
    with pytest.raises(CommandError, match="--port must be between 1 and 65535"):
        call_command("bounce_server", "--port", "0", stdout=StringIO())


# --- sending ----------------------------------------------------------------------------


def test_each_email_has_a_verp_return_path_and_an_unchanged_from(
    smtp_server, make_user, settings, on_commit
):
    settings.MESSAGING_BOUNCE_ADDRESS = BOUNCES
    settings.DEFAULT_FROM_EMAIL = "Devilry <noreply@example.org>"
    user = make_user()
    message = on_commit(send_message, users=[user], subject="Hello", html="<p>Hi</p>")
    receiver = message.receivers.get()
    [email] = smtp_server.handler.messages
    assert email["From"] == "Devilry <noreply@example.org>"
    assert smtp_server.handler.senders == [verp.return_path(receiver.pk, BOUNCES)]
    tag = verp.read_message_id(email["Message-ID"])
    assert (tag.receiver_id, tag.valid) == (receiver.pk, True)


def test_without_a_bounce_address_the_envelope_sender_is_the_from(
    smtp_server, make_user, settings, on_commit
):
    settings.DEFAULT_FROM_EMAIL = "noreply@example.org"
    on_commit(send_message, users=[make_user()], subject="Hello", html="<p>Hi</p>")
    assert smtp_server.handler.senders == ["noreply@example.org"]


def test_a_suppressed_address_never_reaches_the_mail_server(smtp_server, make_user, on_commit):
    Suppression.objects.create(address="Gone@Example.org", reason="bounced", source="test: 5.1.1")
    gone, kept = make_user(email="gone@EXAMPLE.org"), make_user()
    message = on_commit(send_message, users=[gone, kept], subject="Hello", html="<p>Hi</p>")
    refused = message.receivers.get(user=gone)
    assert refused.status == Status.ERROR
    [error] = refused.errors
    assert error["permanent"] is True
    assert "gone@example.org is on the suppression list since" in error["error_message"]
    assert "(Bounced; test: 5.1.1)" in error["error_message"]
    assert "remove it under Messaging > Suppressed addresses" in error["error_message"]
    assert message.receivers.get(user=kept).status == Status.SENT
    assert [e["To"] for e in smtp_server.handler.messages] == [kept.email]


# --- end to end over SMTP ---------------------------------------------------------------


def deliver_report(port: int, data: bytes, recipient: str) -> None:
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
        client.sendmail("", [recipient], data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n"))


@pytest.fixture
def running_bounce_server():
    server = bounce_server("127.0.0.1", free_port())
    server.start()
    yield server
    server.stop()


@pytest.mark.django_db(transaction=True)
def test_a_bounce_through_bounce_server_suppresses_the_next_send(
    smtp_server, running_bounce_server, make_user, settings
):
    settings.MESSAGING_BOUNCE_ADDRESS = BOUNCES
    users = [make_user() for _ in range(3)]
    message = send_message(users=users, subject="Deadline moved", html="<p>Moved.</p>")
    assert sorted(smtp_server.handler.deliveries) == sorted(u.email for u in users)
    assert set(message.receivers.values_list("status", flat=True)) == {Status.SENT}

    email, return_path = smtp_server.handler.messages[1], smtp_server.handler.senders[1]
    data = report(
        "postfix.eml",
        return_path=return_path,
        recipient=email["To"],
        message_id=email["Message-ID"],
    )
    deliver_report(running_bounce_server.port, data, return_path)

    bounced = message.receivers.get(send_to=email["To"])
    assert bounced.delivery_status == DeliveryStatus.BOUNCED
    assert Suppression.objects.filter(address=email["To"]).exists()
    others = message.receivers.exclude(pk=bounced.pk)
    assert set(others.values_list("delivery_status", flat=True)) == {DeliveryStatus.UNKNOWN}

    user = next(u for u in users if u.email == email["To"])
    again = send_message(users=[user], subject="Deadline moved again", html="<p>Again.</p>")
    assert again.receivers.get().status == Status.ERROR
    assert smtp_server.handler.total() == 3


@pytest.mark.django_db(transaction=True)
def test_forged_and_unknown_reports_through_bounce_server_change_nothing(
    running_bounce_server, sent_receiver
):
    receiver = sent_receiver()
    forged_path = f"bounces+r{receiver.pk}.aaaaaaaa@example.org"
    data = report(
        "postfix.eml",
        return_path=forged_path,
        recipient=receiver.send_to,
        message_id="<unrelated@example.net>",
    )
    deliver_report(running_bounce_server.port, data, forged_path)
    unknown_path = verp.return_path(receiver.pk + 1000, BOUNCES)
    data = report(
        "exim.eml",
        return_path=unknown_path,
        recipient="nobody@example.net",
        message_id=verp.message_id(receiver.pk + 1000),
    )
    deliver_report(running_bounce_server.port, data, unknown_path)

    receiver.refresh_from_db()
    assert receiver.delivery_status == DeliveryStatus.UNKNOWN
    assert receiver.delivery_events == []
    assert not Suppression.objects.exists()
    assert (
        running_bounce_server.handler.total.forged,
        running_bounce_server.handler.total.unmatched,
    ) == (1, 1)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("recipient", "send_to", "names"),
    [
        (RECTOR, None, f"{RECTOR}, an address this email was not sent to"),
        (LONG, LONG, f"'{LONG[:100]}…', which is not a valid email address"),
    ],
    ids=["another-address", "too-long"],
)
def test_a_report_bounce_server_may_not_apply_is_recorded_and_answered_250(
    recipient, send_to, names, running_bounce_server, sent_receiver
):
    sent_receiver(email=RECTOR)  # the rector gets email from the site too
    receiver = sent_receiver(send_to=send_to or "me@example.org")
    return_path = verp.return_path(receiver.pk, BOUNCES)
    data = report_for("postfix.eml", receiver, recipient=recipient)
    deliver_report(running_bounce_server.port, data, return_path)  # 250, or it raises

    assert not Suppression.objects.exists()
    receiver.refresh_from_db()
    assert receiver.delivery_status == DeliveryStatus.UNKNOWN
    [entry] = receiver.delivery_events
    assert (entry["event"], entry["source"]) == ("refused", "smtp")
    assert entry["diagnostic"].startswith(NOT_APPLIED.format(event="bounced", names=names))
    assert running_bounce_server.handler.total.refused == 1


@pytest.mark.django_db(transaction=True)
def test_bounce_server_refuses_an_email_that_is_no_report(running_bounce_server):
    with pytest.raises(smtplib.SMTPDataError) as refused:
        deliver_report(running_bounce_server.port, b"Subject: Hi\r\n\r\nHello\r\n", BOUNCES)
    assert refused.value.smtp_code == 554


# --- provider webhooks through django-anymail -------------------------------------------


def postmark_event(record_type: str, receiver: MessageReceiver, token: str, **extra) -> dict:
    return {
        "RecordType": record_type,
        "ID": 4323372036854775807,
        "MessageID": "883953f4-6105-42a2-a16a-77a8eac79483",
        "Email": receiver.send_to,
        "Recipient": receiver.send_to,
        "BouncedAt": "2026-11-28T10:15:02Z",
        "DeliveredAt": "2026-11-28T10:15:02Z",
        "Metadata": {"messaging_receiver": token},
        **extra,
    }


def post_to_postmark(client, data: dict) -> None:
    response = client.post(
        "/anymail/postmark/tracking/",
        data,
        content_type="application/json",
        HTTP_AUTHORIZATION="Basic ZGVtbzpkZW1vLXdlYmhvb2stc2VjcmV0",  # demo:demo-webhook-secret
    )
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("payload", "delivery_status", "suppressed"),
    [
        (
            {
                "RecordType": "Bounce",
                "Type": "HardBounce",
                "Details": "smtp;550 5.1.1 The email account does not exist",
            },
            "bounced",
            True,
        ),
        (
            {"RecordType": "Delivery", "Details": "Test delivery webhook details"},
            "delivered",
            False,
        ),
        ({"RecordType": "SpamComplaint", "Type": "SpamComplaint"}, "complained", True),
    ],
)
def test_postmark_webhook_events_are_recorded(
    client, sent_receiver, payload, delivery_status, suppressed
):
    pytest.importorskip("anymail")
    receiver = sent_receiver()
    data = postmark_event(payload["RecordType"], receiver, verp.token(receiver.pk), **payload)
    post_to_postmark(client, data)
    receiver.refresh_from_db()
    assert receiver.delivery_status == delivery_status
    assert receiver.delivery_events[0]["source"] == "anymail:postmark"
    assert Suppression.objects.filter(address=receiver.send_to).exists() is suppressed


def test_a_postmark_event_with_a_forged_token_changes_nothing(client, sent_receiver):
    pytest.importorskip("anymail")
    receiver = sent_receiver()
    data = postmark_event("Bounce", receiver, f"r{receiver.pk}.aaaaaaaa", Type="HardBounce")
    post_to_postmark(client, data)
    receiver.refresh_from_db()
    assert receiver.delivery_events == []
    assert not Suppression.objects.exists()


@pytest.mark.parametrize(
    ("record_type", "kind"), [("Bounce", "HardBounce"), ("SpamComplaint",) * 2]
)
def test_a_postmark_event_naming_an_address_its_email_did_not_go_to_changes_nothing(
    record_type, kind, client, sent_receiver
):
    pytest.importorskip("anymail")
    rector, receiver = sent_receiver(email=RECTOR), sent_receiver()
    token = verp.token(receiver.pk)
    data = postmark_event(record_type, receiver, token, Type=kind, Email=RECTOR)
    post_to_postmark(client, {**data, "Recipient": RECTOR})

    assert not Suppression.objects.exists()
    receiver.refresh_from_db()
    assert receiver.delivery_status == DeliveryStatus.UNKNOWN
    [entry] = receiver.delivery_events
    assert (entry["event"], entry["source"]) == ("refused", "anymail:postmark")
    event = "bounced" if record_type == "Bounce" else "complained"
    names = f"{RECTOR}, an address this email was not sent to"
    assert entry["diagnostic"].startswith(NOT_APPLIED.format(event=event, names=names))
    rector.refresh_from_db()
    assert rector.delivery_events == []
