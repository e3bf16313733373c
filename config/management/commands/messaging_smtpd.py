import contextlib
import signal
import threading

from django.conf import settings
from django.core.management.base import BaseCommand

from messaging.testing.smtp import FaultInjectingHandler, SMTPServer


class Command(BaseCommand):
    help = (
        "Run a local SMTP server that stores every email it accepts as a .eml file. "
        "It refuses addresses at --refuse-domain (550) and defers --defer-domain (451)."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--port", type=int, default=settings.SMTP_OPTIONS["port"])
        parser.add_argument("--store", default=str(settings.VAR_DIR / "mail"))
        parser.add_argument("--refuse-domain", action="append", default=["refused.example.org"])
        parser.add_argument("--defer-domain", action="append", default=["busy.example.org"])

    def handle(self, *args, port, store, refuse_domain, defer_domain, **options) -> None:
        handler = FaultInjectingHandler(
            store_dir=store,
            refuse_domains=tuple(refuse_domain),
            defer_domains=tuple(defer_domain),
            keep_messages=False,
        )
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        with SMTPServer(handler, port=port):
            self.stdout.write(f"SMTP server on 127.0.0.1:{port}, storing emails in {store}")
            with contextlib.suppress(KeyboardInterrupt):
                stop.wait()
