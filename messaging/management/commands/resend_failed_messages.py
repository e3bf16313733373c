from django.core.management.base import BaseCommand

from messaging.maintenance import resend_failed


class Command(BaseCommand):
    help = (
        "Resend receivers with status 'failed' whose failed count is within the resend "
        "limit (MESSAGING_RESEND_LIMIT) and whose retry time has come; start scheduled "
        "messages whose time came; expire receivers past their message's expiry time. Run "
        "it from cron, every minute or so."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--dry-run", action="store_true", help="Only count; send nothing.")
        parser.add_argument(
            "--all", action="store_true", help="Ignore the backoff: resend every due receiver."
        )

    def handle(self, *args, dry_run=False, all=False, verbosity=1, **options) -> None:
        reported = [0]

        def progress(count: int) -> None:
            # One line per 10,000 on large runs (every batch with -v 2), so cron logs stay short.
            if verbosity >= 2 or count // 10_000 > reported[0] // 10_000:
                self.stderr.write(f"... {count} receivers queued for resending")
                reported[0] = count

        report = resend_failed(dry_run=dry_run, ignore_backoff=all, progress=progress)
        if dry_run:
            self.stdout.write(f"Dry run: {report.resent} messages would be automatically resent.")
        else:
            self.stdout.write(f"{report.resent} messages were automatically resent.")
        self.stdout.write(
            f"{report.exceeded} messages have exceeded the retry limit "
            f"(current limit: {report.limit})"
        )
        if report.recovered:
            self.stdout.write(
                f"{report.recovered} messages left by a stopped worker were requeued."
            )
        if report.started:
            self.stdout.write(f"{report.started} scheduled messages were started.")
        if report.expired:
            self.stdout.write(f"{report.expired} receivers expired unsent.")
