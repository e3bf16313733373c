"""An email's bytes as Django and Python's email generator write them, with slow steps cut.

Writing the message took about half of a worker's time per email. Each step below is
skipped only where the result is the same byte for byte, with one exception for the
better (boundaries, below). ``tests/test_mime.py`` compares the raw output of both ways on
a corpus of awkward emails and on random ones.

- :func:`legacy_message_bytes` (Django 5.2) and :func:`modern_message_bytes` (Django
  6.1) write our shape of email (text parts, UTF-8, no attachments) directly instead of
  building Python's message objects first, and :func:`quoted_printable` escapes without
  Python's per-character map. A header value that Django and Python would leave as it is
  is written as it is; any other goes through their own functions.
- A multipart boundary is checked against the text with a regular expression compiled
  anew for every email. A boundary that does not occur in the text at all cannot start a
  line of it either, so a substring test decides. Where the random boundary does occur
  (practically never), another is drawn, so the bytes differ from Python's there: Python
  keeps a boundary that occurs mid-line, and, with CRLF line ends, even one that starts a
  line (its check misses it and the email's parts break), which this never does.
- The legacy policy (``compat32``, Django 5.2) folds every header through
  ``email.header.Header``. A value of printable ASCII words separated by single spaces
  that fits on its line comes out of that unchanged, so it is written as it is.
"""

from .generator import (
    FAST_COMPAT32,
    PLAIN_ADDRESS,
    PLAIN_ADDRESS_PATTERN,
    PLAIN_VALUE,
    CachingHeaderRegistry,
    FastBoundaryGenerator,
    as_bytes,
    quoted_printable,
)
from .legacy import legacy_message_bytes, simple_subject
from .modern import modern_message_bytes
from .shape import CHECKED, safe_headers, text_bodies, versions_checked

__all__ = [
    "CHECKED",
    "FAST_COMPAT32",
    "PLAIN_ADDRESS",
    "PLAIN_ADDRESS_PATTERN",
    "PLAIN_VALUE",
    "CachingHeaderRegistry",
    "FastBoundaryGenerator",
    "as_bytes",
    "legacy_message_bytes",
    "modern_message_bytes",
    "quoted_printable",
    "safe_headers",
    "simple_subject",
    "text_bodies",
    "versions_checked",
]
