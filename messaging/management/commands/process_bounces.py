from django.core.management.base import BaseCommand, CommandError

from messaging.bounces.maildir import process_maildir
from messaging.exceptions import ConfigurationError


class Command(BaseCommand):
    help = (
        "Read the bounces and complaint reports in a Maildir's new/ folder once, record them "
        "on their receivers, and move the files to cur/. A file that cannot be read or is no "
        "report is flagged F there and named on stderr. Safe to run from cron."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--maildir", required=True, metavar="PATH", help="The bounce address's Maildir."
        )

    def handle(self, *args, maildir: str, **options) -> None:
        try:
            run = process_maildir(maildir)
        except ConfigurationError as error:
            raise CommandError(str(error)) from error
        for item in run.set_aside:
            self.stderr.write(f"Set aside {item.path}: {item.reason}")
        self.stdout.write(f"Processed {maildir}: {run.result.summary()}.")
