"""Control characters: the one rule for text that reaches the database.

PostgreSQL refuses NUL in text and JSON columns where SQLite keeps it, and the other C0
control characters mean nothing in an email. So that a message behaves the same on every
database, no stored text holds a C0 control character (U+0000 to U+001F) other than tab,
line feed and carriage return:

- Text made into an email has them removed (:func:`without_controls`): rendered subjects,
  HTML and plain text, the HTML and plain text given to ``send_message``, the context's
  keys and values (also as stored on the message), and the messages and tracebacks stored
  in ``status_data``. They come from data (a name pasted from a word processor) that the
  sender rarely controls, and a reader could never see them.
- Text kept as the caller gave it (the ``subject`` given to ``send_message``, its
  ``context_type`` and ``metadata``) is refused with a :class:`ControlCharacterError`, a
  :class:`ValueError`, before anything is stored (:func:`check_no_controls`): silently
  changing it would hide a mistake in the calling code.

DEL and the C1 controls are stored alike by every database and are left as they are.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ..exceptions import ControlCharacterError

#: The C0 control characters no stored text may hold: all but tab, line feed and CR.
CONTROLS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f]")
ALLOWED = "tab, line feed and carriage return"


def without_controls(text: str) -> str:
    """``text`` without the characters of :data:`CONTROLS` (the others kept, in order)."""
    return CONTROLS.sub("", text)


def check_no_controls(value: Any, what: str) -> None:
    """Raise :class:`ControlCharacterError` when a string in ``value`` (a string, or dicts
    and lists of them, keys included) holds a character of :data:`CONTROLS`.

    ``what`` names the value for the message, as the caller wrote it (``"subject"``).
    """
    if isinstance(value, str):
        found = CONTROLS.search(value)
        if found:
            raise ControlCharacterError(
                f"The {what} given to send_message() holds the control character "
                f"{found.group()!r} at position {found.start()}. Remove it in the calling "
                f"code: stored text may hold no control character but {ALLOWED}."
            )
    elif isinstance(value, Mapping):
        for key, item in value.items():
            check_no_controls(key, f"{what} key {key!r}")
            check_no_controls(item, f"{what}[{key!r}]")
    elif isinstance(value, list | tuple | set | frozenset):
        for item in value:
            check_no_controls(item, f"{what} item")
