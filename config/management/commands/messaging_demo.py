"""Seed the demo: an admin, users in both languages, templates, and messages really sent."""

import time

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db.models import Q
from wagtail.users.models import UserProfile

from messaging.api import send_message
from messaging.models import Message, MessageReceiver, MessageTemplate

TEMPLATES = [
    {
        "key": "deadline-moved",
        "name": "Deadline moved",
        "context_type": "deadline_moved",
        "subject_en": "New deadline for {{ assignment }}",
        "subject_nb": "Ny frist for {{ assignment }}",
        "body_en": (
            "<h2>The deadline has moved</h2><p>Dear {{ user.first_name }},</p>"
            "<p>The deadline of <b>{{ assignment }}</b> in {{ course }} is now "
            "<b>{{ deadline }}</b>.</p>"
            '<p><a href="{{ url }}">Open the assignment</a></p>'
        ),
        "body_nb": (
            "<h2>Fristen er flyttet</h2><p>Hei {{ user.first_name }},</p>"
            "<p>Fristen for <b>{{ assignment }}</b> i {{ course }} er nå "
            "<b>{{ deadline }}</b>.</p>"
            '<p><a href="{{ url }}">Åpne oppgaven</a></p>'
        ),
    },
    {
        "key": "comment-added",
        "name": "New comment",
        "context_type": "comment_added",
        "subject_en": "{{ author }} commented on {{ assignment }}",
        "subject_nb": "{{ author }} kommenterte {{ assignment }}",
        "body_en": (
            "<p>{{ author }} wrote a comment on <b>{{ assignment }}</b>:</p>"
            "<blockquote>{{ comment }}</blockquote>"
            '<p><a href="{{ url }}">See the delivery feed</a></p>'
        ),
        "body_nb": (
            "<p>{{ author }} skrev en kommentar på <b>{{ assignment }}</b>:</p>"
            "<blockquote>{{ comment }}</blockquote>"
            '<p><a href="{{ url }}">Se leveransen</a></p>'
        ),
    },
    {
        "key": "feedback-published",
        "name": "Feedback published",
        "context_type": "feedback_published",
        "subject_en": "Feedback on {{ assignment }} is published",
        "subject_nb": "Tilbakemelding på {{ assignment }} er publisert",
        # Loops and conditions within one paragraph: the editor keeps a block tag standing
        # between paragraphs or list items in a paragraph of its own, cutting the element.
        "body_en": (
            "<p>Hello {{ user.full_name }},</p>"
            "<p>Your examiners published feedback on {{ assignment }}: "
            "{% for item in grades %}{{ item.part }} <b>{{ item.grade }}</b>. {% endfor %}</p>"
            "<p>{% if passed %}Congratulations, you passed.{% else %}"
            "You did not pass this time.{% endif %}</p>"
        ),
        "body_nb": (
            "<p>Hei {{ user.full_name }},</p>"
            "<p>Sensorene har publisert tilbakemelding på {{ assignment }}: "
            "{% for item in grades %}{{ item.part }} <b>{{ item.grade }}</b>. {% endfor %}</p>"
            "<p>{% if passed %}Gratulerer, du bestod.{% else %}"
            "Du bestod dessverre ikke denne gangen.{% endif %}</p>"
        ),
    },
]

# The demo's ``staff`` user looks at everything under Messaging and changes nothing: no
# resend, no template, suppression or preference edited (README, "Quick start").
STAFF_PERMISSIONS = [
    "access_admin",
    "view_messagereceiver",
    "view_message",
    "view_messagetemplate",
    "view_suppression",
    "view_notificationpreference",
]
# End users who sign in to their notification preferences (/messaging/preferences/).
PASSWORDS = {"ola": "ola"}

PEOPLE = [
    ("april", "April", "Ludgate", "april@example.org", "en"),
    ("ola", "Ola", "Nordmann", "ola@example.org", "nb"),
    ("kari", "Kari", "Nordmann", "kari@example.org", "nb"),
    ("leslie", "Leslie", "Knope", "leslie@example.org", "en"),
    ("ron", "Ron", "Swanson", "ron@refused.example.org", "en"),  # the server refuses: 550
    ("tom", "Tom", "Haverford", "tom@busy.example.org", "en"),  # the server defers: 451
    ("ingrid", "Ingrid", "Hansen", "ingrid@busy.example.org", "nb"),
    ("nils", "Nils", "Berg", "", "nb"),  # no address
    ("ann", "Ann", "Perkins", "ann@example.org", ""),  # no preference: site default
]


class Command(BaseCommand):
    help = "Create demo users, templates and messages, and send them (idempotent)."

    def handle(self, *args, **options) -> None:
        admin = self.ensure_admin()
        users = [self.ensure_user(*person) for person in PEOPLE]
        if Message.objects.exists():
            self.stdout.write("Demo data already present.")
            return
        for data in TEMPLATES:
            template, _created = MessageTemplate.objects.update_or_create(
                key=data["key"], defaults=data
            )
            template.save_revision(user=admin).publish(user=admin)  # sends use the live one
        self.send_demo_messages(admin, users)
        self.wait_for_delivery()
        out = self.stdout
        call_command("resend_failed_messages", "--all", stdout=out)
        self.wait_for_delivery()
        counts = {
            status: MessageReceiver.objects.filter(status=status).count()
            for status in MessageReceiver.Status.values
        }
        self.stdout.write(f"Demo receivers by status: {counts}")

    def ensure_admin(self):
        """The demo's ``admin`` and ``staff``, with names: Wagtail's account form needs them."""
        User = get_user_model()
        admin = User.objects.filter(username="admin").first()
        if admin is None:
            admin = User.objects.create_superuser("admin", "admin@example.org", "admin")
        self.ensure_names(admin, "Ada", "Admin")
        staff = User.objects.filter(username="staff").first()
        if staff is None:
            staff = User.objects.create_user("staff", "staff@example.org", "staff", is_staff=True)
        # Also on a demo database from before: the group gets what STAFF_PERMISSIONS says.
        group, _ = Group.objects.get_or_create(name="Messaging staff")
        group.permissions.add(*Permission.objects.filter(codename__in=STAFF_PERMISSIONS))
        staff.groups.add(group)
        self.ensure_names(staff, "Sam", "Staff")
        return admin

    @staticmethod
    def ensure_names(user, first: str, last: str) -> None:
        """Fill in names left empty, also on a demo database from before they were set."""
        if not user.first_name or not user.last_name:
            user.first_name = user.first_name or first
            user.last_name = user.last_name or last
            user.save(update_fields=["first_name", "last_name"])

    def ensure_user(self, username, first, last, email, language):
        user, _created = get_user_model().objects.get_or_create(
            username=username, defaults={"first_name": first, "last_name": last, "email": email}
        )
        if username in PASSWORDS and not user.check_password(PASSWORDS[username]):
            user.set_password(PASSWORDS[username])
            user.save(update_fields=["password"])
        profile = UserProfile.get_for_user(user)
        profile.preferred_language = language
        profile.save()
        return user

    def send_demo_messages(self, admin, users) -> None:
        url = "https://assignments.example.org/assignment/3/"
        send_message(
            "deadline-moved",
            users,
            {
                "assignment": "Assignment 3",
                "course": "INF1000",
                "deadline": "12 Dec 2026 23:59",
                "url": url,
            },
            created_by=admin,
        )
        send_message(
            "comment-added",
            users[:5],
            {
                "author": "Leslie Knope",
                "assignment": "Assignment 3",
                "comment": "Good work, but <see> section 2 & 3 again.",
                "url": url,
            },
            created_by=admin,
        )
        send_message(
            "feedback-published",
            users[1:4],
            {
                "assignment": "Assignment 2",
                "passed": True,
                "grades": [{"part": "Part A", "grade": "B"}, {"part": "Part B", "grade": "A"}],
            },
            created_by=admin,
        )
        # A message prepared but not sent yet, so that "Not sent" shows in the admin.
        waiting = Message.objects.create(status="draft", context_type="other", created_by=admin)
        MessageReceiver.objects.create(
            message=waiting,
            user=users[0],
            subject="Welcome to the new semester",
            message_content_html="<p>Welcome back!</p>",
            message_content_plain="Welcome back!",
        )

    def wait_for_delivery(self, seconds: float = 30) -> None:
        """Wait for the worker to attempt every email asked for."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            busy = MessageReceiver.objects.filter(
                Q(pending_sends__gt=0) | Q(claimed_until__isnull=False)
            )
            if not busy.exists():
                return
            time.sleep(0.5)
        self.stderr.write("The task worker has not finished yet; emails will keep going out.")
