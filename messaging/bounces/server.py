"""A small SMTP or LMTP listener (aiosmtpd) that an MTA hands the bounce address to.

Each email it receives is read as a report and applied at once (see
:func:`messaging.bounces.intake.apply_reports`). An email that is not a report is
refused with 554, so the MTA keeps it rather than it being lost; a database failure
answers 451, so the MTA tries again later.
"""

from __future__ import annotations

import logging

from aiosmtpd.controller import Controller
from aiosmtpd.lmtp import LMTP
from asgiref.sync import sync_to_async
from django.db import DatabaseError, close_old_connections

from ..exceptions import BounceReportError
from .intake import IntakeResult, apply_reports
from .parsing import parse_report

logger = logging.getLogger(__name__)


def receive(data: bytes, envelope_recipients: list[str], source: str) -> IntakeResult:
    """Parse and apply one received email (runs in a worker thread with its own connection)."""
    close_old_connections()
    try:
        return apply_reports(parse_report(data, envelope_recipients), source=source)
    finally:
        close_old_connections()


class BounceHandler:
    """aiosmtpd handler: every accepted email is applied before the server answers."""

    def __init__(self, source: str = "smtp") -> None:
        self.source = source
        self.total = IntakeResult()

    async def handle_DATA(self, server, session, envelope) -> str:
        data = envelope.original_content or envelope.content
        try:
            result = await sync_to_async(receive, thread_sensitive=False)(
                data, list(envelope.rcpt_tos), self.source
            )
        except BounceReportError as error:
            logger.warning("Refused an email that is not a report: %s", error)
            return "554 5.6.0 Not a delivery status notification or complaint report"
        except DatabaseError:
            logger.exception("Recording a report failed; the sender will try again")
            return "451 4.3.0 Could not record the report now, try again later"
        self.total.add(result)
        logger.info("Report from %s: %s", envelope.mail_from or "<>", result.summary())
        return "250 2.0.0 Report recorded"


class LMTPController(Controller):
    def factory(self):
        return LMTP(self.handler, **self.SMTP_kwargs)


def bounce_server(host: str, port: int, *, lmtp: bool = False) -> Controller:
    """An unstarted listener on ``host:port``; ``.start()`` runs it in a background thread."""
    controller_class = LMTPController if lmtp else Controller
    handler = BounceHandler(source="lmtp" if lmtp else "smtp")
    return controller_class(handler, hostname=host, port=port, decode_data=False)
