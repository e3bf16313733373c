"""``--only prepare``: preparing receivers our way against the straightforward pipeline.

Both sides get the same users and template and do the same work around the rendering:
the receivers are inserted chunk by chunk with the same ``bulk_create``, the transaction
commits, and delivery is enqueued on commit. The only difference is the rendering: ours
compiles once per template x language (CSS inlined, plain text made once); the baseline
renders, inlines and converts every receiver on its own. Rounds alternate between the
two sides; each side's median is reported.

Two templates: ``prepare`` (names without special characters) and ``prepare_realistic``
(subjects and bodies with parentheses, brackets, ampersands and links, a third of the
users with such characters in their names).
"""

from __future__ import annotations

import statistics
import time
import tracemalloc
from typing import Any, TextIO

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone
from wagtail.users.models import UserProfile

from messaging import conf
from messaging.api import PREPARE_CHUNK, insert_receivers, prepare_receivers
from messaging.batching import chunked
from messaging.models import Message, MessageReceiver, MessageTemplate
from messaging.tasks import enqueue_batches
from messaging.testing.rendering import render_straightforward
from messaging.users import user_languages

from .common import write_metric

ROUNDS = 3

BODY = (
    "<h2>{{ title }}</h2><p>Dear {{ user.first_name }} {{ user.last_name }},</p>"
    "<p>The deadline of <b>{{ assignment }}</b> in {{ course }} moved to {{ deadline }}.</p>"
    "<table class='data'><tr><th>Part</th><th>Points</th></tr>"
    "{% for part in parts %}<tr><td>{{ part.name }}</td><td>{{ part.points }}</td></tr>"
    "{% endfor %}</table>"
    "{% if note %}<blockquote>{{ note }}</blockquote>{% endif %}"
    '<p><a class="button" href="{{ url }}?u={{ user.username }}">Open {{ assignment }}</a></p>'
)
SUBJECT = "{{ assignment }}: new deadline for {{ user.first_name }}"
REALISTIC_BODY = (
    "<h2>{{ assignment }} ({{ course }}) [{{ term }}]</h2>"
    "<p>Hi {{ user.full_name }} (<i>{{ user.username }}</i>),</p>"
    "<p>Your group [{{ group }}] & you got feedback on <b>{{ assignment }}</b> "
    "(attempt {{ attempt }} of 3): {{ comment }}</p>"
    "<ul>{% for part in parts %}<li>{{ part.name }} ({{ part.points }} points) "
    '<a href="https://devilry.example.org/a/{{ part.id }}?from={{ user.username }}&amp;'
    'q={{ part.name }}">[details]</a></li>{% endfor %}</ul>'
    '<p>Questions? Write to <a href="mailto:{{ contact }}">{{ contact }}</a> '
    '& see <a href="https://devilry.example.org/help?topic={{ course }}">help (FAQ)</a>.</p>'
)
REALISTIC_SUBJECT = (
    "{{ assignment }} ({{ course }}) [{{ term }}]: feedback for {{ user.full_name }}"
)
CONTEXT = {
    "title": "Deadline moved",
    "assignment": "Assignment 3",
    "course": "INF1000",
    "term": "Autumn 2026",
    "group": "G7 & co",
    "attempt": 2,
    "comment": "Good work (mostly)! See [1] & fix <code> in part 2.",
    "contact": "inf1000-help@example.org",
    "deadline": "12 Dec 2026 23:59",
    "url": "https://assignments.example.org/a/3",
    "note": "Read section 2 & 3 <again>.",
    "parts": [{"id": n, "name": f"Part {n} (a&b)", "points": n * 10} for n in range(1, 6)],
}


def make_users(count: int, prefix: str, odd_names: bool) -> list[Any]:
    User = get_user_model()
    users = User.objects.bulk_create(
        User(
            username=f"{prefix}{n}",
            first_name=f"First{n}",
            last_name=("O'Brien (Jr.) [TA] & <Co>" if odd_names and n % 3 == 0 else "Last"),
            email=f"{prefix}{n}@example.org",
        )
        for n in range(count)
    )
    languages = conf.site_languages()
    UserProfile.objects.bulk_create(
        UserProfile(user=user, preferred_language=languages[n % len(languages)])
        for n, user in enumerate(users)
    )
    return users


def make_template(key: str, subject: str, body: str) -> MessageTemplate:
    fields = {"key": key, "name": key}
    for language in conf.site_languages():
        fields[f"subject_{language}"] = subject
        fields[f"body_{language}"] = body
    template = MessageTemplate(**fields)
    template.full_clean()
    template.save()
    return template


def ours(template: MessageTemplate, users: list[Any], message: Message) -> None:
    prepare_receivers(message, users, template, None, None, None)


def baseline(template: MessageTemplate, users: list[Any], message: Message) -> None:
    """``prepare_receivers`` with each receiver rendered from scratch."""
    now, ids = timezone.now(), []
    with transaction.atomic():
        for chunk in chunked(users, PREPARE_CHUNK):
            emails = [
                render_straightforward(template, user, CONTEXT, language)
                for user, language in zip(chunk, user_languages(chunk), strict=True)
            ]
            ids += insert_receivers(message, chunk, emails, now)
        message.status = Message.Status.SENDING
        message.save(update_fields=["status"])
        transaction.on_commit(lambda: enqueue_batches(ids, message_id=message.pk))


def timed_round(function, template: MessageTemplate, users: list[Any]) -> float:
    message = Message.objects.create(template=template, template_context=CONTEXT)
    start = time.perf_counter()
    function(template, users, message)
    seconds = time.perf_counter() - start
    MessageReceiver.objects.filter(message=message).delete()
    return seconds


def compare(template: MessageTemplate, users: list[Any]) -> tuple[float, float]:
    """Median seconds of ours and of the baseline, measured in alternating rounds."""
    timed_round(ours, template, users[:20])  # warm both up (imports, caches)
    timed_round(baseline, template, users[:20])
    ours_s, base_s = [], []
    for _round in range(ROUNDS):
        ours_s.append(timed_round(ours, template, users))
        base_s.append(timed_round(baseline, template, users))
    return statistics.median(ours_s), statistics.median(base_s)


def peak_mb(template: MessageTemplate, users: list[Any]) -> float:
    tracemalloc.start()
    try:
        timed_round(ours, template, users)
        return tracemalloc.get_traced_memory()[1] / 1e6
    finally:
        tracemalloc.stop()


def run(receivers: int, stdout: TextIO) -> None:
    """Print ``METRIC prepare`` and ``METRIC prepare_realistic`` (receivers/s and ratio)."""
    plain_users = make_users(receivers, "prep", odd_names=False)
    odd_users = make_users(receivers, "prepodd", odd_names=True)
    for name, template, users in [
        ("prepare", make_template("bench-prepare", SUBJECT, BODY), plain_users),
        (
            "prepare_realistic",
            make_template("bench-realistic", REALISTIC_SUBJECT, REALISTIC_BODY),
            odd_users,
        ),
    ]:
        ours_s, base_s = compare(template, users)
        ours_rate, base_rate = receivers / ours_s, receivers / base_s
        write_metric(stdout, name, ours=ours_rate, baseline=base_rate, ratio=ours_rate / base_rate)
        stdout.flush()
    many = make_users(receivers * 10, "prepmany", odd_names=True)
    small, large = peak_mb(template, odd_users), peak_mb(template, many)
    stdout.write(
        f"prepare peak memory (tracemalloc, ours): {small:.1f}MB for {receivers} receivers, "
        f"{large:.1f}MB for {receivers * 10} receivers\n"
    )
