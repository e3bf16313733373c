"""Editors' literals are text: no allowed tag or filter puts markup into an email.

Table-driven over the allowlist itself (``ALLOWED_TAGS``, ``ALLOWED_FILTERS``): each name
is tried in every shape of use that compiles, each given a literal with markup, and the
template goes through saving and ``send_message`` to a real outbox. A tag or filter added
to the allowlist later is tested here without a new test.
"""

from __future__ import annotations

import pytest
from django.core import mail
from django.core.exceptions import ValidationError

from messaging.api import send_message
from messaging.models import MessageTemplate
from messaging.rendering import ALLOWED_FILTERS, ALLOWED_TAGS
from tests.factories import make_template

pytestmark = pytest.mark.django_db

MARKUP = "<blink>x</blink>"
LITERAL = f"'{MARKUP}'"
# A date format whose escaped letters write the same markup ({% now %}, |date).
FORMAT = "'" + "".join(f"\\{char}" for char in MARKUP) + "'"
ESCAPED = "&lt;blink&gt;x&lt;/blink&gt;"
CONTEXT = {"items": ["a", "b"], "text": "plain"}


def filter_uses(name: str) -> list[str]:
    return [
        f"{{{{ {LITERAL}|{name} }}}}",
        f"{{{{ {LITERAL}|{name}:{LITERAL} }}}}",
        f"{{{{ missing|{name}:{LITERAL} }}}}",
        f"{{{{ items|{name}:{LITERAL} }}}}",
        f"{{{{ text|{name}:{FORMAT} }}}}",
    ]


def tag_uses(name: str) -> list[str]:
    ends = ALLOWED_TAGS[name]
    if not ends:
        return [
            f"{{% {name} {LITERAL} %}}",
            f"{{% {name} {FORMAT} %}}",
            f"{{% {name} {LITERAL} as v %}}{{{{ v }}}}",
            f"{{% {name} missing {LITERAL} %}}",
        ]
    close, middles = f"{{% {ends[-1]} %}}", [f"{{% {end} %}}" for end in ends[:-1]]
    uses = [
        f"{{% {name} {LITERAL} %}}{{{{ {LITERAL} }}}}{close}",
        f"{{% {name} v={LITERAL} %}}{{{{ v }}}}{close}",
        f"{{% {name} v in {LITERAL} %}}{{{{ v }}}}{close}",
        f"{{% {name} v in items %}}{{{{ {LITERAL} }}}}{close}",
    ]
    uses += [f"{{% {name} missing %}}{middle}{{{{ {LITERAL} }}}}{close}" for middle in middles]
    return uses


def saving(uses: list[str]) -> list[str]:
    """The uses a template may be saved with (the others are refused with a message)."""
    accepted = []
    for use in uses:
        template = MessageTemplate(key="probe", name="Probe", subject_en=use, body_en=use)
        try:
            template.full_clean(validate_unique=False)
        except ValidationError:
            continue
        accepted.append(use)
    return accepted


def subject_of(uses: list[str], limit: int = 255) -> str:
    """As many uses as the subject field holds, each once."""
    subject = uses[0]
    for use in uses[1:]:
        if len(subject) + 1 + len(use) <= limit:
            subject += " " + use
    return subject


CASES = [(f"filter {name}", filter_uses(name)) for name in ALLOWED_FILTERS] + [
    (f"tag {name}", tag_uses(name)) for name in ALLOWED_TAGS
]


@pytest.mark.parametrize("uses", [uses for _name, uses in CASES], ids=[n for n, _u in CASES])
def test_no_allowed_tag_or_filter_writes_an_editors_literal_as_markup(
    uses, make_user, on_commit, settings
):
    # Saving checks a template against the same values it is then sent with.
    settings.MESSAGING_CONTEXT_VARIABLES = {"other": CONTEXT}
    accepted = saving(uses)
    assert accepted, f"no shape of use compiles: {uses}"
    body = "".join(f"<p>{use}</p>" for use in accepted)
    template = make_template(
        key="literals", subject_en=subject_of(accepted), body_en=body, body_nb="", subject_nb=""
    )
    on_commit(send_message, template, [make_user(language="en")], CONTEXT)

    [email] = mail.outbox
    [(html, _mimetype)] = email.alternatives
    receiver = template.messages.get().receivers.get()
    for stored in (html, receiver.message_content_html):
        assert "<blink" not in stored
    assert "\n" not in receiver.subject
    assert email.subject == receiver.subject
    if ESCAPED in html:
        # The literal is text: escaped in the HTML, verbatim in the plain text and subject.
        assert MARKUP in receiver.message_content_plain
        assert MARKUP in email.body
        assert MARKUP in receiver.subject


@pytest.mark.parametrize(
    "source",
    [
        "{% firstof '<img src=x onerror=alert(1)>' %}",
        "{% firstof '<a href=\"javascript:alert(1)\">x</a>' %}",
        "{% with x='<img src=x onerror=y>' %}{{ x }}{% endwith %}",
        "{{ missing|default:'<img src=x onerror=y>' }}",
        "{{ items|join:'<b>' }}",
        r"{% now '\<\i\m\g\>' %}",
    ],
)
def test_the_reported_literals_reach_the_email_as_text(source, make_user, on_commit):
    template = make_template(key="reported", body_en=f"<p>{source}</p>", body_nb="")
    on_commit(send_message, template, [make_user(language="en")], CONTEXT)
    receiver = template.messages.get().receivers.get()
    html = receiver.message_content_html
    assert "<img" not in html and "<b>" not in html and '<a href="javascript' not in html
    assert "&lt;" in html
