from django.core.management.base import BaseCommand, CommandError

from messaging.maintenance import delete_old_receivers

MAX_DAYS = 36_500  # 100 years; far larger ages overflow the date arithmetic


def day_count(value: str) -> int:
    try:
        days = int(value)
    except (TypeError, ValueError):
        days = -1
    if not 0 <= days <= MAX_DAYS:
        raise CommandError(
            f"DAYS must be a whole number of days, 0 or more (allowed: 0 to {MAX_DAYS}); "
            f"got {value!r}. Example: delete_message_receivers 365"
        )
    return days


class Command(BaseCommand):
    help = "Delete message receivers created more than DAYS days ago."

    def add_arguments(self, parser) -> None:
        parser.add_argument("days", metavar="DAYS", help=f"Age in days, 0 to {MAX_DAYS}.")

    def handle(self, *args, days: str, **options) -> None:
        deleted = delete_old_receivers(day_count(days))
        self.stdout.write(f"Deleted {deleted} message receivers older than {days} days.")
