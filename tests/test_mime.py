"""The fast way of writing an email's bytes (messaging.mime) against Python's own.

Both ways write the same message objects; the raw bytes must be equal, byte for byte.
Random boundaries are made equal by seeding ``random`` before each way writes.
"""

import itertools
import random
from email import message_from_bytes
from email.policy import Compat32

import pytest
from django.core.mail import EmailMultiAlternatives

from messaging import compat, mime

SUBJECTS = [
    "Deadline moved",
    "Deadline moved for Assignment 3 (ola.nordmann)",
    "Frist flyttet: Innlevering 3 – Øving på blåbær",  # non-ASCII
    "x" * 60,
    "y" * 69,  # "Subject: " + 69 = 78: on the limit
    "z" * 70,  # one over
    "A subject of many words that is long enough to be folded by the header folder, twice"
    " over at least, if not three times",
    "two  spaces",
    "trailing space ",
    " leading space",
    "tab\there",
    "semicolons; and, commas; in=a value",
    "=?utf-8?q?looks_encoded?=",
    'quotes "inside" and (parentheses) and <angles>',
    "",
    "a",
    "emoji 📬 in the middle",
    "word " * 30,
    "verylongwordwithoutanyspacesthatgoesonandonandonfarbeyondthelimitofseventyeightchars",
]
BODIES = [
    ("Plain body.", "<p>HTML body.</p>"),
    ("Ærlig talt: blåbær.\n" * 3, "<p>Ærlig talt: <b>blåbær</b>.</p>"),
    ("A line far longer than the limit " * 40, "<p>" + "long " * 300 + "</p>"),
    ("--===============\n.\nFrom the start\n", "<p>--boundary-looking</p>"),
]


def email_for(subject: str, plain: str, html: str, extra: dict) -> EmailMultiAlternatives:
    headers = {"Date": "Sun, 29 Nov 2026 09:00:00 -0000", "Message-ID": "<fixed@example.org>"}
    email = EmailMultiAlternatives(
        subject,
        plain,
        "Devilry <noreply@example.org>",
        ["Ola Nordmann <ola@example.org>"],
        headers={**headers, **extra},
    )
    email.attach_alternative(html, "text/html")
    return email


def reference_bytes(email: EmailMultiAlternatives) -> bytes:
    """What compat.message_bytes wrote before messaging.mime: Python's own generator."""
    if compat.MODERN_EMAIL:
        return email.message(policy=compat.SMTP_POLICY).as_bytes()
    return email.message().as_bytes(linesep="\r\n")


EXTRAS = [
    {},
    {
        "Auto-Submitted": "auto-generated",
        "List-Id": "<comment_added.example.org>",
        "List-Unsubscribe": "<https://example.org/messaging/unsubscribe/"
        + "eyJ1IjoxMjM0NTYsInQiOiJjb21tZW50X2FkZGVkIn0:1tA2bC:" * 2
        + "/>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    },
]


@pytest.mark.parametrize(
    ("subject", "body", "extra"),
    list(itertools.product(SUBJECTS, BODIES, EXTRAS)),
)
def test_message_bytes_equal_pythons_own_byte_for_byte(subject, body, extra):
    email = email_for(subject, *body, extra)
    random.seed(subject)
    expected = reference_bytes(email)
    random.seed(subject)
    assert compat.message_bytes(email) == expected


def test_header_fast_path_equals_header_folding_on_random_values():
    """The folding shortcut against compat32's own on values near its edge cases."""
    alphabet = ["a", "Z", " ", "  ", "\t", ";", ",", "=", "?", '"', "æ", "-", "x" * 20]
    rng = random.Random(12)
    own, fast = Compat32(linesep="\r\n"), mime.FAST_COMPAT32.clone(linesep="\r\n")
    shortcut_taken = 0
    for _ in range(5000):
        value = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12)))
        name = rng.choice(["Subject", "List-Id", "X"])
        shortcut_taken += bool(mime.PLAIN_VALUE.fullmatch(value))
        assert fast.fold_binary(name, value) == own.fold_binary(name, value), (name, value)
    assert shortcut_taken > 500  # the corpus exercises the shortcut, not only the fallback


def test_a_boundary_found_in_the_text_is_not_used():
    """When the first random boundary occurs in a part, Python's own check draws another."""
    random.seed(7)
    taken = mime.FastBoundaryGenerator._make_boundary()
    random.seed(7)
    email = email_for("Subject", f"--{taken}\nbody", "<p>html</p>", {})
    written = compat.message_bytes(email)
    parsed = message_from_bytes(written)
    assert parsed.get_boundary() != taken
    plain, html = parsed.get_payload()
    # Django 6's modern API ends a text part with a line break.
    ending = "\r\n" if compat.MODERN_EMAIL else ""
    assert plain.get_payload(decode=True).decode() == f"--{taken}\r\nbody{ending}"
    assert html.get_payload(decode=True).decode() == f"<p>html</p>{ending}"


ADDRESSES = [
    "ola@example.org",
    "Ola.Nordmann+inf1000@uio.no",
    "o'brien@example.org",
    "a.b.c@sub-domain.example.org",
    "x@localhost",
    "weird!#$%&*/=?^_`{|}~-chars@example.org",
    "Ola Nordmann <ola@example.org>",
    "Åse <ase@example.org>",
    "åse@example.org",
    "ola@EXAMPLE.org",
    "ola@exämple.org",
    '"quoted local"@example.org',
    "a..b@example.org",
    ".leading@example.org",
    "trailing.@example.org",
    "ola@example.org.",
    "ola@-example.org",
    "ola@" + "a" * 63 + ".org",
    "ola@" + "a" * 64 + ".org",
    "ola@exa..mple.org",
]


@pytest.mark.skipif(compat.MODERN_EMAIL, reason="Django 6.1 prepares addresses itself")
@pytest.mark.parametrize("address", ADDRESSES)
def test_envelope_address_equals_djangos_sanitize_address(address):
    from django.core.mail.message import sanitize_address

    try:
        expected = sanitize_address(address, "utf-8")
    except (ValueError, UnicodeError) as error:
        with pytest.raises(type(error)):
            compat.sanitized(address, "utf-8")
    else:
        assert compat.sanitized(address, "utf-8") == expected


@pytest.mark.parametrize("address", ADDRESSES)
def test_envelope_quoting_equals_smtplibs(address):
    import smtplib

    from messaging.delivery.pipelining import quoted

    assert quoted(address) == smtplib.quoteaddr(address)
