import signal
import threading

from django.core.management.base import BaseCommand, CommandError

try:
    from messaging.bounces.server import bounce_server
except ModuleNotFoundError as error:  # aiosmtpd comes with the bounces extra
    if (error.name or "").partition(".")[0] != "aiosmtpd":
        raise
    bounce_server = None  # type: ignore[assignment]  # said when the command runs

MISSING_AIOSMTPD = (
    "bounce_server needs aiosmtpd, which comes with the bounces extra: "
    'pip install "wagtail-messaging[bounces]"'
)


class Command(BaseCommand):
    help = (
        "Listen for bounces and complaint reports over SMTP (or LMTP with --lmtp) and record "
        "each on its receiver. Point the MTA's transport for the bounce address at it."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--port", type=int, required=True, help="Port to listen on.")
        parser.add_argument("--host", default="127.0.0.1", help="Address to listen on.")
        parser.add_argument("--lmtp", action="store_true", help="Speak LMTP instead of SMTP.")

    def handle(self, *args, port: int, host: str, lmtp: bool, **options) -> None:
        if bounce_server is None:
            raise CommandError(MISSING_AIOSMTPD)
        if not 0 < port < 65536:
            raise CommandError(f"--port must be between 1 and 65535, got {port}.")
        server = bounce_server(host, port, lmtp=lmtp)
        try:
            server.start()
        except OSError as error:
            raise CommandError(f"Cannot listen on {host}:{port}: {error}") from error
        self.stdout.write(f"Listening for reports on {host}:{port}; stop with Ctrl-C.")
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        try:
            stop.wait()
        except KeyboardInterrupt:
            pass
        finally:
            server.stop()
