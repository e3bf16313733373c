"""``manage.py send_digests``: the daily digests due this hour (run it hourly from cron)."""

from django.core.management.base import BaseCommand

from messaging.maintenance import send_digests


class Command(BaseCommand):
    help = (
        "Send each user whose local hour is MESSAGING_DIGEST_HOUR one digest of the emails "
        "held for it. Run hourly; a second or concurrent run sends no digest twice."
    )

    def handle(self, *args, **options) -> None:
        report = send_digests()
        self.stdout.write(
            f"{report.digests} digests were queued, covering {report.covered} emails; "
            f"{report.settled} emails of earlier digests were marked sent."
        )
