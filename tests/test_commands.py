import importlib
import sys
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import TestCase
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from messaging.models import Message, MessageReceiver
from tests.factories import make_message, make_receivers

pytestmark = pytest.mark.django_db


def run(*args, **options):
    """The command's output; what it enqueues after commit is enqueued, as outside a test."""
    out = StringIO()
    with TestCase.captureOnCommitCallbacks(execute=True):
        call_command(*args, stdout=out, stderr=StringIO(), **options)
    return out.getvalue()


@pytest.fixture
def failed_receivers():
    message = make_message()

    def make(count, status="failed", failed=1, **fields):
        return make_receivers(count, message, status=status, sending_failed_count=failed, **fields)

    return make


@pytest.mark.parametrize("command", ["resend_failed_messages", "devilry_resend_failed_messages"])
def test_resend_failed_messages(command, failed_receivers, on_commit, settings):
    settings.MESSAGING_RESEND_LIMIT = 2
    due = failed_receivers(3, failed=1)
    failed_receivers(1, failed=5)  # past the limit
    failed_receivers(2, status="error", failed=3)  # ignored
    failed_receivers(1, status="sent", failed=0)  # ignored
    out = on_commit(run, command)
    assert "3 messages were automatically resent." in out
    assert "1 messages have exceeded the retry limit (current limit: 2)" in out
    for receiver in due:
        receiver.refresh_from_db()
        assert receiver.status == "sent"
        assert receiver.sending_success_count == 1


def test_resend_honours_backoff_unless_all(failed_receivers, on_commit):
    later = timezone.now() + timedelta(hours=1)
    failed_receivers(2, next_attempt_at=later)
    assert "0 messages were automatically resent." in on_commit(run, "resend_failed_messages")
    assert "2 messages were automatically resent." in on_commit(
        run, "resend_failed_messages", "--all"
    )


def test_resend_dry_run_changes_nothing(failed_receivers, on_commit):
    receivers = failed_receivers(2)
    out = on_commit(run, "resend_failed_messages", "--dry-run")
    assert "Dry run: 2 messages would be automatically resent." in out
    for receiver in receivers:
        receiver.refresh_from_db()
        assert (receiver.status, receiver.pending_sends) == ("failed", 0)


def test_resend_requeues_receivers_of_a_dead_worker(failed_receivers, on_commit):
    [receiver] = failed_receivers(1, status="not_sent", failed=0)
    MessageReceiver.objects.filter(pk=receiver.pk).update(
        claimed_until=timezone.now() - timedelta(seconds=1), claim_token="deadbeef"
    )
    out = on_commit(run, "resend_failed_messages")
    assert "1 messages left by a stopped worker were requeued." in out
    receiver.refresh_from_db()
    assert receiver.status == "sent"
    assert receiver.claimed_until is None


@pytest.fixture
def dummy_tasks(settings):
    """Tasks are only recorded, not run: what the command enqueued can be inspected."""
    from django_tasks import task_backends

    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.dummy.DummyBackend"}}
    return task_backends["default"]


def test_resend_iterates_in_batches(failed_receivers, settings, dummy_tasks):
    settings.MESSAGING_BATCH_SIZE = 2
    failed_receivers(5)
    out = run("resend_failed_messages")
    assert "5 messages were automatically resent." in out
    assert [len(result.args[0]) for result in dummy_tasks.results] == [2, 2, 1]
    assert MessageReceiver.objects.filter(pending_sends=1).count() == 5


def test_lost_tasks_are_enqueued_again_once(failed_receivers, settings, dummy_tasks):
    settings.MESSAGING_CLAIM_LEASE_SECONDS = 60
    [lost] = failed_receivers(1, status="not_sent", failed=0, pending_sends=1)
    MessageReceiver.objects.filter(pk=lost.pk).update(
        send_requested_at=timezone.now() - timedelta(minutes=5)
    )
    run("resend_failed_messages")
    run("resend_failed_messages")
    assert [result.args[0] for result in dummy_tasks.results] == [[lost.pk]]
    lost.refresh_from_db()
    assert lost.pending_sends == 1  # still one send asked for, not two


@pytest.mark.parametrize(
    "command", ["delete_message_receivers", "devilry_delete_message_receivers"]
)
def test_delete_message_receivers(command, failed_receivers):
    old = failed_receivers(2, created_datetime=timezone.now() - timedelta(days=40))
    new = failed_receivers(1)
    out = run(command, "30")
    assert "Deleted 2 message receivers" in out
    assert list(MessageReceiver.objects.all()) == new
    assert not MessageReceiver.objects.filter(pk__in=[r.pk for r in old]).exists()


@pytest.mark.parametrize("days", ["-1", "abc", "1.5"])
def test_delete_message_receivers_rejects_bad_days(days, failed_receivers):
    failed_receivers(1, created_datetime=timezone.now() - timedelta(days=40))
    with pytest.raises(CommandError, match="DAYS must be a whole number of days, 0 or more"):
        run("delete_message_receivers", days)
    assert MessageReceiver.objects.count() == 1


@pytest.mark.parametrize(
    "command", ["delete_messages_without_receivers", "devilry_delete_messages_without_receivers"]
)
def test_delete_messages_without_receivers(command, failed_receivers):
    failed_receivers(1)
    old = timezone.now() - timedelta(hours=2)
    Message.objects.create(status="sent", created_datetime=old)
    Message.objects.create(status="error", created_datetime=old)
    preparing = Message.objects.create(status="preparing", created_datetime=old)
    young = Message.objects.create(status="sent")
    assert "Deleted 2 messages without receivers." in run(command)
    assert Message.objects.count() == 3
    assert Message.objects.filter(pk__in=[preparing.pk, young.pk]).count() == 2


def test_delete_message_receivers_names_the_allowed_range(failed_receivers):
    failed_receivers(1, created_datetime=timezone.now() - timedelta(days=40))
    with pytest.raises(CommandError, match=r"allowed: 0 to 36500"):
        run("delete_message_receivers", "1000000000")
    assert MessageReceiver.objects.count() == 1


def test_delete_message_receivers_deletes_in_chunks(failed_receivers, monkeypatch):
    from messaging import maintenance

    monkeypatch.setattr(maintenance, "DELETE_CHUNK", 2)
    failed_receivers(5, created_datetime=timezone.now() - timedelta(days=40))
    new = failed_receivers(1)
    with CaptureQueriesContext(connection) as queries:
        out = run("delete_message_receivers", "30")
    assert "Deleted 5 message receivers older than 30 days." in out
    assert list(MessageReceiver.objects.all()) == new
    deletes = [q["sql"] for q in queries.captured_queries if q["sql"].startswith("DELETE")]
    assert len(deletes) == 3  # chunks of 2, 2 and 1: no statement holds them all


def test_demo_admin_and_staff_have_names_wagtail_accepts(make_user):
    from wagtail.admin.forms.account import NameEmailForm

    from config.management.commands.messaging_demo import Command

    nameless = make_user("admin", is_superuser=True, is_staff=True)  # a demo from before
    command = Command(stdout=StringIO())
    admin = command.ensure_admin()
    assert admin.pk == nameless.pk
    for user in (admin, admin.__class__.objects.get(username="staff")):
        # The admin's Account page validates this form before it saves a new language.
        data = {"first_name": user.first_name, "last_name": user.last_name, "email": user.email}
        form = NameEmailForm(data=data, instance=user)
        assert form.is_valid(), (user.username, form.errors)


DEMO_STAFF_PAGES = [
    "/admin/messaging/receivers/",
    "/admin/messaging/messages/",
    "/admin/messaging/suppressions/",
    "/admin/snippets/messaging/messagetemplate/",
    "/admin/messaging/preferences/",
]


@pytest.mark.django_db
def test_demo_staff_looks_at_every_messaging_page_and_changes_nothing():
    """What the README says of the demo's ``staff`` user."""
    from django.test import Client

    from config.management.commands.messaging_demo import Command
    from messaging.admin.permissions import RESEND, can

    Command(stdout=StringIO()).ensure_admin()
    client = Client()
    assert client.login(username="staff", password="staff")
    for url in DEMO_STAFF_PAGES:
        response = client.get(url)
        assert response.status_code == 200, url
        assert "Sorry, you do not have permission" not in response.content.decode(), url
    for url in ["/admin/messaging/suppressions/new/", "/admin/messaging/preferences/new/"]:
        assert client.get(url).status_code in (302, 403), url
    assert not can(response.wsgi_request.user, RESEND)


@pytest.mark.django_db
def test_demo_end_user_signs_in_with_the_documented_password():
    from django.test import Client

    from config.management.commands.messaging_demo import PEOPLE, Command

    command = Command(stdout=StringIO())
    ola = next(person for person in PEOPLE if person[0] == "ola")
    command.ensure_user(*ola)
    command.ensure_user(*ola)  # again, as every `make demo` does
    client = Client()
    assert client.login(username="ola", password="ola")
    assert client.get("/messaging/preferences/").status_code == 200


def test_bounce_server_without_aiosmtpd_says_how_to_install_it(monkeypatch):
    # As in a site installed without the bounces extra: aiosmtpd cannot be imported. The
    # listener is imported first, so that the test leaves it in place after it.
    importlib.import_module("messaging.bounces.server")
    monkeypatch.setitem(sys.modules, "aiosmtpd", None)
    for name in [name for name in sys.modules if name.startswith("aiosmtpd.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.delitem(sys.modules, "messaging.bounces.server")
    with pytest.raises(CommandError) as raised:
        call_command("bounce_server", "--port", "2525", stdout=StringIO())
    assert 'pip install "wagtail-messaging[bounces]"' in str(raised.value)
