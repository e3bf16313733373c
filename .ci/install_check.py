"""Run inside a site made by `wagtail start` with README.md's steps applied (.ci/install_check).

Sends a template with English and Norwegian text to a user who prefers ``nb``, through the
locmem backend and the README's task worker, and checks the email and the admin.
"""

import sys
import zipfile

import django

REQUIRED_FILES = [
    "messaging/templates/messaging/email/layout.html",
    "messaging/templates/messaging/admin/receivers/index.html",
    "messaging/static/messaging/css/email.css",
    "messaging/static/messaging/admin/admin.css",
    "messaging/locale/nb/LC_MESSAGES/django.mo",
    "messaging/migrations/0001_initial.py",
]


def check_wheel(path: str) -> None:
    names = zipfile.ZipFile(path).namelist()
    missing = [name for name in REQUIRED_FILES if name not in names]
    assert not missing, f"the wheel lacks {missing}"
    top = {name.split("/")[0] for name in names if not name.split("/")[0].endswith(".dist-info")}
    assert top == {"messaging"}, f"the wheel installs more than the app: {sorted(top)}"


def send_norwegian_email():
    from django.contrib.auth import get_user_model
    from django.core import mail
    from django.core.management import call_command
    from wagtail.users.models import UserProfile

    from messaging.api import send_message
    from messaging.models import MessageReceiver, MessageTemplate

    user = get_user_model().objects.create_user("kari", "kari@example.org", "pw")
    profile = UserProfile.get_for_user(user)
    profile.preferred_language = "nb"
    profile.save()
    template = MessageTemplate.objects.create(
        key="deadline-moved",
        name="Deadline moved",
        subject_en="Deadline moved",
        subject_nb="Fristen er flyttet",
        body_en="<p>Your deadline has moved.</p>",
        body_nb="<p>Fristen din er flyttet.</p>",
    )
    template.save_revision().publish()  # only published templates are sent
    send_message("deadline-moved", [user])
    call_command("db_worker", "--batch", "--no-startup-delay", verbosity=0)

    receiver = MessageReceiver.objects.get()
    assert (receiver.status, receiver.language) == ("sent", "nb"), receiver.status_data
    [email] = mail.outbox
    html = email.alternatives[0][0]
    assert email.subject == "Fristen er flyttet", email.subject
    assert "Fristen din er flyttet." in html and "Fristen din er flyttet." in email.body
    # The layout's footer comes from the compiled catalogue shipped in the wheel.
    assert "Du får denne e-posten fordi du har en konto" in html, html
    # email.css (a static file of the wheel) is inlined by premailer.
    assert "background-color:#1d4e89" in html.replace(" ", ""), html
    print("install check: Norwegian email sent with CSS inlined")


def check_admin():
    from django.contrib.auth import get_user_model
    from django.test import Client

    admin = get_user_model().objects.create_superuser("admin", "admin@example.org", "pw")
    client = Client()
    client.force_login(admin)
    response = client.get("/admin/messaging/receivers/")
    assert response.status_code == 200, response.status_code
    assert b"kari" in response.content
    print("install check: /admin/messaging/receivers/ answers 200")


def main() -> None:
    check_wheel(sys.argv[1])
    django.setup()
    from django.test.utils import setup_test_environment

    # Django's test environment: the locmem email backend and the testserver host.
    setup_test_environment()
    send_norwegian_email()
    check_admin()


if __name__ == "__main__":
    main()
