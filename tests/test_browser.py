"""The Wagtail admin in a real browser: Playwright driving Debian's Chromium."""

from __future__ import annotations

import os
import re
import shutil
from datetime import timedelta

import pytest
from django.utils import timezone

from messaging.models import MessageReceiver
from tests.conftest import require_service
from tests.factories import TEMPLATE_DEFAULTS, make_message, make_receiver

# Playwright's sync API runs an event loop in this thread; Django's ORM would refuse to
# be called from it otherwise.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CHROMIUM = os.environ.get("MESSAGING_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = os.environ.get("MESSAGING_SCREENSHOTS")  # a folder, to look at the pages
Status = MessageReceiver.Status
TRACEBACK = (
    "Traceback (most recent call last):\n"
    '  File "/srv/messaging/sending.py", line 42, in send_one\n'
    "    connection.send_messages([email])\n"
    "TimeoutError: timed out\n"
)


@pytest.fixture(scope="module")
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        sync_playwright = None
    available = sync_playwright is not None and shutil.which(CHROMIUM) is not None
    require_service(
        "chromium",
        available,
        f"needs Playwright and Chromium at {CHROMIUM}: apt-get install -y chromium",
    )
    with sync_playwright() as playwright:  # noqa: SIM117
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def root_page(db):
    """Transactional tests flush the tables; Wagtail's dashboard needs its root page back."""
    from wagtail.models import Locale, Page

    Locale.objects.get_or_create(language_code="en")
    if not Page.objects.filter(depth=1).exists():
        Page.add_root(instance=Page(title="Root", slug="root"))


def logged_in(browser, live_server, username: str, width: int = 1440, height: int = 900):
    """A new browser page of ``width`` CSS pixels, logged in to the admin as ``username``."""
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", "pw")
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/admin/")
    return page


@pytest.fixture
def page(browser, live_server, make_user, root_page):
    make_user("root", is_superuser=True, is_staff=True)
    page = logged_in(browser, live_server, "root")
    yield page
    page.context.close()


@pytest.fixture
def narrow_page(browser, live_server, make_user, root_page):
    """A superuser's page in a 1000 px wide window."""
    make_user("narrow", is_superuser=True, is_staff=True)
    page = logged_in(browser, live_server, "narrow", width=1000)
    yield page
    page.context.close()


@pytest.fixture
def staff_page(browser, live_server, make_user, root_page):
    """A user who may look at receivers and messages, but not resend."""
    from django.contrib.auth.models import Group, Permission

    staff = make_user("staff", is_staff=True, first_name="Sam", last_name="Staff")
    group = Group.objects.create(name="Messaging staff")
    group.permissions.add(
        *Permission.objects.filter(
            codename__in=["access_admin", "view_messagereceiver", "view_message"]
        )
    )
    staff.groups.add(group)
    page = logged_in(browser, live_server, "staff")
    yield page
    page.context.close()


def screenshot(page, name: str) -> None:
    """Save the whole page as ``<name>.png`` in the ``MESSAGING_SCREENSHOTS`` folder, if set.

    Wagtail scrolls its ``main``, not the document: the window is made as tall as that
    content for the picture, then given its height back.
    """
    if not SCREENSHOTS:
        return
    os.makedirs(SCREENSHOTS, exist_ok=True)
    viewport = page.viewport_size
    content_height = page.evaluate(
        "Math.max(document.documentElement.scrollHeight,"
        " ...Array.from(document.querySelectorAll('main'), el => el.scrollHeight + el.offsetTop))"
    )
    page.set_viewport_size(
        {"width": viewport["width"], "height": max(content_height, viewport["height"])}
    )
    try:
        page.screenshot(path=os.path.join(SCREENSHOTS, f"{name}.png"), full_page=True)
    finally:
        page.set_viewport_size(viewport)


def failure(minutes_ago: int, text: str) -> dict:
    when = timezone.now() - timedelta(minutes=minutes_ago)
    return {"error_message": text, "timestamp": when.isoformat(), "exception_traceback": TRACEBACK}


@pytest.fixture
def receivers(make_user):
    users = [
        make_user(name, first_name=name.title(), last_name="Student")
        for name in ("ada", "ben", "cleo", "dan")
    ]
    message = make_message(context_type="deadline_moved")

    def make(user, status, **fields):
        return make_receiver(
            message,
            user,
            subject=f"Deadline moved for {user.first_name}",
            message_content_html=f"<p>Hello {user.first_name}</p>",
            message_content_plain=f"Hello {user.first_name}\n",
            status=status,
            **fields,
        )

    failed = {
        "sending_failed_count": 2,
        "status_data": {"errors": [failure(30, "first"), failure(5, "second")]},
    }
    return {
        "failed": [
            make(users[0], Status.FAILED, **failed),
            make(users[1], Status.FAILED, **failed),
        ],
        "sent": make(users[2], Status.SENT, sent_datetime=timezone.now(), sending_success_count=1),
        "error": make(users[3], Status.ERROR, sending_failed_count=3),
    }


def test_filter_select_two_and_bulk_resend(page, live_server, receivers, mailoutbox):
    page.goto(f"{live_server.url}/admin/messaging/receivers/")
    rows = page.locator("table.listing tbody tr")
    assert rows.count() == 4
    screenshot(page, "receivers")

    page.get_by_role("button", name="Show filters").click()
    # "Status" alone: the "Delivery status" filter sits beside it.
    page.locator("button.w-drilldown__toggle", has_text=re.compile(r"^\s*Status")).click()
    page.get_by_label("Failed", exact=True).check()
    page.wait_for_url("**status=failed**")
    page.wait_for_function("document.querySelectorAll('table.listing tbody tr').length === 2")
    screenshot(page, "receivers_filtered")

    for receiver in receivers["failed"]:
        page.check(f"[data-bulk-action-checkbox][data-object-id='{receiver.pk}']")
    page.locator("[data-bulk-action-footer] [data-bulk-action-button]", has_text="Resend").click()
    page.wait_for_url("**/admin/bulk/messaging/messagereceiver/resend/**")
    assert "Deadline moved for Ada" in page.content()
    screenshot(page, "confirm_resend")
    page.get_by_role("button", name="Yes, resend").click()

    page.wait_for_url("**/admin/messaging/receivers/**")
    assert page.get_by_text("2 receivers were queued for sending.").is_visible()
    screenshot(page, "resent")
    for receiver in receivers["failed"]:
        receiver.refresh_from_db()
        assert receiver.status == Status.SENT, receiver.status_data  # delivered by the task
    assert len(mailoutbox) == 2


def test_inspect_shows_the_traceback_panel(page, live_server, receivers):
    receiver = receivers["failed"][0]
    page.goto(f"{live_server.url}/admin/messaging/receivers/inspect/{receiver.pk}/")
    panel = page.locator("[data-traceback-panel]")
    attempts = panel.locator("[data-error-attempt]")
    assert attempts.count() == 2
    assert attempts.nth(0).locator(".msg-error__message").inner_text() == "second"
    assert attempts.nth(1).locator(".msg-error__message").inner_text() == "first"
    traceback = attempts.nth(0).locator(".msg-traceback pre")
    assert traceback.is_visible()
    assert traceback.inner_text().splitlines()[-1] == "TimeoutError: timed out"
    assert traceback.locator("span").count() > 3  # Pygments tokens
    assert page.get_by_role("button", name="Resend").is_visible()
    screenshot(page, "inspect")


def test_script_in_stored_html_cannot_touch_the_admin(page, live_server, receivers):
    receiver = receivers["error"]
    receiver.message_content_html = (
        "<p id='greeting'>Hello</p>"
        "<script>parent.document.body.innerHTML='HACKED';"
        "document.getElementById('greeting').textContent='script ran'</script>"
    )
    receiver.save()
    page.goto(f"{live_server.url}/admin/messaging/receivers/inspect/{receiver.pk}/")
    frame = page.frame_locator("iframe.msg-preview")
    assert frame.locator("#greeting").inner_text() == "Hello"  # rendered, script never ran
    page.wait_for_timeout(300)
    assert "HACKED" not in page.locator("body").inner_text()
    assert page.locator("[data-traceback-panel]").is_visible()


def test_dashboard_panel(page, live_server, receivers):
    from playwright.sync_api import expect

    page.goto(f"{live_server.url}/admin/")
    screenshot(page, "dashboard")
    summary = page.locator("[data-messaging-summary]")
    expect(summary.locator("svg rect.msg-chart__sent")).to_have_count(14)
    summary.locator("a.msg-tile--failed").click()
    page.wait_for_url("**/admin/messaging/receivers/?status=failed")
    assert page.locator("table.listing tbody tr").count() == 2
    page.goto(f"{live_server.url}/admin/")
    screenshot(page, "dashboard")


def test_dashboard_summary_is_padded_and_shows_its_counts_whole(
    narrow_page, live_server, receivers
):
    narrow_page.goto(f"{live_server.url}/admin/")
    panel = narrow_page.locator("#messaging-summary-section").bounding_box()
    heading = narrow_page.locator("#messaging-summary-section [data-panel-toggle]").bounding_box()
    for item in ["a.msg-tile", "figure.msg-chart"]:
        box = narrow_page.locator(f"[data-messaging-summary] {item}").first.bounding_box()
        assert box["x"] - panel["x"] >= 16, item  # Wagtail's dashboard panels: 1.5rem
        assert abs(box["x"] - heading["x"]) < 2, item  # in line with the panel's heading
    svg = narrow_page.locator("[data-messaging-summary] svg").bounding_box()
    values = narrow_page.locator("[data-messaging-summary] text.msg-chart__value")
    assert values.count() == 1
    value = values.first.bounding_box()
    assert value["y"] >= svg["y"] and value["y"] + value["height"] <= svg["y"] + svg["height"]


def test_variable_names_never_break_at_1000_px(narrow_page, live_server):
    from messaging.models import MessageTemplate

    template = MessageTemplate.objects.create(
        key="deadline", name="Deadline", context_type="deadline_moved", subject="S", body="B"
    )
    narrow_page.goto(
        f"{live_server.url}/admin/snippets/messaging/messagetemplate/edit/{template.pk}/"
    )
    chips = narrow_page.locator("[data-messaging-variables] tr:not([hidden]) code")
    assert chips.count() >= 8
    lines = chips.evaluate_all("chips => chips.map(chip => chip.getClientRects().length)")
    assert set(lines) == {1}, chips.all_inner_texts()
    screenshot(narrow_page, "variables_panel_1000px")


LONG_WORD = "x" * 400
LONG_SUBJECT = "Tilbakemelding på Assignment 3 i INF1000: " + "svært lang emnelinje " * 12
HORIZONTAL_OVERFLOW = "document.documentElement.scrollWidth - document.documentElement.clientWidth"


def test_inspect_page_does_not_scroll_sideways_at_1000_px(narrow_page, live_server, receivers):
    receiver = receivers["failed"][0]
    receiver.status_data = {
        "errors": [
            {
                "error_message": "550 refused: " + LONG_WORD,
                "timestamp": timezone.now().isoformat(),
                "exception_traceback": TRACEBACK + "smtplib.SMTPDataError: " + LONG_WORD + "\n",
            }
        ]
    }
    receiver.message_content_plain = "A line without spaces: " + LONG_WORD
    receiver.save()
    narrow_page.goto(f"{live_server.url}/admin/messaging/receivers/inspect/{receiver.pk}/")
    screenshot(narrow_page, "inspect_1000px")
    assert narrow_page.evaluate(HORIZONTAL_OVERFLOW) == 0
    # The traceback keeps its lines and scrolls inside its own box instead.
    traceback = narrow_page.locator(".msg-traceback pre").first
    assert traceback.evaluate("el => el.scrollWidth > el.clientWidth")


def test_receivers_list_keeps_subjects_on_one_line(narrow_page, live_server, receivers):
    MessageReceiver.objects.filter(pk=receivers["sent"].pk).update(subject=LONG_SUBJECT)
    narrow_page.goto(f"{live_server.url}/admin/messaging/receivers/")
    screenshot(narrow_page, "receivers_1000px")
    assert narrow_page.evaluate(HORIZONTAL_OVERFLOW) == 0
    links = narrow_page.locator("td.title a")
    assert links.count() == 4
    for index in range(links.count()):
        link = links.nth(index)
        lines = link.evaluate(
            "el => el.getBoundingClientRect().height / parseFloat(getComputedStyle(el).lineHeight)"
        )
        assert lines < 1.5, link.inner_text()
    long_one = narrow_page.locator(f"a[title='{LONG_SUBJECT}']")
    assert long_one.evaluate("el => el.scrollWidth > el.clientWidth")  # cut, with an ellipsis


@pytest.fixture
def crowded(make_user):
    """The widest rows the listings meet: long subject, name, address, error and labels.

    The newest receiver (first in the listing) is in Norwegian, failed twice, of a message
    that has a receiver in every status.
    """
    from messaging.models import MessageTemplate

    creator = make_user(
        "maximiliane", first_name="Maximiliane", last_name="Wolkenstein-Rodenegg-Trostburg"
    )
    template = MessageTemplate.objects.create(
        key="feedback-published-with-grades",
        name="Feedback published, with the grades of every part",
        context_type="feedback_published",
        subject="S",
        body="<p>B</p>",
    )
    message = make_message(context_type="feedback_published", template=template, created_by=creator)
    for status in [Status.SENT, Status.ERROR, Status.NOT_SENT, Status.DIGEST_PENDING]:
        make_receiver(message, subject=LONG_SUBJECT, status=status)
    user = make_user(
        "bartholomew",
        first_name="Bartholomew",
        last_name="Featherstonehaugh-Cholmondeley",
        email="bartholomew.featherstonehaugh-cholmondeley@students.example.org",
    )
    error = "550 5.1.1 The mail server refused the recipient: mailbox unavailable " * 3
    return make_receiver(
        message,
        user,
        subject=LONG_SUBJECT,
        language="nb",
        status=Status.FAILED,
        sending_failed_count=2,
        status_data={"errors": [failure(5, error)]},
    )


def inside_window(locator, width: int) -> bool:
    """Whether the element is shown and lies between the window's left and right edges."""
    box = locator.bounding_box()
    return (
        box is not None and box["width"] > 0 and box["x"] >= 0 and box["x"] + box["width"] <= width
    )


MAIN_OVERFLOW = (
    "(() => { const m = document.querySelector('main'); return m.scrollWidth - m.clientWidth; })()"
)


@pytest.mark.parametrize(
    ("listing", "width", "headings"),
    [
        ("receivers", 1280, ["ID", "Subject", "User", "Status", "Last error", "Sent"]),
        ("receivers", 1000, ["Subject", "Status"]),
        ("messages", 1280, ["ID", "Subject", "Created", "Status", "Created by", "Receivers"]),
        ("messages", 1000, ["Subject", "Status", "Receivers"]),
    ],
)
def test_required_columns_lie_inside_the_window(
    browser, live_server, make_user, root_page, crowded, listing, width, headings
):
    make_user("root", is_superuser=True, is_staff=True)
    page = logged_in(browser, live_server, "root", width=width, height=800)
    try:
        page.goto(f"{live_server.url}/admin/messaging/{listing}/")
        screenshot(page, f"{listing}_{width}px")
        header_cells = page.locator("table.listing thead th")
        labels = [label.strip() for label in header_cells.all_inner_texts()]
        first_row = page.locator("table.listing tbody tr").first.locator("> td")
        for heading in headings:
            index = labels.index(heading)
            assert inside_window(header_cells.nth(index), width), heading
            assert inside_window(first_row.nth(index), width), heading
        assert page.evaluate(MAIN_OVERFLOW) == 0  # nothing hides past the right edge
        if listing == "messages":
            counts = page.locator("table.listing tbody tr").first.locator(".msg-counts a")
            assert counts.count() == 5
            for index in range(counts.count()):
                assert inside_window(counts.nth(index), width), counts.nth(index).inner_text()
    finally:
        page.context.close()


def test_hidden_columns_show_inside_other_cells_at_1000_px(narrow_page, live_server, crowded):
    narrow_page.goto(f"{live_server.url}/admin/messaging/receivers/")
    row = narrow_page.locator("table.listing tbody tr").first
    for hidden in ["Language", "Failed", "Succeeded", "Context type", "Last error", "Created"]:
        assert not narrow_page.locator("thead th", has_text=hidden).first.is_visible(), hidden
    subject_fold = row.locator("td.title .msg-fold")
    assert subject_fold.inner_text() == "Norwegian Bokmål · Feedback published"
    status_folds = row.locator("td .msg-status ~ .msg-fold")
    assert status_folds.all_inner_texts() == [
        "Failed: 2",
        crowded.errors[0]["error_message"].strip(),
    ]
    for fold in [subject_fold, status_folds.nth(0), status_folds.nth(1)]:
        assert inside_window(fold, 1000)
    narrow_page.goto(f"{live_server.url}/admin/messaging/messages/")
    subject = narrow_page.locator("table.listing tbody tr").first.locator("td.title .msg-fold")
    assert subject.all_inner_texts() == [
        "Feedback published · Feedback published, with the grades of every part",
        "Maximiliane Wolkenstein-Rodenegg-Trostburg (maximiliane)",
    ]


def test_staff_without_resend_permission_are_offered_no_resend(staff_page, live_server, receivers):
    staff_page.goto(f"{live_server.url}/admin/messaging/receivers/")
    assert staff_page.locator("table.listing tbody tr").count() == 4
    assert staff_page.locator("[data-bulk-action-checkbox]").count() == 0
    assert staff_page.get_by_role("button", name="Resend").count() == 0
    assert staff_page.get_by_text("Resend", exact=True).count() == 0
    staff_page.goto(
        f"{live_server.url}/admin/messaging/receivers/inspect/{receivers['failed'][0].pk}/"
    )
    assert staff_page.locator("[data-traceback-panel]").is_visible()
    assert staff_page.get_by_role("button", name="Resend").count() == 0


def test_variables_table_follows_the_context_type(page, live_server):
    from messaging.models import MessageTemplate

    template = MessageTemplate.objects.create(
        key="feedback", name="Feedback", context_type="feedback_published", subject="S", body="B"
    )
    page.goto(f"{live_server.url}/admin/snippets/messaging/messagetemplate/edit/{template.pk}/")
    table = page.locator("[data-messaging-variables]")
    grades = table.locator("tr", has_text="grades")
    author = table.locator("tr", has_text="author")
    assert grades.is_visible() and not author.is_visible()
    assert grades.locator("li").all_inner_texts() == [
        "part: Part A, grade: B",
        "part: Part B, grade: A",
    ]
    page.select_option("select[name=context_type]", "comment_added")
    assert author.is_visible() and not grades.is_visible()
    assert table.locator("tr", has_text="user.first_name").is_visible()
    screenshot(page, "variables_panel")


def test_a_user_signs_in_to_the_preferences_in_the_sites_frame(browser, live_server, make_user):
    make_user("ola", first_name="Ola", last_name="Nordmann", language="nb")
    context = browser.new_context(viewport={"width": 1000, "height": 800})
    page = context.new_page()
    page.set_default_timeout(15_000)
    try:
        page.goto(f"{live_server.url}/messaging/preferences/")
        assert "/_util/login/" in page.url
        assert page.locator("header.site-header").is_visible()  # the site's base.html
        screenshot(page, "user_login")
        page.fill("input[name=username]", "ola")
        page.fill("input[name=password]", "pw")
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url("**/messaging/preferences/")
        assert page.locator("header .site-user").inner_text() == "Ola Nordmann"
        save = page.get_by_role("button", name="Lagre")
        # The site's stylesheet, not the browser's grey button.
        assert save.evaluate("el => getComputedStyle(el).backgroundColor") == "rgb(29, 78, 137)"
        screenshot(page, "user_preferences")
    finally:
        context.close()


def test_user_changes_notification_preferences_on_the_page(browser, live_server, make_user):
    from django.conf import settings
    from django.test import Client

    from messaging.models import NotificationPreference

    user = make_user("kari", language="nb")  # a user, not staff: the page is for everyone
    client = Client()
    client.force_login(user)
    context = browser.new_context()
    context.add_cookies(
        [
            {
                "name": settings.SESSION_COOKIE_NAME,
                "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
                "url": live_server.url,
            }
        ]
    )
    page = context.new_page()
    page.set_default_timeout(15_000)
    try:
        page.goto(f"{live_server.url}/messaging/preferences/")
        assert page.locator("h1").inner_text() == "E-postvarsler"
        comments = page.locator("#type-comment_added")
        assert comments.locator("input[value=immediate]").is_checked()  # the default
        comments.get_by_label("Daglig sammendrag").check()
        page.get_by_role("button", name="Lagre").click()
        page.wait_for_load_state()
        assert "Varslingsvalgene dine er lagret." in page.content()
        assert page.locator("#type-comment_added input[value=daily]").is_checked()
        screenshot(page, "notification_preferences")
    finally:
        context.close()
    preference = NotificationPreference.objects.get(user=user)
    assert (preference.context_type, preference.mode) == ("comment_added", "daily")


# --- every admin page, as the staff guide shows them ---------------------------------------

WIDTHS = [1280, 1000]  # the daily screen, and half of a wide one
# name -> (URL, only for users who may change things)
ADMIN_PAGES = {
    "dashboard": ("/admin/", False),
    "receivers": ("/admin/messaging/receivers/", False),
    "receiver": ("/admin/messaging/receivers/inspect/{receiver}/", False),
    "resend": (
        "/admin/bulk/messaging/messagereceiver/resend/?next=/admin/messaging/receivers/"
        "&id={receiver}",
        True,
    ),
    "messages": ("/admin/messaging/messages/", False),
    "message": ("/admin/messaging/messages/inspect/{message}/", False),
    "suppressions": ("/admin/messaging/suppressions/", False),
    "suppression": ("/admin/messaging/suppressions/edit/{suppression}/", True),
    "templates": ("/admin/snippets/messaging/messagetemplate/", False),
    "template": ("/admin/snippets/messaging/messagetemplate/edit/{template}/", True),
    "preferences": ("/admin/messaging/preferences/", False),
    "preference": ("/admin/messaging/preferences/edit/{preference}/", True),
}


@pytest.fixture
def tour_user(request, make_user, root_page):
    """The admin (a superuser), the demo's staff (looks, changes nothing), or nb (Norwegian)."""
    from django.contrib.auth.models import Group, Permission

    from config.management.commands.messaging_demo import STAFF_PERMISSIONS

    who = request.param
    if who == "staff":
        user = make_user("staff", is_staff=True, first_name="Sam", last_name="Staff")
        group = Group.objects.create(name="Messaging staff")
        group.permissions.add(*Permission.objects.filter(codename__in=STAFF_PERMISSIONS))
        user.groups.add(group)
    else:
        names = {"admin": ("Ada", "Admin", ""), "nb": ("Nora", "Nordmann", "nb")}[who]
        first, last, language = names
        make_user(
            who,
            is_superuser=True,
            is_staff=True,
            first_name=first,
            last_name=last,
            language=language,
        )
    return who


@pytest.mark.parametrize("tour_user", ["admin", "staff", "nb"], indirect=True)
def test_every_admin_page_fits_the_staffs_widths(browser, live_server, crowded, tour_user):
    """Every page this user may open, at 1280 and 1000 px: it opens, nothing hides past the
    right edge, no menu label is cut; with MESSAGING_SCREENSHOTS, a picture of each."""
    from messaging.models import NotificationPreference, Suppression

    suppression = Suppression.objects.create(
        address="ron@refused.example.org",
        reason=Suppression.Reason.BOUNCED,
        source="550 5.1.1 Mailbox unavailable: no such user",
    )
    preference = NotificationPreference.objects.create(
        user=crowded.user, context_type="comment_added", mode="daily"
    )
    ids = {
        "receiver": crowded.pk,
        "message": crowded.message_id,
        "suppression": suppression.pk,
        "template": crowded.message.template_id,
        "preference": preference.pk,
    }
    may_change = tour_user != "staff"
    page = logged_in(browser, live_server, tour_user, width=WIDTHS[0], height=800)
    try:
        for width in WIDTHS:
            page.set_viewport_size({"width": width, "height": 800})
            for name, (url, changes) in ADMIN_PAGES.items():
                if changes and not may_change:
                    continue
                response = page.goto(live_server.url + url.format(**ids))
                where = f"{tour_user} {width} px {name}"
                assert response.status == 200, where
                assert page.url == live_server.url + url.format(**ids), where  # no redirect
                assert page.get_by_text("Sorry, you do not have permission").count() == 0
                labels = page.locator(".sidebar-main-menu .menuitem-label")
                cut = labels.evaluate_all(
                    "labels => labels.filter(l => l.offsetParent && l.scrollWidth > l.clientWidth)"
                    ".map(l => l.innerText)"
                )
                assert cut == [], where
                if not page.locator("aside.form-side").count():  # editors: Wagtail's own
                    assert page.evaluate(MAIN_OVERFLOW) == 0, where
                screenshot(page, f"{tour_user}-{width}-{name}")
            page.goto(f"{live_server.url}/admin/")
            page.locator(".sidebar-main-menu a, .sidebar-main-menu button").filter(
                has_text="E-post" if tour_user == "nb" else "Messaging"
            ).first.click()
            submenu = page.locator(".sidebar-sub-menu-panel").first
            submenu.wait_for()
            page.wait_for_timeout(400)  # the panel slides in
            screenshot(page, f"{tour_user}-{width}-menu")
    finally:
        page.context.close()


# --- a template's life: an editor submits, a moderator approves ---------------------------


@pytest.fixture
def template_under_approval(make_user, root_page):
    """A published template whose changes wait for a moderator's approval.

    ``edith`` (in "Template editors") may change templates but not publish them; ``morten``
    (in "Template moderators", the group of the workflow's one task) may publish.
    """
    from django.contrib.auth.models import Group, Permission
    from django.contrib.contenttypes.models import ContentType
    from wagtail.models import GroupApprovalTask, Workflow, WorkflowContentType, WorkflowTask

    from messaging.models import MessageTemplate
    from tests.factories import make_template

    def group(name: str, *codenames: str) -> Group:
        group = Group.objects.create(name=name)
        group.permissions.add(*Permission.objects.filter(codename__in=["access_admin", *codenames]))
        return group

    editors = group("Template editors", "add_messagetemplate", "change_messagetemplate")
    moderators = group("Template moderators", "change_messagetemplate", "publish_messagetemplate")
    task = GroupApprovalTask.objects.create(name="Approve the text")
    task.groups.add(moderators)
    workflow = Workflow.objects.create(name="Template approval")
    WorkflowTask.objects.create(workflow=workflow, task=task, sort_order=0)
    WorkflowContentType.objects.create(
        content_type=ContentType.objects.get_for_model(MessageTemplate), workflow=workflow
    )
    make_user("edith", first_name="Edith", last_name="Editor").groups.add(editors)
    make_user("morten", first_name="Morten", last_name="Moderator").groups.add(moderators)
    # Stored as the editor's form stores them (block keys, empty plain texts), so that
    # comparing revisions shows only what the editor changed.
    return make_template(
        body_en=f'<p data-block-key="en001">{TEMPLATE_DEFAULTS["body_en"][3:]}',
        body_nb=f'<p data-block-key="nb001">{TEMPLATE_DEFAULTS["body_nb"][3:]}',
        body_text_en="",
        body_text_nb="",
    )


def test_an_editors_change_is_sent_once_a_moderator_approves_it(
    browser, live_server, template_under_approval, make_user, mailoutbox
):
    from playwright.sync_api import expect

    from messaging.api import send_message

    template = template_under_approval
    reader = make_user("reader", language="en")

    def sent_subject() -> str:
        send_message("deadline", [reader], {"assignment": "Oblig 1"})
        return mailoutbox[-1].subject

    edit_url = f"{live_server.url}/admin/snippets/messaging/messagetemplate/edit/{template.pk}/"
    editor = logged_in(browser, live_server, "edith", width=1280, height=800)
    try:
        editor.goto(edit_url)
        editor.get_by_role("tab", name="English").click()
        editor.fill("#id_subject_en", "New deadline for {{ assignment }}")
        editor.locator("footer [data-w-dropdown-target=toggle]").click()
        submit = editor.get_by_role("button", name="Submit to Template approval")
        submit.wait_for()
        assert editor.get_by_role("button", name="Publish").count() == 0  # not hers to do
        editor.wait_for_timeout(400)  # the menu fades in
        screenshot(editor, "template_submit")
        submit.click()
        editor.wait_for_url("**/admin/snippets/messaging/messagetemplate/")
    finally:
        editor.context.close()
    template.refresh_from_db()
    assert template.current_workflow_task_state is not None
    assert sent_subject() == "Deadline for Oblig 1"  # waiting for approval

    moderator = logged_in(browser, live_server, "morten", width=1280, height=800)
    try:
        review = moderator.get_by_role("region", name="Awaiting your review")
        actions = review.get_by_role("button", name="Actions")
        approve = review.get_by_role("button", name="Approve", exact=True)
        actions.click()
        approve.wait_for()
        moderator.wait_for_timeout(400)
        screenshot(moderator, "template_review")
        review.get_by_role("link", name="Compare with live version").click()
        moderator.wait_for_url("**/revisions/compare/**")
        expect(moderator.locator("main tbody tr")).to_have_count(1)  # the subject, only
        expect(moderator.locator("main tbody .addition")).to_have_text("New deadline")
        screenshot(moderator, "template_compare")
        moderator.go_back()
        actions.click()
        approve.click()
        expect(review).to_have_count(0)  # the dashboard, reloaded with nothing to review
        moderator.goto(edit_url.replace("/edit/", "/history/"))
        expect(moderator.locator("main")).to_contain_text("Approved at 'Approve the text'")
        screenshot(moderator, "template_history")
    finally:
        moderator.context.close()
    assert sent_subject() == "New deadline for Oblig 1"
