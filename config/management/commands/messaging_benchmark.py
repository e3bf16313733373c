from django.core.management.base import BaseCommand, CommandError

from config.benchmarks import PARTS, run


class Command(BaseCommand):
    help = (
        "Measure speed against baselines in a throwaway database and print one "
        "'METRIC <name> key=value ...' line per figure. A benchmark, not a test."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--only",
            nargs="+",
            action="extend",
            choices=PARTS,
            help="Parts to run (several allowed); default: all.",
        )
        parser.add_argument(
            "--receivers", type=int, default=2000, help="Receivers for prepare and send."
        )
        parser.add_argument(
            "--sink",
            choices=["auto", "smtp-sink", "aiosmtpd"],
            default="auto",
            help="SMTP sink for send; auto prefers Postfix's smtp-sink, else aiosmtpd.",
        )

    def handle(self, *args, only=None, receivers=2000, sink="auto", **options) -> None:
        if receivers < 1:
            raise CommandError("--receivers must be at least 1.")
        run(only or PARTS, receivers, self.stdout, sink=sink)
