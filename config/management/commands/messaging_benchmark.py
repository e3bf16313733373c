from django.core.management.base import BaseCommand, CommandError

from config import children
from config.benchmarks import PARTS, peers, run


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
            "--receivers", type=int, default=2000, help="Receivers for prepare, send and peers."
        )
        parser.add_argument(
            "--sink",
            choices=["auto", "smtp-sink", "aiosmtpd", "latency"],
            default="auto",
            help="SMTP sink for send; auto prefers Postfix's smtp-sink, else aiosmtpd.",
        )
        parser.add_argument(
            "--rtt-ms",
            type=float,
            default=0,
            help="Delay every SMTP reply of send, send_worker, rate_limit_overhead and peers "
            "by this many milliseconds (a relay that far away); takes the latency sink.",
        )

        parser.add_argument(
            "--rounds",
            type=int,
            default=3,
            help="Alternating rounds of peers and send_rtt10 (medians of these).",
        )

    def handle(self, *args, only=None, receivers=2000, sink="auto", rtt_ms=0, rounds=3, **options):
        if receivers < 1:
            raise CommandError("--receivers must be at least 1.")
        if rtt_ms < 0:
            raise CommandError("--rtt-ms cannot be negative.")
        if rounds < 1:
            raise CommandError("--rounds must be at least 1.")
        if only and "peers" in only and (reason := peers.missing_extra()):
            raise CommandError(reason)
        # Told to stop (timeout, a closed terminal): stop sinks and workers, drop the
        # throwaway database. Killed outright: the children end by themselves.
        children.terminate_on_signals()
        run(only or PARTS, receivers, self.stdout, sink=sink, rtt_ms=rtt_ms, rounds=rounds)
