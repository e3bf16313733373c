"""Notification preferences: per user and optional context type, immediate, daily or off.

What the rest of the app calls: :class:`ModeSplit` (``send_message`` leaves out users who
turned a type off and holds the emails of daily users for the digest) and
:func:`headers_for` (the ``Auto-Submitted``, ``List-Id`` and ``List-Unsubscribe`` headers
of each email). Digests are in :mod:`.digests`, the pages in :mod:`.views`.
"""

from .headers import headers_for
from .modes import ModeSplit

__all__ = ["ModeSplit", "headers_for"]
