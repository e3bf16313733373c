"""Reading reports from a Maildir, as an MTA delivers the bounce address to one.

Each run reads the messages in ``new/`` once, applies them in batches, and moves each
file to ``cur/`` as a mail client would: flagged ``S`` (seen) when it was read as a
report, ``F`` (flagged, for a person to look at) when it was not a report. Nothing is
deleted. A lock file keeps two runs from overlapping, and a report read again (a crash
between applying and moving) is recognised and not applied twice.
"""

from __future__ import annotations

import fcntl
import logging
import mailbox
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ..exceptions import BounceReportError, ConfigurationError
from .intake import IntakeResult, apply_reports
from .parsing import Report, parse_report

logger = logging.getLogger(__name__)

BATCH = 500
LOCK_NAME = ".messaging-bounces.lock"


class MaildirBusyError(ConfigurationError):
    """Another run of ``process_bounces`` holds this Maildir's lock."""


def open_maildir(path: str | Path) -> mailbox.Maildir:
    try:
        return mailbox.Maildir(str(path), factory=None, create=False)
    except mailbox.NoSuchMailboxError as error:
        raise ConfigurationError(
            f"{path} is not a Maildir (it needs new/, cur/ and tmp/ folders). Give the "
            "folder the MTA delivers the bounce address to."
        ) from error


@contextmanager
def locked(path: Path) -> Iterator[None]:
    with open(path / LOCK_NAME, "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as error:
            raise MaildirBusyError(
                f"Another process_bounces is reading {path}; this run did nothing."
            ) from error
        yield


def process_maildir(path: str | Path) -> IntakeResult:
    """Apply every report in ``path/new`` and move the files to ``path/cur``."""
    box = open_maildir(path)
    root = Path(box._path)  # the path as mailbox resolved it
    result = IntakeResult()
    with locked(root):
        names = sorted(entry.name for entry in os.scandir(root / "new") if entry.is_file())
        for start in range(0, len(names), BATCH):
            result.add(process_batch(root, names[start : start + BATCH], box.colon))
    return result


def process_batch(root: Path, names: list[str], colon: str) -> IntakeResult:
    reports: list[Report] = []
    unreadable: list[str] = []
    for name in names:
        try:
            reports.extend(parse_report((root / "new" / name).read_bytes()))
        except (BounceReportError, ValueError, IndexError) as error:
            logger.warning("Kept %s unapplied: %s", root / "new" / name, error)
            unreadable.append(name)
    result = apply_reports(reports, source="maildir")
    result.unreadable = len(unreadable)
    for name in names:
        flag = "F" if name in unreadable else "S"
        move_to_cur(root, name, colon, flag)
    return result


def move_to_cur(root: Path, name: str, colon: str, flag: str) -> None:
    """Rename ``new/name`` to ``cur/name:2,<flag>``, as Maildir readers mark a message read."""
    try:
        os.rename(root / "new" / name, root / "cur" / f"{name.split(colon)[0]}{colon}2,{flag}")
    except FileNotFoundError:
        logger.info("%s was moved by someone else meanwhile", root / "new" / name)
