"""The fast way of writing an email's bytes (messaging.delivery.mime) against Python's own.

Both ways write the same message objects; the raw bytes must be equal, byte for byte.
Random boundaries are made equal by seeding ``random`` before each way writes.
"""

import collections
import datetime
import email.message
import email.policy
import itertools
import pickle
import random
from email import message_from_bytes, quoprimime
from email.charset import Charset
from email.header import Header
from email.policy import Compat32
from unittest import mock

import pytest
from django.core.mail import EmailMessage, EmailMultiAlternatives
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from messaging.delivery import compat, mime

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


# compat.SMTP_POLICY without the header class cache: Python's own header factory.
PYTHONS_SMTP_POLICY = email.policy.SMTP.clone(max_line_length=998)


def reference_bytes(email: EmailMultiAlternatives) -> bytes:
    """What compat.message_bytes wrote before messaging.delivery.mime: Python's own generator."""
    if compat.MODERN_EMAIL:
        return email.message(policy=PYTHONS_SMTP_POLICY).as_bytes()
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


# --- Django 5.2's email written directly (mime.legacy_message_bytes) ----------------------

FROZEN_TIME = 1_795_000_000.25


class FrozenDatetime(datetime.datetime):
    """``datetime`` whose ``now()`` is FROZEN_TIME (Django 6 dates emails with it)."""

    @classmethod
    def now(cls, tz=None):
        return datetime.datetime.fromtimestamp(FROZEN_TIME, tz)


def both_ways(email) -> tuple[bytes | str, bytes | str]:
    """Django's own bytes and compat.message_bytes', with the same clock and randomness
    (Date, Message-ID and the boundary come out equal only then). ``email`` may be a
    function that makes it: then each way gets its own (Django's may change it). Where a
    way raises, its outcome is the error's type and text."""
    make = email if callable(email) else lambda: email
    with (
        mock.patch("time.time", return_value=FROZEN_TIME),
        mock.patch("django.core.mail.message.datetime", FrozenDatetime, create=True),
        mock.patch("messaging.delivery.mime.modern.datetime", FrozenDatetime),
    ):
        random.seed(3)
        expected = outcome(lambda: reference_bytes(make()))
        random.seed(3)
        written = outcome(lambda: compat.message_bytes(make()))
    return expected, written


def outcome(write) -> bytes | str:
    try:
        return write()
    except Exception as error:  # noqa: BLE001 - compared: both ways must fail alike
        return f"{type(error).__name__}: {error}"


def direct_bytes(email) -> bytes | None:
    """The direct way of this Django version (None: it leaves the email to Django)."""
    if compat.MODERN_EMAIL:
        return mime.modern_message_bytes(email, compat.SMTP_POLICY)
    return mime.legacy_message_bytes(email)


def plain_email(**kwargs) -> EmailMessage:
    defaults = {"subject": "Subject", "body": "Body\n", "to": ["ola@example.org"]}
    return EmailMessage(**{**defaults, **kwargs})


SHAPES = {
    "no alternative": lambda: plain_email(),
    "no alternative, empty body": lambda: plain_email(body=""),
    "no alternative, non-ASCII": lambda: plain_email(body="Blåbær\r\nog\rsyltetøy\n"),
    "no alternative, a long line": lambda: plain_email(body="lang " * 250),
    "html only": lambda: EmailMultiAlternatives(
        "Subject", "", to=["ola@example.org"], alternatives=[("<p>x</p>", "text/html")]
    ),
    "two alternatives": lambda: EmailMultiAlternatives(
        "Subject",
        "Plain",
        to=["ola@example.org"],
        alternatives=[("<p>x</p>", "text/html"), ("# x", "text/markdown")],
    ),
    "cc, reply-to and no to": lambda: plain_email(
        to=[], cc=["a@example.org", "B <b@example.org>"], reply_to=["r@example.org"]
    ),
    "To given as a header": lambda: plain_email(headers={"To": "Everyone <all@example.org>"}),
    "From given as a header": lambda: plain_email(headers={"From": "Ola <ola@example.org>"}),
    "non-ASCII names": lambda: plain_email(
        from_email="Åse <ase@example.org>", to=["Ærlig Øyvind <oy@example.org>"]
    ),
    "lower-case extra headers": lambda: plain_email(
        headers={"date": "Sun, 29 Nov 2026 09:00:00 -0000", "message-id": "<m@x>", "X-A": "b"}
    ),
    # Shapes Django's own way writes (compat.message_bytes falls back to it):
    "an attachment": lambda: EmailMessage(
        "S", "B", to=["o@example.org"], attachments=[("a.txt", "text", "text/plain")]
    ),
    "a non-text alternative": lambda: EmailMultiAlternatives(
        "S", "B", to=["o@example.org"], alternatives=[('{"a": 1}', "application/json")]
    ),
    "an upper-case subtype": lambda: EmailMultiAlternatives(
        "S", "B", to=["o@example.org"], alternatives=[("<p>x</p>", "text/HTML")]
    ),
    "an html body": lambda: html_body_email(),
    "a related multipart": lambda: related_email(),
    "a Charset object as encoding": lambda: charset_object_email(),
    "a Content-Type given as a header": lambda: EmailMultiAlternatives(
        "S",
        "B",
        to=["o@x.org"],
        alternatives=[("<p>x</p>", "text/html")],
        headers={"Content-Type": "text/plain"},
    ),
    "a long subtype": lambda: EmailMultiAlternatives(
        "S", "B", to=["o@x.org"], alternatives=[("x", "text/" + "a" * 50)]
    ),
    "extra headers as a defaultdict": lambda: plain_email(
        headers=collections.defaultdict(str, {"X-A": "b"})
    ),
    "alternatives on a plain EmailMessage": lambda: alternatives_attribute_email(),
}


def charset_object_email() -> EmailMessage:
    email = plain_email(body="lang " * 250)
    email.encoding = Charset("utf-8")  # equal to "utf-8", but Django then writes base64
    return email


def alternatives_attribute_email() -> EmailMessage:
    email = plain_email()
    email.alternatives = [("<p>ignored by Django</p>", "text/html")]
    return email


def html_body_email() -> EmailMessage:
    email = plain_email(body="<p>x</p>")
    email.content_subtype = "html"
    return email


def related_email() -> EmailMultiAlternatives:
    email = EmailMultiAlternatives("S", "B", to=["o@example.org"])
    email.attach_alternative("<p>x</p>", "text/html")
    email.alternative_subtype = "related"
    return email


@pytest.mark.parametrize("shape", list(SHAPES))
def test_direct_bytes_equal_djangos_for_every_shape(shape):
    expected, written = both_ways(SHAPES[shape])
    assert written == expected


@pytest.mark.parametrize(
    ("subject", "body", "extra"),
    list(itertools.product(SUBJECTS, BODIES, EXTRAS)),
)
def test_direct_bytes_equal_djangos_with_the_date_django_writes(subject, body, extra):
    """The corpus again, the Date and Message-ID left to Django as in a plain email."""
    expected, written = both_ways(lambda: dateless_email(subject, *body, extra))
    assert written == expected


def dateless_email(subject: str, plain: str, html: str, extra: dict) -> EmailMultiAlternatives:
    email = email_for(subject, plain, html, extra)
    del email.extra_headers["Date"], email.extra_headers["Message-ID"]
    return email


def test_direct_bytes_are_written_for_the_emails_we_send():
    """The shape of our emails takes the direct way, not the fallback to Django's."""
    plain_subjects = [s for s in SUBJECTS if mime.PLAIN_VALUE.fullmatch(s)]
    assert len(plain_subjects) > 8
    for subject, body, extra in itertools.product(plain_subjects, BODIES, EXTRAS):
        assert direct_bytes(dateless_email(subject, *body, extra)) is not None
    # Non-ASCII subjects too (Django 6.1: that header alone is parsed and folded by Python).
    assert direct_bytes(dateless_email("Blåbær på fredag", *BODIES[1], EXTRAS[1])) is not None
    assert direct_bytes(SHAPES["an attachment"]()) is None
    assert direct_bytes(SHAPES["a non-text alternative"]()) is None


@pytest.mark.parametrize("charset", ["UTF-8", "iso-8859-1"])
def test_direct_bytes_leave_other_charsets_to_django(settings, charset):
    # Django 5.2 quotes long lines only for "utf-8" exactly; "UTF-8" gets base64.
    settings.DEFAULT_CHARSET = charset
    email = email_for("Blåbær", "Blåbær " * 200, "<p>x</p>", {})
    assert direct_bytes(email) is None
    expected, written = both_ways(email)
    assert written == expected


# Emails Django refuses, or writes in ways of its own: both ways must give the same bytes,
# or the same error.
EDGE_CASES = {
    "a line break in the subject": lambda: plain_email(subject="Two\nlines"),
    "a carriage return in the subject": lambda: plain_email(subject="Two\rlines"),
    "a line break in the sender": lambda: plain_email(from_email="a@x\nBcc: b@x"),
    "a line break in an extra header": lambda: plain_email(headers={"X-B": "a\nb"}),
    "a tuple alternative": lambda: tuple_alternative_email(),
    "a non-ASCII name then a line break": lambda: plain_email(headers={"Ø": "x", "X-B": "a\nb"}),
    "a lone surrogate": lambda: plain_email(body="broken \udcff surrogate"),
    "a second subject": lambda: plain_email(headers={"Subject": "A second subject"}),
    "a Bcc header": lambda: plain_email(headers={"Bcc": "b@x.org"}),
    # quoted-printable over ten lines (Django 6.1 decides on the first ten)
    "many long lines": lambda: plain_email(body="lang linje " * 100 + "\n" + "kort\n" * 20),
    "base64 shorter": lambda: plain_email(body="Блок " * 300),  # 6.1: left to Python
    "a long non-ASCII subject": lambda: plain_email(subject="Blåbær og syltetøy " * 8),
    "an odd Message-ID": lambda: plain_email(headers={"Message-ID": "<odd id@x>"}),
    "an encoded word in a sender": lambda: plain_email(
        from_email="=?utf-8?b?T2xh?= <noreply@x.org>"
    ),
    "an encoded word in an address": lambda: plain_email(to=["=?utf-8?q?x?=@x.org"]),
    "an encoded word in a Message-ID": lambda: plain_email(
        headers={"Message-ID": "<a..=?us-ascii?q?x?=@x.org>"}
    ),
    "two Message-IDs": lambda: plain_email(
        headers={"Message-ID": "<a@x.org>", "message-id": "<b@x.org>"}
    ),
    "a header line over 998": lambda: plain_email(headers={"List-Id": "x" * 1000}),
}


@pytest.mark.parametrize("case", list(EDGE_CASES))
def test_direct_bytes_equal_djangos_on_edge_cases(case):
    expected, written = both_ways(EDGE_CASES[case])
    assert written == expected


def tuple_alternative_email() -> EmailMultiAlternatives:
    email = EmailMultiAlternatives("S", "B", to=["o@x.org"])
    email.alternatives.append(("<p>x</p>", "text/html"))  # not attach_alternative()
    return email


# Characters where quoted-printable, line ends and headers have their edge cases.
EDGE_TEXT = st.text(
    alphabet=st.sampled_from(
        list("ab =\t\r\n.-") + ["æ", "€", "📬", "\x00", "\x0b", "\x7f", "\x85", "\u2028"]
    ),
    max_size=300,
)
ADDRESS_VALUES = [
    "o@x.org",
    "Ola Nordmann <ola@example.org>",
    '"Nordmann, Ola" <ola@example.org>',
    "Åse <ase@example.org>",
    "a@bü.org",
    "Ola.N <o@x.org>",
    "UPPER@Example.ORG",
]
HEADER_VALUES = [
    "<list.example.org>",
    "auto-generated",
    "Blåbær",
    "a  b",
    "=?utf-8?q?x?=",
    "x" * 90,
]


@hypothesis_settings(max_examples=400, deadline=None)
@given(
    subject=st.lists(st.sampled_from([*'ab ;,=?"\tæ', "x" * 30]), max_size=8).map("".join),
    plain=EDGE_TEXT,
    html=EDGE_TEXT | st.builds(lambda text: text * 80, EDGE_TEXT) | st.just(""),
    sender=st.sampled_from(ADDRESS_VALUES),
    to=st.lists(st.sampled_from(ADDRESS_VALUES), min_size=1, max_size=2),
    extra=st.dictionaries(
        st.sampled_from(["List-Id", "X-Tag", "Message-ID", "Reply-To"]),
        st.sampled_from([*HEADER_VALUES, *ADDRESS_VALUES, "<m.1@Host-1.Example.ORG>"]),
        max_size=2,
    ),
)
def test_direct_bytes_equal_djangos_on_random_emails(subject, plain, html, sender, to, extra):
    def make():
        email = EmailMultiAlternatives(subject, plain, sender, to, headers=dict(extra))
        if html:
            email.attach_alternative(html, "text/html")
        return email

    expected, written = both_ways(make)
    assert written == expected


@pytest.mark.parametrize(
    "host", ["Host-1.Example.ORG", "odd_host", "xn--bl-zia.example", "bü.example"]
)
def test_direct_bytes_equal_djangos_with_the_message_id_django_makes(host):
    from django.core.mail.utils import DNS_NAME

    DNS_NAME.get_fqdn()
    with mock.patch.object(DNS_NAME, "_fqdn", host):
        expected, written = both_ways(lambda: plain_email())
    assert written == expected


def test_direct_bytes_equal_djangos_with_local_time(settings):
    settings.EMAIL_USE_LOCALTIME = True
    settings.TIME_ZONE = "Europe/Oslo"
    expected, written = both_ways(lambda: plain_email())
    assert written == expected
    assert b"+0100" in written or b"+0200" in written


@hypothesis_settings(max_examples=1000, deadline=None)
@given(
    text=st.text(alphabet=st.characters(max_codepoint=255), max_size=400)
    | st.text(max_size=100)  # over 255 too: Python leaves those as they are
)
def test_quoted_printable_equals_pythons(text):
    assert mime.quoted_printable(text) == quoprimime.body_encode(text)


@pytest.mark.parametrize("width", range(70, 82))
@pytest.mark.parametrize("tail", ["", " ", "\t", "=", "æ", " \n", "=\n", "\r\n"])
def test_quoted_printable_equals_pythons_at_the_wrapping_edges(width, tail):
    for filler in ("x", "=", "xæ"):
        text = (filler * width)[:width] + tail
        text = text.encode().decode("latin-1")
        assert mime.quoted_printable(text) == quoprimime.body_encode(text), repr(text)


def test_simple_subjects_are_left_as_they_are_by_django():
    """The subject shortcut against Header(value).encode() on random values near its edge."""
    rng = random.Random(9)
    alphabet = ["a", "Z", " ", "  ", "=?", "?=", ";", ",", "-", "x" * 9, "y" * 25]
    taken = 0
    for _ in range(5000):
        value = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 14)))
        if mime.simple_subject(value):
            taken += 1
            assert Header(value).encode() == value, value
    assert taken > 500


def test_a_message_with_the_header_class_cache_can_be_pickled():
    message = email.message.EmailMessage(policy=compat.SMTP_POLICY)
    message["Subject"] = "Blåbær"
    message["To"] = "Ola <ola@example.org>"
    copy = pickle.loads(pickle.dumps(message))
    assert copy.as_bytes() == message.as_bytes()


# --- the switch and Python's header hardening -------------------------------------------


def test_with_direct_mime_off_every_email_is_djangos_own(settings, monkeypatch):
    settings.MESSAGING_DIRECT_MIME = False

    def refuse(*args, **kwargs):
        raise AssertionError("the direct writer ran with MESSAGING_DIRECT_MIME off")

    monkeypatch.setattr(mime, "legacy_message_bytes", refuse)
    monkeypatch.setattr(mime, "modern_message_bytes", refuse)
    email = email_for(SUBJECTS[2], *BODIES[1], EXTRAS[1])
    expected, written = both_ways(email)
    assert isinstance(written, bytes)
    assert written == expected


@pytest.mark.parametrize("bad", ["\r", "\n", "\r\n", "\x00", "a\r\nBcc: rector@example.org"])
@pytest.mark.parametrize("where", ["subject", "extra header", "header name", "address"])
def test_a_header_python_would_refuse_is_left_to_djangos_way(bad, where):
    """CR, LF and NUL in any header value: the direct writer steps aside, so Django's and
    Python's own checks (and their security fixes) decide, exactly as without it."""
    subject, extra, to = "Deadline", {"X-Note": "fine"}, ["ola@example.org"]
    if where == "subject":
        subject = f"Dead{bad}line"
    elif where == "extra header":
        extra = {"X-Note": f"fi{bad}ne"}
    elif where == "header name":
        extra = {f"X-No{bad}te": "fine"}
    else:
        to = [f"ola{bad}@example.org"]

    def make():
        return plain_email(subject=subject, headers=extra, to=to)

    assert direct_bytes(make()) is None
    expected, written = both_ways(make)
    assert written == expected


def test_a_written_header_may_break_its_line_only_where_it_folds():
    from messaging.delivery.mime.shape import folded_safely

    assert folded_safely(b"Subject: a long\r\n folded value\r\n")
    assert folded_safely(b"Subject: tab\r\n\tfolded\r\n")
    assert not folded_safely(b"Subject: a\r\nBcc: rector@example.org\r\n")
    assert not folded_safely(b"Subject: a\rb\r\n")
    assert not folded_safely(b"Subject: no line end")
