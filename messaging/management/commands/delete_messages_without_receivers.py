from django.core.management.base import BaseCommand

from messaging.maintenance import delete_messages_without_receivers


class Command(BaseCommand):
    help = "Delete messages that have no receivers left."

    def handle(self, *args, **options) -> None:
        deleted = delete_messages_without_receivers()
        self.stdout.write(f"Deleted {deleted} messages without receivers.")
