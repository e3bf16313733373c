"""Send one test email through the configured backend, to check the mail setup."""

from django.core.exceptions import ValidationError
from django.core.mail import EmailMessage
from django.core.management.base import BaseCommand, CommandError
from django.core.validators import validate_email

from messaging import conf, rendering
from messaging.delivery import classify, compat


class Command(BaseCommand):
    help = (
        "Send a test email to ADDRESS through the configured email backend (ignores "
        "MESSAGING_SEND_EMAIL_TO_USERS) and print whether the mail server accepted it."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("address", help="where to send the test email")

    def handle(self, *args, address: str, **options) -> None:
        try:
            validate_email(address)
        except ValidationError as error:
            raise CommandError(f"{address!r} is not an email address. Give one.") from error
        email = EmailMessage(
            subject=rendering.prefixed_subject("Test email"),
            body="This is a test email from the messaging app. Your mail setup works.",
            from_email=conf.from_email(),
            to=[address],
        )
        try:
            compat.send(email)
        except Exception as error:
            raise CommandError(f"Sending to {address} failed: {classify(error).message}") from error
        self.stdout.write(self.style.SUCCESS(f"The test email to {address} was sent."))
