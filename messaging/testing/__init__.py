"""Helpers for testing a site that sends with ``messaging``: a public, documented API.

- :mod:`messaging.testing.smtp`: a real SMTP server in a thread (``SMTPServer``), with a
  handler that can refuse, stall or drop connections on cue (``FaultInjectingHandler``).
  It needs ``aiosmtpd`` (the ``bounces`` extra).
- :mod:`messaging.testing.rendering`: ``render_straightforward``, each email rendered from
  scratch, the reference that the one-pass pipeline must agree with.
"""
