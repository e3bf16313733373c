"""Run inside a site made by `wagtail start` with README.md's steps applied (.ci/install_check).

``install_check.py wheel PATH``: checks the wheel's files, sends a template with English,
Norwegian and German text (the README's recipe for a third language) to users who prefer
``nb`` and ``de``, through the locmem backend and the README's task worker, and checks the
emails and the admin.

``install_check.py editable SRC``: the checkout installed with ``pip install -e``; checks that
``messaging`` is imported from SRC and that an email renders there, layout and CSS included.
"""

import re
import sys
import zipfile
from pathlib import Path

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
    assert any(name.endswith(".dist-info/licenses/LICENSE") for name in names), "no LICENSE"
    top = {name.split("/")[0] for name in names if not name.split("/")[0].endswith(".dist-info")}
    assert top == {"messaging"}, f"the wheel installs more than the app: {sorted(top)}"


def check_editable(src: str) -> None:
    import messaging

    package = Path(messaging.__file__).resolve().parent
    assert package == Path(src).resolve() / "messaging", f"messaging is imported from {package}"


def user_preferring(username: str, language: str):
    from django.contrib.auth import get_user_model
    from wagtail.users.models import UserProfile

    user = get_user_model().objects.create_user(username, f"{username}@example.org", "pw")
    profile = UserProfile.get_for_user(user)
    profile.preferred_language = language
    profile.save()
    return user


def send_in_each_language() -> None:
    """One template in en, nb and de (the README's third language) to a user who prefers
    nb and one who prefers de, through the README's task worker."""
    from django.core import mail
    from django.core.management import call_command

    from messaging.api import send_message
    from messaging.models import MessageTemplate

    users = [user_preferring("kari", "nb"), user_preferring("max", "de")]
    template = MessageTemplate.objects.create(
        key="deadline-moved",
        name="Deadline moved",
        subject_en="Deadline moved",
        subject_nb="Fristen er flyttet",
        subject_de="Die Frist wurde verschoben",
        body_en="<p>Your deadline has moved.</p>",
        body_nb="<p>Fristen din er flyttet.</p>",
        body_de="<p>Deine Frist wurde verschoben.</p>",
    )
    template.save_revision().publish()  # only published templates are sent
    send_message("deadline-moved", users)
    call_command("db_worker", "--batch", "--no-startup-delay", verbosity=0)
    emails = {email.to[0]: email for email in mail.outbox}
    check_norwegian_email(emails.pop("kari@example.org"))
    check_german_email(emails.pop("max@example.org"))


def check_norwegian_email(email) -> None:
    from messaging.models import MessageReceiver

    receiver = MessageReceiver.objects.get(user__username="kari")
    assert (receiver.status, receiver.language) == ("sent", "nb"), receiver.status_data
    html = email.alternatives[0][0]
    assert email.subject == "Fristen er flyttet", email.subject
    assert "Fristen din er flyttet." in html and "Fristen din er flyttet." in email.body
    # The layout's footer comes from the compiled catalogue shipped in the package.
    assert "Du får denne e-posten fordi du har en konto" in html, html
    # email.css (a static file of the package) is inlined by premailer.
    assert "background-color:#1d4e89" in html.replace(" ", ""), html
    print("install check: Norwegian email sent with CSS inlined")


def check_german_email(email) -> None:
    from messaging.models import MessageReceiver

    receiver = MessageReceiver.objects.get(user__username="max")
    assert (receiver.status, receiver.language) == ("sent", "de"), receiver.status_data
    html = email.alternatives[0][0]
    assert email.subject == "Die Frist wurde verschoben", email.subject
    assert "Deine Frist wurde verschoben." in html, html
    assert "Deine Frist wurde verschoben." in email.body, email.body
    assert '<html lang="de">' in html, html[:200]
    print("install check: German email sent (the README's third language)")


def check_signed_out_user_can_sign_in() -> None:
    """A new site keeps Django's LOGIN_URL, /accounts/login/, which nothing serves."""
    from django.test import Client

    response = Client().get("/messaging/preferences/", follow=True)
    assert response.status_code == 200, (response.status_code, response.redirect_chain)
    print(f"install check: a signed-out user is sent to {response.redirect_chain[-1][0]} (200)")


def check_admin():
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.test import Client

    admin = get_user_model().objects.create_superuser("admin", "admin@example.org", "pw")
    client = Client()
    client.force_login(admin)
    response = client.get("/admin/messaging/receivers/")
    assert response.status_code == 200, response.status_code
    assert b"kari" in response.content
    print("install check: /admin/messaging/receivers/ answers 200")
    editor = client.get("/admin/snippets/messaging/messagetemplate/add/").content.decode()
    tabs = re.findall(r'<a id="tab-label-[^"]*"[^>]*role="tab"[^>]*>\s*([^<]*?)\s*<', editor)
    assert tabs == ["General", *(name for _code, name in settings.LANGUAGES)], tabs
    assert all(f'name="subject_{code}"' in editor for code, _name in settings.LANGUAGES)
    print("install check: the template editor has a tab for each of en, nb and de")


def main() -> None:
    mode, path = sys.argv[1:3]
    if mode == "wheel":
        check_wheel(path)
    django.setup()
    from django.test.utils import setup_test_environment

    # Django's test environment: the locmem email backend and the testserver host.
    setup_test_environment()
    if mode == "editable":
        check_editable(path)
    send_in_each_language()
    check_signed_out_user_can_sign_in()
    if mode == "wheel":
        check_admin()


if __name__ == "__main__":
    main()
