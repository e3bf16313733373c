"""``--only prepare``: preparing receivers our way against the straightforward pipeline.

Both run in one process on the same users and template, inside a transaction that is
rolled back, so the database is left as it was.
"""

from __future__ import annotations

import time
import tracemalloc
from typing import Any, TextIO

from django.contrib.auth import get_user_model
from django.db import transaction
from wagtail.users.models import UserProfile

from messaging import rendering
from messaging.api import prepare_receivers
from messaging.models import Message, MessageReceiver, MessageTemplate

BODY = (
    "<h1>{{ title }}</h1><p>Dear {{ user.first_name }} {{ user.last_name }},</p>"
    "<p>The deadline of <b>{{ assignment }}</b> in {{ course }} moved to {{ deadline }}.</p>"
    "<table class='data'><tr><th>Part</th><th>Points</th></tr>"
    "{% for part in parts %}<tr><td>{{ part.name }}</td><td>{{ part.points }}</td></tr>"
    "{% endfor %}</table>"
    "{% if note %}<blockquote>{{ note }}</blockquote>{% endif %}"
    '<p><a class="button" href="{{ url }}?u={{ user.username }}">Open {{ assignment }}</a></p>'
)
CONTEXT = {
    "title": "Deadline moved",
    "assignment": "Assignment 3",
    "course": "INF1000",
    "deadline": "12 Dec 2026 23:59",
    "url": "https://assignments.example.org/a/3",
    "note": "Read section 2 & 3 <again>.",
    "parts": [{"name": f"Part {n}", "points": n * 10} for n in range(1, 6)],
}


class Rollback(Exception):
    """Raised to roll the benchmark's data back."""


def make_users(count: int) -> list[Any]:
    User = get_user_model()
    users = User.objects.bulk_create(
        User(username=f"bench{n}", first_name=f"First{n}", last_name="Last", email=f"b{n}@x.org")
        for n in range(count)
    )
    languages = rendering.site_languages()
    UserProfile.objects.bulk_create(
        UserProfile(user=user, preferred_language=languages[n % len(languages)])
        for n, user in enumerate(users)
    )
    return users


def make_template() -> MessageTemplate:
    fields = {"key": "bench-template", "name": "Benchmark"}
    for language in rendering.site_languages():
        fields[f"subject_{language}"] = "{{ assignment }}: new deadline for {{ user.first_name }}"
        fields[f"body_{language}"] = BODY
    return MessageTemplate.objects.create(**fields)


def baseline(template: MessageTemplate, users: list[Any], message: Message) -> None:
    """Render, inline, convert and insert each receiver on its own."""
    for user in users:
        email = rendering.render_straightforward(template, user, CONTEXT)
        MessageReceiver.objects.create(
            message=message,
            user=user,
            language=email.language,
            subject=email.subject,
            message_content_html=email.html,
            message_content_plain=email.plain,
        )


def ours(template: MessageTemplate, users: list[Any], message: Message) -> None:
    prepare_receivers(message, users, template, None, None, None)


def timed(function, *args) -> float:
    start = time.perf_counter()
    function(*args)
    return time.perf_counter() - start


def peak_mb(function, *args) -> float:
    tracemalloc.start()
    try:
        function(*args)
        return tracemalloc.get_traced_memory()[1] / 1e6
    finally:
        tracemalloc.stop()


def run(receivers: int, stdout: TextIO) -> None:
    """Print ``METRIC prepare ours=<receivers/s> baseline=<receivers/s> ratio=<ours/baseline>``."""
    try:
        with transaction.atomic():
            users, template = make_users(receivers), make_template()
            message = Message.objects.create(template=template, template_context=CONTEXT)
            ours(template, users[:20], message)  # warm up caches of both pipelines
            baseline(template, users[:20], message)
            ours_s = timed(ours, template, users, message)
            base_s = timed(baseline, template, users, message)
            ours_mb = peak_mb(ours, template, users, message)
            base_mb = peak_mb(baseline, template, users[: max(1, receivers // 10)], message)
            raise Rollback
    except Rollback:
        pass
    ours_rate, base_rate = receivers / ours_s, receivers / base_s
    stdout.write(
        f"METRIC prepare ours={ours_rate:.1f} baseline={base_rate:.1f} "
        f"ratio={ours_rate / base_rate:.2f}\n"
    )
    stdout.write(
        f"prepare peak memory (tracemalloc): ours={ours_mb:.1f}MB for {receivers} receivers, "
        f"baseline={base_mb:.1f}MB for {max(1, receivers // 10)} receivers\n"
    )
