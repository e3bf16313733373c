"""Reading reports from a Maildir, as an MTA delivers the bounce address to one.

Each run reads the messages in ``new/`` once, applies them in batches, and moves each
file to ``cur/`` as a mail client would: flagged ``S`` (seen) when it was read as a
report, ``F`` (flagged, for a person to look at) when it was not a report or could not
be read at all. Nothing is deleted. A lock file keeps two runs from overlapping, and a
report read again (a crash between applying and moving) is recognised and not applied
twice.
"""

from __future__ import annotations

import fcntl
import logging
import mailbox
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from ..exceptions import BounceReportError, ConfigurationError
from .intake import IntakeResult, apply_reports
from .parsing import Report, parse_report

logger = logging.getLogger(__name__)

BATCH = 500
LOCK_NAME = ".messaging-bounces.lock"
FOLDERS = ("new", "cur", "tmp")


class MaildirBusyError(ConfigurationError):
    """Another run of ``process_bounces`` holds this Maildir's lock."""


@dataclass(frozen=True)
class SetAside:
    """A file of ``new/`` that held no report it could apply, moved to ``cur/`` flagged F."""

    path: Path  # where the file is now
    reason: str


@dataclass
class MaildirRun:
    """What one run did: the intake counts, and the files it set aside for a person."""

    result: IntakeResult = field(default_factory=IntakeResult)
    set_aside: list[SetAside] = field(default_factory=list)


def check_maildir(path: str | Path) -> Path:
    """``path`` made absolute, when it is a Maildir; :class:`ConfigurationError` if not.

    Creates nothing, so a wrong path leaves no trace.
    """
    root = Path(os.path.abspath(os.path.expanduser(path)))
    if not root.is_dir():
        problem = "is a file, not a folder" if root.exists() else "does not exist"
    else:
        missing = [f"{name}/" for name in FOLDERS if not (root / name).is_dir()]
        problem = f"lacks {', '.join(missing)}" if missing else ""
    if problem:
        raise ConfigurationError(
            f"{path} is not a Maildir: it {problem}. A Maildir is a folder holding the "
            "folders new/, cur/ and tmp/, which the MTA creates when it first delivers to "
            "it. Give --maildir the Maildir the MTA delivers the bounce address to."
        )
    return root


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


def process_maildir(path: str | Path) -> MaildirRun:
    """Apply every report in ``path/new`` and move the files to ``path/cur``.

    Every entry of ``new/`` is a message, whatever its kind, except names starting with
    a dot (as the Maildir format has it). One that cannot be read or holds no report is
    set aside (moved to ``cur/``, flagged F) and named in the result, so that no file
    stops the others or a later run.
    """
    root = check_maildir(path)
    run = MaildirRun()
    with locked(root):
        names = sorted(name for name in os.listdir(root / "new") if not name.startswith("."))
        for start in range(0, len(names), BATCH):
            process_batch(root, names[start : start + BATCH], run)
    return run


def process_batch(root: Path, names: list[str], run: MaildirRun) -> None:
    reports: list[Report] = []
    unread: dict[str, str] = {}
    for name in names:
        try:
            reports.extend(read_reports(root / "new" / name))
        except BounceReportError as error:
            logger.warning("Kept %s unapplied: %s", root / "new" / name, error)
            unread[name] = str(error)
    result = apply_reports(reports, source="maildir")
    for name in names:
        moved = move_to_cur(root, name, "F" if name in unread else "S")
        if moved is not None and name in unread:
            run.set_aside.append(SetAside(moved, unread[name]))
            result.unreadable += 1
    run.result.add(result)


def read_reports(path: Path) -> list[Report]:
    """The reports in one file; :class:`BounceReportError` saying why when there are none."""
    try:
        data = path.read_bytes()
    except OSError as error:
        raise BounceReportError(
            f"It cannot be read ({error.strerror or error}). It was kept; look at it by hand."
        ) from error
    try:
        return parse_report(data)
    except (ValueError, IndexError) as error:
        raise BounceReportError(
            f"It is no report that can be read ({error}). It was kept; look at it by hand."
        ) from error


def move_to_cur(root: Path, name: str, flag: str) -> Path | None:
    """Rename ``new/name`` to ``cur/name:2,<flag>``, as Maildir readers mark a message read.

    Returns the new path; ``None`` when the file was gone (another reader took it).
    """
    colon = mailbox.Maildir.colon
    target = root / "cur" / f"{name.split(colon)[0]}{colon}2,{flag}"
    try:
        os.rename(root / "new" / name, target)
    except FileNotFoundError:
        logger.info("%s was moved by someone else meanwhile", root / "new" / name)
        return None
    return target
