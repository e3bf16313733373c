"""The status rules of one receiver under any order of attempts, resends, crashes, limits,
stops and resumes, its message's time and its expiry.

A Hypothesis state machine drives the real pipeline (``request_sends``, ``deliver``,
``claim``, ``resend_failed``, ``control.stop``/``resume``) with a mail backend whose next
answer the machine chooses, and checks the database against a small model after every
step. The message may be scheduled (``send_at``), expire (``expires_at``) and has a
priority, which every task enqueued for it keeps.
"""

from __future__ import annotations

import smtplib
import uuid
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core.mail.backends.base import BaseEmailBackend
from django.test import TestCase, override_settings
from django.utils import timezone
from django_tasks import task_backends
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from config.mail import mail_settings
from messaging import conf, control
from messaging.api import request_sends
from messaging.delivery import deliver
from messaging.delivery.claims import claim
from messaging.exceptions import MessageStateError
from messaging.maintenance import resend_failed
from messaging.models import Message, MessageReceiver, RelayState
from messaging.tasks import TASK_PRIORITIES, check_relay

pytestmark = [pytest.mark.django_db, pytest.mark.slow]

RELAY_FAILURES = 5  # MESSAGING_RELAY_FAILURES' default

OUTCOMES = ["ok", "transient", "permanent", "misconfigured"]


class ScriptedBackend(BaseEmailBackend):
    """A mail backend that answers as the state machine told it to."""

    outcome = "ok"

    def open(self) -> bool:
        if self.outcome == "misconfigured":
            raise smtplib.SMTPAuthenticationError(535, b"5.7.8 Authentication failed")
        return True

    def send_messages(self, messages) -> int:
        address = messages[0].to[0]
        if self.outcome == "transient":
            raise smtplib.SMTPRecipientsRefused({address: (451, b"4.3.0 Try again later")})
        if self.outcome == "permanent":
            raise smtplib.SMTPRecipientsRefused({address: (550, b"5.1.1 No such user")})
        return len(messages)


BACKEND = f"{__name__}.ScriptedBackend"
TASKS = {"default": {"BACKEND": "django_tasks.backends.dummy.DummyBackend"}}


class ReceiverMachine(RuleBasedStateMachine):
    """One receiver; the model says what its record must be after each step."""

    def __init__(self) -> None:
        super().__init__()
        self.overrides = [
            override_settings(**mail_settings(BACKEND), TASKS=TASKS, MESSAGING_RESEND_LIMIT=2)
        ]
        self.overrides[0].enable()
        self.limit = self.max_limit = self.min_limit_since_attempt = 2
        self.max_limit_since_attempt = 2
        self.user = get_user_model().objects.create(
            username=uuid.uuid4().hex, email="a@example.org"
        )
        self.status, self.success, self.failed, self.pending = "not_sent", 0, 0, 0
        self.claim = None  # None, "live" (a worker holds it) or "expired" (it died)
        self.backoff_passed = True
        self.last_outcome = None
        self.requests = self.explicit = 0
        self.dropped = 0  # sends asked for, then dropped by a stop or the expiry
        self.waiting_for_time = self.past_expiry = False
        # "misconfigured" is the relay's fault: counted on the relay, which goes down at
        # RELAY_FAILURES in a row; the receiver keeps its send and counts a run once.
        self.relay_faults, self.relay_down = 0, False
        self.relay_counted = 0  # failed attempts that used up no send (relay faults)
        self.last_failure_relay = False

    def teardown(self) -> None:
        RelayState.objects.all().delete()
        self.receiver.message.delete()
        self.user.delete()
        for override in reversed(self.overrides):
            override.disable()

    def committed(self, function, *args, **kwargs):
        """Run ``function`` and then what it left for the commit (enqueuing, here recorded
        by the dummy task backend)."""
        with TestCase.captureOnCommitCallbacks(execute=True):
            return function(*args, **kwargs)

    def sweep(self) -> None:
        """The model of ``expire_due``: past the expiry, nothing waits or is asked for."""
        if not self.past_expiry:
            return
        if self.status in {"not_sent", "failed", "cancelled"}:
            self.status = "expired"
        self.dropped += self.pending
        self.pending = 0

    def ask(self) -> None:
        asked = self.committed(request_sends, [self.receiver.pk])
        expected = int(self.status not in {"cancelled", "expired"} and not self.past_expiry)
        assert asked == expected
        self.pending += expected
        self.requests += expected

    @initialize(scheduled=st.booleans(), priority=st.sampled_from(conf.PRIORITIES))
    def first_send(self, scheduled: bool, priority: str) -> None:
        send_at = timezone.now() + timedelta(hours=1) if scheduled else None
        status = "scheduled" if scheduled else "sending"
        message = Message.objects.create(status=status, send_at=send_at, priority=priority)
        self.receiver = MessageReceiver.objects.create(
            message=message, user=self.user, subject="Hi"
        )
        self.priority, self.waiting_for_time = priority, scheduled
        self.ask()

    @rule()
    def explicit_resend(self) -> None:
        self.ask()
        self.explicit += 1

    @rule(outcome=st.sampled_from(OUTCOMES))
    def attempt(self, outcome: str) -> None:
        ScriptedBackend.outcome = outcome
        deliver([self.receiver.pk])
        if self.relay_down or self.pending == 0 or self.claim == "live" or not self.may_go():
            return  # no relay up, nothing to claim, or not now: no attempt
        if self.claim is None:
            self.pending -= 1  # an expired claim's send is given back, then this one taken
        self.claim = None
        self.last_outcome = outcome
        self.min_limit_since_attempt = self.max_limit_since_attempt = self.limit
        self.record(outcome)

    def record(self, outcome: str) -> None:
        if outcome == "ok":
            self.status, self.success = "sent", self.success + 1
            self.relay_faults = 0
            return
        if outcome == "misconfigured":
            self.record_relay_fault()
            return
        self.failed += 1
        final = outcome == "permanent" or self.failed > self.limit
        self.status = "error" if final else "failed"
        self.backoff_passed = False
        self.last_failure_relay = False

    def record_relay_fault(self) -> None:
        """Counted once per run, never ``error``, the send given back; the relay counts it."""
        if not (self.status == "failed" and self.last_failure_relay):
            self.failed += 1
            self.relay_counted += 1
        self.status, self.pending, self.last_failure_relay = "failed", self.pending + 1, True
        self.relay_faults += 1
        self.relay_down = self.relay_faults >= RELAY_FAILURES

    def may_go(self) -> bool:
        """Whether a claim may take this receiver now: its time came, it is not past the
        expiry, and neither cancelled nor expired."""
        stopped = self.status in {"cancelled", "expired"}
        return not (stopped or self.waiting_for_time or self.past_expiry)

    @precondition(lambda self: self.pending > 0 and self.claim is None and self.may_go())
    @rule()
    def worker_dies_after_claiming(self) -> None:
        assert claim([self.receiver.pk], uuid.uuid4().hex)
        self.pending -= 1
        self.claim = "live"

    @precondition(lambda self: self.claim == "live")
    @rule()
    def lease_expires(self) -> None:
        past = timezone.now() - timedelta(seconds=1)
        MessageReceiver.objects.filter(pk=self.receiver.pk).update(claimed_until=past)
        self.claim = "expired"

    @rule()
    def backoff_passes(self) -> None:
        past = timezone.now() - timedelta(seconds=1)
        receivers = MessageReceiver.objects.filter(pk=self.receiver.pk)
        receivers.exclude(next_attempt_at=None).update(next_attempt_at=past)
        self.backoff_passed = True

    @rule(ignore_backoff=st.booleans())
    def cron(self, ignore_backoff: bool) -> None:
        report = self.committed(resend_failed, ignore_backoff=ignore_backoff)
        self.sweep()
        if self.relay_down:  # every relay is down: nothing more is done
            assert report.resent == 0
            return
        if self.status == "failed" and self.failed > self.limit and self.pending == 0:
            self.status = "error"
        if self.claim == "expired" and (self.past_expiry or self.status == "cancelled"):
            self.claim, self.dropped = None, self.dropped + 1  # released, not asked again
        elif self.claim == "expired":
            self.pending, self.claim = self.pending + 1, None
        due = self.status == "failed" and self.pending == 0 and self.claim is None
        expected = int(due and (ignore_backoff or self.backoff_passed))
        assert report.resent == expected
        self.pending += expected
        self.requests += expected

    @precondition(lambda self: self.relay_down)
    @rule()
    def relay_answers(self) -> None:
        ScriptedBackend.outcome = "ok"  # the probe opens a connection
        due = timezone.now() - timedelta(seconds=1)
        RelayState.objects.filter(mailer="default").update(next_probe_at=due)
        assert self.committed(check_relay, "default").came_up
        self.relay_down, self.relay_faults = False, 0

    @rule()
    def time_comes(self) -> None:
        past = timezone.now() - timedelta(seconds=1)
        Message.objects.filter(pk=self.receiver.message_id).exclude(send_at=None).update(
            send_at=past
        )
        self.waiting_for_time = False

    @rule()
    def expiry_passes(self) -> None:
        past = timezone.now() - timedelta(seconds=1)
        Message.objects.filter(pk=self.receiver.message_id).update(expires_at=past)
        self.past_expiry = True

    @rule()
    def stop(self) -> None:
        message = Message.objects.get(pk=self.receiver.message_id)
        if message.status not in control.STOPPABLE:
            with pytest.raises(MessageStateError):
                control.stop(message)
            return
        control.stop(message)
        if self.status in {"not_sent", "failed"}:
            self.status = "cancelled"
            self.dropped += self.pending
            self.pending = 0

    @rule()
    def resume(self) -> None:
        message = Message.objects.get(pk=self.receiver.message_id)
        if message.status != Message.Status.CANCELLED:
            with pytest.raises(MessageStateError):
                control.resume(message)
            return
        self.committed(control.resume, message)
        self.sweep()
        if self.status == "cancelled":
            self.status = "failed" if self.failed else "not_sent"
            self.pending += 1
            self.requests += 1

    @rule(limit=st.integers(min_value=0, max_value=4))
    def change_limit(self, limit: int) -> None:
        override = override_settings(MESSAGING_RESEND_LIMIT=limit)
        override.enable()
        self.overrides.append(override)
        self.limit, self.max_limit = limit, max(self.max_limit, limit)
        self.min_limit_since_attempt = min(self.min_limit_since_attempt, limit)
        self.max_limit_since_attempt = max(self.max_limit_since_attempt, limit)

    @invariant()
    def record_matches_the_model(self) -> None:
        previous = self.receiver
        receiver = MessageReceiver.objects.get(pk=previous.pk)
        receiver.user, receiver.message = previous.user, previous.message
        self.receiver = receiver
        assert receiver.sending_success_count >= previous.sending_success_count
        assert receiver.sending_failed_count >= previous.sending_failed_count
        kept = min(receiver.sending_failed_count, conf.max_stored_errors())
        assert len(receiver.status_data.get("errors", [])) == kept
        actual = (receiver.status, receiver.sending_success_count, receiver.sending_failed_count)
        assert actual == (self.status, self.success, self.failed)
        assert receiver.pending_sends == self.pending
        assert (receiver.claimed_until is not None) == (self.claim is not None)

    @invariant()
    def every_request_is_attempted_once_or_dropped(self) -> None:
        owed = self.pending + (self.claim is not None)
        attempted = self.success + self.failed - self.relay_counted
        assert attempted + owed + self.dropped == self.requests

    @invariant()
    def every_task_has_the_message_priority(self) -> None:
        results = task_backends["default"].results
        assert {result.task.priority for result in results} <= {TASK_PRIORITIES[self.priority]}

    @invariant()
    def statuses_follow_the_rules(self) -> None:
        if self.status == "not_sent":
            assert self.success == self.failed == 0
        if self.status == "sent":
            assert self.last_outcome == "ok" and self.success > 0
        if self.status == "failed":
            assert self.last_outcome in {"transient", "misconfigured"}
            if self.last_outcome == "transient":  # a relay's fault is never final
                assert self.failed <= self.max_limit_since_attempt
        if self.status == "error":
            permanent = self.last_outcome == "permanent"
            assert permanent or self.failed > self.min_limit_since_attempt
        if self.status in {"cancelled", "expired"}:
            assert self.pending == 0
        if self.status == "expired":
            assert self.past_expiry
        if self.explicit == 0:  # only cron asks again: it stops at the limit
            assert self.failed - self.relay_counted <= self.max_limit + 1


def test_status_rules_hold_in_any_order():
    run_state_machine_as_test(
        ReceiverMachine,
        settings=settings(
            max_examples=40,
            stateful_step_count=25,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
