import json
import sys
from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError

from messaging.status import Check, Limits, check


class Command(BaseCommand):
    help = (
        "Say where sending stands, as a monitoring plugin (Nagios, Icinga) does: the emails "
        "waiting, how long the oldest has waited, each relay's state and last success. Exits "
        "0 (OK), 1 (WARNING: a relay failing, the oldest email late, many failed) or 2 "
        "(CRITICAL: a relay down, the oldest email very late)."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--json", action="store_true", dest="as_json", help="Print one JSON object."
        )
        parser.add_argument(
            "--warning-age",
            type=int,
            default=15,
            metavar="MINUTES",
            help="WARNING when the oldest waiting email is this late (default 15).",
        )
        parser.add_argument(
            "--critical-age",
            type=int,
            default=60,
            metavar="MINUTES",
            help="CRITICAL when the oldest waiting email is this late (default 60).",
        )
        parser.add_argument(
            "--warning-failed",
            type=int,
            default=100,
            metavar="COUNT",
            help="WARNING when this many emails wait for a retry (default 100; 0: never).",
        )

    def handle(self, *args, as_json=False, **options) -> None:
        result = check(limits(options))
        if as_json:
            self.stdout.write(json.dumps(result.as_dict(), indent=2, ensure_ascii=False))
        else:
            self.stdout.write("\n".join(lines(result)))
        sys.exit(int(result.level))


def limits(options: dict) -> Limits:
    warning, critical = options["warning_age"], options["critical_age"]
    if min(warning, critical, options["warning_failed"]) < 0 or critical < warning:
        raise CommandError(
            "--warning-age, --critical-age and --warning-failed take whole numbers >= 0, "
            "and --critical-age may not be less than --warning-age."
        )
    return Limits(
        warning_age=timedelta(minutes=warning),
        critical_age=timedelta(minutes=critical),
        warning_failed=options["warning_failed"],
    )


def lines(result: Check) -> list[str]:
    """A monitoring plugin's output: ``MESSAGING <LEVEL> - <what> | <performance data>``
    first, then one line per relay."""
    data = result.as_dict()
    what = "; ".join(result.problems) or "relays up"
    age = data["oldest_waiting_age_seconds"]
    queue = f"{data['waiting']} waiting" + (f", oldest due {age // 60} min ago" if age else "")
    perf = f"waiting={data['waiting']} failed={data['failed']} oldest_age={age or 0}s"
    relays = [
        f"relay {row['mailer']}: {row['state']}, last success {row['last_success'] or 'never'}"
        for row in data["relays"]
    ]
    return [f"MESSAGING {result.level.name} - {what}; {queue} | {perf}", *relays]
