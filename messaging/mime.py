"""An email's bytes as Python's email generator writes them, with its two slow steps cut.

Writing the message takes about half of a worker's time per email. Two steps of Python's
generator cost far more than their work needs, and both are skipped here only where the
result is the same byte for byte (``tests/test_mime.py`` compares the raw output of both
ways on a corpus of awkward headers and bodies):

- A multipart boundary is checked against the text with a regular expression compiled
  anew for every email. A boundary that does not occur in the text at all cannot start a
  line of it either, so a substring test decides, and the expression is compiled only
  in the rare case that the boundary does occur.
- The legacy policy (``compat32``, Django 5.2) folds every header through
  ``email.header.Header``. A value of printable ASCII words separated by single spaces
  that fits on its line comes out of that unchanged, so it is written as it is.
"""

from __future__ import annotations

import re
from email.generator import BytesGenerator
from email.message import Message
from email.policy import Compat32, Policy
from io import BytesIO

# Printable ASCII words separated by single spaces: what Header folding leaves as it is
# when it fits on the line (it drops a trailing space and may move other whitespace).
PLAIN_VALUE = re.compile(r"[!-~]+(?: [!-~]+)*")


class FastBoundaryGenerator(BytesGenerator):
    """``BytesGenerator`` that tests a new boundary against the text without a regex."""

    @classmethod
    def _make_boundary(cls, text=None):
        boundary = super()._make_boundary()  # a random boundary, not checked
        if text is None:
            return boundary
        needle = boundary if isinstance(text, str) else boundary.encode("ascii")
        if needle not in text:
            return boundary
        return super()._make_boundary(text)  # it occurs: Python's own check and retries


class FastCompat32(Compat32):
    """``compat32`` that writes a header value which folding would leave unchanged as is."""

    def _fold(self, name: str, value, sanitize: bool) -> str:
        if isinstance(value, str) and PLAIN_VALUE.fullmatch(value):
            limit = self.max_line_length
            if limit is None or len(name) + 2 + len(value) <= limit:
                return f"{name}: {value}{self.linesep}"
        return super()._fold(name, value, sanitize)


FAST_COMPAT32 = FastCompat32()


def as_bytes(message: Message, policy: Policy | None = None, linesep: str | None = None) -> bytes:
    """``message`` written as ``message.as_bytes`` would, with ``policy`` (default: the
    message's own; a legacy ``compat32`` policy takes the fast folding above)."""
    policy = policy or message.policy
    if type(policy) is Compat32:
        policy = FAST_COMPAT32.clone(**{k: getattr(policy, k) for k in policy.__dict__})
    fp = BytesIO()
    FastBoundaryGenerator(fp, mangle_from_=False, policy=policy).flatten(message, linesep=linesep)
    return fp.getvalue()
